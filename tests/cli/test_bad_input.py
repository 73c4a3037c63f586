"""Every command with bad input, run as a user runs it (a real process): exit status non-zero,
one or two lines naming the setting or argument, and no traceback anywhere in the output."""

import json
import os
import socket
import subprocess
import sys
import textwrap

import pytest

from conftest import EVENTS

EVENT = str(EVENTS / "raw" / "video-cn-shanghai.json")
ENTRY = [sys.executable, "-c", "from vodai.__main__ import main; main()"]


def run(args, env=None, home=None, timeout=60):
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home or "/nonexistent"),
            "ALIBABA_CLOUD_ECS_METADATA_DISABLED": "true"}
    return subprocess.run(ENTRY + list(args), capture_output=True, text=True, env={**base, **(env or {})},
                          timeout=timeout, stdin=subprocess.DEVNULL)


def error_lines(proc):
    """The lines of the error message (after any warnings and progress lines)."""
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stderr
    assert "\x1b[" not in proc.stdout + proc.stderr  # no colour codes in piped output
    lines = proc.stderr.strip().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Error:"))
    return lines[start:]


@pytest.fixture(scope="module")
def taken_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s.getsockname()[1]


CASES = [
    ("bogus store", ["invoke", "-e", EVENT], {"VODAI_IDEMPOTENCY_STORE": "bogus://"}, "VODAI_IDEMPOTENCY_STORE"),
    ("bogus dead letters", ["invoke", "-e", EVENT], {"VODAI_DEAD_LETTERS": "bogus://x"}, "VODAI_DEAD_LETTERS"),
    ("redis down", ["invoke", "-e", EVENT], {"VODAI_IDEMPOTENCY_STORE": "redis://127.0.0.1:1/0"}, "VODAI_IDEMPOTENCY_STORE"),
    ("cloud without credentials", ["invoke", "--cloud", "-e", EVENT], {}, "ALIBABA_CLOUD_ACCESS_KEY_ID"),
    ("one-character secret", ["invoke", "--cloud", "-e", EVENT],
     {"ALIBABA_CLOUD_ACCESS_KEY_ID": "id", "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "b"}, "ALIBABA_CLOUD_ACCESS_KEY_SECRET"),
    ("via http, bad number", ["invoke", "--via-http", "-e", EVENT], {"VODAI_RETRY_ATTEMPTS": "abc"}, "VODAI_RETRY_ATTEMPTS"),
    ("via http, bad store", ["invoke", "--via-http", "-e", EVENT], {"VODAI_IDEMPOTENCY_STORE": "bogus://"},
     "VODAI_IDEMPOTENCY_STORE"),
    ("missing event", ["invoke", "-e", "/no/such/event.json"], {}, "EVENT"),
    ("serve on_upload, bad settings", ["serve", "--function", "on_upload", "--port", "0"],
     {"VODAI_IDEMPOTENCY_STORE": "bogus://"}, "VODAI_IDEMPOTENCY_STORE"),
    ("serve track_jobs, bad settings", ["serve", "--function", "track_jobs", "--port", "0"],
     {"VODAI_TRACKING_STORE": "bogus://"}, "VODAI_TRACKING_STORE"),
    ("serve vod_callback, no key", ["serve", "--function", "vod_callback", "--port", "0"], {}, "VODAI_CALLBACK_AUTH_KEY"),
    ("serve vod_callback, short key", ["serve", "--function", "vod_callback", "--port", "0"],
     {"VODAI_CALLBACK_AUTH_KEY": "b"}, "VODAI_CALLBACK_AUTH_KEY"),
    ("serve, unknown function", ["serve", "--function", "nope"], {}, "--function"),
    ("replay, bad store", ["replay", EVENT], {"VODAI_IDEMPOTENCY_STORE": "bogus://"}, "VODAI_IDEMPOTENCY_STORE"),
    ("replay, missing path", ["replay", "/no/such/file.json"], {}, "PATH"),
    ("jobs list, bad store", ["jobs", "list"], {"VODAI_TRACKING_STORE": "bogus://"}, "VODAI_TRACKING_STORE"),
    ("jobs poll, no endpoints", ["jobs", "poll"], {}, "VODAI_VOD_ENDPOINT"),
    ("emulator, no key", ["emulator", "--port", "0"], {}, "--access-key-id"),
    ("emulator, nothing listening", ["emulator", "jobs", "--url", "http://127.0.0.1:9"], {}, "127.0.0.1:9"),
    ("generate-event, bad extend", ["generate-event", "--extend", "{nope"], {}, "--extend"),
    ("generate-event, bad shape", ["generate-event", "--shape", "nope"], {}, "--shape"),
]


@pytest.mark.parametrize("args,env,named", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_one_or_two_lines_naming_it(tmp_path, args, env, named):
    proc = run(args, {"VODAI_DEAD_LETTERS": str(tmp_path / "dead"), **env}, home=tmp_path)
    assert proc.returncode != 0
    lines = error_lines(proc)
    assert 1 <= len(lines) <= 2 and named in "\n".join(lines), proc.stderr
    assert "listening" not in proc.stdout


@pytest.mark.parametrize("command", [["serve", "--function", "on_upload"],
                                     ["emulator", "--access-key-id", "ak", "--access-key-secret", "emulator-secret"]])
def test_a_port_in_use_is_one_line_naming_port(taken_port, command):
    proc = run(command + ["--port", str(taken_port)], timeout=30)
    assert proc.returncode != 0
    expected = f"Error: --port {taken_port}: 127.0.0.1:{taken_port} is already in use: pick another port (--port 0 picks a free one)"
    assert error_lines(proc) == [expected]


def test_debug_shows_the_traceback():
    proc = run(["--debug", "invoke", "-e", EVENT], {"VODAI_IDEMPOTENCY_STORE": "bogus://"})
    assert proc.returncode != 0 and "Traceback" in proc.stderr and "Error" in proc.stderr
    assert "Traceback" not in run(["invoke", "-e", EVENT], {"VODAI_IDEMPOTENCY_STORE": "bogus://"}).stderr


def test_the_refusal_of_a_function_is_printed_once():
    proc = run(["serve", "--function", "vod_callback", "--port", "0"])
    assert proc.stderr.count("VODAI_CALLBACK_AUTH_KEY: missing") == 1


def test_unknown_variables_and_env_vars_sections_get_a_warning(tmp_path):
    env_file = tmp_path / "env.json"
    env_file.write_text(json.dumps({"Parameters": {"VODAI_CALLBAK_TOPIC": "t"}, "on_uplaod": {"VODAI_REGION": "cn-shanghai"}}))
    proc = run(["invoke", "--env-vars", str(env_file), "-e", EVENT], {"VODAI_IDEMPOTENCY_STOR": "memory://"})
    assert proc.returncode == 0, proc.stderr
    assert "unknown variable VODAI_IDEMPOTENCY_STOR is ignored: did you mean VODAI_IDEMPOTENCY_STORE?" in proc.stderr
    assert "unknown variable VODAI_CALLBAK_TOPIC is ignored: did you mean VODAI_CALLBACK_TOPIC?" in proc.stderr
    assert "unknown section on_uplaod" in proc.stderr and "did you mean on_upload?" in proc.stderr


def test_without_the_tools_extra_the_command_says_what_to_install():
    # click made unimportable, as in an environment where `pip install vodai` left the extra out;
    # the entry point is the one pyproject.toml declares.
    code = textwrap.dedent("""
        import sys
        from importlib.metadata import entry_points

        class NoClick:
            def find_spec(self, name, path=None, target=None):
                if name == "click" or name.startswith("click."):
                    raise ModuleNotFoundError(f"No module named {name!r}", name=name)
                return None

        sys.meta_path.insert(0, NoClick())
        [script] = [e for e in entry_points(group="console_scripts") if e.name == "vodai"]
        sys.argv = ["vodai", "--help"]
        script.load()()
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert proc.stderr.strip() == "vodai: vodai's command line needs its extra: pip install 'vodai[tools]' (click is not installed)"
    assert "Traceback" not in proc.stderr
