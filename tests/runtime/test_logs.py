"""FC's log line format, with the request id of the invocation running on the thread."""

import logging
import re
import threading

from vodai.runtime import logs

LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (?P<rid>\S+) \[(?P<level>[A-Z]+)\] (?P<msg>.*)$")


def _record(message, level=logging.INFO):
    return logging.LogRecord("t", level, __file__, 1, message, None, None)


def test_line_format_carries_the_request_id():
    formatter = logs.FcFormatter()
    with logs.invocation("Invoke", "req-7"):
        line = formatter.format(_record("hello %s" % "world"))
    match = LINE.match(line)
    assert match and match.group("rid", "level", "msg") == ("req-7", "INFO", "hello world")
    outside = formatter.format(_record("idle", logging.WARNING))
    assert re.match(r"^\S+Z \[WARNING\] idle$", outside)


def test_request_ids_are_per_thread():
    seen = {}

    def run(request_id):
        with logs.invocation("Invoke", request_id):
            barrier.wait()
            seen[request_id] = logs.current_request_id()

    barrier = threading.Barrier(2)
    threads = [threading.Thread(target=run, args=(rid,)) for rid in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == {"a": "a", "b": "b"}


def test_markers_even_when_the_call_fails(capsys):
    try:
        with logs.invocation("Initialize", "req-9"):
            raise RuntimeError("x")
    except RuntimeError:
        pass
    assert capsys.readouterr().err.splitlines() == ["FC Initialize Start RequestId: req-9", "FC Initialize End RequestId: req-9"]
    assert logs.current_request_id() == ""


def test_install_routes_root_logging_once(capsys):
    root = logging.getLogger()
    before, level = list(root.handlers), root.level
    try:
        handler = logs.install()
        assert logs.install() is handler and root.handlers.count(handler) == 1
        with logs.invocation("Invoke", "req-10"):
            logging.getLogger("vodai").info("outcome logged")
        err = capsys.readouterr().err
        assert any(LINE.match(line) and line.endswith("req-10 [INFO] outcome logged") for line in err.splitlines())
    finally:
        root.handlers[:] = before
        root.setLevel(level)
