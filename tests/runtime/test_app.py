"""The shim's HTTP contract, through Flask's test client: /invoke, /initialize, the failure
contract (404 + x-fc-status), HTTP pass-through and the FC log markers."""

import json

import pytest

from vodai import callback
from vodai.runtime import create_app
from vodai.runtime.registry import FunctionNotFound

from .fc_headers import fc_headers

AK, SECRET, TOKEN = "STS.app-key", "app-secret-value", "app-sts-token"
OCTET = {"Content-Type": "application/octet-stream"}


def _invoke(client, body: bytes, request_id="req-1", **headers):
    return client.post("/invoke", data=body, headers={**OCTET, **fc_headers(request_id, AK, SECRET, TOKEN), **headers})


# -- /invoke ------------------------------------------------------------------------------------

def test_invoke_passes_raw_bytes_and_json_encodes_other_results(event_client):
    raw = b'{"EventType": "FileUploadComplete", "x": "\xe4\xb8\xad"}'
    response = _invoke(event_client, raw)
    assert response.status_code == 200 and "x-fc-status" not in response.headers
    assert response.mimetype == "application/json"
    assert json.loads(response.data)["event"] == raw.decode("latin-1")  # bytes in, untouched


@pytest.mark.parametrize("event, body, mimetype", [
    (b"bytes", b"\x00\xffraw", "application/octet-stream"),
    (b"str", b"plain text", "text/plain"),
    (b"none", b"null", "application/json"),
])
def test_invoke_returns_str_and_bytes_unchanged(event_client, event, body, mimetype):
    response = _invoke(event_client, event)
    assert (response.status_code, response.data, response.mimetype) == (200, body, mimetype)


def test_invoke_failure_is_404_with_x_fc_status_and_fc_error_body(event_client):
    response = _invoke(event_client, b"raise please", request_id="req-fail")
    assert response.status_code == 404
    assert response.headers["x-fc-status"] == "404"
    assert response.headers["x-fc-error-type"] == "UnhandledInvocationError"
    body = response.get_json()
    assert set(body) == {"errorMessage", "errorType", "stackTrace"}
    assert body["errorType"] == "ValueError"
    assert body["errorMessage"].startswith("bad event; the secret was ")
    assert isinstance(body["stackTrace"], list) and all(isinstance(line, str) for line in body["stackTrace"])
    assert "in handler" in body["stackTrace"][-1]  # the function's frame...
    assert not any("vodai/runtime" in line for line in body["stackTrace"])  # ...not the shim's
    # No secret, even when the function puts one in its message, and no header echoed.
    text = response.get_data(as_text=True)
    assert SECRET not in text and TOKEN not in text and AK not in text


def test_function_name_from_header_when_none_is_configured(functions_dir):
    client = create_app(None, functions_dir=functions_dir).test_client()
    ok = _invoke(client, b"str", **{"x-fc-function-name": "on-upload"})  # FC names may use '-'
    assert (ok.status_code, ok.data) == (200, b"plain text")
    missing = client.post("/invoke", data=b"str", headers={"x-fc-request-id": "r"})
    assert missing.status_code == 404 and missing.headers["x-fc-status"] == "404"
    assert missing.get_json()["errorType"] == "FunctionNotFound"


def test_unknown_function_fails_at_creation(functions_dir):
    with pytest.raises(FunctionNotFound, match="on_upload, track_jobs, vod_callback"):
        create_app("nope", functions_dir=functions_dir)


def test_event_function_answers_other_paths_in_the_error_shape(event_client):
    for response in (event_client.get("/"), event_client.get("/invoke"), event_client.post("/anything")):
        assert response.headers["x-fc-status"] == str(response.status_code)
        assert set(response.get_json()) == {"errorMessage", "errorType", "stackTrace"}
    http_on_event = event_client.post("/whatever", headers={"x-fc-control-path": "/http-invoke"})
    assert http_on_event.status_code == 404 and "event function" in http_on_event.get_json()["errorMessage"]


# -- /initialize ---------------------------------------------------------------------------------

def test_initialize_calls_the_initializer_once(event_client):
    assert json.loads(_invoke(event_client, b"initialized").data) == []
    for request_id in ("init-1", "init-2"):
        response = event_client.post("/initialize", headers=fc_headers(request_id, AK, SECRET, TOKEN))
        assert (response.status_code, response.data) == (200, b"")
    assert json.loads(_invoke(event_client, b"initialized").data) == ["init-1"]


def test_initialize_without_initializer_is_ok(tmp_path):
    (tmp_path / "on_upload").mkdir()
    (tmp_path / "on_upload" / "index.py").write_text("def handler(event, context):\n    return 'ok'\n")
    client = create_app("on_upload", functions_dir=tmp_path).test_client()
    assert client.post("/initialize", headers=fc_headers("i")).status_code == 200


def test_failing_initializer_is_a_failure_and_is_retried(event_client):
    headers = fc_headers("init-bad", AK, SECRET, TOKEN, x_fc_function_initializer="index.failing_initializer")
    response = event_client.post("/initialize", headers=headers)
    assert response.status_code == 404 and response.headers["x-fc-status"] == "404"
    assert response.get_json()["errorMessage"] == "initializer failed on purpose"
    ok = event_client.post("/initialize", headers=fc_headers("init-good"))
    assert ok.status_code == 200
    assert json.loads(_invoke(event_client, b"initialized").data) == ["init-good"]


