"""Eight simultaneous deliveries of one event, from eight separate processes, against the emulator
as a real server: exactly one submission and one topic message, with the store in real Redis and
in SQLite shared through a file."""

import json
import multiprocessing as mp
import os
import uuid

import pytest

from _redis import redis_server
from _servers import emulator_server
from conftest import EVENTS

AK, SECRET, TOKEN = "STS.concurrency", "concurrency-secret", "concurrency-token"
TOPIC = "vodai-callback"
DELIVERIES = 8


@pytest.fixture(scope="module")
def server():
    with emulator_server(AK, SECRET, TOKEN, topics=(TOPIC,)) as srv:
        yield srv


def _deliver(args) -> dict:
    """One FC invocation in its own process: the handler's code path with an FC-shaped context."""
    env, event_path, barrier = args
    os.environ.update(env)
    from vodai import handler
    from vodai.local_context import LocalContext, LocalCredentials

    context = LocalContext(request_id=str(uuid.uuid4()), credentials=LocalCredentials(AK, SECRET, TOKEN))
    settings, routes = handler._config()
    raw = open(event_path, "rb").read()
    barrier.wait()  # all eight start together
    result = handler.run(raw, context, settings=settings, routes=routes)
    return result.to_dict()["Outcomes"][0]


def _run_eight(server, store_url, tmp_path, policy):
    env = {
        "VODAI_VOD_ENDPOINT": server.url, "VODAI_MNS_ENDPOINT": server.url, "VODAI_AI_TEMPLATE_ID": "tpl",
        "VODAI_CALLBACK_TOPIC": TOPIC, "VODAI_IDEMPOTENCY_STORE": store_url, "VODAI_CONCURRENT_DUPLICATES": policy,
        "VODAI_DEAD_LETTERS": str(tmp_path / "dl"),
    }
    ctx = mp.get_context("spawn")
    with ctx.Manager() as manager:
        barrier = manager.Barrier(DELIVERIES)
        with ctx.Pool(DELIVERIES) as pool:
            return pool.map(_deliver, [(env, str(EVENTS / "raw" / "video-cn-shanghai.json"), barrier)] * DELIVERIES)


@pytest.mark.e2e
@pytest.mark.parametrize("store", ["redis", "sqlite"])
@pytest.mark.parametrize("policy", ["fail", "drop", "wait"])
def test_eight_simultaneous_deliveries_make_one_job(server, tmp_path, store, policy):
    server.reset()
    if store == "redis":
        with redis_server() as url:
            outcomes = _run_eight(server, url, tmp_path, policy)
    else:
        outcomes = _run_eight(server, f"sqlite:///{tmp_path}/idem.sqlite3", tmp_path, policy)

    jobs = server.jobs()
    assert len(jobs) == 1, jobs
    messages = server.topic_messages(TOPIC)
    assert len(messages) == 1 and json.loads(messages[0]["MessageBody"])["JobId"] == jobs[0]["JobId"]
    statuses = sorted(o["Status"] for o in outcomes)
    assert statuses.count("submitted") == 1, outcomes
    others = [o for o in outcomes if o["Status"] != "submitted"]
    if policy == "fail":
        # In progress elsewhere: fail (retryable, FC redelivers); already done: a skipped duplicate.
        assert all(o["Status"] == "failed" or o.get("Duplicate") for o in others), others
    else:
        # drop: acknowledged as duplicates; wait: waited, then found the job done.
        assert all(o["Status"] == "skipped" and o.get("Duplicate") for o in others), others
    if policy == "wait":
        assert all(o["JobId"] == jobs[0]["JobId"] for o in others)
