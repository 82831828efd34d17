"""A local HTTP file server on 127.0.0.1 for download tests (nothing leaves the machine).

It implements HTTP Range itself (``bytes=START-`` and ``bytes=START-END``, 206 with
Content-Range, 416 past the end) so the tests check bench's resume logic against an
independent server, and it can misbehave on purpose: ``ignore_range`` answers every request
with the whole file (200), and ``drops[name] = n`` sends the headers of the full response,
then ``n`` bytes, then closes the connection (once per entry); ``redirects[name] = path``
answers 302 to another path, as Zenodo's download URLs do.
"""

from __future__ import annotations

import socket
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FileServer:
    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.ignore_range = False
        self.drops: dict[str, int] = {}
        self.redirects: dict[str, str] = {}  # name → path to send the client to (302), as Zenodo does
        self.requests: list[tuple[str, str | None]] = []  # (file name, Range header or None)
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                name = urllib.parse.unquote(self.path.split("?", 1)[0].lstrip("/"))
                rng = self.headers.get("Range")
                server.requests.append((name, rng))
                if name in server.redirects:
                    self.send_response(302)
                    self.send_header("Location", server.redirects[name])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                data = server.files.get(name)
                if data is None:
                    self.send_error(404, "no such file")
                    return
                start, end, status = 0, len(data) - 1, 200
                if rng and not server.ignore_range:
                    first, _, last = rng.removeprefix("bytes=").partition("-")
                    start = int(first)
                    end = min(int(last), len(data) - 1) if last else len(data) - 1
                    if start >= len(data):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(data)}")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    status = 206
                body = data[start : end + 1]
                self.send_response(status)
                if status == 206:
                    self.send_header("Content-Range", f"bytes {start}-{end}/{len(data)}")
                self.send_header("Accept-Ranges", "none" if server.ignore_range else "bytes")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                cut = server.drops.pop(name, None)
                if cut is None:
                    self.wfile.write(body)
                    return
                self.wfile.write(body[:cut])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> FileServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
