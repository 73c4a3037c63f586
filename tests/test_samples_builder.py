"""The sample-event builder (vodai.events.samples) and the committed events/ folder.

The decoding below is deliberately minimal and written here, independently of the
project's parser: it checks the documented envelope structures, not the parser.
"""

from __future__ import annotations

import ast
import base64
import binascii
import hashlib
import json
import re
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

from vodai.events import samples as S

ROOT = Path(__file__).resolve().parents[1]
EVENTS = ROOT / "events"
TOLERATED = ROOT / "tests" / "fixtures" / "tolerated"
SAMPLES_SRC = ROOT / "shared" / "vodai" / "events" / "samples.py"

SHAPE_NAMES = [
    "raw",
    "raw-base64",
    "mns-topic-json",
    "mns-topic-stream-attrs",
    "cloudevent",
    "cloudevent-pascal",
    "cloudevent-batch",
    "http-trigger",
    "list",
]
# No documentation shows these two; the parser tolerates them, so they are test fixtures, not samples.
TOLERATED_SHAPE_NAMES = ["mns-topic-stream-attrs", "cloudevent-pascal"]
DOCUMENTED_SHAPE_NAMES = [s for s in SHAPE_NAMES if s not in TOLERATED_SHAPE_NAMES]
REGIONS = ["cn-shanghai", "cn-beijing", "ap-southeast-1"]
ID_FIELD = {
    "FileUploadComplete": "VideoId",
    "ImageUploadComplete": "ImageId",
    "AttachedMediaUploadComplete": "AttachedMediaId",
}
URL_FIELD = {
    "FileUploadComplete": "FileUrl",
    "ImageUploadComplete": "FileURL",
    "AttachedMediaUploadComplete": "FileURL",
}
MNS_TOPIC_KEYS = [
    "TopicOwner", "Message", "Subscriber", "PublishTime",
    "SubscriptionName", "MessageMD5", "TopicName", "MessageId",
]
CLOUDEVENT_KEYS = {
    "id", "source", "specversion", "type", "time", "datacontenttype", "data",
    "aliyunaccountid", "aliyuneventbusname", "aliyunpublishtime",
}
HINT_KEYS = {"subject", "aliyunregionid"}
OSS_HOST = re.compile(r"^https?://[a-z0-9-]+\.oss-([a-z0-9-]+)\.aliyuncs\.com/")


def committed_files(root: Path = EVENTS) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def expected(root: Path = EVENTS) -> dict:
    return json.loads((root / "expected.json").read_text("utf-8"))


# --------------------------------------------------------------------------- independent decoding


def b64_strict(text: str) -> str:
    return base64.b64decode(text, validate=True).decode("utf-8")


def body_from_text(text: str) -> dict:
    obj = json.loads(text)
    assert isinstance(obj, dict)
    return obj


def check_cloudevent(ev: dict, *, pascal: bool) -> tuple[dict, str | None]:
    assert CLOUDEVENT_KEYS <= set(ev), set(ev) ^ CLOUDEVENT_KEYS
    assert set(ev) - CLOUDEVENT_KEYS <= HINT_KEYS
    assert ev["source"] == "acs:mns"  # as EventBridge documents it
    assert ev["specversion"] == "1.0"
    assert ev["type"] == "mns:Queue:SendMessage"
    assert ev["time"] == ev["aliyunpublishtime"]
    data = ev["data"]
    if pascal:
        assert set(data) == {"RequestId", "MessageId", "MessageBody"}
        body = body_from_text(b64_strict(data["MessageBody"]))
    else:
        assert set(data) == {"requestId", "messageId", "messageBody"}
        body = body_from_text(data["messageBody"])
    region = ev.get("aliyunregionid")
    if region is None:
        assert "subject" not in ev
    else:
        assert ev["subject"] == f"acs:mns:{region}:{ev['aliyunaccountid']}:queues/vod-events"
    return body, region


