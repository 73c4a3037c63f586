"""The value classes: secrets stay out of their reprs, frozen ones refuse assignment, records keep
their field order through JSON, and copies share nothing mutable."""

import dataclasses

import pytest

from vodai.credentials import Credentials
from vodai.deadletter import DeadLetter
from vodai.events.envelopes import unwrap
from vodai.idempotency import Record
from vodai.pipeline import Dependencies, InvocationResult, Outcome
from vodai.retry import RetryPolicy
from vodai.routing.decision import Submit
from vodai.tracking import TrackedJob


def test_credentials_are_frozen_and_their_repr_shows_no_secret():
    creds = Credentials("AK", "SECRET", "TOKEN")
    assert repr(creds) == "Credentials(access_key_id='AK')"
    with pytest.raises(dataclasses.FrozenInstanceError):
        creds.access_key_id = "other"  # type: ignore[misc]


def test_dependencies_repr_shows_no_secret():
    deps = Dependencies(None, None, None, None, None, None, secrets=["SECRET"])  # type: ignore[arg-type]
    assert "SECRET" not in repr(deps) and "secrets" not in repr(deps)
    with pytest.raises(dataclasses.FrozenInstanceError):
        deps.secrets = []  # type: ignore[misc]


def test_an_envelope_record_repr_leaves_out_the_delivered_bytes():
    [record] = unwrap(b"not json")
    assert record.raw == b"not json" and "raw=" not in repr(record) and "not json" not in repr(record)


def test_defaults_are_fresh_for_each_value():
    a, b = Submit("A", "r", "m", "t"), Submit("A", "r", "m", "t")
    assert a.params == {} and a.params is not b.params
    j1, j2 = TrackedJob("j", "A", "r"), TrackedJob("j", "A", "r")
    assert j1.source == {} and j1.source is not j2.source
    r1, r2 = InvocationResult("x"), InvocationResult("x")
    assert r1.outcomes == [] and r1.outcomes is not r2.outcomes
    d1, d2 = (DeadLetter("why", {}, {}) for _ in range(2))
    assert d1.dead_letter_id != d2.dead_letter_id and d1.time.endswith("Z")
    assert RetryPolicy() == RetryPolicy(5, 0.2, 5.0)


def test_outcome_keys_keep_the_field_order_and_round_trip():
    out = Outcome(0, "submitted", job_id="j", attempts=2)
    assert list(out.to_dict()) == ["Index", "Status", "JobId", "Attempts"]
    assert Outcome.from_dict(out.to_dict()) == out


def test_invocation_result_compares_without_its_encoding_cache():
    a, b = InvocationResult("r"), InvocationResult("r")
    a.add(Outcome(0, "skipped"), ({"Index": 0}, "{}"))
    b.add(Outcome(0, "skipped"))
    assert a == b and "_encoded" not in repr(a)
    assert [f.name for f in dataclasses.fields(InvocationResult) if f.init] == ["request_id", "outcomes"]


def test_records_round_trip_through_json_in_field_order():
    record = Record("k", "SUBMITTED", 1.0, 2.0, 1, job_id="j", message="{}")
    assert Record.from_json(record.to_json()) == record
    assert record.to_json().startswith('{"key":"k","status":"SUBMITTED","lock_until":1.0')
    job = TrackedJob("j", "SubmitAIImageJob", "cn-shanghai", source={"EventType": "FileUploadComplete"})
    assert TrackedJob.from_json(job.to_json()) == job


def test_copies_share_nothing_mutable():
    job = TrackedJob("j", "SubmitAIImageJob", "cn-shanghai", source={"EventType": "FileUploadComplete"})
    clone = job.copy()
    clone.source["EventType"], clone.status = "changed", "success"
    assert job.source == {"EventType": "FileUploadComplete"} and job.status == "pending"
    record = Record("k", "INPROGRESS")
    other = record.copy()
    other.status = "COMPLETED"
    assert record.status == "INPROGRESS"
