"""template.yml: Funcraft's validator accepts it, and it agrees with the code it deploys.

(a) ``fun validate`` (offline, @alicloud/fun pinned in package.json) must accept the template with
exit code 0 *and* no output, and must reject deliberately broken copies, so this check can fail.
(b) Consistency, read from the YAML with ROS's intrinsic functions evaluated (``rosyaml``): code
folders, settings, parameters, secrets, topics, triggers, the RAM policy and the failure
destination.
"""

from __future__ import annotations

import copy
import os
import re
import stat
from pathlib import Path

import pytest
import yaml

from vodai.config import Settings

from . import funcraft, rosyaml
from .rosyaml import PSEUDO, ROOT, Resolver

FUNCTION_NAMES = ["on_upload", "track_jobs", "vod_callback"]  # functions/<name>/ in the repo
CODE_URI = "./build/package"  # what `make package` builds
SAMPLE_AUTH_KEY = "AuthKey0123456789abcdef"

# What each function reads (vodai.config.Settings; VODAI_FUNCTION picks the function in the shim).
ON_UPLOAD_NEEDS = {
    "VODAI_FUNCTION", "VODAI_AI_TEMPLATE_ID", "VODAI_AI_PIPELINE_ID", "VODAI_AUDIT_TEMPLATE_ID",
    "VODAI_AUDIT_RESOURCE_TYPE", "VODAI_ROUTES", "VODAI_REGION", "VODAI_CALLBACK_TOPIC",
    "VODAI_MNS_REGION", "VODAI_ACCOUNT_ID", "VODAI_SIGNATURE_VERSION", "VODAI_CONNECT_TIMEOUT",
    "VODAI_READ_TIMEOUT", "VODAI_VOD_ENDPOINT", "VODAI_MNS_ENDPOINT", "VODAI_IDEMPOTENCY_STORE",
    "VODAI_CONCURRENT_DUPLICATES", "VODAI_RETRY_ATTEMPTS", "VODAI_DEAD_LETTERS",
}
VOD_CALLBACK_NEEDS = {
    "VODAI_FUNCTION", "VODAI_CALLBACK_AUTH_KEY", "VODAI_CALLBACK_URL", "VODAI_CALLBACK_WINDOW",
    "VODAI_CALLBACK_MAX_BODY", "VODAI_CALLBACK_BUDGET", "VODAI_EVENTS_TOPIC", "VODAI_CALLBACK_TOPIC",
    "VODAI_MNS_REGION", "VODAI_ACCOUNT_ID", "VODAI_MNS_ENDPOINT", "VODAI_CONNECT_TIMEOUT",
}
TRACK_JOBS_NEEDS = {
    "VODAI_FUNCTION", "VODAI_CALLBACK_TOPIC", "VODAI_MNS_REGION", "VODAI_ACCOUNT_ID", "VODAI_SIGNATURE_VERSION",
    "VODAI_VOD_ENDPOINT", "VODAI_MNS_ENDPOINT", "VODAI_CONNECT_TIMEOUT", "VODAI_READ_TIMEOUT",
    "VODAI_IDEMPOTENCY_STORE", "VODAI_RETRY_ATTEMPTS", "VODAI_TRACKING_LOST_AFTER", "VODAI_TRACKING_POLL_LIMIT",
}
VOD_ACTIONS = {"vod:SubmitAIImageJob", "vod:SubmitAIImageAuditJob", "vod:GetAIImageJobs", "vod:GetAIMediaAuditJob"}
# The allowed actions; the failure destination needs mns:PublishMessage on the failed topic
# (FC publishes with the service role), and LogConfig needs FC to write the logstore.
ALLOWED_ACTIONS = VOD_ACTIONS | {"mns:PublishMessage", "log:PostLogStoreLogs"}
SECRET_NAME = re.compile(r"secret|password|token|authkey|accesskey|privatekey", re.I)
FC_MEMORY = set(range(128, 3072 + 1, 64)) | {4096, 8192, 16384, 32768}


@pytest.fixture(scope="module")
def tpl() -> dict:
    return rosyaml.load()


@pytest.fixture(scope="module")
def fns(tpl) -> dict:
    return rosyaml.functions(tpl)


