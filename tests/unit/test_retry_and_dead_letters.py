import json

import pytest

from vodai.deadletter import DeadLetter, decode_event, open_sink
from vodai.exceptions import DeadLetterError, SinkUrlError
from vodai.retry import Deadline, RetryPolicy, next_delay


def test_full_jitter_backoff_stays_under_the_exponential_cap():
    policy = RetryPolicy(max_attempts=6, base_delay=0.5, max_delay=3.0)
    assert [policy.delay(n, rand=lambda: 1.0) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    assert policy.delay(4, rand=lambda: 0.0) == 0.0


def test_no_retry_past_attempts_or_deadline():
    policy = RetryPolicy(max_attempts=3, base_delay=1.0, max_delay=10.0)
    now = [0.0]
    plenty = Deadline(100.0, lambda: now[0])
    assert next_delay(policy, 1, plenty, lambda: 1.0) == 1.0
    assert next_delay(policy, 3, plenty, lambda: 1.0) is None  # attempts used up
    tight = Deadline(2.5, lambda: now[0])
    assert next_delay(policy, 2, tight, lambda: 1.0) is None  # 2 s wait + 1 s for the attempt > 2.5 s left


def test_deadline_bounds_timeouts():
    now = [10.0]
    deadline = Deadline(13.0, lambda: now[0])
    assert deadline.bound(10.0) == 3.0 and deadline.bound(1.0) == 1.0
    now[0] = 20.0
    assert deadline.bound(10.0) == 0.05  # past the deadline: a token timeout, never negative


def test_dead_letter_scrubs_signatures_and_secrets_and_round_trips(tmp_path):
    raw = {"version": "v1", "headers": {"X-VOD-SIGNATURE": "abc123sig", "X-VOD-TIMESTAMP": "1712713035",
                                        "Content-Type": "application/json"}, "body": "eyJ9"}
    letter = DeadLetter.of(reason="malformed event: body: x", outcome={"Status": "dead_lettered"}, raw=raw, request_id="rq")
    sink = open_sink(str(tmp_path / "dl"))
    path = sink.write(letter, secrets=["sts-token-xyz"])
    line = open(path).read()
    assert "abc123sig" not in line and "1712713035" not in line
    doc = json.loads(line)
    assert DeadLetter.is_dead_letter(doc) and doc["Reason"].startswith("malformed event")
    replayed = json.loads(decode_event(doc["Event"], doc["EventEncoding"]))
    assert replayed["headers"]["Content-Type"] == "application/json" and replayed["body"] == "eyJ9"


@pytest.mark.parametrize("raw, encoding", [(b"\xff\xfe\x00", "base64"), (b"not json", "text"), (b'{"a": 1}', "json")])
def test_dead_letter_keeps_the_exact_bytes(raw, encoding):
    letter = DeadLetter.of(reason="r", outcome={}, raw=raw, request_id=None)
    assert letter.event_encoding == encoding
    back = decode_event(letter.event, letter.event_encoding)
    assert back == raw if encoding != "json" else json.loads(back) == json.loads(raw)


def test_dead_letter_redacts_known_secret_values():
    letter = DeadLetter.of(reason="publish failed: token sts-token-xyz leaked", outcome={}, raw=b"{}", request_id=None)
    assert "sts-token-xyz" not in letter.to_json(["sts-token-xyz"])


def test_unwritable_directory_is_a_dead_letter_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(DeadLetterError):
        open_sink(str(blocker / "dl")).write(DeadLetter.of(reason="r", outcome={}, raw=b"{}", request_id=None))


@pytest.mark.parametrize("url", ["s3://bucket", "mns-queue://", "mns-topic://a/b"])
def test_bad_sink_url(url):
    with pytest.raises(SinkUrlError):
        open_sink(url, publisher=object())
