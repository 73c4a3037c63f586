"""``vodai backfill``: media listed with SearchMedia become the upload events VOD would have sent,
run through the one pipeline on the built-in emulator."""

from __future__ import annotations

import json
from typing import Dict, List

import pytest
from click.testing import CliRunner

from vodai import backfill as bf
from vodai.clients import new_session
from vodai.clients.vod import VodClient
from vodai.cli import main
from vodai.config import Settings
from vodai.credentials import Credentials
from vodai.emulator import EmulatorBackend, eventbridge, mount
from vodai.events.envelopes import unwrap
from vodai.pipeline.dispatch import decide_record
from vodai.routing import DEFAULT_TABLE
from vodai.exceptions import BackfillError, VodApiError
from vodai.timestamps import parse_utc

AK, SECRET = "backfill-ak", "backfill-secret"
URL = "http://emulator.backfill"
T0 = parse_utc("2024-05-01T00:00:00Z")
HOUR = 3600.0


def library(backend: EmulatorBackend) -> Dict[str, List[str]]:
    """Media in two regions and both types, each hour from T0 - 2 h to T0 + 9 h: what a window
    [T0, T0 + 8 h) must list is the 8 of each from T0 on."""
    made: Dict[str, List[str]] = {}
    for region in ("cn-shanghai", "ap-southeast-1"):
        for kind in ("video", "image"):
            for hour in range(-2, 10):
                record = backend.add_media(kind, region, created=T0 + hour * HOUR)
                if 0 <= hour < 8:
                    made.setdefault(f"{region}:{kind}", []).append(record["MediaId"])
    backend.add_media("audio", "cn-shanghai", created=T0 + HOUR)  # another type: never listed
    return made


@pytest.fixture
def backend() -> EmulatorBackend:
    backend = EmulatorBackend()
    backend.add_credentials(AK, SECRET)
    return backend


@pytest.fixture
def vod(backend) -> VodClient:
    session = new_session()
    mount(backend, session)
    return VodClient(Credentials(AK, SECRET), session, endpoint=URL)


def test_lists_exactly_the_window_and_type_across_pages(backend, vod):
    made = library(backend)
    window = bf.Window(T0, T0 + 8 * HOUR)
    pages: List[int] = []

    pairs = list(bf.backfill_items(vod.search_media, "cn-shanghai", window, ("video", "image"), page_size=3,
                                   on_page=pages.append))

    ids = [key for key, _ in pairs]
    assert ids == ([f"cn-shanghai:video:{m}" for m in made["cn-shanghai:video"]]
                   + [f"cn-shanghai:image:{m}" for m in made["cn-shanghai:image"]])
    # The emulator takes both ends of CreationTime in (9 media): 3 + 3 + 3 pages of 3, then an empty one.
    assert pages == [3, 3, 3, 0, 3, 3, 3, 0]
    video = json.loads(pairs[0][1])
    assert video["VodaiBackfill"] == {"Region": "cn-shanghai", "ListedBy": "SearchMedia"}
    assert video["Event"]["EventType"] == "FileUploadComplete" and video["Event"]["EventTime"] == "2024-05-01T00:00:00Z"
    assert video["Event"]["VideoId"] == made["cn-shanghai:video"][0] and isinstance(video["Event"]["Size"], int)
    image = json.loads(pairs[8][1])["Event"]
    assert image["EventType"] == "ImageUploadComplete" and image["ImageId"] == made["cn-shanghai:image"][0]
    assert "oss-cn-shanghai" in image["FileURL"]


def test_only_the_media_types_asked_for(backend, vod):
    made = library(backend)
    pairs = list(bf.backfill_items(vod.search_media, "ap-southeast-1", bf.Window(T0, T0 + 8 * HOUR), ("image",)))
    assert [k for k, _ in pairs] == [f"ap-southeast-1:image:{m}" for m in made["ap-southeast-1:image"]]