def test_control_path_header_decides_over_the_request_path(event_client):
    response = event_client.post("/some/path", data=b"str", headers={"x-fc-control-path": "/invoke"})
    assert (response.status_code, response.data) == (200, b"plain text")


# -- HTTP functions ----------------------------------------------------------------------------

@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "DELETE"])
def test_http_function_gets_the_original_request_and_the_context(http_client, method):
    headers = {**fc_headers("req-http", AK, SECRET, TOKEN, function="vod_callback"),
               "X-VOD-Signature": "sig", "Content-Type": "application/json"}
    response = http_client.open("/callback//deep/path", method=method, query_string="a=1&b=%20x&b=2",
                                data=b'{"Status":"success"}', headers=headers)
    assert response.status_code == 201 and response.headers["X-Echo"] == "yes"
    assert "x-fc-status" not in response.headers
    doc = response.get_json()
    assert (doc["method"], doc["path"], doc["query"]) == (method, "/callback//deep/path", "a=1&b=%20x&b=2")
    assert doc["body"] == '{"Status":"success"}' and doc["content_type"] == "application/json"
    assert doc["headers"]["HTTP_X_VOD_SIGNATURE"] == "sig"
    # FC's own headers reach the function only as the context (they carry the STS secret).
    assert not any(k.startswith("HTTP_X_FC_") for k in doc["headers"])
    assert doc["context"] == {"request_id": "req-http", "region": "cn-hangzhou", "function": "vod_callback",
                              "access_key_id": AK}


@pytest.mark.parametrize("path", ["/invoke", "/initialize", "/"])
def test_fc_http_invoke_control_path_passes_any_path_through(http_client, path):
    response = http_client.post(path, data=b"x", headers={"x-fc-control-path": "/http-invoke", "x-fc-request-id": "r"})
    assert response.status_code == 201 and response.get_json()["path"] == path


def test_local_invoke_path_of_an_http_function_is_not_passed_through(http_client):
    response = http_client.post("/invoke", data=b"x", headers=fc_headers("r"))
    assert response.status_code == 404 and "HTTP function" in response.get_json()["errorMessage"]


def test_http_function_failure_is_404_with_x_fc_status(http_client):
    response = http_client.get("/raise", headers=fc_headers("req-x", AK, SECRET, TOKEN, function="vod_callback"))
    assert response.status_code == 404 and response.headers["x-fc-status"] == "404"
    body = response.get_json()
    assert (body["errorType"], body["errorMessage"]) == ("RuntimeError", "the HTTP function failed")
    assert SECRET not in response.get_data(as_text=True)


def test_http_function_initializer(tmp_path, monkeypatch):
    # Valid settings: /initialize checks them before the module's initializer runs.
    for name, value in (("CALLBACK_AUTH_KEY", "CallbackAuthKey1"), ("EVENTS_TOPIC", "vod-events"),
                        ("CALLBACK_URL", "http://127.0.0.1:9000/vod/callback")):
        monkeypatch.setenv("VODAI_" + name, value)
    callback.reset()
    (tmp_path / "vod_callback").mkdir()
    (tmp_path / "vod_callback" / "index.py").write_text(
        "SEEN = []\n"
        "def initializer(context):\n    SEEN.append(context.request_id)\n"
        "def handler(environ, start_response):\n"
        "    start_response('200 OK', [('Content-Type', 'text/plain')])\n"
        "    return [','.join(SEEN).encode()]\n")
    client = create_app("vod_callback", functions_dir=tmp_path).test_client()
    assert client.post("/initialize", headers=fc_headers("boot-1")).status_code == 200
    assert client.get("/", headers=fc_headers("r")).data == b"boot-1"


# -- log markers -------------------------------------------------------------------------------

def test_log_markers_around_invoke_and_initialize(event_client, http_client, capsys):
    _invoke(event_client, b"str", request_id="req-ok")
    _invoke(event_client, b"raise", request_id="req-err")
    event_client.post("/initialize", headers=fc_headers("req-init"))
    http_client.get("/", headers=fc_headers("req-http", function="vod_callback"))
    lines = capsys.readouterr().err.splitlines()
    for kind, request_id in (("Invoke", "req-ok"), ("Invoke", "req-err"), ("Initialize", "req-init"), ("Invoke", "req-http")):
        start = lines.index(f"FC {kind} Start RequestId: {request_id}")
        end = lines.index(f"FC {kind} End RequestId: {request_id}")
        assert start < end


@pytest.mark.parametrize("control", ["/initialize", "/invoke"])
def test_a_clients_control_path_header_on_an_http_request_is_ignored(http_client, control):
    # FC sends its control calls on their own path; this header came from the client (issue 26).
    response = http_client.post("/vod/callback", data=b"x", headers={"x-fc-control-path": control, "x-fc-request-id": "r"})
    assert response.status_code == 201 and response.get_json()["path"] == "/vod/callback"  # the function, as sent