@pytest.fixture(scope="module")
def resolve(tpl) -> Resolver:
    return Resolver(tpl, rosyaml.defaults(tpl, CallbackAuthKey=SAMPLE_AUTH_KEY, IdempotencyStore="redis://:pw@10.0.0.5:6379/0"))


def env_of(function: dict) -> dict:
    return function["Properties"].get("EnvironmentVariables", {})


def topic_names(tpl: dict, resolve: Resolver) -> dict:
    """Logical id -> resolved name of every MNS topic resource."""
    return {k: resolve(v["Properties"]["TopicName"]) for k, v in tpl["Resources"].items() if v["Type"] == "ALIYUN::MNS::Topic"}


def mns_arn(resolve: Resolver, topic: str) -> str:
    return f"acs:mns:{resolve.pseudo['ALIYUN::Region']}:{resolve.pseudo['ALIYUN::AccountId']}:/topics/{topic}/messages"


def service_statements(tpl: dict, resolve: Resolver) -> list:
    _, svc = rosyaml.service(tpl)
    policies = svc["Properties"]["Policies"]
    assert isinstance(policies, list) and all(isinstance(p, dict) for p in policies), "inline policy documents only"
    return [s for p in resolve(policies) for s in p["Statement"]]


def as_list(value) -> list:
    return value if isinstance(value, list) else [value]


# ------------------------------------------------------------------------------------------------
# (a) Funcraft's validator
# ------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def fun() -> str:
    return funcraft.require_fun()


def _staged(tmp_path: Path, text: str) -> Path:
    """A copy of the template in a folder of its own, with the CodeUri folder present."""
    (tmp_path / "build" / "package").mkdir(parents=True)
    path = tmp_path / "template.yml"
    path.write_text(text, encoding="utf-8")
    return path


def test_fun_validate_accepts_the_template(fun, tmp_path):
    verdict = funcraft.validate(fun, _staged(tmp_path / "stage", rosyaml.TEMPLATE.read_text(encoding="utf-8")), tmp_path / "home")
    assert verdict.returncode == 0, verdict.output
    assert verdict.output.strip() == "", f"fun validate printed something (an error it exits 0 on?):\n{verdict.output}"


def _break_runtime(t):
    rosyaml.functions(t)["on_upload"]["Properties"]["Runtime"] = "python3.10"


def _break_property(t):
    rosyaml.functions(t)["vod_callback"]["Properties"]["Bogus"] = 1


def _break_strategy(t):
    rosyaml.functions(t)["on_upload"]["Events"]["events-topic"]["Properties"]["NotifyStrategy"] = "FOREVER"


def _break_memory(t):
    rosyaml.functions(t)["on_upload"]["Properties"]["MemorySize"] = 100


def _break_topic(t):
    del t["Resources"]["EventsTopic"]["Properties"]["TopicName"]


def _break_timer(t):
    del rosyaml.functions(t)["track_jobs"]["Events"]["timer"]["Properties"]["CronExpression"]


@pytest.mark.parametrize("breaker", [_break_runtime, _break_property, _break_strategy, _break_memory, _break_topic,
                                     _break_timer],
                         ids=lambda f: f.__name__[len("_break_"):])
def test_fun_validate_rejects_a_broken_copy(fun, tmp_path, tpl, breaker):
    broken = copy.deepcopy(tpl)
    breaker(broken)
    verdict = funcraft.validate(fun, _staged(tmp_path / "stage", yaml.safe_dump(broken, sort_keys=False)), tmp_path / "home")
    assert not verdict.valid
    assert verdict.returncode != 0 and "template is not valid" in verdict.output, verdict.output


def test_a_missing_template_is_not_a_pass(fun, tmp_path):
    """The trap: fun exits 0 when the file is missing; only its output tells."""
    verdict = funcraft.validate(fun, tmp_path / "nowhere" / "template.yml", tmp_path / "home")
    assert verdict.returncode == 0 and "Can't find template file" in verdict.output
    assert not verdict.valid


# ------------------------------------------------------------------------------------------------
# (b) consistency
# ------------------------------------------------------------------------------------------------

