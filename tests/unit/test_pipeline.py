"""The dispatch pipeline against the in-process emulator: every sample ends in one outcome,
the right action is submitted with the right parameters, and the JobId reaches the topic."""

import dataclasses
import json
import tempfile

import pytest

from conftest import EVENTS, expected_outcomes, sample_files
from vodai.clients import new_session
from vodai.config import Settings
from vodai.local_context import LocalContext, LocalCredentials
from vodai.credentials import Credentials
from vodai.deadletter.backends.jsonl import JsonlDirectorySink
from vodai.emulator import EmulatorBackend, mount
from vodai.idempotency.backends.memory import MemoryStore
from vodai.exceptions import VodApiError
from vodai.pipeline import DEAD_LETTERED, FAILED, SKIPPED, SUBMITTED, build, dispatch
from vodai.pipeline.dispatch import decide_all

URL = "http://emulator.test"
CREDS = Credentials("STS.pipeline", "pipeline-secret", "pipeline-sts-token")
EXPECTED = expected_outcomes()


# One dead-letter folder for the module, removed when the test process exits.
_DEAD_LETTERS = tempfile.TemporaryDirectory(prefix="vodai-test-dead-letters-")


def _target(settings_update=None, creds=CREDS):
    backend = EmulatorBackend()
    backend.add_credentials(CREDS.access_key_id, CREDS.access_key_secret, security_token=CREDS.security_token)
    backend.create_topic("vodai-callback")
    session = new_session()
    mount(backend, session)
    values = dict(ai_template_id="tpl-ai", audit_template_id="tpl-audit", callback_topic="vodai-callback",
                  vod_endpoint=URL, mns_endpoint=URL)
    settings = Settings(**{**values, **(settings_update or {})})
    context = LocalContext(credentials=LocalCredentials(creds.access_key_id, creds.access_key_secret, creds.security_token))
    deps = build(settings, context=context, session=session, store=MemoryStore(),
                 dead_letters=JsonlDirectorySink(_DEAD_LETTERS.name))
    return backend, deps, context


def _seed_media(backend, raw, deps, context):
    """The emulator has each media the delivery names, uploaded in its region: an HTTP-trigger
    event's media is checked with VOD (GetVideoInfo / GetImageInfo) before its submit."""
    for _record, out, _event, _decision in decide_all(raw, settings=deps.settings, routes=deps.routes, context=context):
        if out.media_id and out.region and out.media_type:
            backend.add_media(out.media_type, out.region, media_id=out.media_id)


@pytest.mark.parametrize("path", sample_files(), ids=lambda p: str(p.relative_to(EVENTS)))
def test_every_sample_ends_in_its_outcome(path):
    backend, deps, context = _target()
    _seed_media(backend, path.read_bytes(), deps, context)
    result = dispatch(path.read_bytes(), deps, context=context)
    expected = EXPECTED[str(path.relative_to(EVENTS))]
    assert len(result.outcomes) == len(expected)
    messages = backend.topic_messages("vodai-callback")
    submitted = [o for o in result.outcomes if o.status == SUBMITTED]
    assert len(messages) == len(submitted) == len(backend.jobs())
    for outcome, want in zip(result.outcomes, expected):
        if "error_field" in want:
            assert outcome.status == DEAD_LETTERED and want["error_field"] in outcome.reason
        elif want["skipped"]:
            assert outcome.status == SKIPPED and outcome.reason
        else:
            assert outcome.status == SUBMITTED and outcome.action == want["action"]
            assert outcome.job_id and outcome.message_id and outcome.region == want["region"]
    for outcome, message in zip(submitted, messages):
        body = json.loads(message["MessageBody"])
        assert message["MessageTag"] == outcome.action.replace("Submit", "", 1)
        assert (body["JobId"], body["MediaId"], body["Action"], body["Region"]) == (
            outcome.job_id, outcome.media_id, outcome.action, outcome.region)
        for key in ("RequestId", "MediaType", "EventType", "EventTime", "TemplateId"):
            assert body[key], key


def test_submitted_parameters_reach_vod_as_routed():
    backend, deps, context = _target({"ai_pipeline_id": "pipe-1"})
    raw = (EVENTS / "cloudevent" / "video-cn-beijing.json").read_bytes()
    [outcome] = dispatch(raw, deps, context=context).outcomes
    [job] = backend.jobs()
    assert job["JobId"] == outcome.job_id
    [log] = [r for r in backend.requests_log() if r["action"] == "SubmitAIImageJob"]
    assert log["region"] == "cn-beijing"
    assert log["params"]["AITemplateId"] == "tpl-ai" and log["params"]["AIPipelineId"] == "pipe-1"
    assert json.loads(log["params"]["UserData"])["Extend"]["vodai"]["MediaId"] == outcome.media_id


