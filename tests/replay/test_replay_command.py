"""``vodai replay`` as a user runs it, on the in-process emulator (and once on a dead --cloud endpoint)."""

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import EVENTS, sample_files
from vodai.deadletter import DeadLetter
from vodai.idempotency import COMPLETED, UNCERTAIN, job_key, open_store
from vodai.pipeline import plan
from vodai.replay import Runner, open_target, read_sources

from .helpers import expected_by_sample, expected_counts, replay, statuses_by_sample

pytestmark = pytest.mark.usefixtures("clean")


def _counts(doc):
    return {k: v for k, v in doc["Counts"].items() if v}


def test_replaying_the_samples_matches_expected_json_and_a_second_replay_submits_nothing(sqlite_url, targets):
    want = expected_counts()
    result, first = replay(str(EVENTS))
    assert result.exit_code == 0, result.stderr
    assert first["Items"] == len(sample_files()) and first["Events"] == want["events"]
    # Each distinct job is submitted once; its other deliveries (other shapes) are duplicates.
    assert _counts(first) == {"submitted": want["jobs"], "skipped": want["skipped"] + want["submitted"] - want["jobs"],
                              "duplicates": want["submitted"] - want["jobs"], "dead_lettered": want["dead_lettered"]}
    assert statuses_by_sample(first) == expected_by_sample()
    assert len(targets[0].backend.jobs()) == want["jobs"]
    assert first["FailedFile"] is None and not (Path(".vodai") / "replay").exists()

    result, second = replay(str(EVENTS))
    assert result.exit_code == 0, result.stderr
    assert _counts(second) == {"skipped": want["skipped"] + want["submitted"], "duplicates": want["submitted"],
                               "dead_lettered": want["dead_lettered"]}
    assert statuses_by_sample(second) == expected_by_sample()
    assert targets[1].backend.jobs() == [] and targets[1].backend.topic_messages("vodai-callback") == []
    # The duplicates name the JobIds of the first run.
    first_jobs = {r["MediaId"]: r["JobId"] for r in first["Outcomes"] if r["Status"] == "submitted"}
    assert {r["MediaId"]: r["JobId"] for r in second["Outcomes"] if r.get("Duplicate")} == first_jobs


def test_the_human_summary_counts_per_status(sqlite_url):
    result, _ = replay(str(EVENTS / "raw"), str(EVENTS / "malformed" / "empty.json"), as_json=False)
    assert result.exit_code == 0, result.stderr
    lines = {line.strip("│ ").split("│")[0].strip(): line for line in result.stdout.splitlines() if "│" in line}
    assert "vodai replay on emulator: 12 items, 12 events" in result.stdout
    assert lines["submitted"].split("│")[-2].strip() == "3"  # video cn-shanghai, cn-beijing, image ap-southeast-1
    assert lines["of which duplicates"].split("│")[-2].strip() == "2"  # two more shapes of the cn-shanghai video
    assert lines["dead_lettered"].split("│")[-2].strip() == "1" and "body: empty" in result.stdout
    for name in ("skipped", "failed", "planned", "unreadable"):
        assert name in lines


def test_concurrency_8_gives_the_same_outcomes_as_1(tmp_path, monkeypatch):
    docs = []
    for n in (1, 8):
        monkeypatch.setenv("VODAI_IDEMPOTENCY_STORE", f"sqlite:///{tmp_path / f'jobs-{n}.sqlite3'}")
        result, doc = replay("--concurrency", str(n), str(EVENTS))
        assert result.exit_code == 0, result.stderr
        docs.append(doc)
    assert docs[0]["Counts"] == docs[1]["Counts"] and docs[0]["Counts"]["failed"] == 0
    assert statuses_by_sample(docs[0]) == statuses_by_sample(docs[1]) == expected_by_sample()


