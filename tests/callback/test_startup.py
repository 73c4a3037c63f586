"""The startup check: no auth key (without the explicit opt-out), no topic or no URL refuses to start;
functions/vod_callback/index.py's initializer raises, and its handler answers 500 instead of accepting."""

import importlib.util
import json
from pathlib import Path

import pytest
from werkzeug.test import Client

import vodai.callback
from vodai.callback import check_startup
from vodai.exceptions import ConfigError

from .helpers import AUTH_KEY, CALLBACK_URL, PATH, body, fc_context, settings, signed_headers, target

INDEX = Path(__file__).resolve().parents[2] / "functions" / "vod_callback" / "index.py"


def _setting(conf) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        check_startup(conf)
    return info.value


def test_a_complete_configuration_starts():
    assert check_startup(settings()) is None


def test_no_auth_key_refuses_to_start():
    err = _setting(settings(callback_auth_key=None))
    assert err.setting == "VODAI_CALLBACK_AUTH_KEY"
    assert "VODAI_CALLBACK_ALLOW_UNAUTHENTICATED" in err.reason
    assert _setting(settings(callback_auth_key=" , ")).setting == "VODAI_CALLBACK_AUTH_KEY"


def test_a_queue_alone_and_no_url_start():
    """FC 3.0's template: verified events go to a queue; the URL is the one each request came to."""
    assert check_startup(settings(events_topic=None, events_queue="vodai-events", callback_url=None)) is None


def test_explicit_opt_out_starts_without_key_or_url():
    assert check_startup(settings(callback_auth_key=None, callback_url=None, callback_allow_unauthenticated=True)) is None


def test_auth_key_wins_over_the_opt_out():
    t = target(callback_allow_unauthenticated=True)
    status = Client(t.app).post(PATH, data=body(), environ_base={"fc.context": fc_context()}).status_code
    assert status == 401


@pytest.mark.parametrize(
    "update, setting",
    [
        ({"events_topic": None}, "VODAI_EVENTS_QUEUE"),
        ({"events_topic": None, "callback_auth_key": None, "callback_allow_unauthenticated": True}, "VODAI_EVENTS_QUEUE"),
        ({"events_topic": "vodai-callback"}, "VODAI_EVENTS_TOPIC"),
        ({"events_queue": "vodai-events"}, "VODAI_EVENTS_QUEUE"),
        ({"callback_url": "cb.example.com/vod"}, "VODAI_CALLBACK_URL"),
    ],
    ids=["no-destination", "no-destination-unauthenticated", "topic-is-callback-topic", "queue-and-topic",
         "url-without-scheme"],
)
def test_missing_or_wrong_settings_refuse_to_start(update, setting):
    assert _setting(settings(**update)).setting == setting


@pytest.mark.parametrize("key", ["k" * 33, "with space1", "quoted'Key1"])
def test_keys_vod_cannot_hold_are_refused_without_echoing_them(key):
    err = _setting(settings(callback_auth_key=f"{AUTH_KEY},{key}"))
    assert err.setting == "VODAI_CALLBACK_AUTH_KEY" and "key 2 of 2" in err.reason
    assert key not in str(err) and AUTH_KEY not in str(err)


def test_misconfigured_app_answers_500_and_accepts_nothing():
    t = target(callback_auth_key=None)
    assert t.app.startup_error is not None
    response = Client(t.app).post(PATH, data=body(), headers=signed_headers(), environ_base={"fc.context": fc_context()})
    doc = json.loads(response.get_data())
    assert response.status_code == 500
    assert doc["error"] == "misconfigured" and doc["reason"].startswith("VODAI_CALLBACK_AUTH_KEY")
    assert t.messages() == []


# -- functions/vod_callback/index.py, configured from the environment ---------------------------
@pytest.fixture
def index(monkeypatch):
    for name in list(__import__("os").environ):
        if name.startswith("VODAI_"):
            monkeypatch.delenv(name)
    vodai.callback.reset()
    spec = importlib.util.spec_from_file_location("vod_callback_index", INDEX)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    yield module
    vodai.callback.reset()


def _post(handler):
    response = Client(handler).post(PATH, data=body(), headers=signed_headers(), environ_base={"fc.context": fc_context()})
    return response.status_code, json.loads(response.get_data())


def test_initializer_refuses_to_start_without_an_auth_key(index, monkeypatch):
    monkeypatch.setenv("VODAI_EVENTS_TOPIC", "vodai-events")
    monkeypatch.setenv("VODAI_CALLBACK_URL", CALLBACK_URL)
    with pytest.raises(ConfigError) as info:
        index.initializer(fc_context())
    assert info.value.setting == "VODAI_CALLBACK_AUTH_KEY"
    status, doc = _post(index.handler)
    assert status == 500 and doc["reason"].startswith("VODAI_CALLBACK_AUTH_KEY")


def test_initializer_accepts_the_explicit_opt_out(index, monkeypatch):
    monkeypatch.setenv("VODAI_EVENTS_TOPIC", "vodai-events")
    monkeypatch.setenv("VODAI_CALLBACK_ALLOW_UNAUTHENTICATED", "true")
    assert index.initializer(fc_context()) is None


def test_initializer_and_handler_name_an_unreadable_setting(index, monkeypatch):
    monkeypatch.setenv("VODAI_CALLBACK_AUTH_KEY", AUTH_KEY)
    monkeypatch.setenv("VODAI_CALLBACK_WINDOW", "five minutes")
    with pytest.raises(ConfigError) as info:
        index.initializer(fc_context())
    assert info.value.setting == "VODAI_CALLBACK_WINDOW"
    status, doc = _post(index.handler)
    assert status == 500 and doc["reason"].startswith("VODAI_CALLBACK_WINDOW")
    assert AUTH_KEY not in json.dumps(doc)


def test_settings_are_read_once_per_instance(index, monkeypatch):
    monkeypatch.setenv("VODAI_EVENTS_TOPIC", "vodai-events")
    monkeypatch.setenv("VODAI_CALLBACK_URL", CALLBACK_URL)
    monkeypatch.setenv("VODAI_CALLBACK_AUTH_KEY", AUTH_KEY)
    index.initializer(fc_context())
    first = vodai.callback.instance_app()
    monkeypatch.delenv("VODAI_CALLBACK_AUTH_KEY")
    assert vodai.callback.instance_app() is first  # a warm instance keeps its settings
    vodai.callback.reset()
    with pytest.raises(ConfigError):
        index.initializer(fc_context())


def test_the_function_imports_no_web_framework():
    import subprocess
    import sys

    code = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('index', {str(INDEX)!r})\n"
        "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)\n"
        "heavy = sorted(n for n in sys.modules if n.split('.')[0] in ('flask', 'werkzeug', 'click', 'rich', 'yaml')"
        " or n.startswith('vodai.emulator') or n == 'vodai.cli' or n.startswith('vodai.cli.'))\n"
        "print(heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
