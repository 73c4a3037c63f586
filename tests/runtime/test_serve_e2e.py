"""``vodai serve --function on_upload`` and the emulator as real processes, driven over HTTP exactly
as FC drives a custom runtime: one test per trigger path. The STS credentials exist only in the
x-fc-access-key-id/secret/security-token headers (no ALIBABA_CLOUD_* anywhere), so a job in the
emulator proves they reached it as a valid STS-signed request."""

import pytest

from _servers import emulator_server
from conftest import EVENTS

from .checks import clear_state, AK, SECRET, TOKEN, TOPIC, invoke_and_check_submitted, settings_env, sts_headers
from .procs import SERVE, clean_env, shim_process

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server():
    with emulator_server(AK, SECRET, TOKEN, topics=(TOPIC,)) as srv:
        yield srv


@pytest.fixture(scope="module")
def shim(server):
    command = SERVE + ["--function", "on_upload", "--port", "0"]
    with shim_process(command, clean_env(settings_env(server.url)), "vodai serve: on_upload") as proc:
        yield proc


@pytest.fixture(autouse=True)
def _fresh_emulator(server):
    server.reset()
    clear_state()


def _sample(path: str):
    return path, (EVENTS / path).read_bytes()


def test_mns_topic_trigger_json_format(shim, server):
    invoke_and_check_submitted(shim, server, *_sample("mns-topic-json/video-cn-shanghai.json"))


@pytest.mark.parametrize("sample", ["raw/video-cn-beijing.json", "raw-base64/image-ap-southeast-1.json"])
def test_mns_topic_trigger_stream_format(shim, server, sample):
    invoke_and_check_submitted(shim, server, *_sample(sample))


def test_queue_delivery_batch_submits_every_record(shim, server):
    summary = invoke_and_check_submitted(shim, server, *_sample("cloudevent-batch/video-cn-shanghai.json"))
    assert len(summary["Outcomes"]) == 2 and summary["Counts"] == {"submitted": 2}


def test_direct_invocation_with_a_raw_body(shim, server):
    invoke_and_check_submitted(shim, server, *_sample("raw/image-ap-southeast-1.json"))


def test_wrong_secret_is_rejected_with_signature_does_not_match(shim, server):
    wrong = "not-the-secret-" + SECRET[::-1]
    response = shim.invoke((EVENTS / "raw" / "video-cn-shanghai.json").read_bytes(), sts_headers(secret=wrong))
    # A permanent API error rejects the event; it is not a failed (retried) invocation.
    assert response.status_code == 200 and "x-fc-status" not in response.headers
    [outcome] = response.json()["Outcomes"]
    assert outcome["Status"] == "dead_lettered" and "SignatureDoesNotMatch" in outcome["Reason"], outcome
    [entry] = server.requests_log()  # refused at VOD: nothing was published either
    assert (entry["service"], entry["error_code"]) == ("vod", "SignatureDoesNotMatch"), entry
    assert server.jobs() == [] and server.topic_messages(TOPIC) == []
    assert wrong not in response.text + shim.output() and TOKEN not in response.text + shim.output()
