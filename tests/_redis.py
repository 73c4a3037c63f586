"""A real redis-server for tests, started on a free port in a temp dir, stopped afterwards."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import tempfile
import time
from typing import Iterator

from conftest import require_binary


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def redis_server(*args: str, password: str = "") -> Iterator[str]:
    """Yields ``redis://127.0.0.1:PORT/0`` (with ``:password@`` when given); ``args`` go to
    redis-server as they are. Skips (locally) or fails (CI) without redis-server."""
    binary = require_binary("redis-server")
    import redis  # redis-py: the tests' oracle, never vodai's client

    port = _free_port()
    with tempfile.TemporaryDirectory(prefix="vodai-redis-") as tmp:
        auth = ["--requirepass", password] if password else []
        proc = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", tmp,
             *auth, *args],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        url = f"redis://{':' + password + '@' if password else ''}127.0.0.1:{port}/0"
        try:
            client = redis.Redis.from_url(url)
            for _ in range(200):  # bounded wait for the server to answer
                try:
                    if client.ping():
                        break
                except redis.ConnectionError:
                    time.sleep(0.05)
            else:
                raise RuntimeError("redis-server did not start")
            yield url
        finally:
            proc.terminate()
            proc.wait(timeout=10)
