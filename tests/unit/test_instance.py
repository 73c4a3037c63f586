"""One container of clients and stores per FC instance (vodai.instance)."""

from __future__ import annotations

import os

import pytest

from vodai import handler, instance, track_jobs
from vodai.config import Settings
from vodai.pipeline import build


@pytest.fixture(autouse=True)
def fresh_instance():
    instance.reset()
    yield
    instance.reset()


def test_two_handlers_in_one_process_share_the_session(monkeypatch):
    monkeypatch.setenv("VODAI_IDEMPOTENCY_STORE", "memory://")
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "test-id")
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "test-secret")
    monkeypatch.setenv("VODAI_MNS_ENDPOINT", "http://127.0.0.1:9")
    on_upload = build(handler._config()[0])
    poller = build(track_jobs._config())
    assert on_upload.vod.session is poller.vod.session is instance.current().session
    assert on_upload.store is poller.store  # one store per URL per instance


def test_reset_closes_and_forgets_the_instance():
    first = instance.current()
    kept = first.once("thing", object)
    assert instance.current() is first and first.once("thing", object) is kept
    instance.reset()
    assert instance.current() is not first


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_gets_its_own_instance():
    parent = instance.current()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report whether it got a new instance and a new session
        try:
            child = instance.current()
            ok = child is not parent and child.session is not parent.session and child.pid == os.getpid()
            os.write(write, b"1" if ok else b"0")
        finally:
            os._exit(0)
    os.close(write)
    answer = os.read(read, 1)
    os.waitpid(pid, 0)
    assert answer == b"1"
    assert instance.current() is parent  # the parent's is untouched


def test_settings_are_read_once_per_instance(monkeypatch):
    monkeypatch.setenv("VODAI_IDEMPOTENCY_STORE", "memory://")
    first = track_jobs._config()
    assert track_jobs._config() is first
    track_jobs.reset()
    assert track_jobs._config() is not first
    assert isinstance(first, Settings)
