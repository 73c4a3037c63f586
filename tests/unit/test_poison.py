"""Poison input (issue 26): whatever a delivery holds, every record found ends in one outcome, a
record that cannot be handled is dead-lettered with its reason, and the rest of its batch goes on.

The named cases each raised out of the handler before; the property test feeds at least 10,000
generated deliveries (any bytes, any JSON, sample envelopes with any field replaced by any value)
through the same pipeline, in process, against the emulator."""

import base64
import hashlib
import json
from typing import List

import pytest
from conftest import sample_files
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from unit.test_pipeline import CREDS, _target

from vodai.deadletter import DeadLetterSink
from vodai.deadletter.base import EXCERPT, EXCERPT_CHARS
from vodai.events.envelopes import unwrap
from vodai.pipeline import DEAD_LETTERED, FAILED, FINAL, SKIPPED, SUBMITTED, dispatch

SECRETS = (CREDS.access_key_secret, CREDS.security_token)


class MemorySink(DeadLetterSink):
    """Dead letters as the text a real sink would write."""

    def __init__(self) -> None:
        self.lines: List[str] = []

    def write(self, letter, secrets=()):
        self.lines.append(letter.to_json(secrets))
        return "memory"


def _valid(video_id: str) -> dict:
    return {"EventType": "FileUploadComplete", "VideoId": video_id, "Status": "success", "Size": 100,
            "FileUrl": f"https://example.com/{video_id}.mp4", "EventTime": "2026-12-01T00:00:00Z"}


def _pipeline(update=None):
    import dataclasses

    backend, deps, context = _target(update)
    sink = MemorySink()
    return backend, dataclasses.replace(deps, dead_letters=sink), context, sink


def _check(raw, result, sink, deps, *, first_letter=0):
    """The invariant: one outcome per record found, each final or retryable; every dead-lettered
    record has a reason and a letter that is JSON, bounded and free of secrets."""
    found = unwrap(raw, max_bytes=deps.settings.max_delivery_bytes)
    assert len(result.outcomes) == len(found)
    letters = {}
    for line in sink.lines[first_letter:]:
        assert not any(secret in line for secret in SECRETS)
        assert len(line.encode("utf-8")) < 64 * 1024
        doc = json.loads(line)
        letters[doc["DeadLetterId"]] = doc
    for outcome in result.outcomes:
        assert outcome.status in FINAL or outcome.status == FAILED
        if outcome.status == DEAD_LETTERED:
            assert outcome.reason and outcome.dead_letter_id in letters
    for record, outcome in zip(found, result.outcomes, strict=True):
        if record.error is not None:
            assert outcome.status == DEAD_LETTERED
    return letters


def _mns(message) -> bytes:
    return json.dumps({"TopicOwner": "1", "TopicName": "t", "Subscriber": "1", "SubscriptionName": "s",
                       "MessageId": "m-1", "Message": message, "PublishTime": 1}).encode()


VALID = json.dumps(_valid("video-ok"))
POISON = {
    "http requestContext a string": json.dumps({"version": "v1", "rawPath": "/", "requestContext": "x", "body": "{"}).encode(),
    "lone surrogate in Size": b'{"EventType":"FileUploadComplete","VideoId":"v-size","Size":"\\ud800"}',
    "lone surrogate in Extend": b'{"EventType":"FileUploadComplete","VideoId":"v-ext","Extend":"\\udfff"}',
    "lone surrogate in Extend JSON": b'{"EventType":"FileUploadComplete","VideoId":"v-ext2","Extend":"{\\"a\\":\\"\\ud800\\"}"}',
    "Message true": _mns(True),
    "Message a number": _mns(12),
    "aliyunregionid a number": json.dumps({"specversion": "1.0", "id": "e-1", "aliyunregionid": 5,
                                           "data": {"messageBody": json.dumps(_valid("v-region"))}}).encode(),
    "nested 1,000 deep": b"[" * 1000 + b"]" * 1000,
    "object nested 900 deep": ('{"EventType":"FileUploadComplete","VideoId":"v-deep","X":' + '{"a":' * 900 + "1"
                               + "}" * 901).encode(),
    "Extend nested 990 deep": json.dumps(dict(_valid("v-deep-ext"), Extend="[" * 990 + "]" * 990)).encode(),
}