def test_shape(tpl, fns):
    assert tpl["ROSTemplateFormatVersion"] == "2015-09-01"
    assert tpl["Transform"] == "Aliyun::Serverless-2018-04-03"
    name, svc = rosyaml.service(tpl)
    assert name == "vodai"
    assert sorted(fns) == sorted(FUNCTION_NAMES)
    assert "Role" not in svc["Properties"], "a Role would make Funcraft ignore the inline Policies"
    assert svc["Properties"]["InternetAccess"] is True


def test_functions_follow_the_custom_runtime_contract(fns, resolve):
    try:
        from vodai.runtime.server import THREADS
    except ImportError:  # the shim lands separately
        THREADS = 100
    for name, fn in fns.items():
        p = fn["Properties"]
        assert p["Runtime"] == "custom", name  # Python 3.10 comes from the Python310 layer
        assert p["Handler"] == "index.handler", name
        assert p["CodeUri"] == CODE_URI, name
        assert p["CAPort"] == 9000, name
        assert p["MemorySize"] in FC_MEMORY, name
        assert 1 <= p["Timeout"] <= 600, name
        assert 1 <= p["InstanceConcurrency"] <= min(100, THREADS), f"{name}: more than the shim's {THREADS} threads"
        layers = resolve(p["Layers"])
        assert len(layers) == 1 and re.fullmatch(
            rf"acs:fc:{PSEUDO['ALIYUN::Region']}:official:layers/Python310/versions/[0-9]+", layers[0]), layers
    # VOD's callback window is 5 s: the callback function must not be allowed to take longer than that budget.
    assert fns["vod_callback"]["Properties"]["Timeout"] <= 30
    read_timeout = float(resolve(env_of(fns["on_upload"])["VODAI_READ_TIMEOUT"]))
    assert fns["on_upload"]["Properties"]["Timeout"] >= 3 * read_timeout


def test_code_sources_exist(fns, resolve):
    for name, fn in fns.items():
        target = resolve(env_of(fn)["VODAI_FUNCTION"])
        assert target == name and target in FUNCTION_NAMES, (name, target)
        assert (ROOT / "functions" / target / "index.py").is_file(), f"functions/{target}/index.py"
    initializer = fns["vod_callback"]["Properties"].get("Initializer")
    assert initializer == "index.initializer"
    assert "def initializer(" in (ROOT / "functions" / "vod_callback" / "index.py").read_text(encoding="utf-8")
    assert "Initializer" not in fns["on_upload"]["Properties"]
    assert "Initializer" not in fns["track_jobs"]["Properties"]
    bootstrap = ROOT / "bootstrap"
    assert bootstrap.is_file() and os.stat(bootstrap).st_mode & stat.S_IXUSR, "bootstrap must be executable (FC runs it)"
    assert "/opt/python3.10/bin/python3.10" in bootstrap.read_text(encoding="utf-8"), "bootstrap must find the Python310 layer's python"
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"^package:", makefile, re.M), "`make package` builds CodeUri"
    # tests/runtime/test_package.py builds the package and checks it holds every function named here.


def test_every_vodai_variable_is_a_setting_fed_from_a_parameter(tpl, fns):
    fields = set(Settings.model_fields)
    params = set(tpl["Parameters"])
    for name, fn in fns.items():
        for var, value in env_of(fn).items():
            if var == "VODAI_FUNCTION":
                continue
            assert var.startswith("VODAI_"), f"{name}: {var}"
            assert var[len("VODAI_"):].lower() in fields, f"{name}: {var} is not a vodai.config setting"
            assert rosyaml.is_intrinsic(value), f"{name}: {var} is a literal; feed it from a parameter"
            refs = rosyaml.references(value)
            assert refs & (params | set(PSEUDO) | set(tpl["Resources"])), f"{name}: {var} references {refs}"


def test_each_function_gets_the_settings_it_reads(fns):
    assert set(env_of(fns["on_upload"])) == ON_UPLOAD_NEEDS
    assert set(env_of(fns["vod_callback"])) == VOD_CALLBACK_NEEDS
    assert set(env_of(fns["track_jobs"])) == TRACK_JOBS_NEEDS
    for name, fn in fns.items():
        assert "VODAI_CALLBACK_ALLOW_UNAUTHENTICATED" not in env_of(fn), "the template never turns authentication off"


