"""Real local servers for connector tests: the scim2-server process and a recording HTTP server.

Use them from a test module with ``pytest_plugins = ["tests.servers"]``.

* ``scim_server`` -> (base_url, token): a tenant of its own on one scim2-server process per
  test session, so tests never see each other's users.
* ``webhook_receiver`` -> RecordingServer: records every request, answers 204, and can be told
  to answer an error, malformed data or nothing at all (a timeout) for the next N requests.
* ``scim_proxy`` -> (base_url, token, RecordingServer): the same server forwarding to a fresh
  SCIM tenant, so a test can make a real SCIM target fail and then recover.
"""

from __future__ import annotations

import http.client
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest

SCIM_TOKEN = "scim-test-token-" + uuid.uuid4().hex


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _scim2_server_command() -> str:
    beside_python = Path(sys.executable).with_name("scim2-server")
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("scim2-server")
    if found is None:
        raise RuntimeError("scim2-server is not installed: pip install -r requirements-dev.txt")
    return found


def _wait_until_answering(port: int, path: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"scim2-server exited with {process.returncode}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            connection.request("GET", path, headers={"Authorization": f"Bearer {SCIM_TOKEN}"})
            connection.getresponse().read()
            connection.close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("scim2-server did not answer within 20 s")


@contextmanager
def run_scim_server(
    *, token: str = SCIM_TOKEN, tenants: bool = True, config: dict | None = None
) -> Iterator[str]:
    """Start scim2-server on a free loopback port; yields its root URL.

    With ``tenants`` every first request to ``/<name>/v2`` makes a fresh, empty tenant.
    ``config`` replaces the announced ServiceProviderConfig (e.g. to turn Bulk off).
    """
    port = free_port()
    command = [
        _scim2_server_command(),
        "--hostname",
        "127.0.0.1",
        "--port",
        str(port),
        "--bearer-token",
        token,
    ]
    if tenants:
        command.append("--dynamic-tenants")
    with tempfile.TemporaryDirectory() as folder:
        if config is not None:
            config_file = Path(folder) / "service-provider-config.json"
            config_file.write_text(json.dumps(config))
            command += ["--service-provider-config", str(config_file)]
        process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=folder
        )
        try:
            probe = "/probe/v2/ServiceProviderConfig" if tenants else "/v2/ServiceProviderConfig"
            _wait_until_answering(port, probe, process)
            yield f"http://127.0.0.1:{port}"
        finally:
            process.kill()
            process.wait(timeout=10)


def new_tenant_url(root: str) -> str:
    return f"{root}/t{uuid.uuid4().hex[:12]}/v2"


@pytest.fixture(scope="session")
def scim_server_root() -> Iterator[str]:
    with run_scim_server() as root:
        yield root


@pytest.fixture
def scim_server(scim_server_root: str) -> tuple[str, str]:
    return new_tenant_url(scim_server_root), SCIM_TOKEN


NO_BULK_CONFIG = {
    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
    "patch": {"supported": True},
    "bulk": {"supported": False, "maxOperations": 0, "maxPayloadSize": 0},
    "filter": {"supported": True, "maxResults": 200},
    "changePassword": {"supported": False},
    "sort": {"supported": False},
    "etag": {"supported": True},
}


@pytest.fixture(scope="session")
def scim_server_without_bulk_root() -> Iterator[str]:
    with run_scim_server(config=NO_BULK_CONFIG) as root:
        yield root


@pytest.fixture
def scim_server_without_bulk(scim_server_without_bulk_root: str) -> tuple[str, str]:
    return new_tenant_url(scim_server_without_bulk_root), SCIM_TOKEN


# -- Recording server with fault injection --------------------------------------------------


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> object:
        return json.loads(self.body)


@dataclass
class Fault:
    kind: str  # "answer" | "hang"
    status: int = 500
    body: bytes = b""
    content_type: str = "application/json"
    path_contains: str = ""


@dataclass
class RecordingServer:
    """A threaded loopback HTTP server that records requests and injects failures.

    Faults apply, in order, to the next requests whose path contains ``path_contains``;
    requests no fault applies to are forwarded to ``upstream`` if set, else answered 204.
    """

    upstream: str | None = None
    requests: list[RecordedRequest] = field(default_factory=list)
    _faults: deque[Fault] = field(default_factory=deque)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stopping: threading.Event = field(default_factory=threading.Event)
    _server: ThreadingHTTPServer | None = None

    # -- what tests say -----------------------------------------------------------------

    def answer_next(
        self,
        count: int,
        *,
        status: int,
        body: bytes | str | dict | list = b"",
        content_type: str = "application/json",
        path_contains: str = "",
    ) -> None:
        if isinstance(body, dict | list):
            body = json.dumps(body)
        if isinstance(body, str):
            body = body.encode()
        with self._lock:
            for _ in range(count):
                self._faults.append(Fault("answer", status, body, content_type, path_contains))

    def fail_next(self, count: int, *, status: int = 500, path_contains: str = "") -> None:
        self.answer_next(
            count,
            status=status,
            body={"detail": "injected failure"},
            path_contains=path_contains,
        )

    def hang_next(self, count: int, *, path_contains: str = "") -> None:
        """Accept the next requests and never answer them: the client times out."""
        with self._lock:
            for _ in range(count):
                self._faults.append(Fault("hang", path_contains=path_contains))

    def received(self, path_contains: str = "") -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if path_contains in r.path]

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # -- life cycle ---------------------------------------------------------------------

    def start(self) -> RecordingServer:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass  # keep test output quiet

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                recorded = RecordedRequest(self.command, self.path, dict(self.headers), body)
                with owner._lock:
                    owner.requests.append(recorded)
                    fault = owner._take_fault(self.path)
                if fault is not None and fault.kind == "hang":
                    owner._stopping.wait(30)
                    self.close_connection = True
                    return
                if fault is not None:
                    self._answer(fault.status, fault.body, {"Content-Type": fault.content_type})
                elif owner.upstream is not None:
                    self._answer(*owner._forward(recorded))
                else:
                    self._answer(204, b"", {})

            def _answer(self, status: int, body: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def _take_fault(self, path: str) -> Fault | None:
        for fault in self._faults:
            if fault.path_contains in path:
                self._faults.remove(fault)
                return fault
        return None

    def _forward(self, request: RecordedRequest) -> tuple[int, bytes, dict[str, str]]:
        assert self.upstream is not None
        upstream = urlsplit(self.upstream)
        connection = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=30)
        headers = {
            k: v for k, v in request.headers.items() if k.lower() not in ("host", "connection")
        }
        try:
            connection.request(request.method, request.path, request.body, headers)
            response = connection.getresponse()
            body = response.read()
            kept = {
                name: value
                for name, value in response.getheaders()
                if name.lower() in ("content-type", "location", "content-location", "etag")
            }
            return response.status, body, kept
        finally:
            connection.close()


@pytest.fixture
def webhook_receiver() -> Iterator[RecordingServer]:
    server = RecordingServer().start()
    yield server
    server.stop()


@pytest.fixture
def scim_proxy(scim_server_root: str) -> Iterator[tuple[str, str, RecordingServer]]:
    tenant_url = new_tenant_url(scim_server_root)
    server = RecordingServer(upstream=scim_server_root).start()
    yield server.url + urlsplit(tenant_url).path, SCIM_TOKEN, server
    server.stop()