def test_dead_letters_replay_through_once_the_config_is_fixed(sqlite_url, targets, monkeypatch, tmp_path):
    # First delivery: no AITemplateId anywhere, so the video is dead-lettered (written under VODAI_DEAD_LETTERS).
    target = open_target(cloud=False)
    target.settings = target.settings.model_copy(update={"ai_template_id": None})
    sample = EVENTS / "cloudevent" / "video-cn-shanghai.json"
    [first] = Runner(target).run(read_sources([str(sample)]))
    [outcome] = first.outcomes
    assert outcome.status == "dead_lettered" and "VODAI_AI_TEMPLATE_ID" in outcome.reason
    dead_letters = tmp_path / "dead-letters"
    [letter_file] = dead_letters.glob("*.jsonl")
    letter = json.loads(letter_file.read_text())
    assert DeadLetter.is_dead_letter(letter) and letter["DeadLetterId"] == outcome.dead_letter_id

    monkeypatch.setenv("VODAI_AI_TEMPLATE_ID", "tpl-fixed")
    result, doc = replay(str(dead_letters))
    assert result.exit_code == 0, result.stderr
    [row] = doc["Outcomes"]
    assert row["Status"] == "submitted" and row["TemplateId"] == "tpl-fixed" and row["MediaId"] == outcome.media_id
    assert (row["Source"], row["Line"], row["FromDeadLetter"]) == (str(letter_file), 1, outcome.dead_letter_id)
    [job] = targets[-1].backend.jobs()
    assert job["JobId"] == row["JobId"]


def test_jsonl_with_events_dead_letters_and_unreadable_lines(sqlite_url, targets):
    video = json.loads((EVENTS / "raw" / "video-cn-beijing.json").read_text())
    b64 = (EVENTS / "raw-base64" / "image-ap-southeast-1.json").read_bytes()
    letter = DeadLetter.of(reason="earlier", outcome={}, raw=b64, request_id="r").to_json()
    skip = (EVENTS / "mns-topic-json" / "image-cn-beijing.json").read_text()
    lines = [json.dumps(video), letter, "", "this is not json", json.dumps(json.loads(skip))]
    path = Path("mixed.jsonl")
    path.write_text("\n".join(lines) + "\n")

    result, doc = replay(str(path))
    assert result.exit_code == 1  # an unreadable line did not reach a final outcome
    assert _counts(doc) == {"submitted": 2, "skipped": 1, "unreadable": 1}
    [problem] = doc["Problems"]
    assert (problem["Source"], problem["Line"], problem["Status"]) == ("mixed.jsonl", 4, "unreadable")
    assert problem["Reason"].startswith("not JSON")
    by_line = {r["Line"]: r for r in doc["Outcomes"]}
    assert by_line[1]["Action"] == "SubmitAIImageJob" and by_line[2]["Action"] == "SubmitAIImageAuditJob"
    assert by_line[2]["FromDeadLetter"] and by_line[5]["Status"] == "skipped"
    assert len(targets[0].backend.jobs()) == 2
    # Only the unreadable line goes to the failure file, as it was.
    assert Path(doc["FailedFile"]).read_text() == "this is not json\n"
    assert doc["FailedFile"].startswith(str(Path(".vodai") / "replay" / "failed-"))


def test_dry_run_calls_nothing_and_shows_each_decision(tmp_path, monkeypatch, targets):
    store_path = tmp_path / "untouched.sqlite3"
    monkeypatch.setenv("VODAI_IDEMPOTENCY_STORE", f"sqlite:///{store_path}")
    inputs = [str(EVENTS / "raw"), str(EVENTS / "cloudevent-batch" / "image-ap-southeast-1.json"),
              str(EVENTS / "malformed" / "missing-videoid.json")]
    result, doc = replay("--dry-run", *inputs)
    assert result.exit_code == 0, result.stderr
    assert _counts(doc) == {"planned": 7, "skipped": 6, "dead_lettered": 1} and doc["DryRun"] is True
    planned = [r for r in doc["Outcomes"] if r["Status"] == "planned"]
    assert {r["Action"] for r in planned} == {"SubmitAIImageJob", "SubmitAIImageAuditJob"}
    assert all(r["Region"] and r["MediaId"] for r in planned)
    assert targets[0].backend.jobs() == [] and targets[0].backend.requests_log() == []
    assert not store_path.exists()  # the store was never opened
    assert not (tmp_path / "dead-letters").exists() and not Path(".vodai").exists()

    result, _ = replay("--dry-run", *inputs, as_json=False)
    assert result.exit_code == 0, result.stderr
    out = " ".join(result.stdout.split())
    assert "nothing was called" in out and "SubmitAIImageAuditJob" in out and "template emulator-audit-template" in out
    assert "skip" in out and "no action for image uploads in cn-beijing" in out
    assert "dead-letter" in out and "VideoId: missing" in out


