"""The control API for VOD's part (through Flask's test client) and state save/load."""

from __future__ import annotations

import json

import pytest

from _servers import Receiver
from vodai.emulator import Clock, EmulatorBackend, create_app

from .helpers import AK, SECRET, get_jobs, submit_audit, submit_job


@pytest.fixture
def client(backend: EmulatorBackend):
    return create_app(backend).test_client()


# -- uploads and media -------------------------------------------------------------------------


def test_upload_endpoint(client, backend: EmulatorBackend):
    backend.create_queue("vod-events")
    backend.set_callback(mns="queue:vod-events")
    answer = client.post(
        "/_emulator/uploads",
        json={"media_type": "video", "region": "cn-shanghai", "media_id": "v1", "extend": {"a": "b"}},
    )
    assert answer.status_code == 200, answer.get_data(as_text=True)
    result = answer.get_json()
    assert (result["MediaId"], result["Event"]["VideoId"], result["Event"]["Extend"]) == ("v1", "v1", '{"a":"b"}')
    assert result["Delivery"]["Kind"] == "mns-queue"
    assert client.post("/_emulator/deliveries/wait", json={"timeout": 10}).get_json() == {"idle": True, "pending": 0}
    assert [json.loads(m["MessageBody"])["VideoId"] for m in backend.queue_messages("vod-events")] == ["v1"]
    assert client.get("/_emulator/deliveries").get_json()[0]["Result"] == "delivered"


@pytest.mark.parametrize(
    "body",
    [None, [], {"region": "cn-shanghai"}, {"media_type": "video"}, {"media_type": "tape", "region": "cn-shanghai"},
     {"media_type": "video", "region": "cn-shanghai", "colour": "red"},
     {"media_type": "video", "region": "cn-shanghai", "size": -1}],
)
def test_bad_uploads_answer_400(client, backend: EmulatorBackend, body):
    answer = client.post("/_emulator/uploads", json=body)
    assert answer.status_code == 400 and answer.get_json()["error"]
    assert backend.media() == []


def test_media_endpoint_seeds_without_an_event(client, backend: EmulatorBackend):
    backend.create_queue("q")
    backend.set_callback(mns="queue:q")
    record = client.post("/_emulator/media", json={"media": "image", "region": "ap-southeast-1"}).get_json()
    assert record["MediaType"] == "image" and ".oss-ap-southeast-1." in record["FileUrl"]
    assert client.get("/_emulator/media").get_json() == [record]
    assert backend.deliveries.log() == []


def test_media_endpoint_adds_a_library_in_one_request(client, backend: EmulatorBackend):
    answer = client.post("/_emulator/media", json={"media": "video", "region": "cn-shanghai", "count": 5,
                                                   "created": "2024-05-01T00:00:00Z", "every": 60}).get_json()

    assert answer["Added"] == 5 and len(set(answer["MediaIds"])) == 5
    records = {r["MediaId"]: r for r in backend.media()}
    assert [records[i]["CreationTime"] for i in answer["MediaIds"]] == [
        f"2024-05-01T00:0{n}:00Z" for n in range(5)]
    assert {r["MediaType"] for r in records.values()} == {"video"} and backend.deliveries.log() == []


@pytest.mark.parametrize("body, named", [({"count": 0}, "count"), ({"count": True}, "count"), ({"every": 1}, "every"),
                                         ({"count": 2, "every": -1}, "every"), ({"count": 2, "media_id": "m"}, "media_id")])
def test_a_bad_library_request_answers_400_naming_the_field(client, backend: EmulatorBackend, body, named):
    answer = client.post("/_emulator/media", json={"media": "video", "region": "cn-shanghai", **body})
    assert answer.status_code == 400 and answer.get_json()["error"].startswith(named)
    assert backend.media() == []


# -- callback, triggers, lifecycle ---------------------------------------------------------------


def test_callback_endpoints_never_show_the_auth_key(client, backend: EmulatorBackend):
    answer = client.put("/_emulator/callback", json={"url": "http://127.0.0.1:1/cb", "auth_key": "Secret123"})
    assert answer.status_code == 200
    shown = client.get("/_emulator/callback").get_json()
    assert shown == {"*": {"kind": "http", "url": "http://127.0.0.1:1/cb", "target": None, "name": None,
                           "event_types": None, "auth_key_set": True}}
    assert "Secret123" not in json.dumps(shown)
    assert backend.callback_for("cn-beijing").auth_key == "Secret123"

    client.put("/_emulator/callback", json={"region": "cn-beijing", "mns": "topic:t"})
    assert set(client.get("/_emulator/callback").get_json()) == {"*", "cn-beijing"}
    assert client.delete("/_emulator/callback?region=cn-beijing").get_json() == {"cleared": True}
    assert client.delete("/_emulator/callback").get_json() == {"cleared": True}
    assert client.get("/_emulator/callback").get_json() == {}


