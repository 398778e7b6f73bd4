"""Run the API in its own process on a free localhost port (end-to-end tests, benchmarks)."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(
    env: dict[str, str], *, workers: int = 1, log: Path | None = None
) -> tuple[subprocess.Popen, str]:
    """A server process (api.serve) on a free port, and its base URL once it answers; its log
    goes to `log` if given."""
    port = free_port()
    with open(log or "/dev/null", "ab") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "api.serve", "--port", str(port), "--workers", str(workers)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log_file,
        )
    base = f"http://127.0.0.1:{port}"
    for _ in range(400):
        try:
            httpx.get(f"{base}/openapi.json", timeout=1)
            return process, base
        except httpx.TransportError:
            if process.poll() is not None:
                break
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("the API server did not start")


@contextlib.contextmanager
def running(env: dict[str, str], *, workers: int = 1, log: Path | None = None) -> Iterator[str]:
    process, base = start(env, workers=workers, log=log)
    try:
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)