def test_a_failing_target_exits_1_and_writes_a_failure_file_a_second_replay_reads(monkeypatch, targets):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    env = {"VODAI_VOD_ENDPOINT": dead, "VODAI_MNS_ENDPOINT": dead, "VODAI_AI_TEMPLATE_ID": "tpl",
           "VODAI_AUDIT_TEMPLATE_ID": "audit-tpl", "VODAI_CALLBACK_TOPIC": "vodai-callback", "VODAI_RETRY_ATTEMPTS": "1",
           "ALIBABA_CLOUD_ACCESS_KEY_ID": "id", "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "secret-xyz"}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    failing = [EVENTS / "raw" / "video-cn-shanghai.json",            # pretty-printed JSON
               EVENTS / "raw-base64" / "video-cn-beijing.json",       # not JSON: kept as a dead letter line
               EVENTS / "cloudevent-batch" / "image-ap-southeast-1.json"]  # a batch of two
    final = [EVENTS / "raw" / "image-cn-beijing.json"]  # skipped: nothing to call
    result, doc = replay("--cloud", *map(str, failing + final))
    assert result.exit_code == 1
    assert _counts(doc) == {"failed": 4, "skipped": 1}
    assert all("connection" in p["Reason"] or "Transport" in p["Reason"] for p in doc["Problems"])
    failed_file = Path(doc["FailedFile"])
    assert failed_file.parent == Path(".vodai") / "replay" and failed_file.name.startswith("failed-")
    assert len(failed_file.read_text().splitlines()) == 3
    assert "secret-xyz" not in result.stdout + result.stderr + failed_file.read_text()
    assert f"vodai replay {failed_file}" in result.stderr

    # The same file, replayed on the emulator (the endpoint is "fixed"): everything goes through.
    result, again = replay(str(failed_file))
    assert result.exit_code == 0, result.stderr
    assert _counts(again) == {"submitted": 4} and again["FailedFile"] is None
    assert {r["Line"] for r in again["Outcomes"]} == {1, 2, 3}
    assert len(targets[-1].backend.jobs()) == 4


def test_resubmit_uncertain_deletes_the_record_only_when_asked(sqlite_url, targets):
    sample = EVENTS / "raw" / "video-cn-shanghai.json"
    target = open_target(cloud=False)
    [decision] = plan(sample.read_bytes(), settings=target.settings, routes=target.routes).outcomes
    key = job_key(target.settings.idempotency_prefix, decision.action, decision.media_id, decision.template_id)
    store = open_store(sqlite_url)
    now = time.time()
    assert store.claim(key, now=now, lock_until=now + 60, expires_at=now + 3600).acquired
    store.mark_uncertain(key, reason="answer lost", now=now)

    result, doc = replay(str(sample))
    assert result.exit_code == 0, result.stderr
    assert _counts(doc) == {"skipped": 1, "duplicates": 1, "uncertain": 1}
    [problem] = doc["Problems"]
    assert problem["Uncertain"] is True and problem["MediaId"] == decision.media_id
    assert targets[-1].backend.jobs() == [] and store.get(key).status == UNCERTAIN

    result, doc = replay("--resubmit-uncertain", str(sample))
    assert result.exit_code == 0, result.stderr
    assert _counts(doc) == {"submitted": 1, "resubmitted": 1}
    assert len(targets[-1].backend.jobs()) == 1 and store.get(key).status == COMPLETED

    result, doc = replay("--resubmit-uncertain", str(sample))  # a done job is never deleted
    assert _counts(doc) == {"skipped": 1, "duplicates": 1} and targets[-1].backend.jobs() == []
    store.close()


def test_resubmit_uncertain_help_warns_about_paying_twice():
    result, _ = replay("--help", as_json=False)
    text = " ".join(result.stdout.split())
    assert "--resubmit-uncertain" in text and "pay twice" in text and "checking in VOD" in text