def test_resolved_settings_are_valid(fns, resolve):
    settings = {}
    for name, fn in fns.items():
        env = {k: str(v) for k, v in resolve(env_of(fn)).items()}
        settings[name] = Settings.from_env(env)  # raises ConfigError naming a bad variable
    assert settings["vod_callback"].callback_auth_keys() == [SAMPLE_AUTH_KEY]
    try:
        from vodai.callback.app import check_startup
    except ImportError:
        pytest.skip("vodai.callback has not landed")
    check_startup(settings["vod_callback"])  # what the initializer checks


def test_every_parameter_is_used(tpl):
    used = rosyaml.references({k: v for k, v in tpl.items() if k != "Parameters"})
    unused = set(tpl["Parameters"]) - used
    assert not unused, f"parameters nothing uses: {sorted(unused)}"


def test_parameter_defaults_satisfy_their_constraints(tpl):
    for name, spec in tpl["Parameters"].items():
        assert spec["Type"] in {"String", "Number", "CommaDelimitedList", "Json", "Boolean"}, name
        assert re.fullmatch(r"[A-Za-z][A-Za-z0-9]{0,127}", name), name
        assert spec.get("Description"), f"{name}: say what it is"
        if "Default" not in spec:
            continue
        default = str(spec["Default"])
        if "AllowedPattern" in spec:
            assert re.fullmatch(spec["AllowedPattern"], default), f"{name}: default {default!r} fails its pattern"
        if "AllowedValues" in spec:
            assert spec["Default"] in spec["AllowedValues"], name


def test_secrets_are_given_at_deploy_time(tpl, fns):
    params = tpl["Parameters"]
    for name, spec in params.items():
        if SECRET_NAME.search(name):
            assert spec.get("NoEcho") is True, f"{name} looks secret: NoEcho: true"
        if spec.get("NoEcho"):
            assert "Default" not in spec, f"{name} carries a secret: no Default"
    auth = env_of(fns["vod_callback"])["VODAI_CALLBACK_AUTH_KEY"]
    assert set(auth) == {"Ref"} and params[auth["Ref"]].get("NoEcho") is True
    assert "VODAI_CALLBACK_AUTH_KEY" not in env_of(fns["on_upload"]), "only the function that verifies gets the key"
    pattern = params[auth["Ref"]]["AllowedPattern"]
    assert re.fullmatch(pattern, SAMPLE_AUTH_KEY) and re.fullmatch(pattern, "OldKey1,NewKey2")
    assert not re.fullmatch(pattern, "k" * 33) and not re.fullmatch(pattern, "")
    text = rosyaml.TEMPLATE.read_text(encoding="utf-8")
    assert "ALIBABA_CLOUD_ACCESS_KEY" not in text and not re.search(r"\bLTAI[0-9A-Za-z]{12,}", text)


@pytest.mark.parametrize("prefix", [None, "x", "video-ai"])
def test_topics_are_distinct_and_the_trigger_is_the_events_topic(tpl, fns, prefix):
    resolve = Resolver(tpl, rosyaml.defaults(tpl, **({"TopicPrefix": prefix} if prefix else {})))
    names = topic_names(tpl, resolve)
    assert set(names) == {"CallbackTopic", "EventsTopic", "FailedTopic", "DeadLetterTopic"}
    assert len(set(names.values())) == 4, names
    if prefix is None:
        assert names == {"CallbackTopic": "vodai-callback", "EventsTopic": "vodai-events", "FailedTopic": "vodai-failed",
                         "DeadLetterTopic": "vodai-dead-letters"}
    # Dead letters go to the dead-letter topic (an MNS sink vodai can open).
    assert resolve(env_of(fns["on_upload"])["VODAI_DEAD_LETTERS"]) == f"mns-topic://{names['DeadLetterTopic']}"

    on_upload, vod_callback = fns["on_upload"], fns["vod_callback"]
    events = on_upload["Events"]
    assert [e["Type"] for e in events.values()] == ["MNSTopic"]
    trigger = next(iter(events.values()))["Properties"]
    assert resolve(trigger["TopicName"]) == names["EventsTopic"]
    assert resolve(trigger["TopicName"]) != names["CallbackTopic"], "on_upload publishes there: a loop"
    assert trigger["NotifyContentFormat"] == "STREAM"
    assert trigger["NotifyStrategy"] == "EXPONENTIAL_DECAY_RETRY"
    assert "FilterTag" not in trigger, "a tag filter would drop events published without that tag"

    assert resolve(env_of(on_upload)["VODAI_CALLBACK_TOPIC"]) == names["CallbackTopic"]
    assert resolve(env_of(vod_callback)["VODAI_EVENTS_TOPIC"]) == names["EventsTopic"]
    assert resolve(env_of(vod_callback)["VODAI_CALLBACK_TOPIC"]) == names["CallbackTopic"]


