"""The checkpoint file: the run it belongs to, one run at a time, torn lines."""

from __future__ import annotations

import json
import threading
import time

import pytest

from vodai.exceptions import CheckpointError
from vodai.fanout import Checkpoint, read_params

PARAMS = {"command": "backfill", "region": "cn-shanghai", "since": "2024-05-01T00:00:00Z",
          "until": "2024-06-01T00:00:00Z", "media": ["video", "image"], "queue": "vodai-events"}


def test_a_new_file_starts_with_the_run_it_belongs_to(tmp_path):
    path = tmp_path / "sub" / "run.checkpoint"
    record = Checkpoint(path, PARAMS)
    record.pending(["a", "b"])
    record.done(["a"])
    record.close()

    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert lines == [{"checkpoint": 1, "params": PARAMS}, {"pending": ["a", "b"]}, {"sent": ["a"]}]
    assert read_params(path) == PARAMS
    again = Checkpoint(path, dict(PARAMS))
    assert (again.sent, again.uncertain) == ({"a"}, {"b"})
    again.close()


@pytest.mark.parametrize("change, named", [({"region": "ap-southeast-1"}, "region cn-shanghai, not ap-southeast-1"),
                                           ({"media": ["video"]}, "media video,image, not video"),
                                           ({"queue": "other"}, "queue vodai-events, not other")])
def test_another_runs_checkpoint_is_refused_naming_what_differs(tmp_path, change, named):
    path = tmp_path / "run.checkpoint"
    Checkpoint(path, PARAMS).close()

    with pytest.raises(CheckpointError) as caught:
        Checkpoint(path, {**PARAMS, **change})

    message = str(caught.value)
    assert "\n" not in message and named in message
    assert f"--checkpoint {path}" in message and "another --checkpoint FILE" in message
    assert Checkpoint(path, PARAMS).sent == set()  # the refused run changed nothing


def test_a_file_from_before_params_were_recorded_is_taken_as_it_is(tmp_path):
    path = tmp_path / "old.checkpoint"
    path.write_text(json.dumps({"pending": ["a"]}) + "\n" + json.dumps({"sent": ["a"]}) + "\n", encoding="utf-8")
    record = Checkpoint(path, PARAMS)
    assert record.sent == {"a"} and record.params is None
    record.close()
    assert read_params(path) is None


def test_one_run_at_a_time_the_next_waits_for_the_lock(tmp_path):
    path = tmp_path / "run.checkpoint"
    first = Checkpoint(path, PARAMS)
    waited = []
    with pytest.raises(CheckpointError, match="in use by another run: wait for it to end"):
        Checkpoint(path, PARAMS, wait=0.2, on_wait=lambda: waited.append(True))
    assert waited == [True]

    first.pending(["a"])
    threading.Timer(0.3, lambda: (first.done(["a"]), first.close())).start()
    started = time.monotonic()
    second = Checkpoint(path, PARAMS, wait=10)  # waits until the first has recorded and closed
    assert time.monotonic() - started >= 0.25
    assert second.sent == {"a"} and second.uncertain == set()
    second.close()

