"""Batches report per-record outcomes (one bad record neither fails nor repeats the others), and
every outcome is one JSON log line with the fields FC's log service indexes."""

import dataclasses
import json
import tempfile

from vodai.clients import new_session
from vodai.config import Settings
from vodai.local_context import LocalContext, LocalCredentials
from vodai.deadletter.backends.jsonl import JsonlDirectorySink
from vodai.emulator import EmulatorBackend, mount
from vodai.emulator.faults import FaultRule
from vodai.events import samples
from vodai.idempotency import open_store
from vodai.pipeline import build, dispatch

AK, SECRET, TOKEN = "STS.batch", "batch-secret-value", "batch-token-value"
URL = "http://emulator.batch"


def _target(tmp):
    backend = EmulatorBackend()
    backend.add_credentials(AK, SECRET, security_token=TOKEN)
    backend.create_topic("vodai-callback")
    session = new_session()
    mount(backend, session)
    settings = Settings(ai_template_id="tpl", audit_template_id="tpl-a", callback_topic="vodai-callback",
                        vod_endpoint=URL, mns_endpoint=URL, retry_attempts=2)
    context = LocalContext(credentials=LocalCredentials(AK, SECRET, TOKEN))
    deps = build(settings, context=context, session=session, store=open_store("memory://"),
                 dead_letters=JsonlDirectorySink(tmp))
    return backend, dataclasses.replace(deps, sleep=lambda s: None), context


def _batch():
    bodies = [samples.body("video", region="cn-shanghai", media_id=f"batch-v{i}") for i in range(3)]
    events = [json.loads(samples.wrap(b, "cloudevent", region="cn-shanghai")) for b in bodies]
    broken = json.loads(samples.wrap("not an event", "cloudevent", region="cn-shanghai"))
    return json.dumps([events[0], broken, events[1], events[2]]).encode()


def test_a_bad_record_is_dead_lettered_alone_and_a_redelivery_repeats_nothing(tmp_path):
    backend, deps, context = _target(str(tmp_path))
    # Both attempts (retry_attempts=2) of the first record's submit are throttled: it fails.
    backend.faults.add(FaultRule(operation="SubmitAIImageJob", kind="error", code="Throttling.User", status=400, times=2))
    first = dispatch(_batch(), deps, context=context)
    assert [o.status for o in first.outcomes] == ["failed", "dead_lettered", "submitted", "submitted"]
    assert first.failed and first.outcomes[0].attempts == 2
    assert len(backend.jobs()) == 2 and len(backend.topic_messages("vodai-callback")) == 2
    [letter_file] = tmp_path.glob("*.jsonl")
    assert len(letter_file.read_text().splitlines()) == 1

    # The platform redelivers the whole batch: the failed record goes through, the done ones are duplicates.
    second = dispatch(_batch(), deps, context=context)
    assert [(o.status, bool(o.duplicate)) for o in second.outcomes] == [
        ("submitted", False), ("dead_lettered", False), ("skipped", True), ("skipped", True)]
    assert len(backend.jobs()) == 3 and len(backend.topic_messages("vodai-callback")) == 3


def test_one_json_log_line_per_outcome_with_the_indexed_fields(tmp_path, capfd):
    backend, deps, context = _target(str(tmp_path))
    backend.faults.add(FaultRule(operation="SubmitAIImageJob", kind="error", code="Throttling.User", status=400, times=1))
    result = dispatch(_batch(), deps, context=context)
    lines = [json.loads(line) for line in capfd.readouterr().err.splitlines() if line.startswith("{")]
    assert len(lines) == len(result.outcomes) == 4
    for line, outcome in zip(lines, result.outcomes):
        assert line["fcRequestId"] == context.request_id and line["logger"] == "vodai.outcome"
        assert line["Status"] == outcome.status and line["DurationMs"] >= 0 and line["time"].endswith("Z")
    first = lines[0]
    assert (first["MediaId"], first["Action"], first["Attempts"]) == ("batch-v0", "SubmitAIImageJob", 2)  # submit attempts only
    assert first["JobId"] == result.outcomes[0].job_id
    text = "\n".join(json.dumps(line) for line in lines)
    assert SECRET not in text and TOKEN not in text


