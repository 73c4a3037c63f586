"""Reading replay inputs: event files, directories, JSONL with events and dead letters, stdin."""

import base64
import io
import json

import pytest

from conftest import EVENTS, sample_files
from vodai.deadletter import DeadLetter
from vodai.replay import SourceError, read_sources


def _letter(raw: bytes) -> str:
    return DeadLetter.of(reason="test", outcome={"Status": "dead_lettered"}, raw=raw, request_id="r-1").to_json()


def test_a_directory_is_every_json_and_jsonl_below_it_but_expected_json(tmp_path):
    items = read_sources([str(EVENTS)])
    assert [i.source for i in items] == [str(p) for p in sample_files()]
    assert all(i.raw == open(i.source, "rb").read() and i.line is None for i in items)

    nested = tmp_path / "a" / "b"
    nested.mkdir(parents=True)
    (nested / "x.jsonl").write_text('{"k": 1}\n{"k": 2}\n')
    (tmp_path / "expected.json").write_text("{}")
    (tmp_path / "notes.txt").write_text("not an input")
    (tmp_path / "one.json").write_text('{"k": 0}')
    items = read_sources([str(tmp_path)])
    assert [(i.origin, i.raw) for i in items] == [
        (f"{nested / 'x.jsonl'}:1", b'{"k": 1}'), (f"{nested / 'x.jsonl'}:2", b'{"k": 2}'),
        (str(tmp_path / "one.json"), b'{"k": 0}')]


def test_jsonl_mixes_events_and_dead_letters_skips_blank_lines_and_reports_bad_ones(tmp_path):
    raw_b64 = (EVENTS / "raw-base64" / "video-cn-shanghai.json").read_bytes()  # not JSON: kept as text
    raw_json = (EVENTS / "cloudevent" / "image-ap-southeast-1.json").read_bytes()
    binary = b"\xff\xfe not utf-8"
    lines = [
        json.dumps({"event": 1}),
        "",
        _letter(raw_b64),
        "   ",
        "{not json",
        _letter(raw_json),
        _letter(binary),
        json.dumps({"DeadLetterId": "bad", "Event": "%%%", "EventEncoding": "base64"}),
        "42",
    ]
    path = tmp_path / "in.jsonl"
    path.write_bytes(("\n".join(lines) + "\n").encode())
    items = read_sources([str(path)])
    by_line = {i.line: i for i in items}
    assert sorted(by_line) == [1, 3, 5, 6, 7, 8, 9]
    assert by_line[1].raw == b'{"event": 1}' and by_line[1].dead_letter_id is None
    assert by_line[3].raw == raw_b64 and by_line[3].dead_letter_id
    assert by_line[5].unreadable and by_line[5].error.startswith("not JSON") and by_line[5].origin == f"{path}:5"
    assert json.loads(by_line[6].raw) == json.loads(raw_json)
    assert by_line[7].raw == binary  # EventEncoding base64
    assert by_line[8].unreadable and "bad" in by_line[8].error
    assert by_line[9].raw == b"42"  # any JSON value is an event (the pipeline dead-letters it)


def test_a_json_file_holding_one_dead_letter_replays_its_event(tmp_path):
    raw = (EVENTS / "raw" / "video-cn-beijing.json").read_bytes()
    path = tmp_path / "letter.json"
    path.write_text(json.dumps(json.loads(_letter(raw)), indent=2))
    [item] = read_sources([str(path)])
    assert json.loads(item.raw) == json.loads(raw) and item.dead_letter_id


def test_stdin_is_jsonl():
    data = b'{"a": 1}\n\nnope\n' + base64.b64encode(b"x") + b"\n"
    items = read_sources(["-"], stdin=io.BytesIO(data))
    assert [(i.origin, i.unreadable) for i in items] == [("-:1", False), ("-:3", True), ("-:4", True)]


def test_a_missing_path_is_an_error_before_anything_runs(tmp_path):
    with pytest.raises(SourceError, match="no such file"):
        read_sources([str(EVENTS / "raw"), str(tmp_path / "missing.json")])