def test_stdin_is_read_as_jsonl(sqlite_url, targets):
    data = "\n".join(json.dumps(json.loads((EVENTS / "cloudevent" / name).read_text()))
                     for name in ("image-ap-southeast-1.json", "video-cn-beijing.json")) + "\n"
    result, doc = replay("-", input=data.encode())
    assert result.exit_code == 0, result.stderr
    assert _counts(doc) == {"submitted": 2}
    assert [(r["Source"], r["Line"]) for r in doc["Outcomes"]] == [("-", 1), ("-", 2)]
    assert len(targets[0].backend.jobs()) == 2


def test_emulator_jobs_never_mark_real_keys_done(sqlite_url):
    sample = EVENTS / "raw" / "video-cn-shanghai.json"
    result, doc = replay(str(sample))
    [row] = doc["Outcomes"]
    store = open_store(sqlite_url)
    real_key = job_key("vodai", row["Action"], row["MediaId"], row["TemplateId"])
    assert store.get(real_key) is None  # what a --cloud replay (or the function) would claim
    assert store.get(job_key("vodai:emulator", row["Action"], row["MediaId"], row["TemplateId"])).status == COMPLETED
    store.close()


def test_a_missing_path_is_a_usage_error():
    result, _ = replay(str(EVENTS / "nope.json"), as_json=False)
    assert result.exit_code == 2 and "no such file" in result.stderr


@pytest.mark.parametrize("quiet", [False, True])
def test_quiet_silences_the_outcome_lines(quiet, sqlite_url):
    cmd = [sys.executable, "-c", "from vodai.cli import main; main()", "replay", "--no-progress",
           *(["-q"] if quiet else []), str(EVENTS / "raw" / "video-cn-beijing.json")]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=dict(os.environ))
    assert proc.returncode == 0, proc.stderr
    assert ('"logger":"vodai.outcome"' in proc.stderr) is not quiet
    assert "submitted" in proc.stdout


def test_without_a_configured_store_replay_keeps_jobs_under_dot_vodai(monkeypatch, targets):
    from vodai import instance

    monkeypatch.delenv("VODAI_IDEMPOTENCY_STORE")
    instance.reset()  # the stores are kept per process (one Instance); this test's cwd is new
    sample = str(EVENTS / "raw" / "image-ap-southeast-1.json")
    result, doc = replay(sample)
    assert result.exit_code == 0 and _counts(doc) == {"submitted": 1}
    assert (Path(".vodai") / "idempotency.sqlite3").is_file()
    instance.reset()  # as a new process would: read back from the file
    result, doc = replay(sample)
    assert _counts(doc) == {"skipped": 1, "duplicates": 1} and targets[-1].backend.jobs() == []


def test_emulator_target_store_choice(monkeypatch):
    from vodai.local import emulator_target

    assert emulator_target({}).settings.idempotency_url().startswith("memory://")  # invoke: one run, in memory
    assert emulator_target({}, store_url="sqlite:///x.sqlite3").settings.idempotency_url() == "sqlite:///x.sqlite3"
    configured = {"VODAI_IDEMPOTENCY_STORE": "memory://configured"}
    assert emulator_target(configured, store_url="sqlite:///x.sqlite3").settings.idempotency_url() == "memory://configured"


def test_rate_reaches_one_bucket_shared_by_the_workers(monkeypatch, sqlite_url):
    import vodai.replay.runner as runner_module

    buckets = []

    class Recording(runner_module.TokenBucket):
        def __init__(self, rate, **kw):
            super().__init__(rate, **kw)
            self.taken = []
            buckets.append(self)

        def acquire(self, n=1.0):
            self.taken.append(n)
            return 0.0

    monkeypatch.setattr(runner_module, "TokenBucket", Recording)
    result, doc = replay("--rate", "7.5", "--concurrency", "3", str(EVENTS / "cloudevent-batch"))
    assert result.exit_code == 0, result.stderr
    [bucket] = buckets
    assert bucket.rate == 7.5 and sum(bucket.taken) == doc["Events"] == 12 and len(bucket.taken) == 6
