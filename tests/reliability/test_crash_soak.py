"""The short crash soak in every test run (`make soak` runs 500 uploads with 5 kills): worker
processes killed with SIGKILL, a real redis-server stopped and started mid-run, and SQLite."""

import pytest
from conftest import require_binary

from .crash_soak import run_crash_soak


@pytest.mark.slow
@pytest.mark.e2e
@pytest.mark.parametrize("store", ["redis", "sqlite"])
def test_crash_soak_no_upload_gets_two_jobs_or_is_lost(store, tmp_path):
    if store == "redis":
        require_binary("redis-server")
    report = run_crash_soak(60, kills=2, store=store, seed=11, workdir=tmp_path)
    print("\n" + report.table())
    assert report.kills == 2
    assert report.problems == []
    assert report.uploads_with_two_jobs == report.uploads_with_neither == report.unpublished_job_ids == 0
    if store == "redis":
        assert report.outage_seconds > 0
