"""Fault rules: the compact spec grammar, JSON, validation, and the command-line options."""

from __future__ import annotations

import dataclasses
import json

import pytest
from click.testing import CliRunner

from vodai.cli import main
from vodai.cli.emulator_faults import emulator_faults
from vodai.emulator import FaultRule, FaultSpecError, parse_fault

GOOD_SPECS = [
    (
        "SubmitAIImageJob:error=Throttling.User/400,p=0.1",
        FaultRule("SubmitAIImageJob", "error", code="Throttling.User", status=400, probability=0.1),
    ),
    ("PublishMessage:reset,times=2", FaultRule("PublishMessage", "reset", times=2)),
    ("*:latency=0.5", FaultRule("*", "latency", latency=0.5)),
    ("SubmitAIImageJob:lost,times=1", FaultRule("SubmitAIImageJob", "lost", times=1)),
    ("GetAIImageJobs:error=InternalError", FaultRule("GetAIImageJobs", "error", code="InternalError", status=500)),
    (
        "SendMessage:error=QueueFull/403,latency=1.5",
        FaultRule("SendMessage", "error", code="QueueFull", status=403, latency=1.5),
    ),
    (
        " SubmitAIImageAuditJob : reset , probability=0.25 ",
        FaultRule("SubmitAIImageAuditJob", "reset", probability=0.25),
    ),
    ("*:lost,latency=2,p=1,times=3", FaultRule("*", "lost", latency=2, times=3)),
    ('{"operation": "*", "kind": "lost", "times": 1}', FaultRule("*", "lost", times=1)),
    (
        '{"operation": "PublishMessage", "code": "Oops", "status": 502, "message": "Bad gateway."}',
        FaultRule("PublishMessage", "error", code="Oops", status=502, message="Bad gateway."),
    ),
    ('{"operation": "SubmitAIImageJob", "latency": 3}', FaultRule("SubmitAIImageJob", "latency", latency=3)),
]


@pytest.mark.parametrize("spec,expected", GOOD_SPECS, ids=[s for s, _ in GOOD_SPECS])
def test_good_specs(spec: str, expected: FaultRule):
    rule = FaultRule.parse(spec)
    assert rule == expected
    assert parse_fault(spec) == expected


@pytest.mark.parametrize("expected", [rule for _, rule in GOOD_SPECS])
def test_spec_and_dict_round_trip(expected: FaultRule):
    # The spec form carries everything but a custom message (JSON only).
    assert dataclasses.replace(FaultRule.parse(expected.spec()), message=expected.message) == expected
    assert FaultRule.from_dict(json.loads(json.dumps(expected.to_dict()))) == expected


def test_known_codes_get_their_status_and_wording():
    rule = FaultRule.parse("SubmitAIImageJob:error=Throttling.User")
    assert (rule.status, rule.message) == (400, "Request was denied due to user flow control.")
    assert FaultRule.parse("*:error=ServiceUnavailable").status == 503
    assert FaultRule.parse("*:error=Custom/418").message == "Injected fault: Custom."


BAD_SPECS = [
    ("", "expected OPERATION:ITEM"),
    ("SubmitAIImageJob", "expected OPERATION:ITEM"),
    ("SubmitAIImageJob:", "expected OPERATION:ITEM"),
    ("SubmitAIImagJob:reset", "unknown operation 'SubmitAIImagJob': use one of *, GetAIImageJobs"),
    ("SubmitAIImageJob:explode", "cannot read 'explode'; expected error=CODE[/STATUS], reset, lost"),
    ("SubmitAIImageJob:reset,lost", "reset and lost: a rule has one kind"),
    ("SubmitAIImageJob:error=InternalError,reset", "error and reset: a rule has one kind"),
    ("SubmitAIImageJob:p=0.5", "say what to inject"),
    ("SubmitAIImageJob:error=", "cannot read 'error='"),
    ("SubmitAIImageJob:error=Nope", "no HTTP status is known for Nope: write error=Nope/STATUS"),
    ("SubmitAIImageJob:error=Nope/abc", "error=Nope/abc: must be an HTTP status"),
    ("SubmitAIImageJob:error=Nope/200", "an error status must be 400..599"),
    ("SubmitAIImageJob:reset,p=1.5", "a probability must be between 0 and 1"),
    ("SubmitAIImageJob:reset,p=often", "p=often: must be a probability"),
    ("SubmitAIImageJob:reset,times=0", "times=0: must be a whole number >= 1"),
    ("SubmitAIImageJob:reset,times=two", "times=two: must be a whole number"),
    ("SubmitAIImageJob:latency=-1", "must be a number of seconds >= 0"),
    ("SubmitAIImageJob:latency=nan", "must be a number of seconds >= 0"),
    ("SubmitAIImageJob:latency=0", "a latency rule needs latency > 0"),
    ("SubmitAIImageJob:reset,reset", "reset given twice"),
    ("SubmitAIImageJob:reset,p=0.1,probability=0.2", "probability given twice"),
    ("{not json", "not valid JSON"),
    ('{"operation": "*", "kind": "reset", "colour": "red"}', "unknown field(s) colour"),
    ('{"kind": "reset"}', "needs an operation"),
    ('{"operation": "*"}', "needs a kind"),
    ('{"operation": "*", "kind": "explode"}', "unknown kind 'explode'"),
    ('{"operation": "*", "kind": "reset", "code": "X"}', "belong to an error rule, not reset"),
    ('{"operation": "*", "kind": "reset", "latency": "1"}', "latency='1': must be a number"),
    ('{"operation": "*", "kind": "reset", "times": 1.5}', "must be a whole number >= 1"),
    ('{"operation": "*", "code": "a b", "status": 400}', "needs a code without spaces"),
]