@pytest.mark.parametrize(
    "body",
    [{"url": "ftp://x"}, {"url": "http://x", "auth_key": "has-dash"}, {"url": "http://x", "auth_key": "k" * 33},
     {"mns": "bucket:x"}, {"mns": "queue:"}, {"url": "http://x", "colour": 1}, []],
)
def test_bad_callback_settings_answer_400(client, backend: EmulatorBackend, body):
    assert client.put("/_emulator/callback", json=body).status_code == 400
    assert backend.callbacks() == {}


def test_trigger_endpoints(client, backend: EmulatorBackend):
    listed = client.post("/_emulator/triggers", json=["t1=http://127.0.0.1:9000,format=JSON",
                                                      {"topic": "t2", "url": "http://127.0.0.1:9001"}]).get_json()
    assert [(t["topic"], t["format"]) for t in listed] == [("t1", "JSON"), ("t2", "STREAM")]
    assert backend.has_topic("t1") and backend.has_topic("t2")
    assert client.post("/_emulator/triggers", json="t1=nonsense").status_code == 400
    assert client.delete(f"/_emulator/triggers?name={listed[0]['name']}").get_json() == {"removed": 1}
    assert client.delete("/_emulator/triggers").get_json() == {"removed": 1}


def test_lifecycle_endpoints(client, session, backend: EmulatorBackend):
    answer = client.put("/_emulator/lifecycle", json=["SubmitAIImageJob:at_once", {"action": "SubmitAIImageAuditJob",
                                                                                    "schedule": "never"}])
    assert [r["spec"] for r in answer.get_json()] == [
        "SubmitAIImageJob:at_once,outcome=success", "SubmitAIImageAuditJob:never,outcome=success"
    ]
    job_id = submit_job(session)
    assert client.get(f"/_emulator/jobs/{job_id}").get_json()["Status"] == "success"
    assert client.get("/_emulator/jobs/nope").status_code == 404
    assert client.put("/_emulator/lifecycle", json="SubmitAIImageJob:sometimes").status_code == 400
    assert client.delete("/_emulator/lifecycle").get_json()[0]["spec"] == "SubmitAIImageJob:after_queries=1,outcome=success"


def test_clock_and_advance(client, session, backend: EmulatorBackend, clock: Clock):
    backend.set_lifecycle("SubmitAIImageJob", "after_seconds=60")
    job_id = submit_job(session)
    before = client.get("/_emulator/clock").get_json()
    assert before["frozen"] is True

    answer = client.post("/_emulator/advance", json={"seconds": 60}).get_json()

    assert answer["now"] == before["now"] + 60 and answer["finished"] == 1
    assert backend.get_job(job_id)["Status"] == "success"
    for bad in ({"seconds": -1}, {"seconds": "1"}, {}, None):
        assert client.post("/_emulator/advance", json=bad).status_code == 400


def test_settings_endpoint(client, backend: EmulatorBackend):
    changed = client.put("/_emulator/settings", json={"strict_media": True, "trigger_retry_interval": [1, 2],
                                                      "param_max_lengths": {"VideoId": 32}}).get_json()
    assert changed["strict_media"] is True and changed["trigger_retry_interval"] == [1.0, 2.0]
    assert backend.strict_media and backend.param_max_lengths == {"VideoId": 32}
    for bad in ({"strict_media": "yes"}, {"http_attempts": 0}, {"nope": 1}, {"param_max_lengths": {"VideoId": 0}}):
        assert client.put("/_emulator/settings", json=bad).status_code == 400


def test_topics_and_queues_endpoints(client, backend: EmulatorBackend):
    assert client.post("/_emulator/topics", json={"name": "new-topic"}).status_code == 200
    assert client.post("/_emulator/queues", json={"name": "new-queue"}).status_code == 200
    assert client.post("/_emulator/topics/new-topic/messages", json={"body": "hi", "tag": "T"}).status_code == 200
    topics = {t["name"]: t["messages"] for t in client.get("/_emulator/topics").get_json()}
    assert topics["new-topic"] == 1
    assert "new-queue" in {q["name"] for q in client.get("/_emulator/queues").get_json()}
    assert client.post("/_emulator/topics/none/messages", json={"body": "x"}).status_code == 404
    assert client.post("/_emulator/topics", json={}).status_code == 400


# -- state -----------------------------------------------------------------------------------