def test_scroll_token_pages_past_the_first_5000(backend, vod):
    for n in range(5_150):
        backend.add_media("image", "cn-shanghai", created=T0 + n)
    window = bf.Window(T0, T0 + HOUR * 2)

    listed = list(bf.list_media(vod.search_media, "cn-shanghai", "image", window))

    assert len(listed) == 5_150 and len({m["MediaId"] for m in listed}) == 5_150
    with pytest.raises(VodApiError) as caught:  # PageNo/PageSize alone stops at 5,000, as VOD documents
        vod.search_media("cn-shanghai", search_type="image", match=window.match(), page_no=51)
    assert caught.value.code == "InvalidParameter"


def test_a_page_asked_for_again_is_the_same_page(backend, vod):
    library(backend)
    first = vod.search_media("cn-shanghai", search_type="video", page_size=2,
                             match=bf.Window(T0, T0 + 8 * HOUR).match())
    again = [vod.search_media("cn-shanghai", search_type="video", page_size=2, scroll_token=first["ScrollToken"])
             for _ in range(2)]
    assert [m["MediaId"] for m in again[0]["MediaList"]] == [m["MediaId"] for m in again[1]["MediaList"]]
    assert not {m["MediaId"] for m in first["MediaList"]} & {m["MediaId"] for m in again[0]["MediaList"]}


def test_bad_window_and_media_name_the_option():
    with pytest.raises(BackfillError, match="--until"):
        bf.Window(T0, T0)
    with pytest.raises(BackfillError, match="--media 'video,film'"):
        bf.parse_kinds("video,film")


# -- the command, on the built-in emulator ---------------------------------------------------------------------------

def _state_file(tmp_path, backend) -> str:
    path = tmp_path / "state.json"
    path.write_text(json.dumps(backend.state()))
    return str(path)


