"""STS credentials with the official SDKs against an emulator process started with a token."""

from __future__ import annotations

import pytest
from alibabacloud_tea_openapi.exceptions import ClientException
from aliyunsdkcore.acs_exception.exceptions import ServerException
from mns.mns_exception import MNSServerException

from _servers import emulator_server

from . import sdk_clients as sdk
from .helpers import TRICKY_USER_DATA, USER_DATA

pytestmark = pytest.mark.e2e

AK, SECRET = "STS.sdk-test-ak", "sts-sdk-secret"
TOKEN = "CAIS/sts+token=with odd~chars*"
TOPIC = "vodai-callback"


@pytest.fixture(scope="module")
def server():
    with emulator_server(AK, SECRET, security_token=TOKEN, topics=(TOPIC,)) as server:
        yield server


@pytest.fixture(autouse=True)
def fresh(server):
    server.reset()


@pytest.mark.parametrize("signature", sdk.SIGNATURES)
def test_vod_with_token(server, signature: str):
    client = sdk.vod_client(server, AK, SECRET, signature=signature, security_token=TOKEN)
    job_id = sdk.submit_ai_image_job(client, "video-1", "tpl-1", TRICKY_USER_DATA)
    assert server.jobs()[0]["JobId"] == job_id


@pytest.mark.parametrize("signature", sdk.SIGNATURES)
@pytest.mark.parametrize(
    ("token", "code"),
    [(None, "MissingSecurityToken"), ("other-token", "InvalidSecurityToken.MismatchWithAccessKey")],
)
def test_vod_without_the_right_token(server, signature: str, token, code: str):
    client = sdk.vod_client(server, AK, SECRET, signature=signature, security_token=token)
    with pytest.raises(ClientException) as caught:
        sdk.submit_ai_image_job(client, "video-1", "tpl-1", USER_DATA)
    assert caught.value.code == code
    assert server.jobs() == []


@pytest.mark.parametrize("signature", sdk.SIGNATURES)
def test_vod_with_token_and_wrong_secret(server, signature: str):
    client = sdk.vod_client(server, AK, "wrong", signature=signature, security_token=TOKEN)
    with pytest.raises(ClientException) as caught:
        sdk.submit_ai_image_job(client, "video-1", "tpl-1", USER_DATA)
    assert caught.value.code == "SignatureDoesNotMatch"


def test_legacy_with_token(server):
    client = sdk.legacy_client(server, AK, SECRET, security_token=TOKEN)
    job_id = sdk.legacy_submit(client, "video-1", "tpl-1", TRICKY_USER_DATA)["JobId"]
    assert server.jobs()[0]["JobId"] == job_id


def test_legacy_without_token(server):
    with pytest.raises(ServerException) as caught:
        sdk.legacy_submit(sdk.legacy_client(server, AK, SECRET), "video-1", "tpl-1", USER_DATA)
    assert caught.value.get_error_code() == "MissingSecurityToken"


def test_mns_with_token(server):
    sdk.mns_publish(server, AK, SECRET, TOPIC, TRICKY_USER_DATA, "tag", security_token=TOKEN)
    assert server.topic_messages(TOPIC)[0]["MessageBody"] == TRICKY_USER_DATA


@pytest.mark.parametrize("token", ["", "other-token"])
def test_mns_without_the_right_token(server, token: str):
    with pytest.raises(MNSServerException) as caught:
        sdk.mns_publish(server, AK, SECRET, TOPIC, "body", "tag", security_token=token)
    assert caught.value.type == "AccessDenied"
    assert server.topic_messages(TOPIC) == []


def test_mns_with_token_and_wrong_secret(server):
    with pytest.raises(MNSServerException) as caught:
        sdk.mns_publish(server, AK, "wrong", TOPIC, "body", "tag", security_token=TOKEN)
    assert caught.value.type == "SignatureDoesNotMatch"


def test_token_never_reaches_the_logs(server):
    sdk.submit_ai_image_job(
        sdk.vod_client(server, AK, SECRET, signature="v1", security_token=TOKEN), "v", "t", USER_DATA
    )
    sdk.legacy_submit(sdk.legacy_client(server, AK, SECRET, security_token=TOKEN), "v", "t", USER_DATA)
    sdk.mns_publish(server, AK, SECRET, TOPIC, "body", "tag", security_token=TOKEN)

    assert len(server.requests_log()) == 3
    assert TOKEN not in str(server.requests_log())
    assert TOKEN not in server.stderr_text() and SECRET not in server.stderr_text()
