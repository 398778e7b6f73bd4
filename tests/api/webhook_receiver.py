"""A real HTTP receiver of webhooks on loopback, and a signature check written from
docs/limits.md alone (not from the code that signs)."""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver:
    """A real HTTP server on loopback that keeps what it is sent and answers each POST with
    the next status of `answers` (then 200); with `hold`, each POST is kept waiting until
    `release()`."""

    def __init__(self, answers: list[int], hold: bool = False) -> None:
        self.received: list[tuple[dict, bytes]] = []
        answers = list(answers)
        received = self.received
        self.released = threading.Event()
        if not hold:
            self.released.set()
        released = self.released

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.append((dict(self.headers), body))
                released.wait(60)
                self.send_response(answers.pop(0) if answers else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def release(self) -> None:
        self.released.set()

    def stop(self) -> None:
        self.release()
        self.server.shutdown()

    def wait_for(self, count: int, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(self.received) >= count, self.received


def signature_is_valid(secret: str, header: str, body: bytes) -> bool:
    """Tallyhouse-Signature checked as a receiver would, from docs/limits.md alone."""
    fields = dict(part.split("=", 1) for part in header.split(","))
    expected = hmac.new(secret.encode("utf-8"), fields["t"].encode() + b"." + body, hashlib.sha256)
    return hmac.compare_digest(expected.hexdigest(), fields["v1"])
