"""A real redis-server for tests, started on a free port in a temp dir, stopped afterwards: a
standalone one, or a one-node cluster that holds every slot (it refuses what a cluster refuses,
e.g. a command or script whose keys are in different slots)."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator

import pytest

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
    import redis

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


@contextlib.contextmanager
def redis_cluster_server() -> Iterator[str]:
    """Yields ``redis://127.0.0.1:PORT`` of a one-node Redis Cluster serving all 16384 slots."""
    import redis

    # The cluster bus port is the client port + 10000 unless set: a free port of its own.
    with tempfile.TemporaryDirectory(prefix="vodai-redis-cluster-") as tmp, \
            redis_server("--cluster-enabled", "yes", "--cluster-config-file", f"{tmp}/nodes.conf",
                         "--cluster-port", str(_free_port())) as url:
        client = redis.Redis.from_url(url)
        client.execute_command("CLUSTER", "ADDSLOTSRANGE", 0, 16383)
        for _ in range(200):
            if b"cluster_state:ok" in client.execute_command("CLUSTER", "INFO"):
                break
            time.sleep(0.05)
        else:
            raise RuntimeError("the one-node Redis cluster did not come up")
        client.close()
        yield url.rsplit("/", 1)[0]


# Fixtures of the suites that run on Redis: import them into the test module by name.
@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    """A standalone redis-server for the module's tests."""
    with redis_server() as url:
        yield url


@pytest.fixture(scope="module")
def cluster_client() -> Iterator[object]:
    """redis-py's cluster client to a one-node cluster for the module's tests."""
    from redis.cluster import RedisCluster

    with redis_cluster_server() as url:
        client = RedisCluster.from_url(url)
        yield client
        client.close()