def test_an_added_handler_receives_the_same_outcome_lines(tmp_path, capfd):
    """The default set-up writes lines straight to stderr; a handler someone adds to the
    ``vodai.outcome`` logger must still get every line, and the same text."""
    import logging

    from vodai.logs import outcome_logger

    records = []

    class Collect(logging.Handler):
        def emit(self, record):
            records.append(record.getMessage())

    backend, deps, context = _target(str(tmp_path))
    handler = Collect()
    outcome_logger().addHandler(handler)
    try:
        dispatch(_batch(), deps, context=context)
    finally:
        outcome_logger().removeHandler(handler)
    written = [line for line in capfd.readouterr().err.splitlines() if line.startswith("{")]
    assert len(records) == 4
    assert [json.loads(r)["Status"] for r in records] == [json.loads(w)["Status"] for w in written]


def test_a_disabled_outcome_logger_writes_nothing(tmp_path, capfd):
    from vodai.logs import outcome_logger

    backend, deps, context = _target(str(tmp_path))
    outcome_logger().disabled = True
    try:
        result = dispatch(_batch(), deps, context=context)
    finally:
        outcome_logger().disabled = False
    assert len(result.outcomes) == 4
    assert not [line for line in capfd.readouterr().err.splitlines() if line.startswith("{")]


def _expected_line(line_text: str, outcome, fc_request_id) -> str:
    """The line as encoding the whole document would write it (its time taken from the line)."""
    from vodai import jsontext

    level = "WARNING" if outcome.status == "failed" else "INFO"
    doc = {"time": json.loads(line_text)["time"], "level": level, "logger": "vodai.outcome",
           "fcRequestId": fc_request_id, **outcome.to_dict()}
    return jsontext.compact(doc)


def test_each_line_is_exactly_the_encoded_document_whatever_the_request_id(tmp_path, capfd):
    """The line is built from the outcome's own JSON text after the line's four fields: it must be
    the very text encoding the whole document gives (a failed outcome's level, its Error object, a
    request id to escape or none at all)."""
    backend, deps, context = _target(str(tmp_path))
    backend.faults.add(FaultRule(operation="SubmitAIImageJob", kind="error", code="Throttling.User", status=400, times=2))
    levels = set()
    for request_id in ('req-"quoted"-ü-\\', None):
        ctx = dataclasses.replace(context, request_id=request_id)
        result = dispatch(_batch(), deps, context=ctx)
        written = [line for line in capfd.readouterr().err.splitlines() if line.startswith("{")]
        assert len(written) == len(result.outcomes) == 4
        for text, outcome in zip(written, result.outcomes):
            assert text == _expected_line(text, outcome, request_id)
            levels.add(json.loads(text)["level"])
    assert levels == {"INFO", "WARNING"}


def test_the_answer_reuses_line_texts_only_while_the_outcomes_are_unchanged(tmp_path):
    """InvocationResult.to_json reuses each outcome's text from its log line; whatever happens to an
    outcome afterwards, the answer is still exactly compact(to_dict())."""
    from vodai import jsontext
    from vodai.pipeline import Outcome

    backend, deps, context = _target(str(tmp_path))
    backend.faults.add(FaultRule(operation="SubmitAIImageJob", kind="error", code="Throttling.User", status=400, times=2))
    result = dispatch(_batch(), deps, context=context)
    assert result.outcomes[0].status == "failed" and isinstance(result.outcomes[0].error, dict)
    assert result._encoded, "the log lines' texts were kept for the answer"

    def same() -> bool:
        return result.to_json() == jsontext.compact(result.to_dict())

    assert same()
    result.outcomes[2].status = "skipped"  # a scalar replaced
    assert same()
    result.outcomes[0].error["Code"] = "Changed.InPlace"  # a container changed in place
    assert same()
    result.outcomes[3].duration_ms = 1  # an equal-looking value of another type
    result.outcomes[3].attempts = True
    assert same()
    result.outcomes[1] = Outcome(index=1, status="skipped", reason="replaced")
    result.outcomes.append(Outcome(index=4, status="planned"))
    assert same()
    assert json.loads(result.to_json())["Outcomes"][0]["Error"]["Code"] == "Changed.InPlace"


def test_a_disabled_logger_leaves_the_answer_encoded_in_full(tmp_path, capfd):
    from vodai import jsontext
    from vodai.logs import outcome_logger

    backend, deps, context = _target(str(tmp_path))
    outcome_logger().disabled = True
    try:
        result = dispatch(_batch(), deps, context=context)
    finally:
        outcome_logger().disabled = False
    assert not result._encoded
    assert result.to_json() == jsontext.compact(result.to_dict())