def test_the_callback_has_an_anonymous_post_http_trigger(fns):
    events = fns["vod_callback"]["Events"]
    assert [e["Type"] for e in events.values()] == ["HTTP"]
    props = next(iter(events.values()))["Properties"]
    assert props["AuthType"] == "ANONYMOUS"  # VOD cannot sign FC requests; X-VOD-SIGNATURE is checked
    assert props["Methods"] == ["POST"]


def test_the_callback_url_is_the_http_trigger_unless_given(tpl, fns):
    name, _ = rosyaml.service(tpl)
    url = env_of(fns["vod_callback"])["VODAI_CALLBACK_URL"]
    region, account = PSEUDO["ALIYUN::Region"], PSEUDO["ALIYUN::AccountId"]
    default = Resolver(tpl, rosyaml.defaults(tpl))
    assert default(url) == f"https://{account}.{region}.fc.aliyuncs.com/2016-08-15/proxy/{name}/vod_callback/"
    custom = Resolver(tpl, rosyaml.defaults(tpl, CallbackUrl="https://cb.example.com/vod?region=cn-beijing"))
    assert custom(url) == "https://cb.example.com/vod?region=cn-beijing"
    for resolve in (default, custom):
        assert resolve(tpl["Outputs"]["CallbackUrl"]["Value"]) == resolve(url), "the output is what the function verifies against"


def test_service_policy_is_least_privilege(tpl, resolve):
    statements = service_statements(tpl, resolve)
    assert all(s["Effect"] == "Allow" for s in statements)
    actions = {a for s in statements for a in as_list(s["Action"])}
    assert actions == ALLOWED_ACTIONS, actions
    assert not any("*" in a for a in actions)
    by_action = {}
    for s in statements:
        for a in as_list(s["Action"]):
            by_action.setdefault(a, set()).update(as_list(s["Resource"]))
    for a in VOD_ACTIONS:
        assert by_action[a] == {"*"}, a  # VOD's AI job actions take no resource-level ARNs
    names = topic_names(tpl, resolve)
    assert by_action["mns:PublishMessage"] == {mns_arn(resolve, n) for n in names.values()}
    params = resolve.params
    assert by_action["log:PostLogStoreLogs"] == {
        f"acs:log:{PSEUDO['ALIYUN::Region']}:{PSEUDO['ALIYUN::AccountId']}:project/{params['LogProject']}/logstore/{params['LogStore']}"}


def test_log_config_comes_from_parameters(tpl):
    _, svc = rosyaml.service(tpl)
    log = svc["Properties"]["LogConfig"]
    assert log == {"Project": {"Ref": "LogProject"}, "Logstore": {"Ref": "LogStore"}}


def test_failed_async_invocations_go_to_the_failed_topic(tpl, fns, resolve):
    async_config = fns["on_upload"]["Properties"]["AsyncConfiguration"]
    names = topic_names(tpl, resolve)
    destination = resolve(async_config["Destination"]["OnFailure"])
    assert destination == mns_arn(resolve, names["FailedTopic"])
    assert destination != mns_arn(resolve, names["EventsTopic"]), "a failure must not re-trigger on_upload"
    assert destination in {r for s in service_statements(tpl, resolve) for r in as_list(s["Resource"])}
    assert 0 <= async_config["MaxAsyncRetryAttempts"] <= 8
    assert 1 <= async_config["MaxAsyncEventAgeInSeconds"] <= 86400
    assert "OnSuccess" not in async_config["Destination"]


