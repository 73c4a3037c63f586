"""One log line per callback, and no secret in any output: auth keys, signatures, STS credentials."""

import json
import logging

from werkzeug.test import Client

from vodai.callback import CallbackApp, mns_publisher_factory
from vodai.clients import new_session
from vodai.local_context import LocalContext, LocalCredentials

from .helpers import (
    AK, AUTH_KEY, EVENT, NEW_KEY, NOW, PATH, SECRET, TOKEN, body, fc_context, settings, signed_headers,
    silent_tcp_server, target,
)


def _lines(caplog):
    return [json.loads(r.getMessage()[len("vodai callback "):]) for r in caplog.records
            if r.name == "vodai.callback" and r.getMessage().startswith("vodai callback {")]


def _post(app, *, data=None, headers=None, context=None):
    response = Client(app).post(PATH, data=body() if data is None else data,
                                headers=signed_headers() if headers is None else headers,
                                environ_base={"fc.context": context or fc_context()})
    return response.status_code, response.get_data(as_text=True)


def test_one_line_per_callback_with_result_reason_and_media_id(caplog):
    caplog.set_level(logging.DEBUG)
    t = target()
    _post(t.app)
    _post(t.app, headers=signed_headers(key="WrongKey1"))
    _post(t.app, data=json.dumps({**EVENT, "Size": "big"}).encode())
    lines = _lines(caplog)
    assert len(lines) == 3
    accepted, unauthorized, malformed = lines
    assert accepted["Result"] == "accepted" and accepted["Status"] == 200
    assert accepted["MediaId"] == EVENT["VideoId"] and accepted["EventType"] == "FileUploadComplete"
    assert accepted["Region"] == "cn-beijing" and accepted["MessageId"] == t.messages()[0]["MessageId"]
    assert accepted["RequestId"] == "req-callback-1"
    assert unauthorized["Result"] == "refused" and unauthorized["Status"] == 401 and "does not match" in unauthorized["Reason"]
    assert "MediaId" not in unauthorized  # nothing of an unauthenticated body is logged
    assert malformed["Status"] == 400 and malformed["Reason"].startswith("Size:")
    assert malformed["MediaId"] == EVENT["VideoId"]


def test_no_secret_appears_in_logs_or_answers(caplog):
    caplog.set_level(logging.DEBUG)  # everything: vodai, urllib3, the emulator
    keys = f"{AUTH_KEY},{NEW_KEY}"
    t = target(callback_auth_key=keys)
    sent_signatures, answers = [], []

    def post(headers=None, **kw):
        headers = headers or signed_headers()
        if "X-VOD-SIGNATURE" in headers:
            sent_signatures.append(headers["X-VOD-SIGNATURE"])
        answers.append(_post(t.app, headers=headers, **kw)[1])

    post()                                                        # accepted (old key)
    post(signed_headers(key=NEW_KEY))                             # accepted (new key)
    post(signed_headers(key="WrongKey1"))                         # wrong key
    post(signed_headers(timestamp=NOW - 3600))                    # replayed
    post(data=b"{oops")                                           # malformed
    post(context=LocalContext(credentials=LocalCredentials(AK, "wrong-" + SECRET, TOKEN)))  # MNS refuses
    with silent_tcp_server() as (port, _):                        # the budget fires
        conf = settings(callback_auth_key=keys, mns_endpoint=f"http://127.0.0.1:{port}", callback_budget=0.3)
        app = CallbackApp(conf, mns_publisher_factory(conf, session=new_session()), clock=lambda: NOW)
        answers.append(_post(app)[1])
    bad = target(callback_auth_key=f"{AUTH_KEY},bad key {NEW_KEY}")  # a refused configuration
    answers.append(_post(bad.app)[1])

    output = caplog.text + "\n".join(answers)
    assert len(_lines(caplog)) == 8
    for secret in [AUTH_KEY, NEW_KEY, SECRET, TOKEN, *sent_signatures]:
        assert secret not in output, secret
    assert str(NOW) not in output  # nor the timestamp of a signed pair
