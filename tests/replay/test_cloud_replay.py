"""Replay on a target with real connections (``--cloud``): the requests in flight to each endpoint
are bounded by ``--concurrency`` (a blocking connection pool), and the runner runs more workers
than connections so the next items are prepared while a request is in flight."""

from __future__ import annotations

import pytest

from _servers import emulator_server
from vodai.events import samples
from vodai.local import LocalTarget, cloud_target, emulator_target
from vodai.replay import Item, Runner, WORKERS_PER_CONNECTION

TOPIC = "vodai-callback"


def cloud_env(url: str, tmp_path) -> dict:
    return {"VODAI_VOD_ENDPOINT": url, "VODAI_MNS_ENDPOINT": url, "VODAI_AI_TEMPLATE_ID": "tpl-replay",
            "VODAI_CALLBACK_TOPIC": TOPIC, "VODAI_IDEMPOTENCY_STORE": f"sqlite:///{tmp_path / 'jobs.sqlite3'}",
            "VODAI_DEAD_LETTERS": str(tmp_path / "dead"), "VODAI_REGION": "cn-shanghai"}


def adapter_limits(target: LocalTarget):
    adapter = target.session.get_adapter("https://vod.cn-shanghai.aliyuncs.com/")
    return adapter._pool_maxsize, adapter._pool_block


def with_credentials(monkeypatch):
    # A cloud target asks the credential chain once when it is made.
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "ak-replay")
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "sk-replay")


def test_on_real_connections_the_runner_bounds_them_and_runs_more_workers(tmp_path, monkeypatch):
    with_credentials(monkeypatch)
    target = cloud_target(cloud_env("http://127.0.0.1:9", tmp_path))
    assert target.session is None  # the process's shared session until a runner bounds it
    runner = Runner(target, concurrency=3)
    assert runner.connections_bounded and runner.workers == 3 * WORKERS_PER_CONNECTION
    assert adapter_limits(target) == (3, True) and target.owns_session
    assert Runner(cloud_target(cloud_env("http://127.0.0.1:9", tmp_path)), concurrency=3, workers=5).workers == 5
    target.close()


def test_where_nothing_bounds_connections_the_workers_are_the_concurrency(tmp_path, monkeypatch):
    with_credentials(monkeypatch)
    emulator = emulator_target({})  # in process: no connections at all
    runner = Runner(emulator, concurrency=3)
    assert not runner.connections_bounded and runner.workers == 3
    mine = cloud_target(cloud_env("http://127.0.0.1:9", tmp_path))
    mine.session = session = object()  # a caller's own session is theirs to configure
    assert Runner(mine, concurrency=2).workers == 2 and mine.session is session
    dry = cloud_target(cloud_env("http://127.0.0.1:9", tmp_path))
    assert Runner(dry, concurrency=2, dry_run=True).workers == 2 and dry.session is None


def test_a_cloud_replay_over_bounded_connections_submits_and_publishes_every_event(tmp_path, monkeypatch):
    with emulator_server("ak-replay", "sk-replay", topics=[TOPIC]) as server:
        monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "ak-replay")
        monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "sk-replay")
        monkeypatch.delenv("ALIBABA_CLOUD_SECURITY_TOKEN", raising=False)
        target = cloud_target(cloud_env(server.url, tmp_path))
        items = [Item(f"gen-{n}", n, raw=samples.generate("mns-topic-json", "video", region="cn-shanghai",
                                                      media_id=f"{n:032x}"))
                 for n in range(24)]
        runner = Runner(target, concurrency=2)
        results = runner.run(items)
        target.close()
        assert runner.workers == 4
        assert [r.error for r in results] == [None] * 24
        assert [o.status for r in results for o in r.outcomes] == ["submitted"] * 24
        published = server.topic_messages(TOPIC)
        assert len(published) == 24
        # A second run of the same events submits nothing (the records are in the SQLite store).
        again = cloud_target(cloud_env(server.url, tmp_path))
        outcomes = [o for r in Runner(again, concurrency=2).run(items) for o in r.outcomes]
        assert {(o.status, o.reason.split(":")[0]) for o in outcomes} == {("skipped", "duplicate")}
        again.close()
        assert len(server.topic_messages(TOPIC)) == 24


def test_each_invocation_gets_a_new_request_id_and_the_targets_other_context():
    target = emulator_target()
    first, second = target.new_context(), target.new_context()
    assert len({first.request_id, second.request_id, target.context.request_id}) == 3
    assert all(len(c.request_id) == 36 and c.request_id.count("-") == 4 for c in (first, second))  # uuid4 text, as FC's
    same = lambda c: {k: v for k, v in vars(c).items() if k != "request_id"}  # noqa: E731
    assert same(first) == same(second) == same(target.context)