def _backfill(*args: str) -> dict:
    result = CliRunner().invoke(main, ["backfill", "-q", "--json", *args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture
def clean(monkeypatch, tmp_path):
    for key in ("VODAI_AI_TEMPLATE_ID", "VODAI_AUDIT_TEMPLATE_ID", "VODAI_CALLBACK_TOPIC", "VODAI_ROUTES",
                "VODAI_VOD_ENDPOINT", "VODAI_MNS_ENDPOINT", "VODAI_IDEMPOTENCY_PREFIX", "VODAI_REGION"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("VODAI_IDEMPOTENCY_STORE", f"sqlite:///{tmp_path / 'jobs.sqlite3'}")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("region, served, unserved", [("cn-shanghai", "video", "image"),
                                                      ("ap-southeast-1", "image", "video")])
def test_backfill_submits_once_each_and_skips_what_no_rule_serves(clean, backend, region, served, unserved):
    made = library(backend)
    state = _state_file(clean, backend)
    args = ["--region", region, "--since", "2024-05-01T00:00:00Z", "--until", "2024-05-01T08:00:00Z",
            "--emulator-state", state]

    first = _backfill(*args)
    second = _backfill(*args)

    outcomes = first["Outcomes"]
    assert {o["Shape"] for o in outcomes} == {"backfill"} and {o["Region"] for o in outcomes} == {region}
    assert {o["Backfill"] for o in outcomes} == {True}
    submitted = sorted(o["MediaId"] for o in outcomes if o["Status"] == "submitted")
    assert submitted == sorted(made[f"{region}:{served}"])
    skipped = [o for o in outcomes if o["Status"] == "skipped"]
    assert sorted(o["MediaId"] for o in skipped) == sorted(made[f"{region}:{unserved}"])
    assert all(o.get("Reason") and not o.get("JobId") for o in skipped)
    assert first["Counts"]["submitted"] == 8 and first["Counts"]["failed"] == 0
    assert second["Counts"]["submitted"] == 0 and second["Counts"]["duplicates"] == 8
    jobs = {o["MediaId"]: o["JobId"] for o in outcomes if o.get("JobId")}
    assert {o["MediaId"]: o["JobId"] for o in second["Outcomes"] if o.get("JobId")} == jobs


def test_backfill_media_option_limits_the_listing(clean, backend):
    made = library(backend)
    doc = _backfill("--region", "cn-shanghai", "--since", "2024-05-01", "--until", "2024-05-01T08:00:00Z",
                    "--media", "video", "--emulator-state", _state_file(clean, backend))
    assert sorted(o["MediaId"] for o in doc["Outcomes"]) == sorted(made["cn-shanghai:video"])


def test_backfill_refuses_a_bad_time(clean):
    result = CliRunner().invoke(main, ["backfill", "--region", "cn-shanghai", "--since", "last tuesday"])
    assert result.exit_code == 2 and "--since" in result.output


@pytest.mark.parametrize("extra, option, says", [
    (["--checkpoint", "run.checkpoint"], "--checkpoint", "goes with --to-queue"),
    (["--to-queue", "q", "--dry-run"], "--dry-run", "leave out --to-queue or --dry-run"),
    (["--to-queue", "q", "--emulator-state", "state.json"], "--emulator-state", "vodai emulator state load FILE"),
])
def test_to_queue_refuses_options_that_do_not_go_with_it(clean, extra, option, says):
    (clean / "state.json").write_text("{}")
    result = CliRunner().invoke(main, ["backfill", "--region", "cn-shanghai", "--since", "2024-05-01", *extra])
    assert result.exit_code == 2 and option in result.output and says in result.output


# -- the backfill mark, however the event travels ---------------------------------------------------------------------

def _queue_delivery(bodies, region):
    """What an FC MNS queue trigger hands on_upload for messages with these bodies (the emulator's
    CloudEvents, as ``vodai backfill --to-queue`` then the events queue's trigger deliver them)."""
    messages = [{"MessageId": f"M{n}", "MessageBody": body, "EnqueueTime": 1_714_521_600_000}
                for n, body in enumerate(bodies)]
    return eventbridge.payload(eventbridge.queue_cloudevents(
        messages, queue="vodai-events", region=region, account_id="1234567890", event_bus="on_upload-vodai-events",
        now_ms=1_714_521_600_000))


def test_a_backfill_sent_through_the_queue_is_still_marked_as_one(backend, vod):
    made = library(backend)
    window = bf.Window(T0, T0 + 8 * HOUR)
    pairs = list(bf.backfill_items(vod.search_media, "cn-shanghai", window, ("video",)))
    plain = json.dumps({"EventType": "FileUploadComplete", "VideoId": "v-live", "Status": "success",
                        "EventTime": "2024-05-01T00:00:00Z"})
    delivery = _queue_delivery([body.decode() for _, body in pairs[:2]] + [plain], "cn-shanghai")

    records = unwrap(delivery)
    assert [(r.shape, r.backfill, r.region, r.region_source) for r in records] == [
        ("cloudevent", True, "cn-shanghai", "cloudevent.aliyunregionid")] * 2 + [
        ("cloudevent", False, "cn-shanghai", "cloudevent.aliyunregionid")]
    assert [r.body["VideoId"] for r in records] == made["cn-shanghai:video"][:2] + ["v-live"]

    settings = Settings(ai_template_id="tpl-ai", callback_topic="vodai-callback")
    outcomes = [decide_record(r, settings, DEFAULT_TABLE, None)[0].to_dict() for r in records]
    assert [(o["Shape"], o.get("Backfill"), o["Action"]) for o in outcomes] == [
        ("cloudevent", True, "SubmitAIImageJob")] * 2 + [("cloudevent", None, "SubmitAIImageJob")]
    assert list(outcomes[0])[:4] == ["Index", "Status", "Shape", "Backfill"]


def test_a_marked_event_that_cannot_be_read_keeps_its_mark():
    body = json.dumps(bf.envelope("ap-southeast-1", {"EventType": "ImageUploadComplete", "Status": "success"}))
    (record,) = unwrap(_queue_delivery([body], "ap-southeast-1"))
    outcome = decide_record(record, Settings(audit_template_id="t", callback_topic="c"), DEFAULT_TABLE, None)[0]
    assert (outcome.status, outcome.backfill, outcome.shape) == ("dead_lettered", True, "cloudevent")
    assert "ImageId" in outcome.reason
