"""The registry of functions, loading them from their files, and the lean import path."""

import os
import subprocess
import sys

import pytest

from conftest import ROOT
from vodai.runtime.main import main as runtime_main
from vodai.runtime.registry import EVENT, HTTP, REGISTRY, FunctionNotFound, Functions, default_functions_dir, lookup


def test_registry_kinds():
    assert {name: spec.kind for name, spec in REGISTRY.items()} == {"on_upload": EVENT, "vod_callback": HTTP,
                                                                     "track_jobs": EVENT}
    assert lookup("on-upload").name == "on_upload"
    with pytest.raises(FunctionNotFound, match="unknown function 'x'"):
        lookup("x")
    with pytest.raises(FunctionNotFound, match="VODAI_FUNCTION"):
        lookup(None)


def test_default_functions_dir_is_the_repository_one():
    assert default_functions_dir() == ROOT / "functions"


def test_loads_the_real_on_upload_from_its_file():
    loaded = Functions().load("on_upload")
    assert loaded.path == ROOT / "functions" / "on_upload" / "index.py"
    assert callable(loaded.handler) and loaded.module.__file__ == str(loaded.path)
    assert Functions().load("on_upload") is not loaded  # a new Functions loads anew...
    functions = Functions()
    assert functions.load("on_upload") is functions.load("on_upload")  # ...one Functions once


def test_missing_file_is_function_not_found(tmp_path):
    with pytest.raises(FunctionNotFound, match="does not exist"):
        Functions(tmp_path).load("on_upload")


def test_import_error_is_not_cached(tmp_path):
    (tmp_path / "on_upload").mkdir()
    index = tmp_path / "on_upload" / "index.py"
    index.write_text("import no_such_module_here\n")
    functions = Functions(tmp_path)
    with pytest.raises(ModuleNotFoundError):
        functions.load("on_upload")
    index.write_text("def handler(event, context):\n    return 'fixed'\n")
    assert functions.load("on_upload").handler(b"", None) == "fixed"


def test_shim_package_and_registry_import_no_flask():
    code = ("import sys, vodai.runtime, vodai.runtime.registry, vodai.runtime.headers, vodai.cli.serve; "
            "bad = [m for m in ('flask', 'werkzeug', 'waitress') if m in sys.modules]; "
            "assert not bad, bad")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_main_refuses_to_start_without_a_valid_setting(capsys):
    assert runtime_main({"VODAI_FUNCTION": "nope", "FC_SERVER_PORT": "9000"}) == 2
    assert "unknown function 'nope'" in capsys.readouterr().err
    assert runtime_main({"VODAI_FUNCTION": "on_upload", "FC_SERVER_PORT": "ninety"}) == 2


_BUILT_CHECK = """
import json, sys
sys.path.insert(0, sys.argv[1])
import index
from vodai.events import models
def built():
    return sorted(n for n in ("VodEvent", "FileUploadComplete", "ImageUploadComplete", "AttachedMediaUploadComplete",
                              "AIMediaAuditComplete", "OtherEvent") if getattr(models, n).__pydantic_complete__)
at_import = built()
event = json.loads(open(sys.argv[2]).read())
models.parse_event(event)
print(json.dumps([at_import, built()]))
"""


def test_a_cold_start_builds_the_validator_of_the_one_event_type_it_meets(tmp_path):
    # Seven event models, one of which a cold start meets: building the others at import cost
    # 5.5 ms of every cold start on Python 3.10 (defer_build on VodEvent).
    import json

    body = tmp_path / "event.json"
    body.write_text(json.dumps({"EventType": "ImageUploadComplete", "EventTime": "2024-04-10T01:37:14Z", "ImageId": "i1",
                                "Status": "success", "FileURL": "https://b.oss-ap-southeast-1.aliyuncs.com/i.png"}))
    out = subprocess.run([sys.executable, "-c", _BUILT_CHECK, str(default_functions_dir() / "on_upload"), str(body)],
                         capture_output=True, text=True, cwd=str(ROOT))
    assert out.returncode == 0, out.stderr
    at_import, after = json.loads(out.stdout)
    assert at_import == [] and after == ["ImageUploadComplete"]


_COLD_PATH_CHECK = """
import json, sys
sys.path.insert(0, sys.argv[1])
import index
from vodai.config import Settings
from vodai.events.models import parse_event
from vodai.routing import rules
from vodai.routing.decision import decide
OFF_PATH = ("xml.sax", "vodai.local_context", "vodai.pipeline.completions", "vodai.tracking.completion",
            "vodai.tracking.results", "vodai.deadletter.base")
at_import = sorted(m for m in OFF_PATH if m in sys.modules)
event = parse_event({"EventType": "FileUploadComplete", "VideoId": "v1", "Status": "success",
                     "FileUrl": "https://b.oss-cn-shanghai.aliyuncs.com/a.mp4"})
decision = decide(event, region="cn-shanghai", table=rules.load_table(None),
                  settings=Settings(ai_template_id="t", callback_topic="c"))
after = sorted(m for m in OFF_PATH if m in sys.modules)
built = sorted(c.__name__ for c in (rules.Rule, rules.RegionSettings, rules.RouteTable) if c.__pydantic_complete__)
print(json.dumps([type(decision).__name__, at_import, after, built]))
"""


def _python(which: str) -> str:
    if which == "3.11":
        return sys.executable
    python = os.environ.get("VODAI_TEST_PY312")  # make test sets it: .venv312, the runtime dependencies on 3.12
    if not python or not os.path.exists(python):
        message = "no Python 3.12 venv (make test builds .venv312 with the runtime dependencies)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return python


@pytest.mark.parametrize("which", ["3.11", "3.12"])
def test_an_upload_cold_start_leaves_out_what_only_other_paths_need(which):
    # xml.sax for one escape, the local context's dataclasses, the completion path, and the route
    # models' validators (the default table is a constant): 27 million instructions, about 4 ms, of
    # every cold start. The dead letter and its encoding: 12.5 million more on 3.12.
    # The completion path's lazy import is exercised end to end by tests/tracking (completion events).
    out = subprocess.run([_python(which), "-c", _COLD_PATH_CHECK, str(default_functions_dir() / "on_upload")],
                         capture_output=True, text=True, cwd=str(ROOT))
    assert out.returncode == 0, out.stderr
    decision, at_import, after, built = __import__("json").loads(out.stdout)
    assert decision == "Submit"
    assert at_import == [] and after == []
    assert built == []