def check_mns_topic_json(ev: dict) -> dict:
    assert list(ev) == MNS_TOPIC_KEYS
    assert isinstance(ev["PublishTime"], int)
    assert ev["MessageMD5"] == hashlib.md5(ev["Message"].encode("utf-8")).hexdigest().upper()
    assert re.fullmatch(r"[0-9A-F]{32}", ev["MessageId"])
    return body_from_text(ev["Message"])


def check_stream_attrs(ev: dict) -> dict:
    assert set(ev) == {"body", "attrs"}
    assert isinstance(ev["attrs"], dict)
    json.loads(ev["attrs"]["Extend"])  # the attribute holds a JSON string
    return body_from_text(ev["body"])


def check_http_trigger(ev: dict) -> tuple[dict, str | None]:
    assert ev["version"] == "v1"
    assert ev["rawPath"] == "/vod/callback"
    assert ev["isBase64Encoded"] is True
    headers = ev["headers"]
    assert headers["Content-Type"] == "application/json"
    ts = headers["X-VOD-TIMESTAMP"]
    assert re.fullmatch(r"\d{10}", ts)
    region = ev["queryParameters"].get("region")
    assert set(ev["queryParameters"]) <= {"region"}
    url = f"https://{ev['requestContext']['domainName']}{ev['rawPath']}"
    if region is not None:
        url += f"?region={region}"
    assert headers["X-VOD-SIGNATURE"] == hashlib.md5(f"{url}|{ts}|{S.AUTH_KEY}".encode()).hexdigest()
    ctx = ev["requestContext"]
    assert set(ctx) == {"accountId", "domainName", "http", "requestId", "time", "timeEpoch"}
    assert ctx["http"]["method"] == "POST"
    assert ctx["http"]["path"] == "/vod/callback"
    assert set(ctx["http"]) == {"method", "path", "protocol", "sourceIp", "userAgent"}
    assert int(ctx["timeEpoch"]) // 1000 == int(ts)
    return body_from_text(b64_strict(ev["body"])), region


def decode(shape: str, data: bytes) -> list[tuple[dict, str | None]]:
    """(body, region hint) for every event in a sample of the given shape."""
    if shape == "raw-base64":
        assert not data.endswith(b"\n")
        return [(body_from_text(b64_strict(data.decode("ascii"))), None)]
    assert data.endswith(b"}\n") or data.endswith(b"]\n")
    obj = json.loads(data)
    if shape == "raw":
        return [(body_from_text(json.dumps(obj)), None)]
    if shape == "mns-topic-json":
        return [(check_mns_topic_json(obj), None)]
    if shape == "mns-topic-stream-attrs":
        return [(check_stream_attrs(obj), None)]
    if shape == "cloudevent":
        return [check_cloudevent(obj, pascal=False)]
    if shape == "cloudevent-pascal":
        return [check_cloudevent(obj, pascal=True)]
    if shape == "cloudevent-batch":
        assert isinstance(obj, list) and len(obj) == 2
        return [check_cloudevent(ev, pascal=False) for ev in obj]
    if shape == "http-trigger":
        return [check_http_trigger(obj)]
    if shape == "list":
        assert isinstance(obj, list) and len(obj) == 3
        out = []
        for item in obj:
            if "TopicOwner" in item:
                out.append((check_mns_topic_json(item), None))
            elif "specversion" in item:
                out.append(check_cloudevent(item, pascal=False))
            else:
                out.append((item, None))
        # It really mixes envelopes: a raw body, an mns-topic-json event, a CloudEvent.
        assert "EventType" in obj[0] and "TopicOwner" in obj[1] and "specversion" in obj[2]
        return out
    raise AssertionError(shape)


def check_body(body: dict) -> tuple[str, str, str]:
    """(event type, media id, region from the OSS host) of an upload body as VOD sends it."""
    etype = body["EventType"]
    assert body["Status"] == "success"
    media_id = body[ID_FIELD[etype]]
    assert re.fullmatch(r"[0-9a-f]{32}", media_id)
    url = body[URL_FIELD[etype]]
    other_url = "FileURL" if URL_FIELD[etype] == "FileUrl" else "FileUrl"
    assert other_url not in body
    m = OSS_HOST.match(url)
    assert m, url
    if etype == "ImageUploadComplete":
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d:\d{3}Z", body["EventTime"])
        assert body["AppId"] == "app-1000000"
        assert url.endswith(".jpg")
    else:
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", body["EventTime"])
    if etype == "FileUploadComplete":
        assert url.endswith((".mp4", ".mp3"))
        assert f"/sv/{media_id}/{media_id}." in url
        assert isinstance(body["Extend"], str)
    assert isinstance(body["Size"], (int, str))
    return etype, media_id, m.group(1)


