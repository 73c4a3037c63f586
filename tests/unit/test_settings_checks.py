"""Settings refused at configuration, with a message naming the setting; readable redaction."""

import pytest

from vodai import credentials
from vodai.config import Settings, unknown_variables
from vodai.exceptions import ConfigError
from vodai.redaction import MIN_SECRET_LENGTH, redact


@pytest.mark.parametrize("name,value,message", [
    ("VODAI_IDEMPOTENCY_STORE", "bogus://x", "unsupported scheme 'bogus'"),
    ("VODAI_TRACKING_STORE", "just-a-path", "not a URL"),
    ("VODAI_DEAD_LETTERS", "s3://bucket", "unsupported scheme 's3'"),
    ("VODAI_CALLBACK_AUTH_KEY", "b", "1 character is too short for a secret: at least 8"),
    ("VODAI_CALLBACK_AUTH_KEY", "long-enough-key,short", "5 characters is too short"),
])
def test_a_bad_setting_is_refused_naming_it(name, value, message):
    with pytest.raises(ConfigError) as info:
        Settings.from_env({name: value})
    assert str(info.value).startswith(f"{name}: ") and message in str(info.value)
    assert "Value error" not in str(info.value)


def test_a_store_url_with_a_password_is_never_echoed():
    with pytest.raises(ConfigError) as info:
        Settings.from_env({"VODAI_IDEMPOTENCY_STORE": "bogus://:pA55w0rd@host"})
    assert "pA55w0rd" not in str(info.value)


@pytest.mark.parametrize("value", ["directory/of/letters", "file:///tmp/x", "mns-queue://dlq", "mns-topic://dlt"])
def test_every_documented_dead_letter_target_is_accepted(value):
    assert Settings.from_env({"VODAI_DEAD_LETTERS": value}).dead_letters == value


def test_a_short_environment_secret_is_refused():
    env = {credentials.ENV_ID: "id", credentials.ENV_SECRET: "b"}
    with pytest.raises(ConfigError, match="ALIBABA_CLOUD_ACCESS_KEY_SECRET: 1 character is too short"):
        credentials.from_env(env)


def test_redaction_masks_whole_values_and_keeps_other_words():
    secret = "s3cr3t/value+1"
    text = f"cannot build the MNS endpoint: {secret} and {secret.replace('/', '%2F').replace('+', '%2B')}"
    assert redact(text, [secret]) == "cannot build the MNS endpoint: *** and ***"
    assert len(secret) >= MIN_SECRET_LENGTH


def test_redaction_masks_a_secret_that_holds_another_whole():
    assert redact("token=abcdefgh-12345678", ["abcdefgh", "abcdefgh-12345678"]) == "token=***"


def test_unknown_variables_name_the_closest_setting():
    warnings = unknown_variables(["PATH", "VODAI_REGION", "VODAI_IDEMPOTENCY_STOR", "VODAI_FUNCTION", "VODAI_XYZZY"])
    assert warnings == ["unknown variable VODAI_IDEMPOTENCY_STOR is ignored: did you mean VODAI_IDEMPOTENCY_STORE?",
                        "unknown variable VODAI_XYZZY is ignored: it is not one of vodai's settings"]
