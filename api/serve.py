"""Serve the API from one or more processes.

With several workers each process listens on its own socket bound with SO_REUSEPORT, so the
kernel spreads connections across the processes (a shared socket lets whichever process
accepts first take a whole burst of keep-alive connections and leave the others idle).
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import signal
import socket
import sys

import uvicorn


def _socket(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    return sock


def _run_worker(host: str, port: int) -> None:
    config = uvicorn.Config("api.main:create_app", factory=True, access_log=False, log_level="info")
    uvicorn.Server(config).run(sockets=[_socket(host, port)])


def serve(host: str, port: int, workers: int = 1) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    if workers <= 1:
        _run_worker(host, port)
        return
    processes = [
        multiprocessing.Process(target=_run_worker, args=(host, port), daemon=True)
        for _ in range(workers)
    ]
    for process in processes:
        process.start()

    def stop(signum, _frame) -> None:
        for process in processes:
            process.terminate()
        for process in processes:
            process.join(timeout=10)
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for process in processes:
        process.join()


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve the Tallyhouse API.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=1)
    options = parser.parse_args()
    serve(options.host, options.port, options.workers)


if __name__ == "__main__":
    main()
