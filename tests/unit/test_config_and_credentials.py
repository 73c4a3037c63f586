import pytest

from vodai import credentials
from vodai.config import Settings
from vodai.context import function_timeout
from vodai.local_context import LocalContext, LocalCredentials
from vodai.exceptions import ConfigError


def test_settings_from_env_reads_prefixed_variables():
    s = Settings.from_env({"VODAI_AI_TEMPLATE_ID": "tpl", "VODAI_VOD_ENDPOINT": "http://127.0.0.1:9100/", "OTHER": "x"})
    assert s.ai_template_id == "tpl"
    assert s.vod_endpoint == "http://127.0.0.1:9100"
    assert s.signature_version == "v3"


@pytest.mark.parametrize(
    "env, name",
    [
        ({"VODAI_VOD_ENDPOINT": "127.0.0.1:9100"}, "VODAI_VOD_ENDPOINT"),
        ({"VODAI_SIGNATURE_VERSION": "v9"}, "VODAI_SIGNATURE_VERSION"),
        ({"VODAI_READ_TIMEOUT": "-1"}, "VODAI_READ_TIMEOUT"),
    ],
)
def test_bad_setting_names_the_variable(env, name):
    with pytest.raises(ConfigError) as info:
        Settings.from_env(env)
    assert info.value.setting == name
    assert name in str(info.value)


def test_credentials_from_fc2_context_win_over_environment():
    ctx = LocalContext(credentials=LocalCredentials("ctx-id", "ctx-secret", "ctx-token"))
    env = {credentials.ENV_ID: "env-id", credentials.ENV_SECRET: "env-secret"}
    creds = credentials.resolve(ctx, env)
    assert (creds.access_key_id, creds.access_key_secret, creds.security_token) == ("ctx-id", "ctx-secret", "ctx-token")


def test_credentials_from_environment_for_fc3_context_without_credentials():
    ctx = LocalContext(credentials=None, service=None)
    env = {credentials.ENV_ID: "env-id", credentials.ENV_SECRET: "env-secret", credentials.ENV_TOKEN: "env-sts-token"}
    creds = credentials.resolve(ctx, env)
    assert (creds.access_key_id, creds.security_token) == ("env-id", "env-sts-token")


def test_credentials_accept_camel_case_dict_shape():
    class Ctx:
        credentials = {"accessKeyId": "a", "accessKeySecret": "b", "securityToken": "c"}

    assert credentials.from_context(Ctx()).security_token == "c"



def test_credentials_read_from_any_mapping_or_object_every_time():
    """How credentials are read (a mapping's get, or attributes) is decided once per type: a
    mapping that is not a dict, an object, and a dict still read right, the second time too."""
    from types import MappingProxyType, SimpleNamespace

    shapes = [
        MappingProxyType({"accessKeyId": "m", "accessKeySecret": "ms", "securityToken": "mt"}),
        SimpleNamespace(access_key_id="o", access_key_secret="os", security_token=None),
        {"access_key_id": "d", "access_key_secret": "ds"},
        SimpleNamespace(accessKeyId="o2", accessKeySecret="o2s", securityToken="o2t"),
    ]
    expected = [("m", "ms", "mt"), ("o", "os", None), ("d", "ds", None), ("o2", "o2s", "o2t")]
    for _ in range(2):
        for shape, want in zip(shapes, expected):
            creds = credentials.from_context(SimpleNamespace(credentials=shape))
            assert (creds.access_key_id, creds.access_key_secret, creds.security_token) == want


def test_missing_credentials_is_a_config_error():
    with pytest.raises(ConfigError):
        credentials.resolve(None, {})


def test_credentials_repr_hides_secrets():
    creds = credentials.Credentials("id", "very-secret", "sts-token-value")
    assert "very-secret" not in repr(creds) and "sts-token-value" not in repr(creds)


def test_function_timeout_accepts_string_and_defaults():
    ctx = LocalContext()
    ctx.function.timeout = "30"
    assert function_timeout(ctx) == 30.0
    assert function_timeout(None) == 60.0


def test_the_cached_clocks_give_the_current_second():
    """vodai.timestamps renders each second once; what it returns is still now, in both formats."""
    import time
    from datetime import datetime, timezone
    from email.utils import parsedate_to_datetime

    from vodai.timestamps import http_date_now, utc_now_text

    for _ in range(5):  # away from a second boundary, both reads see the same second
        before = int(time.time())
        iso, http = utc_now_text(), http_date_now()
        if int(time.time()) == before:
            break
    assert iso == datetime.fromtimestamp(before, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert parsedate_to_datetime(http).timestamp() == before and http.endswith(" GMT")


def test_millisecond_times_are_spelled_as_datetime_spells_them():
    """vodai.timestamps.utc_millis_text renders each second once and adds the milliseconds itself:
    it must agree with datetime (microseconds rounded half to even, then truncated) everywhere,
    including the instant before a second ends and a clock that goes back."""
    import random
    from datetime import datetime, timezone

    from vodai.timestamps import utc_millis_text, utc_now_millis

    def oracle(epoch: float) -> str:
        return datetime.fromtimestamp(epoch, tz=timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")

    base = 1_763_800_000
    epochs = [base, base + 0.999, base + 0.9995, base + 0.9999994, base + 0.9999996, base + 1.0005,
              base + 0.001, base + 0.0009999, base - 0.5, base + 86_399.9999999, 0.25, 1_000_000_000.999]
    rng = random.Random(7)
    epochs += [rng.uniform(0, 4_000_000_000) for _ in range(2000)]
    epochs += sorted(base + rng.random() * 3 for _ in range(500))  # many in one second, then the next
    for epoch in epochs:
        assert utc_millis_text(epoch) == oracle(epoch), epoch
    now = utc_now_millis()
    assert len(now) == 24 and now.endswith("Z") and now[19] == "."
