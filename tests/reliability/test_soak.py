"""The bounded soak (about 2,000 deliveries) in every test run; `make soak` runs a longer one."""

import pytest

from .soak import SECRET, TOKEN, run_soak

# 1,730 uploads + ~10% duplicate deliveries + 5% malformed events ≈ 2,000 deliveries.
UPLOADS = 1730


@pytest.mark.slow
def test_soak_every_upload_one_job_one_message_nothing_lost(tmp_path, capfd):
    report = run_soak(UPLOADS, seed=7, workdir=tmp_path)
    print("\n" + report.table())
    assert report.problems == []
    assert report.jobs == report.messages == report.uploads == UPLOADS
    assert report.dead_letters == report.malformed > 0
    assert report.deliveries >= 1950
    # The faults really happened (so the retries and redeliveries were exercised).
    assert sum(report.faults.values()) > 0.1 * report.calls
    assert report.statuses["skipped (duplicate)"] >= report.duplicates > 0

    # No secret in anything the run wrote: every log line, every dead letter.
    out, err = capfd.readouterr()
    written = out + err + "".join(p.read_text() for p in (tmp_path / "dead-letters").glob("*.jsonl"))
    assert '"Status":"submitted"' in written  # the outcome log lines were captured
    for secret in (SECRET, TOKEN):
        assert secret not in written
