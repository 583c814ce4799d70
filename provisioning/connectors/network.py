"""Where a target may point: the rules that keep target URLs from being aimed inward.

Whoever may edit targets could otherwise send credential traffic (with its bearer token)
to the metadata service, the database or anything else on the private network: a
server-side request forgery path. So:

* ``https`` only, unless ``DEBUG`` or ``TARGET_ALLOW_HTTP``;
* no address that is not globally routable (private, loopback, link-local — the cloud
  metadata service —, shared, reserved, multicast, unspecified), unless it lies in one of
  ``TARGET_ALLOWED_NETWORKS`` (the demo and the tests list loopback).

Checked when a target is saved (``target_url_problem``: a name that does not resolve yet
is left to the second check) and again at every connection (``CheckedBackend``): the
name is resolved, every address checked, and the socket opened to a checked address, so
a DNS answer that changes between the two (rebinding) cannot slip through.
"""

from __future__ import annotations

import ipaddress
import socket
import typing
from urllib.parse import urlsplit

import httpcore
from django.conf import settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class AddressRefused(Exception):
    """A target address the network rules forbid; the message says which and why."""


def _allowed_networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [
        ipaddress.ip_network(network, strict=False) for network in settings.TARGET_ALLOWED_NETWORKS
    ]


def address_problem(address: str) -> str | None:
    """Why connecting to ``address`` (an IP) is refused, or ``None`` when it is allowed."""
    ip: IPAddress = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if any(ip in network for network in _allowed_networks()):
        return None
    if ip.is_global and not ip.is_multicast:
        return None
    return (
        f"{ip} is a private, loopback, link-local or otherwise internal address; targets "
        "must be public unless the network is listed in TARGET_ALLOWED_NETWORKS."
    )


def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (an IP literal resolves to itself)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def checked_addresses(host: str, port: int) -> list[str]:
    """The addresses of ``host``, all allowed, or ``AddressRefused``."""
    addresses = resolve(host, port)
    for address in addresses:
        problem = address_problem(address)
        if problem is not None:
            raise AddressRefused(f"{host} resolves to {problem}")
    return addresses


def target_url_problem(url: str) -> str | None:
    """Why ``url`` cannot be a target's URL, or ``None``. Run when a target is saved."""
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return "Give a valid http or https URL."
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return "Give a valid https URL."
    if parts.scheme == "http" and not settings.TARGET_ALLOW_HTTP:
        return "Targets must use https (http is allowed only with DEBUG or TARGET_ALLOW_HTTP)."
    try:
        addresses = resolve(parts.hostname, port)
    except (OSError, UnicodeError):
        return None  # not resolvable yet: every connection checks again
    for address in addresses:
        problem = address_problem(address)
        if problem is not None:
            return f"The target's host {parts.hostname} resolves to {problem}"
    return None


class CheckedBackend(httpcore.SyncBackend):
    """Opens every connection to an address checked against the rules just before."""

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            addresses = checked_addresses(host, port)
        except OSError as error:
            raise httpcore.ConnectError(f"cannot resolve {host}: {error}") from None
        last: Exception | None = None
        for address in addresses:
            try:
                return super().connect_tcp(address, port, timeout, local_address, socket_options)
            except httpcore.ConnectError as error:
                last = error
        raise last or httpcore.ConnectError(f"no address for {host}")