def test_the_trigger_role_only_lets_mns_invoke_on_upload(tpl, fns, resolve):
    trigger = next(iter(fns["on_upload"]["Events"].values()))["Properties"]
    role_id = trigger["InvocationRole"]["Fn::GetAtt"][0]
    role = resolve(tpl["Resources"][role_id]["Properties"])
    assert tpl["Resources"][role_id]["Type"] == "ALIYUN::RAM::Role"
    trust = role["AssumeRolePolicyDocument"]["Statement"]
    assert [(s["Effect"], s["Action"], s["Principal"]) for s in trust] == [
        ("Allow", "sts:AssumeRole", {"Service": ["mns.aliyuncs.com"]})]
    statements = [s for p in role["Policies"] for s in p["PolicyDocument"]["Statement"]]
    assert {a for s in statements for a in as_list(s["Action"])} == {"fc:InvokeFunction"}
    service_name, _ = rosyaml.service(tpl)
    for arn in (r for s in statements for r in as_list(s["Resource"])):
        assert re.fullmatch(
            rf"acs:fc:{PSEUDO['ALIYUN::Region']}:{PSEUDO['ALIYUN::AccountId']}:services/{service_name}(\.\*)?/functions/on_upload", arn), arn


def test_intrinsics_use_the_long_form():
    """Funcraft reads the template with js-yaml's safeLoad: a short tag like !Ref breaks it."""
    text = rosyaml.TEMPLATE.read_text(encoding="utf-8")
    code = "\n".join(line.split("#", 1)[0] for line in text.splitlines())
    assert not re.search(r"(^|\s)!(Ref|Sub|GetAtt|If|Equals|Join|Not)\b", code)
    with pytest.raises(yaml.constructor.ConstructorError, match="short-form tag"):
        yaml.load("A: !Ref B\n", Loader=rosyaml._StrictLoader)


def test_track_jobs_runs_on_a_timer_and_shares_the_stores_and_topic(tpl, fns, resolve):
    track, on_upload = fns["track_jobs"], fns["on_upload"]
    events = track["Events"]
    assert [e["Type"] for e in events.values()] == ["Timer"]
    timer = next(iter(events.values()))["Properties"]
    assert timer["Enable"] is True
    schedule = resolve(timer["CronExpression"])
    assert schedule == "@every 1m", "the default checks pending jobs every minute"
    pattern = tpl["Parameters"][timer["CronExpression"]["Ref"]]["AllowedPattern"]
    for good in ("@every 1m", "@every 5m", "0 */5 * * * *", "CRON_TZ=Asia/Shanghai 0 0 * * * *"):
        assert re.fullmatch(pattern, good), good
    for bad in ("every minute", "* * * *", "@every 0m", ""):
        assert not re.fullmatch(pattern, bad), bad
    # The completions go where the JobIds go, and the jobs on_upload records are the ones polled.
    names = topic_names(tpl, resolve)
    assert resolve(env_of(track)["VODAI_CALLBACK_TOPIC"]) == names["CallbackTopic"]
    assert env_of(track)["VODAI_IDEMPOTENCY_STORE"] == env_of(on_upload)["VODAI_IDEMPOTENCY_STORE"]
    assert "VODAI_TRACKING_STORE" not in env_of(on_upload) and "VODAI_TRACKING_STORE" not in env_of(track)
    # A failed poll is not retried by FC: the next tick polls again.
    assert track["Properties"]["AsyncConfiguration"]["MaxAsyncRetryAttempts"] == 0
    settings = Settings.from_env({k: str(v) for k, v in resolve(env_of(track)).items()})
    assert settings.tracking_url() == settings.idempotency_url() == "redis://:pw@10.0.0.5:6379/0"
    assert settings.tracking_lost_after == 3600 and settings.tracking_poll_limit == 200


def test_polling_needs_both_get_actions(tpl, resolve):
    actions = {a for s in service_statements(tpl, resolve) for a in as_list(s["Action"])}
    assert {"vod:GetAIImageJobs", "vod:GetAIMediaAuditJob"} <= actions