@pytest.mark.parametrize("spec,message", BAD_SPECS, ids=[s or "empty" for s, _ in BAD_SPECS])
def test_bad_specs_say_what_is_wrong(spec: str, message: str):
    with pytest.raises(FaultSpecError) as caught:
        FaultRule.parse(spec)
    assert message in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_a_rule_checks_itself_when_built_directly():
    with pytest.raises(FaultSpecError, match="unknown operation"):
        FaultRule("Publish", "reset")
    with pytest.raises(FaultSpecError, match="a probability must be between 0 and 1"):
        FaultRule("*", "reset", probability=-0.1)
    with pytest.raises(FaultSpecError, match="must be a JSON object"):
        FaultRule.from_dict(["*:reset"])  # type: ignore[arg-type]


# -- the command line ----------------------------------------------------------------------


@pytest.fixture
def creds_env() -> dict[str, str]:
    return {"ALIBABA_CLOUD_ACCESS_KEY_ID": "ak", "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "secret"}


@pytest.mark.parametrize(
    "spec,message",
    [
        ("Nope:reset", "unknown operation 'Nope'"),
        ("SubmitAIImageJob:reset,times=0", "times=0: must be a whole number >= 1"),
        ("SubmitAIImageJob", "expected OPERATION:ITEM"),
    ],
)
def test_emulator_rejects_a_bad_fault_before_starting(creds_env, spec: str, message: str):
    result = CliRunner().invoke(
        main, ["emulator", "--port", "0", "--fault", "*:latency=1", "--fault", spec], env=creds_env
    )
    assert result.exit_code == 2, result.output
    assert "Invalid value for '--fault'" in result.output
    assert message in result.output
    assert "listening" not in result.output


def test_emulator_rejects_a_bad_seed(creds_env):
    result = CliRunner().invoke(main, ["emulator", "--seed", "abc"], env=creds_env)
    assert result.exit_code == 2
    assert "--seed" in result.output


def test_emulator_help_documents_faults_queues_and_seed():
    result = CliRunner().invoke(main, ["emulator", "--help"])
    assert result.exit_code == 0
    for text in ("--fault", "--seed", "--queue", "error=CODE[/STATUS]", "reset", "lost",
                 "latency=SECONDS", "p=PROBABILITY", "times=N", "PublishMessage:reset,times=2",
                 "emulator-faults"):
        assert text in result.output


def test_emulator_faults_help_lists_its_commands():
    result = CliRunner().invoke(emulator_faults, ["--help"])
    assert result.exit_code == 0
    for command in ("add", "list", "clear", "seed"):
        assert command in result.output


def test_emulator_faults_add_checks_specs_before_sending():
    # Nothing listens on port 9 here; the spec is refused before any connection is tried.
    result = CliRunner().invoke(emulator_faults, ["add", "Nope:lost", "--url", "http://127.0.0.1:9"])
    assert result.exit_code == 2
    assert "unknown operation 'Nope'" in result.output


def test_emulator_faults_reports_an_unreachable_emulator():
    result = CliRunner().invoke(emulator_faults, ["list", "--url", "http://127.0.0.1:9"])
    assert result.exit_code == 1
    assert "cannot reach the emulator at http://127.0.0.1:9" in result.output
