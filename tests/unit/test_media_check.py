"""Forged callback bodies can't cost money (issue 26, item 4): VOD signs a callback's URL and
timestamp, not its body, so before the job of an event that came by HTTP is paid for, on_upload
asks VOD (GetVideoInfo / GetImageInfo, served by the emulator from its media) whether the media
exists in that region and is uploaded. The handed-off message is the one the real callback
function publishes."""

import json
import tempfile

import pytest
from alibabacloud_vod20170321 import models as sdk_models

from vodai.callback import CallbackApp, mns_publisher_factory
from vodai.callback.envelope import http_trigger_event, message_text
from vodai.clients import new_session
from vodai.config import Settings
from vodai.deadletter.backends.jsonl import JsonlDirectorySink
from vodai.emulator import EmulatorBackend, mount
from vodai.idempotency import open_store
from vodai.local_context import LocalContext, LocalCredentials
from vodai.pipeline import DEAD_LETTERED, FAILED, SUBMITTED, build, dispatch

from callback.helpers import AUTH_KEY, CALLBACK_URL, NOW, body
from callback.test_app import post

URL = "http://emulator.test"
AK, SECRET, TOKEN = "STS.media", "media-secret", "media-sts-token"
VIDEO = {"Status": "success", "EventTime": "2026-12-07T07:49:17Z", "EventType": "FileUploadComplete",
         "VideoId": "forged-or-real-video", "Size": 1024, "FileUrl": "http://b.oss-cn-beijing.aliyuncs.com/a.mp4"}
IMAGE = {"Status": "success", "EventTime": "2026-12-07T07:49:17Z", "EventType": "ImageUploadComplete",
         "ImageId": "forged-or-real-image", "Size": 1024, "FileURL": "http://b.oss-ap-southeast-1.aliyuncs.com/a.jpg"}
_DEAD_LETTERS = tempfile.TemporaryDirectory(prefix="vodai-test-media-check-")


class World:
    def __init__(self, **update):
        self.backend = EmulatorBackend(strict_media=True)  # as VOD: a media never uploaded does not exist
        self.backend.add_credentials(AK, SECRET, security_token=TOKEN)
        for topic in ("vodai-callback", "vodai-events"):
            self.backend.create_topic(topic)
        self.session = new_session()
        mount(self.backend, self.session)
        self.context = LocalContext(request_id="req-media", credentials=LocalCredentials(AK, SECRET, TOKEN))
        values = dict(ai_template_id="tpl-ai", audit_template_id="tpl-audit", callback_topic="vodai-callback",
                      vod_endpoint=URL, mns_endpoint=URL, events_topic="vodai-events", callback_url=CALLBACK_URL,
                      callback_auth_key=AUTH_KEY)
        self.settings = Settings(**{**values, **update})
        self.deps = build(self.settings, context=self.context, session=self.session, store=open_store("memory://"),
                          dead_letters=JsonlDirectorySink(_DEAD_LETTERS.name))

    def by_callback(self, event: dict) -> bytes:
        """What the callback function publishes for a signed request carrying ``event``."""
        app = CallbackApp(self.settings, mns_publisher_factory(self.settings, session=self.session), clock=lambda: NOW)
        status, doc, _ = post(app, data=body(event), context=self.context)
        assert status == 200, doc
        return self.backend.topic_messages("vodai-events")[-1]["MessageBody"].encode("utf-8")

    def run(self, raw: bytes):
        [outcome] = dispatch(raw, self.deps, context=self.context).outcomes
        return outcome

    def actions(self):
        return [r["action"] for r in self.backend.requests_log() if r["service"] == "vod"]


def by_http(event: dict, region: str) -> bytes:
    return message_text(http_trigger_event(json.dumps(event).encode(), path="/cb", query={"region": region},
                                           request_id="r", received_at=NOW)).encode()


def test_a_forged_body_naming_no_media_is_dead_lettered_and_costs_nothing():
    world = World()
    out = world.run(world.by_callback(VIDEO))
    assert out.status == DEAD_LETTERED and out.dead_letter_id
    assert out.reason == "media check: video forged-or-real-video does not exist in cn-beijing (InvalidVideo.NotFound)"
    assert world.backend.jobs() == [] and "SubmitAIImageJob" not in world.actions()
    assert world.deps.store.get(f"vodai:SubmitAIImageJob:{VIDEO['VideoId']}:tpl-ai") is None  # released


def test_a_genuine_uploaded_video_is_checked_once_then_submitted():
    world = World()
    world.backend.add_media("video", "cn-beijing", media_id=VIDEO["VideoId"])
    out = world.run(world.by_callback(VIDEO))
    assert out.status == SUBMITTED, out.reason
    assert world.actions() == ["GetVideoInfo", "SubmitAIImageJob"]


