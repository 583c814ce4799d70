"""``clearance-verify``: check Clearance's evidence bundles and audit checkpoints.

    clearance-verify bundle FILE --key KEY [--witness KEY ...] [--seen CHECKPOINT]
    clearance-verify consistency OLD NEW --key KEY [--proof FILE | --url BASE]

KEY is the log's verifier key (``<name>+<key id>+<base64>``, as ``manage.py
audit_public_key`` prints it) or a file holding it. OLD and NEW are signed checkpoints,
files or http(s) URLs (such as ``https://portal.example/audit/checkpoint``). Exit status 0
means verified; 1 names the problem; 2 is a usage error.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from .bundle import verify_bundle, witness_keys
from .merkle import ProofError
from .note import Checkpoint, NoteError, VerifierKey, open_checkpoint


class Failure(Exception):
    pass


def _fetch(url: str) -> str:
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise Failure(f"{url} is not an http(s) URL")
    try:
        with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 — scheme checked
            return str(response.read().decode("utf-8"))
    except urllib.error.HTTPError as exc:
        said = exc.read().decode("utf-8", "replace")[:300]
        with contextlib.suppress(ValueError, AttributeError):
            said = str(json.loads(said).get("error", said))
        raise Failure(f"could not fetch {url}: {exc.code} {said.strip()}") from exc
    except OSError as exc:
        raise Failure(f"could not fetch {url}: {exc}") from exc


def _source(value: str) -> str:
    if value.startswith(("http://", "https://")):
        return _fetch(value)
    path = Path(value)
    if not path.is_file():
        raise Failure(f"no file at {value}")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise Failure(f"{value} is not UTF-8 text") from exc


def _key(value: str) -> VerifierKey:
    text = Path(value).read_text(encoding="utf-8") if Path(value).is_file() else value
    try:
        return VerifierKey.parse(text)
    except NoteError as exc:
        raise Failure(f"the key is not a verifier key: {exc}") from exc


def _checkpoint(value: str, key: VerifierKey, what: str) -> Checkpoint:
    try:
        return open_checkpoint(_source(value), key)
    except NoteError as exc:
        raise Failure(f"the {what} checkpoint ({value}) is not valid: {exc}") from exc


def _bundle(args: argparse.Namespace) -> str:
    key = _key(args.key)
    try:
        witnesses = witness_keys(
            [_source(w).strip() if Path(w).is_file() else w for w in args.witness]
        )
    except NoteError as exc:
        raise Failure(f"a --witness key is not valid: {exc}") from exc
    seen = _checkpoint(args.seen, key, "--seen").size if args.seen else None
    if not Path(args.file).is_file():
        raise Failure(f"no file at {args.file}")
    report = verify_bundle(args.file, key=key, witnesses=witnesses, seen_size=seen)
    if not report.ok:
        raise Failure(f"the evidence bundle does not verify: {report.problem}")
    return report.summary()


def _proof(args: argparse.Namespace, old: Checkpoint, new: Checkpoint) -> list[bytes]:
    if args.proof:
        text = _source(args.proof)
    else:
        base = args.url or (args.new.rsplit("/audit/", 1)[0] if "/audit/" in args.new else "")
        if not base:
            raise Failure("give the proof with --proof FILE, or the portal with --url BASE")
        query = urllib.parse.urlencode({"from": old.size, "to": new.size})
        text = _fetch(f"{base.rstrip('/')}/audit/proof/consistency?{query}")
    try:
        body = json.loads(text)
        if (body["from"], body["to"]) != (old.size, new.size):
            raise Failure(
                f"the proof is from size {body['from']} to {body['to']}, "
                f"not {old.size} to {new.size}"
            )
        return [base64.b64decode(h, validate=True) for h in body["proof"]]
    except (ValueError, KeyError, TypeError) as exc:
        raise Failure(f"the consistency proof is malformed ({exc})") from exc


def _consistency(args: argparse.Namespace) -> str:
    key = _key(args.key)
    old = _checkpoint(args.old, key, "old")
    new = _checkpoint(args.new, key, "new")
    if new.size < old.size:
        raise Failure(
            f"the new checkpoint's size {new.size} is smaller than the {old.size} seen before: "
            "the log lost events or shows a second history"
        )
    proof = [] if new.size == old.size else _proof(args, old, new)
    try:
        new.check_extends(old, proof)
    except ProofError as exc:
        raise Failure(f"the log is not append-only between the checkpoints: {exc}") from exc
    return (
        f"Consistent: the log {new.origin} at size {new.size} contains, unchanged, the "
        f"{old.size} events of the earlier checkpoint."
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="clearance-verify",
        description="Check Clearance's evidence bundles and signed audit checkpoints offline.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    bundle = commands.add_parser("bundle", help="verify an evidence bundle (.zip)")
    bundle.add_argument("file")
    bundle.add_argument("--key", required=True, help="the log's verifier key, or a file with it")
    bundle.add_argument(
        "--witness",
        action="append",
        default=[],
        help="a witness's cosigner key whose cosignature must be present (repeatable)",
    )
    bundle.add_argument("--seen", help="a checkpoint you hold: the bundle's may not be smaller")
    consistency = commands.add_parser(
        "consistency", help="check that a newer checkpoint extends an older one"
    )
    consistency.add_argument("old", help="the older checkpoint: a file or URL")
    consistency.add_argument("new", help="the newer checkpoint: a file or URL")
    consistency.add_argument("--key", required=True, help="the log's verifier key, or a file")
    consistency.add_argument("--proof", help="the consistency proof (JSON), a file or URL")
    consistency.add_argument("--url", help="the portal's base URL, to fetch the proof from")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        message = _bundle(args) if args.command == "bundle" else _consistency(args)
    except Failure as exc:
        print(f"FAILED: {exc}", file=sys.stderr)  # noqa: T201
        return 1
    print(message)  # noqa: T201
    return 0