@pytest.mark.parametrize("raw", list(POISON.values()), ids=list(POISON))
def test_poison_is_dead_lettered_not_raised(raw):
    _backend, deps, context, sink = _pipeline()
    result = dispatch(raw, deps, context=context)
    _check(raw, result, sink, deps)


@pytest.mark.parametrize("event", [{"EventType": "FileUploadComplete"}, None, 12, ["a"]], ids=repr)
def test_an_event_that_is_not_bytes_is_dead_lettered(event):
    _backend, deps, context, sink = _pipeline()
    [outcome] = dispatch(event, deps, context=context).outcomes
    assert outcome.status == DEAD_LETTERED and len(sink.lines) == 1
    if event is not None:
        assert f"expected the delivery's bytes, got {type(event).__name__}" in outcome.reason


def test_a_number_as_the_region_is_no_region_claim():
    _backend, deps, context, _sink = _pipeline()
    [outcome] = dispatch(POISON["aliyunregionid a number"], deps, context=context).outcomes
    assert outcome.status == SUBMITTED and outcome.region == context.region
    assert outcome.region_source != "cloudevent.aliyunregionid"


# Each a record that cannot be handled; nesting 1,000 deep cannot even be read as a batch.
BATCHABLE = [k for k in POISON if k not in ("nested 1,000 deep", "aliyunregionid a number")]


@pytest.mark.parametrize("poison", BATCHABLE)
def test_a_poison_record_does_not_stop_its_batch(poison):
    backend, deps, context, sink = _pipeline()
    piece = json.loads(POISON[poison].decode("utf-8"))
    raw = json.dumps([_valid("video-a"), piece, _valid("video-b")]).encode()
    for delivery in range(5):
        result = dispatch(raw, deps, context=context)
        first, middle, last = result.outcomes
        assert middle.status == DEAD_LETTERED and middle.reason, poison
        assert (first.status, last.status) == ((SUBMITTED, SUBMITTED) if delivery == 0 else (SKIPPED, SKIPPED))
        assert not result.failed
    assert sorted(j["VideoId"] for j in backend.jobs()) == ["video-a", "video-b"]
    assert len(sink.lines) == 5


def test_a_delivery_over_the_limit_is_refused_unparsed_and_kept_as_an_excerpt():
    _backend, deps, context, sink = _pipeline({"max_delivery_bytes": 128 * 1024})
    raw = json.dumps([_valid(f"video-{i:06d}") for i in range(2000)]).encode()
    assert len(raw) > 128 * 1024
    [outcome] = dispatch(raw, deps, context=context).outcomes
    assert outcome.status == DEAD_LETTERED and "VODAI_MAX_DELIVERY_BYTES" in outcome.reason
    assert f"{len(raw)} bytes, over the limit of {128 * 1024}" in outcome.reason
    [letter] = [json.loads(line) for line in sink.lines]
    assert letter["EventEncoding"] == EXCERPT and len(letter["Event"]) <= EXCERPT_CHARS
    assert letter["EventBytes"] == len(raw) and letter["EventSha256"] == hashlib.sha256(raw).hexdigest()
    assert raw[:EXCERPT_CHARS].decode() == letter["Event"]


def test_an_excerpt_masks_the_secret_fields_it_shows():
    _backend, deps, context, sink = _pipeline({"max_delivery_bytes": 1024})
    envelope = {"version": "v1", "rawPath": "/", "headers": {"X-VOD-SIGNATURE": "5f2b9c0d1e", "x-fc-security-token": "tok-1"},
                "body": json.dumps(_valid("video-big")), "padding": "x" * 40_000}
    raw = json.dumps(envelope).encode()
    dispatch(raw, deps, context=context)
    [letter] = [json.loads(line) for line in sink.lines]
    assert letter["EventEncoding"] == EXCERPT
    assert "X-VOD-SIGNATURE" in letter["Event"] and "5f2b9c0d1e" not in letter["Event"] and "tok-1" not in letter["Event"]


def test_the_default_limit_is_fc_asynchronous_payload_limit():
    from vodai.config import Settings

    assert Settings().max_delivery_bytes == 128 * 1024