def test_a_media_of_another_region_does_not_exist_in_this_one():
    world = World()
    world.backend.add_media("video", "cn-shanghai", media_id=VIDEO["VideoId"])
    out = world.run(world.by_callback(VIDEO))  # the callback URL says cn-beijing
    assert out.status == DEAD_LETTERED and "does not exist in cn-beijing" in out.reason
    assert world.backend.jobs() == []


@pytest.mark.parametrize("status", ["Uploading", "UploadFail", "Blocked"])
def test_a_video_not_uploaded_is_dead_lettered_with_its_state(status):
    world = World()
    world.backend.add_media("video", "cn-beijing", media_id=VIDEO["VideoId"])
    world.backend.set_media_status(VIDEO["VideoId"], status)
    out = world.run(world.by_callback(VIDEO))
    assert out.status == DEAD_LETTERED and f"is {status} in cn-beijing, not uploaded" in out.reason
    assert world.backend.jobs() == []


@pytest.mark.parametrize("status, expected", [("Normal", SUBMITTED), ("Uploading", DEAD_LETTERED),
                                              ("UploadFail", DEAD_LETTERED)])
def test_an_image_is_checked_with_get_image_info(status, expected):
    world = World()
    world.backend.add_media("image", "ap-southeast-1", media_id=IMAGE["ImageId"])
    world.backend.set_media_status(IMAGE["ImageId"], status)
    out = world.run(by_http(IMAGE, "ap-southeast-1"))
    assert out.status == expected, out.reason
    assert world.actions()[0] == "GetImageInfo"
    assert len(world.backend.jobs()) == (expected == SUBMITTED)


def test_a_missing_image_is_dead_lettered():
    world = World()
    out = world.run(by_http(IMAGE, "ap-southeast-1"))
    assert out.status == DEAD_LETTERED and "image forged-or-real-image does not exist in ap-southeast-1" in out.reason


def test_the_user_can_turn_the_check_off():
    world = World(verify_callback_media=False)
    world.backend.strict_media = False  # so that only vodai's check could refuse it
    out = world.run(world.by_callback(VIDEO))
    assert out.status == SUBMITTED and world.actions() == ["SubmitAIImageJob"]


def test_events_not_delivered_by_http_are_not_checked():
    world = World()
    world.backend.add_media("video", "cn-beijing", media_id=VIDEO["VideoId"])
    raw = json.dumps({"TopicOwner": "1", "TopicName": "t", "MessageId": "m-1", "Message": json.dumps(VIDEO)}).encode()
    out = world.run(raw)
    assert out.status == SUBMITTED and world.actions() == ["SubmitAIImageJob"]


def test_a_check_vod_cannot_answer_now_fails_retryably_and_submits_nothing():
    world = World(retry_attempts=1)
    world.backend.add_media("video", "cn-beijing", media_id=VIDEO["VideoId"])
    world.backend.faults.add("GetVideoInfo:error=ServiceUnavailable,times=1")
    raw = world.by_callback(VIDEO)
    first = world.run(raw)
    assert first.status == FAILED and first.reason.startswith("media check failed: ServiceUnavailable")
    assert world.backend.jobs() == []
    assert world.run(raw).status == SUBMITTED  # the redelivery, once VOD answers


def test_a_check_refused_for_another_reason_is_dead_lettered_with_it():
    world = World()
    world.backend.faults.add("GetVideoInfo:error=Forbidden.RAM/403")
    out = world.run(world.by_callback(VIDEO))
    assert out.status == DEAD_LETTERED and out.reason.startswith("media check failed: Forbidden.RAM")
    assert world.backend.jobs() == []


def test_a_lenient_emulator_shows_a_media_it_never_saw_as_uploaded():
    # `vodai invoke` of the sample events on the built-in emulator: any id is taken as existing.
    world = World()
    world.backend.strict_media = False
    assert world.run(world.by_callback(VIDEO)).status == SUBMITTED
    world.backend.add_media("video", "cn-shanghai", media_id="elsewhere")
    other = dict(VIDEO, VideoId="elsewhere")
    assert "does not exist in cn-beijing" in world.run(world.by_callback(other)).reason  # known, other region


def test_the_emulators_answers_read_as_the_official_sdks_models():
    world = World()
    world.backend.add_media("video", "cn-beijing", media_id="v-1")
    world.backend.add_media("image", "cn-beijing", media_id="i-1")
    video = sdk_models.GetVideoInfoResponseBody().from_map(world.deps.vod.get_video_info("cn-beijing", "v-1"))
    image = sdk_models.GetImageInfoResponseBody().from_map(world.deps.vod.get_image_info("cn-beijing", "i-1"))
    assert (video.video.video_id, video.video.status, video.video.region_id) == ("v-1", "UploadSucc", "cn-beijing")
    assert (image.image_info.image_id, image.image_info.status) == ("i-1", "Normal")


