"""The FC context rebuilt from x-fc-* headers: FC 2.0 and FC 3.0 shapes, with and without an AccessKey."""

import json

from vodai import credentials as vodai_credentials
from vodai import context as vodai_context
from vodai.runtime.headers import context_from_headers

from .fc_headers import fc_headers

AK, SECRET, TOKEN = "STS.ctx-key", "ctx-secret", "ctx-token"


def test_fc20_shape_with_sts_credentials():
    headers = fc_headers("req-1", AK, SECRET, TOKEN, x_fc_function_initializer="index.initializer",
                         x_fc_initialization_timeout="30", x_fc_retry_count="2", x_fc_version_id="3",
                         x_fc_qualifier="prod")
    ctx = context_from_headers(headers)
    assert (ctx.credentials.access_key_id, ctx.credentials.access_key_secret, ctx.credentials.security_token) == (AK, SECRET, TOKEN)
    assert (ctx.function.name, ctx.function.handler, ctx.function.memory, ctx.function.timeout) == ("on_upload", "index.handler", 512, 60)
    assert (ctx.function.initializer, ctx.function.initialization_timeout) == ("index.initializer", 30)
    assert (ctx.service.name, ctx.service.log_project, ctx.service.log_store) == ("vodai", "vodai-logs", "function-logs")
    assert (ctx.service.qualifier, ctx.service.version_id) == ("prod", "3")
    assert (ctx.request_id, ctx.region, ctx.account_id, ctx.retry_count) == ("req-1", "cn-hangzhou", "1234567890123456", 2)
    # vodai's own readers take the credentials and values from it.
    assert vodai_credentials.from_context(ctx) == vodai_credentials.Credentials(AK, SECRET, TOKEN)
    assert vodai_context.region(ctx) == "cn-hangzhou" and vodai_context.function_timeout(ctx) == 60


def test_fc30_shape_without_access_key():
    ctx = context_from_headers(fc_headers("req-2"))
    assert ctx.credentials is None
    assert vodai_credentials.from_context(ctx) is None  # vodai then reads ALIBABA_CLOUD_* (FC 3.0)
    assert (ctx.log_project, ctx.log_store) == ("vodai-logs", "function-logs")


def test_headers_are_case_insensitive_and_secret_stays_out_of_repr():
    headers = {k.title(): v for k, v in fc_headers("req-3", AK, SECRET, TOKEN).items()}
    ctx = context_from_headers(headers)
    assert ctx.credentials.access_key_secret == SECRET
    assert SECRET not in repr(ctx) and TOKEN not in repr(ctx)


def test_missing_and_garbled_values_fall_back():
    ctx = context_from_headers({"x-fc-function-timeout": "soon", "x-fc-access-key-id": AK}, function_name="on_upload")
    assert ctx.credentials is None  # an id without a secret is no AccessKey
    assert ctx.request_id  # generated: a local client may send none
    assert (ctx.function.name, ctx.function.timeout, ctx.region, ctx.account_id) == ("on_upload", 60, "", "")
    assert vodai_context.region(ctx) is None  # no made-up region: vodai falls back to its settings


def test_invoke_hands_the_context_to_the_handler_in_both_shapes(event_client):
    with_key = event_client.post("/invoke", data=b"{}", headers=fc_headers("req-4", AK, SECRET, TOKEN))
    doc = json.loads(with_key.data)
    assert doc["context"]["credentials"] == {"access_key_id": AK, "access_key_secret": SECRET, "security_token": TOKEN}
    assert doc["context"]["service"]["log_project"] == doc["context"]["log_project"] == "vodai-logs"
    assert doc["context"]["function"] == {"name": "on_upload", "handler": "index.handler", "memory": 512,
                                          "timeout": 60, "initializer": None}
    assert (doc["context"]["request_id"], doc["context"]["region"]) == ("req-4", "cn-hangzhou")

    without_key = json.loads(event_client.post("/invoke", data=b"{}", headers=fc_headers("req-5")).data)
    assert without_key["context"]["credentials"] is None
    assert without_key["context"]["log_store"] == "function-logs"
