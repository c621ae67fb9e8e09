"""A query image from a URL: a local http server (allowed through the operator setting) serving
a PNG, a 404, an HTML page, a too-large body and redirects; private addresses refused by
default, before anything is sent."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from PIL import Image

from cdir import api
from cdir.imaging.fetch import ALLOW_PRIVATE_ENV, FetchError, FetchLimits, fetch_image

ALLOW = FetchLimits(allow_private=True, max_bytes=200_000)


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:  # quiet
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        routes = {
            "/red.png": (200, "image/png", _png()),
            "/page.html": (200, "text/html; charset=utf-8", b"<html>not an image</html>"),
            "/big.png": (200, "image/png", b"\x89PNG" + b"0" * 300_000),
            "/fake.png": (200, "image/png", b"this is not a picture"),
        }
        if self.path.startswith("/hop"):  # /hop3 -> /hop2 -> /hop1 -> /red.png
            n = int(self.path[4:] or 0)
            self.send_response(302)
            self.send_header("Location", f"/hop{n - 1}" if n > 1 else "/red.png")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.path == "/chunked-big.png":  # no Content-Length: the reader must stop itself
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.end_headers()
            self.wfile.write(b"0" * 300_000)
            return
        status, kind, body = routes.get(self.path, (404, "text/plain", b"not found"))
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_a_png_is_fetched_and_decoded_as_a_query(server: str) -> None:
    assert fetch_image(f"{server}/red.png", ALLOW) == _png()
    image = api.image_from_url(f"{server}/red.png", ALLOW)
    assert image.mode == "RGB" and image.size == (40, 30)
    assert fetch_image(f"{server}/hop2", ALLOW) == _png()  # two redirects: followed


@pytest.mark.parametrize(
    ("path", "words"),
    [
        ("/missing.png", "answered 404"),
        ("/page.html", "not an image (its content type is text/html)"),
        ("/big.png", "larger than"),
        ("/chunked-big.png", "larger than"),
        ("/hop5", "more than 3 redirects"),
    ],
)
def test_bad_answers_are_refused_in_one_line(server: str, path: str, words: str) -> None:
    with pytest.raises(FetchError) as caught:
        fetch_image(f"{server}{path}", ALLOW)
    assert words in str(caught.value) and "\n" not in str(caught.value)


def test_an_image_type_that_does_not_decode_says_so(server: str) -> None:
    with pytest.raises(api.UserInputError, match="Cannot use that URL as a query"):
        api.image_from_url(f"{server}/fake.png", ALLOW)


def test_private_addresses_are_refused_by_default(
    server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ALLOW_PRIVATE_ENV, raising=False)
    for url, kind in (
        (f"{server}/red.png", "loopback"),
        ("http://localhost/red.png", "loopback"),
        ("http://10.1.2.3/x.png", "private"),
        ("http://192.168.0.10/x.png", "private"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://[::1]:8080/x.png", "loopback"),
        ("http://[::ffff:127.0.0.1]/x.png", "loopback"),
        ("http://0.0.0.0/x.png", "unspecified"),
        ("http://240.0.0.1/x.png", "reserved"),
    ):
        with pytest.raises(FetchError, match=rf"is not a public address \({kind}\)") as caught:
            fetch_image(url)  # refused before any connection (tests may not leave localhost)
        assert ALLOW_PRIVATE_ENV in str(caught.value)
    # the operator's setting lets them through
    monkeypatch.setenv(ALLOW_PRIVATE_ENV, "1")
    assert fetch_image(f"{server}/red.png") == _png()


def test_a_redirect_to_a_private_address_is_refused(
    server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cdir.imaging import fetch

    monkeypatch.delenv(ALLOW_PRIVATE_ENV, raising=False)
    # the first hop passes as public; its redirect to the server's loopback address does not
    real = fetch.public_address
    first = {"done": False}

    def once_public(host: str, port: int, allow_private: bool) -> str:
        if not first["done"]:
            first["done"] = True
            return real(host, port, True)
        return real(host, port, allow_private)

    monkeypatch.setattr(fetch, "public_address", once_public)
    with pytest.raises(FetchError, match="loopback"):
        fetch_image(f"{server}/hop1")


@pytest.mark.parametrize(
    "url", ["", "ftp://example.com/a.png", "file:///etc/passwd", "http://u:p@example.com/a.png"]
)
def test_only_http_urls_without_credentials(url: str) -> None:
    with pytest.raises(api.UserInputError) as caught:
        api.image_from_url(url)
    assert "\n" not in str(caught.value)