def _populate(session, backend: EmulatorBackend) -> None:
    backend.create_queue("vod-events")
    backend.set_callback(mns="queue:vod-events")
    backend.set_callback("cn-beijing", url="http://127.0.0.1:1/cb", auth_key="Key123")
    backend.subscribe("vod-events-topic", "http://127.0.0.1:2", "JSON")
    backend.set_lifecycle("SubmitAIImageJob", "after_queries=2", outcome="fail", code="C1")
    backend.faults.add("GetAIImageJobs:error=Throttling/400,p=0.5")
    backend.strict_media = True
    backend.seed(42)
    video = backend.upload("video", "cn-shanghai", media_id="v-1", extend={"k": 1})["MediaId"]
    backend.add_media("image", "ap-southeast-1", media_id="i-1")
    submit_job(session, VideoId=video)
    submit_audit(session, MediaId="i-1")
    backend.publish("vodai-callback", "published", "AIImageJob")
    assert backend.deliveries.wait(10)


def _comparable(state: dict) -> dict:
    return {k: v for k, v in state.items() if k != "clock"}


def test_state_round_trip(session, backend: EmulatorBackend):
    _populate(session, backend)
    saved = json.loads(json.dumps(backend.state()))  # through JSON, as a file would

    other = EmulatorBackend()
    other.add_credentials(AK, SECRET)
    other.load_state(saved)

    assert _comparable(other.state()) == _comparable(saved)
    assert other.get_media("v-1")["Extend"] == '{"k":1}'
    assert other.callback_for("cn-beijing").auth_key == "Key123"
    assert [s.spec() for s in other.subscriptions()] == [s.spec() for s in backend.subscriptions()]
    assert other.lifecycle.rule("SubmitAIImageJob").code == "C1"
    assert [r.spec() for r in other.faults.rules()] == ["GetAIImageJobs:error=Throttling/400,p=0.5"]
    assert other.strict_media and other.seed_value == 42
    assert other.queue_messages("vod-events") == backend.queue_messages("vod-events")


def test_loaded_jobs_keep_their_lifecycle(session, backend: EmulatorBackend):
    backend.set_lifecycle("SubmitAIImageJob", "after_queries=1")
    job_id = submit_job(session)
    saved = json.loads(json.dumps(backend.state()))
    backend.reset()
    assert backend.jobs() == []

    backend.load_state(saved)

    assert [j["Status"] for j in get_jobs(session, job_id)] == ["Processing"]
    assert [j["Status"] for j in get_jobs(session, job_id)] == ["success"]


def test_loaded_timed_jobs_finish_on_the_loaded_clock(session, backend: EmulatorBackend, clock: Clock):
    backend.set_lifecycle("SubmitAIImageJob", "after_seconds=100")
    backend.advance(1000)
    job_id = submit_job(session)
    saved = json.loads(json.dumps(backend.state()))

    other = EmulatorBackend(clock=Clock.frozen(0.0))  # far behind the saved clock
    other.load_state(saved)

    assert other.clock.now() == clock.now()
    assert other.advance(99) == 0 and other.get_job(job_id)["Status"] == "Processing"
    assert other.advance(1) == 1 and other.get_job(job_id)["Status"] == "success"


def test_state_through_the_control_api(client, session, backend: EmulatorBackend):
    _populate(session, backend)
    saved = client.get("/_emulator/state").get_json()
    backend.reset()
    backend.faults.clear()

    answer = client.put("/_emulator/state", json=saved)

    assert answer.get_json() == {"loaded": True, "jobs": 2, "media": 2}
    assert _comparable(client.get("/_emulator/state").get_json()) == _comparable(saved)


@pytest.mark.parametrize("document", [{}, {"version": 99}, [], {"version": 1, "triggers": [{"topic": "t"}]},
                                      {"version": 1, "lifecycle": [{"action": "Nope"}]}])
def test_bad_state_is_refused_and_changes_nothing(client, backend: EmulatorBackend, document):
    backend.add_media("video", "cn-shanghai", media_id="keep")
    assert client.put("/_emulator/state", json=document).status_code == 400
    assert backend.get_media("keep") is not None


def test_unfinished_deliveries_are_not_resumed_after_a_load(backend: EmulatorBackend):
    import threading

    from _servers import Answer

    release = threading.Event()
    with Receiver([Answer(block=release)]) as receiver:
        backend.set_callback(url=receiver.url)
        backend.upload("video", "cn-shanghai")
        receiver.wait_for(1)
        saved = backend.state()
        release.set()
        assert backend.deliveries.wait(10)

    backend.load_state(saved)
    (record,) = backend.deliveries.log()
    assert record["Result"] == "dropped" and "stopped" in record["Error"]


def test_credentials_are_not_in_the_state(session, backend: EmulatorBackend):
    _populate(session, backend)
    state = backend.state()
    assert SECRET not in json.dumps(state)  # key ids are in the request log, as logged; secrets never
    assert not {"credentials", "nonces"} & set(state)