# -- the property: any delivery ---------------------------------------------------------------

_SURROGATES = st.integers(0xD800, 0xDFFF).map(chr)
_TEXT = st.one_of(st.text(max_size=20), st.lists(st.one_of(st.text(max_size=3), _SURROGATES), max_size=4).map("".join),
                  st.sampled_from(["", "cn-shanghai", "v1", "EventType", "FileUploadComplete", "success", "true"]),
                  st.integers(1, 5000).map(lambda n: "x" * n))
_SCALAR = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False), _TEXT)
# Flat containers keep generation fast: the samples bring the nesting, _DEEP the extreme kind.
_JSON = st.one_of(_SCALAR, st.lists(_SCALAR, max_size=3), st.dictionaries(_TEXT, _SCALAR, max_size=3))
_DEEP = st.tuples(st.integers(1, 1200), st.sampled_from(["[", '{"a":'])).map(
    lambda d: (d[1] * d[0] + "1" + ("]" if d[1] == "[" else "}") * d[0]).encode())


def _samples() -> List[object]:
    """The saved sample deliveries that are JSON (base64 ones too, decoded), as values to mutate."""
    found: List[object] = [_valid("video-prop")]
    for path in sample_files():
        for text in (path.read_text(errors="replace"), _b64(path.read_bytes())):
            try:
                found.append(json.loads(text))
                break
            except ValueError:
                continue
    return found


def _b64(data: bytes) -> str:
    try:
        return base64.b64decode(data).decode("utf-8")
    except ValueError:
        return ""


SAMPLES = _samples()


def _paths(value, path=()):
    yield path
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _paths(child, path + (key,))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            yield from _paths(child, path + (i,))


def _replace(value, path, new):
    if not path:
        return new
    copy = dict(value) if isinstance(value, dict) else list(value)
    copy[path[0]] = _replace(value[path[0]], path[1:], new)
    return copy


@st.composite
def _mutated_sample(draw):
    sample = draw(st.sampled_from(SAMPLES))
    paths = list(_paths(sample))
    for _ in range(draw(st.integers(1, 2))):
        sample = _replace(sample, draw(st.sampled_from(paths)), draw(_JSON))
        paths = list(_paths(sample))
    return sample


_PIECE = st.one_of(_mutated_sample(), _JSON, st.sampled_from(SAMPLES))
DELIVERIES = st.one_of(
    st.binary(max_size=200),
    _DEEP,
    _PIECE.map(lambda v: json.dumps(v).encode()),
    st.lists(_PIECE, min_size=1, max_size=5).map(lambda v: json.dumps(v).encode()),
    st.sampled_from(list(POISON.values())),
    st.one_of(st.none(), st.integers(), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2)),
)
TARGET = _pipeline({"max_delivery_bytes": 64 * 1024})


# Deliveries per generated example: hypothesis spends more per example than the pipeline per delivery.
PER_EXAMPLE = 3


def test_any_delivery_ends_in_one_outcome_per_record():
    delivered = 0

    @settings(max_examples=3_400, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
    @given(st.lists(DELIVERIES, min_size=PER_EXAMPLE, max_size=PER_EXAMPLE))
    def deliver(raws):
        nonlocal delivered
        _backend, deps, context, sink = TARGET
        for raw in raws:
            first_letter = len(sink.lines)
            result = dispatch(raw, deps, context=context)
            _check(raw, result, sink, deps, first_letter=first_letter)
            delivered += 1

    deliver()
    assert delivered >= 10_000


@pytest.mark.parametrize("event", [{"EventType": "FileUploadComplete"}, None, b"\xff\xfe", b"[" * 1000 + b"]" * 1000],
                         ids=["dict", "None", "not UTF-8", "nested 1,000 deep"])
def test_the_handler_answers_poison_with_its_outcome(event):
    from vodai import handler
    from vodai.local_context import LocalContext, LocalCredentials

    handler.reset()
    context = LocalContext(credentials=LocalCredentials(*SECRETS_OWNER))
    answer = json.loads(handler.handle(event, context))
    assert answer["Counts"] == {DEAD_LETTERED: 1}
    handler.reset()


SECRETS_OWNER = (CREDS.access_key_id, CREDS.access_key_secret, CREDS.security_token)
