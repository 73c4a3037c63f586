"""Fixtures of the runtime-shim tests: a functions folder of small test functions (an event
function echoing what it got, and a WSGI HTTP function), and Flask test clients around them."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest


def skip_or_fail(message: str) -> None:
    """Skip on a developer machine, fail in CI (CI=true), like tests/conftest.require_binary."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


EVENT_FUNCTION = '''
import json
import logging

INITIALIZED = []


def describe(context):
    creds = getattr(context, "credentials", None)
    return {
        "request_id": context.request_id,
        "region": context.region,
        "account_id": context.account_id,
        "retry_count": context.retry_count,
        "credentials": None if creds is None else {
            "access_key_id": creds.access_key_id,
            "access_key_secret": creds.access_key_secret,
            "security_token": creds.security_token,
        },
        "function": {k: getattr(context.function, k) for k in ("name", "handler", "memory", "timeout", "initializer")},
        "service": {k: getattr(context.service, k) for k in ("name", "log_project", "log_store", "qualifier", "version_id")},
        "log_project": context.log_project,
        "log_store": context.log_store,
    }


def initializer(context):
    if context.function.initializer == "index.failing_initializer":
        raise RuntimeError("initializer failed on purpose")
    INITIALIZED.append(context.request_id)


def handler(event, context):
    if event == b"bytes":
        return b"\\x00\\xffraw"
    if event == b"str":
        return "plain text"
    if event == b"none":
        return None
    if event == b"initialized":
        return INITIALIZED
    if event == b"log":
        logging.getLogger("testfn").info("hello from the function")
        return "logged"
    if event.startswith(b"raise"):
        secret = context.credentials.access_key_secret if context.credentials else "-"
        raise ValueError("bad event; the secret was " + secret)
    return {"event": event.decode("latin-1"), "context": describe(context)}
'''

HTTP_FUNCTION = '''
import json


def handler(environ, start_response):
    if environ["PATH_INFO"] == "/raise":
        raise RuntimeError("the HTTP function failed")
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    context = environ["fc.context"]
    doc = {
        "method": environ["REQUEST_METHOD"],
        "path": environ["PATH_INFO"],
        "query": environ.get("QUERY_STRING", ""),
        "content_type": environ.get("CONTENT_TYPE", ""),
        "headers": {k: v for k, v in environ.items() if k.startswith("HTTP_")},
        "body": body.decode("utf-8"),
        "context": {
            "request_id": context.request_id,
            "region": context.region,
            "function": context.function.name,
            "access_key_id": context.credentials.access_key_id if context.credentials else None,
        },
    }
    write = start_response("201 Created", [("Content-Type", "application/json"), ("X-Echo", "yes")])
    write(b"")
    return [json.dumps(doc).encode("utf-8")]
'''


@pytest.fixture
def functions_dir(tmp_path: Path) -> Path:
    """on_upload (event) and vod_callback (HTTP) test functions, under the registry's names."""
    root = tmp_path / "functions"
    for name, source in (("on_upload", EVENT_FUNCTION), ("vod_callback", HTTP_FUNCTION)):
        (root / name).mkdir(parents=True)
        (root / name / "index.py").write_text(textwrap.dedent(source), encoding="utf-8")
    return root


@pytest.fixture
def event_client(functions_dir):
    from vodai.runtime import create_app

    return create_app("on_upload", functions_dir=functions_dir).test_client()


@pytest.fixture
def http_client(functions_dir):
    from vodai.runtime import create_app

    return create_app("vod_callback", functions_dir=functions_dir).test_client()