def rule(media_type: str | None, region: str | None) -> str | None:
    if media_type == "video" and region in ("cn-beijing", "cn-shanghai"):
        return "SubmitAIImageJob"
    if media_type == "image" and region == "ap-southeast-1":
        return "SubmitAIImageAuditJob"
    return None


# --------------------------------------------------------------------------- determinism


@pytest.mark.parametrize(
    ("root", "fixtures", "command"),
    [
        (EVENTS, S.samples, "python -m vodai.events.samples events/"),
        (TOLERATED, S.tolerated_samples, "python -m vodai.events.samples --tolerated tests/fixtures/tolerated"),
    ],
    ids=["events", "tolerated"],
)
def test_regenerating_equals_committed_events(tmp_path, root, fixtures, command):
    S.write_samples(tmp_path, fixtures())
    fresh = committed_files(tmp_path)
    committed = committed_files(root)
    assert sorted(fresh) == sorted(committed), f"run: {command}"
    for path in fresh:
        assert fresh[path] == committed[path], f"{path} differs; run: {command}"


def test_events_hold_only_documented_shapes():
    folders = {p.name for p in EVENTS.iterdir() if p.is_dir()}
    assert folders == set(DOCUMENTED_SHAPE_NAMES) | {"other", "malformed"}
    assert {p.name for p in TOLERATED.iterdir() if p.is_dir()} == set(TOLERATED_SHAPE_NAMES)
    assert S.DOCUMENTED_SHAPES == tuple(DOCUMENTED_SHAPE_NAMES)
    assert S.TOLERATED_SHAPES == tuple(TOLERATED_SHAPE_NAMES)


def test_write_removes_a_managed_folder_left_empty(tmp_path):
    (tmp_path / "cloudevent-pascal").mkdir()
    (tmp_path / "cloudevent-pascal" / "stale.json").write_text("{}")
    S.write_samples(tmp_path)
    assert not (tmp_path / "cloudevent-pascal").exists()


def test_builder_is_deterministic_in_process():
    assert S.samples() == S.samples()
    for shape in S.SHAPES:
        assert S.generate(shape, "video", region="cn-beijing") == S.generate(shape, "video", region="cn-beijing")


def test_write_removes_stale_files_in_managed_folders(tmp_path):
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "stale.json").write_text("{}")
    (tmp_path / "notes.txt").write_text("keep me")
    S.write_samples(tmp_path)
    assert not (tmp_path / "raw" / "stale.json").exists()
    assert (tmp_path / "notes.txt").read_text() == "keep me"


