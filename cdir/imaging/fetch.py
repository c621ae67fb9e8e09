"""A query image fetched from an http(s) URL, with strict limits, never as a proxy into the
server's own network.

Each hop (the URL and every redirect) is checked before anything is sent: scheme http or https,
no user name or password in it, a host whose every address is a public one. Loopback, private
(RFC 1918, fc00::/7), link-local (169.254/16, fe80::/10, where cloud metadata services answer),
shared (100.64/10), multicast, unspecified and reserved addresses are refused unless the operator
allows them (``FetchLimits.allow_private``, default ``$CDIR_ALLOW_PRIVATE_URLS`` = 1; for a
private deployment or tests). The connection goes to the address that was checked (no second
DNS look-up a rebinding name could answer differently); TLS still verifies the host name. The
answer must be 200 with a ``Content-Type`` of ``image/*`` and at most ``max_bytes`` long (read
no further than that), within ``timeout_s`` in all; at most ``max_redirects`` redirects are
followed. Proxies from the environment are not used. Decoding is the caller's
(``cdir.imaging.decode.load_rgb_bytes``)."""

from __future__ import annotations

import ipaddress
import logging
import os
import socket
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

log = logging.getLogger(__name__)

ALLOW_PRIVATE_ENV = "CDIR_ALLOW_PRIVATE_URLS"
REDIRECTS = (301, 302, 303, 307, 308)


class FetchError(ValueError):
    """A URL that cannot be used as a query image; the message is one line saying why."""


@dataclass(frozen=True)
class FetchLimits:
    """``timeout_s``: seconds for the whole fetch; ``max_bytes``: the largest body read;
    ``max_redirects``: redirects followed; ``allow_private``: also fetch from loopback, private,
    link-local and reserved addresses (None: ``$CDIR_ALLOW_PRIVATE_URLS`` is 1)."""

    timeout_s: float = 10.0
    max_bytes: int = 20 * 2**20
    max_redirects: int = 3
    allow_private: bool | None = None

    def private_allowed(self) -> bool:
        if self.allow_private is not None:
            return self.allow_private
        return os.environ.get(ALLOW_PRIVATE_ENV, "").strip().lower() in ("1", "true", "yes")


def fetch_image(url: str, limits: FetchLimits | None = None) -> bytes:
    """The body of the image at ``url`` (bytes, at most ``limits.max_bytes``). Raises
    FetchError, in one line, for a URL that is not http(s), names a refused address, answers
    anything but 200 with an image, is too large, redirects too often or times out."""
    limits = limits or FetchLimits()
    deadline = time.monotonic() + limits.timeout_s
    url = str(url or "").strip()
    for _ in range(limits.max_redirects + 1):
        try:
            answer = _get(url, limits, deadline)
        except FetchError:
            raise
        except TimeoutError:
            raise FetchError(f"the address did not answer within {limits.timeout_s:g} s") from None
        except (OSError, ValueError) as exc:  # refused, reset, TLS, a malformed answer
            raise FetchError(f"cannot fetch the image: {_reason(exc)}") from None
        if isinstance(answer, bytes):
            return answer
        url = answer  # a redirect: checked again like the first URL
    raise FetchError(f"more than {limits.max_redirects} redirects; give the image's own address")


def check_url(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of an http(s) URL, or FetchError saying what to give instead."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise FetchError("that is not a valid URL; give an http:// or https:// address") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FetchError("give an http:// or https:// address of an image")
    if parts.username or parts.password:
        raise FetchError("a URL with a user name or password is not fetched")
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80)


def public_address(host: str, port: int, allow_private: bool) -> str:
    """The address to connect to for ``host``: its first, when every address it resolves to is
    public (or ``allow_private``). FetchError for a name that does not resolve or a refused
    address (the message names the kind of network, never the address)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise FetchError(f"the host {host!r} is not known") from None
    addresses = [str(info[4][0]) for info in infos]
    if not allow_private:
        for address in addresses:
            kind = refused_kind(address)
            if kind:
                raise FetchError(
                    f"{host!r} is not a public address ({kind}); only public ones are fetched "
                    f"(the operator can allow others with {ALLOW_PRIVATE_ENV}=1)"
                )
    return addresses[0]


def refused_kind(address: str) -> str:
    """The kind of network an address belongs to when it is not a public one ("" if public)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for kind, flag in (
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("unspecified", ip.is_unspecified),
        ("multicast", ip.is_multicast),
        ("reserved", ip.is_reserved),
        ("private", ip.is_private),
    ):
        if flag:
            return kind
    return "" if ip.is_global else "non-public"


def _get(url: str, limits: FetchLimits, deadline: float) -> bytes | str:
    """One request: the body (bytes), or the next URL of a redirect (str)."""
    scheme, host, port = check_url(url)
    address = public_address(host, port, limits.private_allowed())
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    conn = _connection(scheme, host, port, address, max(0.1, deadline - time.monotonic()))
    try:
        conn.request("GET", target, headers={"Accept": "image/*", "User-Agent": "cdir"})
        response = conn.getresponse()
        if response.status in REDIRECTS:
            location = response.getheader("Location")
            if not location:
                raise FetchError(f"the address answered {response.status} without a Location")
            return urljoin(url, location)
        if response.status != 200:
            raise FetchError(
                f"the address answered {response.status} {response.reason}, not an image"
            )
        kind = (response.getheader("Content-Type") or "").split(";")[0].strip().lower()
        if not kind.startswith("image/"):
            raise FetchError(f"the address is not an image (its content type is {kind or '?'})")
        length = response.getheader("Content-Length")
        if length and length.isdigit() and int(length) > limits.max_bytes:
            raise FetchError(_too_large(limits))
        return _read(response, limits, deadline)
    finally:
        conn.close()


def _read(response: Any, limits: FetchLimits, deadline: float) -> bytes:
    chunks, size = [], 0
    while True:
        if time.monotonic() > deadline:
            raise TimeoutError
        chunk = response.read(min(65536, limits.max_bytes + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
        if size > limits.max_bytes:
            raise FetchError(_too_large(limits))
    if not size:
        raise FetchError("the address answered with an empty image")
    return b"".join(chunks)


def _too_large(limits: FetchLimits) -> str:
    return f"the image is larger than {limits.max_bytes / 2**20:g} MiB; give a smaller one"


def _connection(scheme: str, host: str, port: int, address: str, timeout: float) -> Any:
    """An http.client connection to ``host`` that connects to the checked ``address``."""
    import http.client
    import ssl

    class Pinned(http.client.HTTPConnection):
        def connect(self) -> None:
            self.sock = socket.create_connection((address, self.port), self.timeout)

    class PinnedTLS(http.client.HTTPSConnection):
        def connect(self) -> None:
            sock = socket.create_connection((address, self.port), self.timeout)
            self.sock = self._context.wrap_socket(sock, server_hostname=self.host)

    if scheme == "https":
        return PinnedTLS(host, port, timeout=timeout, context=ssl.create_default_context())
    return Pinned(host, port, timeout=timeout)


def _reason(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return " ".join(str(text).split())[:120]