@pytest.mark.parametrize("signature_version", ["v3", "v1"])
@pytest.mark.parametrize("template", ["tpl-audit", None])
def test_image_audit_with_and_without_a_template(template, signature_version):
    # Without VODAI_AUDIT_TEMPLATE_ID the request leaves TemplateId out (the account's default).
    backend, deps, context = _target({"audit_template_id": template, "signature_version": signature_version})
    raw = (EVENTS / "cloudevent" / "image-ap-southeast-1.json").read_bytes()
    [outcome] = dispatch(raw, deps, context=context).outcomes
    assert outcome.status == SUBMITTED, outcome.reason
    [log] = [r for r in backend.requests_log() if r["action"] == "SubmitAIImageAuditJob"]
    assert log["params"].get("TemplateId") == template
    [message] = backend.topic_messages("vodai-callback")
    assert json.loads(message["MessageBody"]).get("TemplateId") == template
    # The same upload again is a duplicate under the same job key, template or not.
    [again] = dispatch(raw, deps, context=context).outcomes
    assert again.status == SKIPPED and again.duplicate
    assert len(backend.jobs()) == 1


@pytest.mark.parametrize("version", ["v3", "v1"])
def test_wrong_secret_is_rejected_and_no_secret_leaks(version):
    wrong = Credentials(CREDS.access_key_id, "not-the-secret", CREDS.security_token)
    backend, deps, context = _target({"signature_version": version}, creds=wrong)
    [outcome] = dispatch((EVENTS / "raw" / "video-cn-shanghai.json").read_bytes(), deps, context=context).outcomes
    assert outcome.status == DEAD_LETTERED and outcome.error["Code"] == "SignatureDoesNotMatch"
    text = json.dumps(outcome.to_dict())
    for secret in wrong.secrets():
        assert secret not in text
    assert backend.topic_messages("vodai-callback") == []


def test_missing_topic_rejects_before_any_submission():
    backend, deps, context = _target({"callback_topic": "no-such-topic"})
    backend_jobs_before = len(backend.jobs())
    [outcome] = dispatch((EVENTS / "raw" / "video-cn-shanghai.json").read_bytes(), deps, context=context).outcomes
    # The topic does not exist: the job was submitted but publishing failed permanently.
    assert outcome.status == DEAD_LETTERED and "TopicNotExist" in outcome.reason and outcome.job_id
    assert len(backend.jobs()) == backend_jobs_before + 1


def test_unset_topic_is_checked_before_submitting():
    backend, deps, context = _target({"callback_topic": None})
    [outcome] = dispatch((EVENTS / "raw" / "video-cn-shanghai.json").read_bytes(), deps, context=context).outcomes
    assert outcome.status == DEAD_LETTERED and "VODAI_CALLBACK_TOPIC" in outcome.reason
    assert backend.jobs() == []


def test_region_restriction_from_the_service_is_a_permanent_rejection():
    # A rules file that claims SubmitAIImageJob in ap-southeast-1: VOD (the emulator) refuses it.
    from vodai.routing import RouteTable, Rule

    backend, deps, context = _target()
    deps = dataclasses.replace(deps, routes=RouteTable(rules=[Rule(action="SubmitAIImageJob", media_types=["video"], regions=["ap-southeast-1"])]))
    [outcome] = dispatch((EVENTS / "raw" / "video-ap-southeast-1.json").read_bytes(), deps, context=context).outcomes
    assert outcome.status == DEAD_LETTERED and outcome.error["HttpStatus"] == 403


class ThrottledVod:
    """A VOD client that is always throttled, passed in through Dependencies."""

    def __init__(self):
        self.sent = 0

    def stamp(self):
        return f"nonce-{self.sent}", "2026-01-01T00:00:00Z"

    def prepare(self, action, region, params, *, nonce=None, timestamp=None):
        return (action, region, params, nonce)

    def send(self, prepared, action, timeout=None):
        self.sent += 1
        raise VodApiError("Throttling.User", "Request was denied due to user flow control.", status=400,
                          retryable=True, action=action)


def test_retryable_error_marks_failed():
    backend, deps, context = _target()
    vod, slept = ThrottledVod(), []
    deps = dataclasses.replace(deps, vod=vod, sleep=slept.append)
    result = dispatch((EVENTS / "raw" / "video-cn-shanghai.json").read_bytes(), deps, context=context)
    assert [o.status for o in result.outcomes] == [FAILED] and result.failed
    # Retried with backoff up to the policy's attempts, then given up; the key is free again.
    assert vod.sent == deps.retry.max_attempts == result.outcomes[0].attempts
    assert len(slept) == deps.retry.max_attempts - 1 and all(0 <= s <= deps.retry.max_delay for s in slept)