def test_main_writes_folder(tmp_path):
    assert S.main([str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / "expected.json").is_file()


# --------------------------------------------------------------------------- the folder and expected.json


def test_layout_matrix_is_complete():
    files = committed_files()
    for shape in DOCUMENTED_SHAPE_NAMES:
        for media in ("video", "image"):
            for region in REGIONS:
                assert f"{shape}/{media}-{region}.json" in files
    for extra in (
        "raw/audio-cn-shanghai.json",
        "raw/attached-cn-shanghai.json",
        "raw/video-eu-central-1.json",
        "raw/video-numbers-as-strings-cn-shanghai.json",
    ):
        assert extra in files
    assert len([f for f in files if f.startswith("other/")]) == 3
    assert len([f for f in files if f.startswith("malformed/")]) == 10


def test_expected_lists_exactly_the_files_present():
    files = set(committed_files()) - {"expected.json"}
    assert set(expected()) == files


def test_expected_entries_are_well_formed():
    valid_keys = {"event_type", "media_id", "media_type", "region", "action", "skipped"}
    for path, entries in expected().items():
        assert isinstance(entries, list) and entries, path
        for e in entries:
            if path.startswith("malformed/"):
                assert set(e) == {"error_field"} and isinstance(e["error_field"], str) and e["error_field"]
                continue
            assert set(e) == valid_keys, path
            assert e["media_type"] in ("video", "audio", "image", "attached", None)
            assert e["action"] in ("SubmitAIImageJob", "SubmitAIImageAuditJob", None)
            assert e["skipped"] is (e["action"] is None)
            assert e["action"] == rule(e["media_type"], e["region"]), path


def test_expected_error_fields():
    exp = expected()
    fields = {p: v[0]["error_field"] for p, v in exp.items() if p.startswith("malformed/")}
    assert sorted(fields.values()) == sorted(
        ["body", "body", "body", "EventType", "VideoId", "Size", "Message",
         "data.messageBody", "body (base64)", "EventTime"]
    )


def test_other_events_are_skipped_and_not_uploads():
    exp = expected()
    types = set()
    for path, entries in exp.items():
        if path.startswith("other/"):
            (e,) = entries
            types.add(e["event_type"])
            assert e["skipped"] is True and e["action"] is None and e["media_type"] is None
    assert {"VideoAnalysisComplete", "AIMediaAuditComplete"} <= types and len(types) == 3


@pytest.mark.parametrize("shape", SHAPE_NAMES)
def test_every_shape_sample_decodes_to_documented_structure(shape):
    root = TOLERATED if shape in TOLERATED_SHAPE_NAMES else EVENTS
    exp = expected(root)
    files = committed_files(root)
    paths = [p for p in files if p.startswith(shape + "/")]
    assert len(paths) >= 6
    for path in paths:
        events = decode(shape, files[path])
        entries = exp[path]
        assert len(events) == len(entries), path
        seen_ids = set()
        for (body, hint), e in zip(events, entries):
            etype, media_id, url_region = check_body(body)
            assert hint in (None, url_region)
            assert e["event_type"] == etype
            assert e["media_id"] == media_id
            assert e["region"] == (hint or url_region)
            seen_ids.add(media_id)
        assert len(seen_ids) == len(events), f"{path}: events in one sample have distinct ids"


def test_region_hint_presence_in_matrix():
    files = committed_files()
    for region in REGIONS:
        ce = json.loads(files[f"cloudevent/video-{region}.json"])
        assert ce["aliyunregionid"] == region
        http = json.loads(files[f"http-trigger/video-{region}.json"])
        assert http["queryParameters"] == {"region": region}
    assert "aliyunregionid" not in json.loads(files["cloudevent/image-ap-southeast-1-no-region-hint.json"])
    assert json.loads(files["http-trigger/video-cn-beijing-no-region-hint.json"])["queryParameters"] == {}


def test_skip_cases_and_numbers_as_strings():
    files = committed_files()
    exp = expected()
    audio = json.loads(files["raw/audio-cn-shanghai.json"])
    assert audio["EventType"] == "FileUploadComplete" and audio["FileUrl"].endswith(".mp3")
    assert exp["raw/audio-cn-shanghai.json"][0]["media_type"] == "audio"
    attached = json.loads(files["raw/attached-cn-shanghai.json"])
    assert attached["EventType"] == "AttachedMediaUploadComplete" and "AttachedMediaId" in attached
    for p in ("raw/audio-cn-shanghai.json", "raw/attached-cn-shanghai.json", "raw/video-eu-central-1.json"):
        assert exp[p][0]["skipped"] is True
    nas = json.loads(files["raw/video-numbers-as-strings-cn-shanghai.json"])
    assert isinstance(nas["Size"], str) and nas["Size"].isdigit()
    assert exp["raw/video-numbers-as-strings-cn-shanghai.json"][0]["action"] == "SubmitAIImageJob"


def test_malformed_samples_are_malformed_where_they_say():
    files = committed_files()
    assert files["malformed/empty.json"] == b""
    with pytest.raises(ValueError):
        json.loads(files["malformed/not-json.json"])
    assert json.loads(files["malformed/not-an-object.json"]) == 42
    assert "EventType" not in json.loads(files["malformed/missing-eventtype.json"])
    no_id = json.loads(files["malformed/missing-videoid.json"])
    assert no_id["EventType"] == "FileUploadComplete" and "VideoId" not in no_id
    assert json.loads(files["malformed/size-not-a-number.json"])["Size"] == "big"
    topic = json.loads(files["malformed/mns-topic-json-message-not-json.json"])
    assert list(topic) == MNS_TOPIC_KEYS
    with pytest.raises(ValueError):
        json.loads(topic["Message"])
    ce = json.loads(files["malformed/cloudevent-no-message-body.json"])
    assert "messageBody" not in ce["data"] and "MessageBody" not in ce["data"]
    http = json.loads(files["malformed/http-trigger-bad-base64.json"])
    assert http["isBase64Encoded"] is True
    with pytest.raises((binascii.Error, ValueError)):
        base64.b64decode(http["body"], validate=True)
    with pytest.raises((binascii.Error, ValueError)):
        base64.b64decode(http["body"])  # even lenient decoding fails
    bad_time = json.loads(files["malformed/bad-eventtime.json"])
    assert bad_time["EventTime"] == "yesterday at noon" and "VideoId" in bad_time


# --------------------------------------------------------------------------- the API


def test_shapes_are_ordered_and_named():
    assert list(S.SHAPES) == SHAPE_NAMES
    for name, build in S.SHAPES.items():
        assert callable(build)
        assert S.wrap(S.body("video", region="cn-shanghai"), name) == build(S.body("video", region="cn-shanghai"))


def test_body_video_audio_image_attached():
    v = S.body("video", region="cn-shanghai")
    assert v["EventType"] == "FileUploadComplete" and "FileURL" not in v
    assert v["FileUrl"].startswith("http://outin-") and ".oss-cn-shanghai.aliyuncs.com/sv/" in v["FileUrl"]
    assert json.loads(v["Extend"]) == {"source": "vodai-sample"}
    assert v["VideoId"] == S.sample_id("video", "cn-shanghai")
    assert S.body("video", region="cn-beijing")["VideoId"] != v["VideoId"]

    a = S.body("audio", region="cn-beijing")
    assert a["EventType"] == "FileUploadComplete" and a["FileUrl"].endswith(".mp3")

    i = S.body("image", region="ap-southeast-1", app_id="app-2")
    assert i["EventType"] == "ImageUploadComplete" and i["AppId"] == "app-2"
    assert i["FileURL"].endswith(".jpg") and "FileUrl" not in i and "Extend" not in i
    assert i["EventTime"] == "2024-04-10T01:37:14:627Z"

    t = S.body("attached", region="cn-shanghai")
    assert t["EventType"] == "AttachedMediaUploadComplete" and "AttachedMediaId" in t and "FileURL" in t

    with pytest.raises(ValueError):
        S.body("hologram", region="cn-shanghai")


def test_body_options():
    when = datetime(2017, 3, 20, 7, 49, 17, 5000, tzinfo=timezone.utc)
    v = S.body("video", region="cn-shanghai", media_id="abc", event_time=when, extend={"k": "v"},
               size=1439213, status="fail", numbers_as_strings=True)
    assert v["EventTime"] == "2017-03-20T07:49:17Z"
    assert v["VideoId"] == "abc" and "/sv/abc/abc.mp4" in v["FileUrl"]
    assert v["Extend"] == '{"k":"v"}'
    assert v["Size"] == "1439213"
    assert v["Status"] == "fail"
    assert S.body("image", region="cn-shanghai", event_time=when)["EventTime"] == "2017-03-20T07:49:17:005Z"
    assert S.body("video", region="cn-shanghai", extend="raw text")["Extend"] == "raw text"
    assert S.body("video", region="cn-shanghai", event_time="whenever")["EventTime"] == "whenever"


def test_wrap_region_none_omits_region_fields():
    b = S.body("video", region="cn-beijing")
    ce = json.loads(S.wrap(b, "cloudevent"))
    assert "aliyunregionid" not in ce and "subject" not in ce
    ce = json.loads(S.wrap(b, "cloudevent", region="cn-beijing"))
    assert ce["aliyunregionid"] == "cn-beijing"
    assert ce["subject"] == f"acs:mns:cn-beijing:{S.ACCOUNT_ID}:queues/vod-events"
    http = json.loads(S.wrap(b, "http-trigger"))
    assert http["queryParameters"] == {}
    check_http_trigger(http)
    for item in json.loads(S.wrap([b, b, b], "list")):
        assert "aliyunregionid" not in item


def test_wrap_options():
    b = S.body("video", region="cn-beijing")
    ce = json.loads(S.wrap(b, "cloudevent", message_id="MID", request_id="RID", account_id="42"))
    assert ce["data"]["messageId"] == "MID" and ce["data"]["requestId"] == "RID" and ce["aliyunaccountid"] == "42"
    batch = json.loads(S.wrap([b, b], "cloudevent-batch", message_id="MID"))
    assert [e["data"]["messageId"] for e in batch] == ["MID", "MID-1"]
    assert len({e["id"] for e in batch}) == 2
    http = json.loads(S.wrap(b, "http-trigger", auth_key=None))
    assert "X-VOD-SIGNATURE" not in http["headers"]
    attrs = json.loads(S.wrap(b, "mns-topic-stream-attrs", attrs={"Extend": '{"a":1}'}))
    assert attrs["attrs"] == {"Extend": '{"a":1}'}
    lst = json.loads(S.wrap([b, b], "list", items=["cloudevent-pascal"]))
    assert all("MessageBody" in e["data"] for e in lst)
    topic = json.loads(S.wrap(b, "mns-topic-json", published_at="2024-01-01T00:00:00.000Z"))
    assert topic["PublishTime"] == 1704067200000
    # A str body is the message text, verbatim.
    assert json.loads(S.wrap("not json", "mns-topic-json"))["Message"] == "not json"
    assert S.wrap("not json", "raw") == b"not json"


def test_wrap_rejects_bad_arguments():
    b = S.body("video", region="cn-beijing")
    with pytest.raises(ValueError):
        S.wrap(b, "no-such-shape")
    for shape in ("mns-topic-json", "mns-topic-stream-attrs", "cloudevent", "cloudevent-pascal", "http-trigger"):
        with pytest.raises(TypeError):
            S.wrap([b, b], shape)
    with pytest.raises(ValueError):
        S.wrap([b], "list", items=["http-trigger"])


def test_nested_bodies_are_compact_json():
    b = S.body("video", region="cn-shanghai")
    compact = json.dumps(b, separators=(",", ":"))
    assert json.loads(S.wrap(b, "mns-topic-json"))["Message"] == compact
    assert base64.b64decode(S.wrap(b, "raw-base64")).decode() == compact
    assert base64.b64decode(json.loads(S.wrap(b, "http-trigger"))["body"]).decode() == compact


def test_published_signature_formula():
    # The published VOD example: md5("https://www.example.com/your/callback|1519375990|test123").
    digest = hashlib.md5(b"https://www.example.com/your/callback|1519375990|test123").hexdigest()
    assert digest.startswith("c72b60894140fa98920f1279219b")
    assert S.callback_url("cn-shanghai") == "https://vodai.example.com/vod/callback?region=cn-shanghai"
    assert S.callback_url() == "https://vodai.example.com/vod/callback"


# --------------------------------------------------------------------------- independence and portability


def test_builder_imports_only_the_stdlib():
    tree = ast.parse(SAMPLES_SRC.read_text("utf-8"))
    modules = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "no relative imports: the builder must not use the project's parser"
            modules.add((node.module or "").split(".")[0])
    assert modules <= set(sys.stdlib_module_names) | {"__future__"}, modules


def test_builder_is_python_310_syntax():
    ast.parse(SAMPLES_SRC.read_text("utf-8"), feature_version=(3, 10))
