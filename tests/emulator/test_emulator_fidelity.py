"""Parameter rules as VOD and MNS document them: strict media, UserData keys, MessageTag length,
configurable length limits."""

from __future__ import annotations

import json

import pytest

from vodai.emulator import EmulatorBackend

from .helpers import (
    AUDIT_PARAMS,
    SUBMIT_PARAMS,
    TOPIC,
    message_xml,
    mns_error,
    mns_publish,
    submit_audit,
    submit_job,
    v1,
    vod_error,
)

# -- strict media ----------------------------------------------------------------------------


def test_lenient_by_default(session, backend: EmulatorBackend):
    assert submit_job(session, VideoId="never-uploaded")


def test_strict_media_refuses_an_unknown_video(session, backend: EmulatorBackend):
    backend.strict_media = True
    body = vod_error(v1(session, {**SUBMIT_PARAMS, "VideoId": "never-uploaded"}), 404, "InvalidVideo.NotFound")
    assert body["Message"] == "The video does not exist."
    assert backend.jobs() == []


def test_strict_media_accepts_uploaded_and_seeded_media(session, backend: EmulatorBackend):
    backend.strict_media = True
    uploaded = backend.upload("video", "cn-shanghai")["MediaId"]
    seeded = backend.add_media("audio", "cn-shanghai", media_id="song-1")["MediaId"]
    image = backend.add_media("image", "ap-southeast-1")["MediaId"]

    assert submit_job(session, VideoId=uploaded) and submit_job(session, VideoId=seeded)
    assert submit_audit(session, MediaId=image)


def test_strict_media_is_regional_and_typed(session, backend: EmulatorBackend):
    backend.strict_media = True
    video = backend.add_media("video", "cn-beijing")["MediaId"]
    image = backend.add_media("image", "cn-shanghai")["MediaId"]

    vod_error(v1(session, {**SUBMIT_PARAMS, "VideoId": video}), 404, "InvalidVideo.NotFound")  # other region
    vod_error(v1(session, {**SUBMIT_PARAMS, "VideoId": image}), 404, "InvalidVideo.NotFound")  # an image
    vod_error(v1(session, {**AUDIT_PARAMS, "MediaId": video}), 404, "InvalidImage.NotFound")


# -- UserData --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "user_data",
    ['{"Extend":{"a":1}}', '{"MessageCallback":{"CallbackURL":"http://x"}}',
     '{"Extend":"text","MessageCallback":{"CallbackType":"http"}}'],
)
def test_user_data_with_allowed_keys(session, user_data: str):
    assert submit_job(session, UserData=user_data)


def test_user_data_with_other_keys_is_refused(session, backend: EmulatorBackend):
    body = vod_error(v1(session, {**SUBMIT_PARAMS, "UserData": '{"Extend":{},"Other":1}'}), 400, "InvalidParameter")
    assert '"UserData"' in body["Message"] and "Other" in body["Message"]
    assert backend.jobs() == []


@pytest.mark.parametrize(
    ("user_data", "reason"),
    [
        ("{}", "MessageCallback or Extend"),
        ('{"Extend": 5}', "Extend must be"),
        ('{"Extend": null}', "Extend must be"),
        ('{"MessageCallback": "http://x"}', "MessageCallback must be"),
    ],
)
def test_user_data_without_a_usable_key_is_refused(session, backend: EmulatorBackend, user_data: str, reason: str):
    # VOD requires MessageCallback or Extend in UserData.
    body = vod_error(v1(session, {**SUBMIT_PARAMS, "UserData": user_data}), 400, "InvalidParameter")
    assert '"UserData"' in body["Message"] and reason in body["Message"]
    assert backend.jobs() == []


# -- configurable lengths --------------------------------------------------------------------


def test_no_id_length_limit_by_default(session):
    assert submit_job(session, VideoId="v" * 200)


def test_param_max_lengths(session, backend: EmulatorBackend):
    backend.param_max_lengths = {"VideoId": 32, "TemplateId": 8}
    assert submit_job(session, VideoId="v" * 32)
    body = vod_error(v1(session, {**SUBMIT_PARAMS, "VideoId": "v" * 33}), 400, "InvalidParameter")
    assert '"VideoId"' in body["Message"] and "32" in body["Message"]
    vod_error(v1(session, {**AUDIT_PARAMS, "TemplateId": "t" * 9}), 400, "InvalidParameter")


# -- MNS MessageTag --------------------------------------------------------------------------


def test_message_tag_of_sixteen_characters_is_accepted(session, backend: EmulatorBackend):
    assert mns_publish(session, message_xml("x", tag="A" * 16)).status_code == 201
    assert backend.topic_messages(TOPIC)[0]["MessageTag"] == "A" * 16


@pytest.mark.parametrize("tag", ["A" * 17, "SubmitAIImageAuditJob"])
def test_longer_message_tag_is_refused(session, backend: EmulatorBackend, tag: str):
    response = mns_publish(session, message_xml("x", tag=tag))
    assert response.status_code == 400
    error = mns_error(response)
    assert error["Code"] == "InvalidArgument" and "MessageTag" in error["Message"]
    assert backend.topic_messages(TOPIC) == []
    (entry,) = backend.requests_log()
    assert (entry["error_code"], entry["params"]["MessageTag"]) == ("InvalidArgument", tag)


def test_message_attributes_are_kept(session, backend: EmulatorBackend):
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?><Message xmlns="http://mns.aliyuncs.com/doc/v1/">'
        "<MessageBody>b</MessageBody><MessageAttributes><Extend>{&quot;k&quot;:1}</Extend>"
        "</MessageAttributes></Message>"
    ).encode()
    assert mns_publish(session, xml).status_code == 201
    assert backend.topic_messages(TOPIC)[0]["MessageAttributes"] == {"Extend": json.dumps({"k": 1}, separators=(",", ":"))}
