"""template.yml: valid against Alibaba's own ROS resource definitions, and in agreement with the code.

(a) The offline check (``roscheck``, with the resource specifications of the ``ros-cdk-*`` packages,
``rosschema``) must pass on the template and fail on deliberately broken copies, each failure naming
the resource and the property.
(b) Consistency, read from the YAML with ROS's intrinsic functions evaluated (``rosyaml``): code,
settings, parameters, secrets, queues, triggers, one role per function, the failure destination.
"""

from __future__ import annotations

import copy
import os
import re
import shutil
import stat

import pytest
import yaml

from vodai.config import Settings

from . import roscheck, rosyaml
from .rosyaml import PSEUDO, ROOT, Resolver

FUNCTION_NAMES = ["on_upload", "track_jobs", "vod_callback"]  # functions/<name>/ in the repo
SAMPLE_AUTH_KEY = "AuthKey0123456789abcdef"
SAMPLE_STORE = "redis://:pw@10.0.0.5:6379/0"

# What each function reads (vodai.config.Settings; VODAI_FUNCTION picks the function in the shim).
ON_UPLOAD_NEEDS = {
    "VODAI_FUNCTION", "VODAI_AI_TEMPLATE_ID", "VODAI_AI_PIPELINE_ID", "VODAI_AUDIT_TEMPLATE_ID",
    "VODAI_AUDIT_RESOURCE_TYPE", "VODAI_ROUTES", "VODAI_REGION", "VODAI_CALLBACK_TOPIC",
    "VODAI_MNS_REGION", "VODAI_ACCOUNT_ID", "VODAI_SIGNATURE_VERSION", "VODAI_CONNECT_TIMEOUT",
    "VODAI_READ_TIMEOUT", "VODAI_VOD_ENDPOINT", "VODAI_MNS_ENDPOINT", "VODAI_IDEMPOTENCY_STORE",
    "VODAI_CONCURRENT_DUPLICATES", "VODAI_RETRY_ATTEMPTS", "VODAI_DEAD_LETTERS", "VODAI_VERIFY_CALLBACK_MEDIA",
}
VOD_CALLBACK_NEEDS = {
    "VODAI_FUNCTION", "VODAI_CALLBACK_AUTH_KEY", "VODAI_CALLBACK_URL", "VODAI_CALLBACK_WINDOW",
    "VODAI_CALLBACK_MAX_BODY", "VODAI_CALLBACK_BUDGET", "VODAI_EVENTS_QUEUE",
    "VODAI_MNS_REGION", "VODAI_ACCOUNT_ID", "VODAI_MNS_ENDPOINT", "VODAI_CONNECT_TIMEOUT", "VODAI_IDEMPOTENCY_STORE",
}
TRACK_JOBS_NEEDS = {
    "VODAI_FUNCTION", "VODAI_CALLBACK_TOPIC", "VODAI_MNS_REGION", "VODAI_ACCOUNT_ID", "VODAI_SIGNATURE_VERSION",
    "VODAI_VOD_ENDPOINT", "VODAI_MNS_ENDPOINT", "VODAI_CONNECT_TIMEOUT", "VODAI_READ_TIMEOUT",
    "VODAI_IDEMPOTENCY_STORE", "VODAI_RETRY_ATTEMPTS", "VODAI_TRACKING_LOST_AFTER", "VODAI_TRACKING_POLL_LIMIT",
    "VODAI_TRACKING_BUDGET", "VODAI_TRACKING_CONCURRENCY",
}
SECRET_NAME = re.compile(r"secret|password|token|authkey|accesskey|privatekey|idempotencystore", re.I)


@pytest.fixture(scope="module")
def tpl() -> dict:
    return rosyaml.load()


@pytest.fixture(scope="module")
def fns(tpl) -> dict:
    return rosyaml.functions(tpl)


@pytest.fixture(scope="module")
def resolve(tpl) -> Resolver:
    return Resolver(tpl, rosyaml.defaults(tpl, CallbackAuthKey=SAMPLE_AUTH_KEY, IdempotencyStore=SAMPLE_STORE,
                                          CodeBucket="my-code"))


@pytest.fixture(scope="module")
def types() -> dict:
    """The ROS resource specifications of the ros-cdk packages (they run under Node)."""
    if shutil.which("node") is None:
        message = "node is not installed: the ROS CDK's resource definitions run under Node (CI installs it; see .ci/run)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    from . import rosschema

    return rosschema.load()


def env_of(function: dict) -> dict:
    return function["Properties"].get("EnvironmentVariables", {})


def as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def queue_names(tpl: dict, resolve: Resolver) -> dict:
    return {k: resolve(v["Properties"]["QueueName"]) for k, v in rosyaml.of_type(tpl, "ALIYUN::MNS::Queue").items()}


def role_statements(tpl: dict, resolve: Resolver, role_id: str) -> list:
    role = tpl["Resources"][role_id]
    assert role["Type"] == "ALIYUN::RAM::Role", role_id
    return [s for p in resolve(role["Properties"]["Policies"]) for s in p["PolicyDocument"]["Statement"]]


def grants(statements: list) -> dict:
    """action -> the resources it is allowed on."""
    by_action: dict = {}
    for s in statements:
        assert s["Effect"] == "Allow"
        for action in as_list(s["Action"]):
            by_action.setdefault(action, set()).update(as_list(s["Resource"]))
    return by_action


def function_role(fn: dict) -> str:
    return fn["Properties"]["Role"]["Fn::GetAtt"][0]


# ------------------------------------------------------------------------------------------------
# (a) the offline check against the ROS CDK's resource definitions
# ------------------------------------------------------------------------------------------------

def test_the_template_passes_the_offline_check(tpl, types):
    assert roscheck.check(tpl, types) == []


def test_every_resource_type_is_one_the_cdk_defines(tpl, types):
    used = {r["Type"] for r in tpl["Resources"].values()}
    assert used <= set(types), used - set(types)
    assert {"ALIYUN::FC3::Function", "ALIYUN::FC3::Trigger", "ALIYUN::FC3::AsyncInvokeConfig", "ALIYUN::RAM::Role",
            "ALIYUN::MNS::Queue", "ALIYUN::VOD::MessageCallback", "ALIYUN::SLS::Index", "ALIYUN::SLS::Dashboard"} <= used


def _misspelled_property(t):
    t["Resources"]["OnUploadFunction"]["Properties"]["MemorySise"] = t["Resources"]["OnUploadFunction"]["Properties"].pop("MemorySize")
    return "Resources.OnUploadFunction.Properties.MemorySise", "'MemorySize'"


def _misspelled_nested_property(t):
    code = t["Resources"]["VodCallbackFunction"]["Properties"]["Code"]
    code["OssBucketNme"] = code.pop("OssBucketName")
    return "Resources.VodCallbackFunction.Properties.Code.OssBucketNme", "not a property of ALIYUN::FC3::Function"


def _unknown_type(t):
    t["Resources"]["EventsQueue"]["Type"] = "ALIYUN::MNS::Queu"
    return "Resources.EventsQueue.Type", "ALIYUN::MNS::Queue"


def _missing_required_property(t):
    del t["Resources"]["EventsTrigger"]["Properties"]["TriggerType"]
    return "Resources.EventsTrigger.Properties.TriggerType", "required property 'TriggerType'"


def _missing_required_nested_property(t):
    del t["Resources"]["LogIndex"]["Properties"]["KeyIndices"][0]["Name"]
    return "Resources.LogIndex.Properties.KeyIndices[0].Name", "required property 'Name'"


def _dangling_ref(t):
    t["Resources"]["OnUploadFunction"]["Properties"]["Timeout"] = {"Ref": "OnUploadTimeOut"}
    # Its only use gone, the parameter is reported unused too.
    return "Resources.OnUploadFunction.Properties.Timeout", "'OnUploadTimeout'", "Parameters.OnUploadTimeout"


def _dangling_getatt(t):
    t["Resources"]["OnUploadFunction"]["Properties"]["Role"] = {"Fn::GetAtt": ["OnUploadRole", "ARN"]}
    return "Resources.OnUploadFunction.Properties.Role", "has no attribute 'ARN'"


def _dangling_sub(t):
    t["Resources"]["EventsQueue"]["Properties"]["QueueName"] = {"Fn::Sub": "${NamePrefx}-events"}
    return "Resources.EventsQueue.Properties.QueueName", "${NamePrefx}"


def _unused_parameter(t):
    t["Parameters"]["Forgotten"] = {"Type": "String", "Default": "", "Description": "nothing uses it"}
    return "Parameters.Forgotten", "nothing uses"


def _unknown_condition(t):
    t["Resources"]["VodMessageCallback"]["Condition"] = "SetVodNotifcation"
    return "Resources.VodMessageCallback.Condition", "SetVodNotifcation"


BREAKERS = [_misspelled_property, _misspelled_nested_property, _unknown_type, _missing_required_property,
            _missing_required_nested_property, _dangling_ref, _dangling_getatt, _dangling_sub, _unused_parameter,
            _unknown_condition]


@pytest.mark.parametrize("breaker", BREAKERS, ids=lambda f: f.__name__.strip("_"))
def test_a_broken_copy_fails_with_a_message_naming_resource_and_property(tpl, types, breaker):
    broken = copy.deepcopy(tpl)
    where, detail, *also = breaker(broken)
    errors = roscheck.check(broken, types)
    assert errors, "the broken copy passed"
    assert any(e.startswith(where) and detail in e for e in errors), errors
    # The broken copy breaks only what was broken: the rest still passes.
    assert [e for e in errors if not e.startswith((where, *also))] == [], errors


def test_the_check_reads_the_property_names_ros_expects(types):
    """Names come from what the CDK renders, not from a guess at capitalisation."""
    function = types["ALIYUN::FC3::Function"]
    assert {"FunctionName", "Handler", "Runtime"} <= function.props.required
    assert "VSwitchIds" in function.props.properties["VpcConfig"].struct.properties
    assert "ARN" in function.attributes and "Arn" not in function.attributes
    assert "Arn" in types["ALIYUN::RAM::Role"].attributes
    assert types["ALIYUN::SLS::Index"].props.properties["KeyIndices"].is_list


def test_intrinsics_use_the_long_form():
    text = rosyaml.TEMPLATE.read_text(encoding="utf-8")
    code = "\n".join(line.split("#", 1)[0] for line in text.splitlines())
    assert not re.search(r"(^|\s)!(Ref|Sub|GetAtt|If|Equals|Join|Not|Select|Split)\b", code)
    with pytest.raises(yaml.constructor.ConstructorError, match="short-form tag"):
        yaml.load("A: !Ref B\n", Loader=rosyaml._StrictLoader)


def test_funcraft_is_gone():
    assert not (ROOT / "package.json").exists() and not (ROOT / "package-lock.json").exists()
    tpl = rosyaml.load()
    assert "Transform" not in tpl, "no Aliyun::Serverless transform: plain ROS resources"
    assert not any(r["Type"].startswith("Aliyun::Serverless") for r in tpl["Resources"].values())


# ------------------------------------------------------------------------------------------------
# (b) consistency with the code
# ------------------------------------------------------------------------------------------------

def test_functions_run_the_custom_runtime_under_python_312(tpl, fns, resolve):
    assert sorted(fns) == sorted(FUNCTION_NAMES)
    for name, fn in fns.items():
        p = fn["Properties"]
        assert p["Runtime"] == "custom.debian12", name  # ships Python 3.12 at /opt/python3.12
        assert "Layers" not in p, f"{name}: no layer: bootstrap uses the runtime's own Python"
        assert p["Handler"] == "index.handler", name
        assert p["CustomRuntimeConfig"]["Port"] == 9000, name
        assert p["CustomRuntimeConfig"]["Command"] == ["/code/bootstrap"], name
        assert resolve(p["Code"]) == {"OssBucketName": "my-code", "OssObjectName": "vodai/vodai.zip"}
        assert p["InternetAccess"] is True
        assert resolve(p["MemorySize"]) in {128, 256, 512, 1024, 2048}
    assert resolve(fns["vod_callback"]["Properties"]["Timeout"]) <= 30, "VOD waits 5 s"
    read_timeout = float(resolve(env_of(fns["on_upload"])["VODAI_READ_TIMEOUT"]))
    assert resolve(fns["on_upload"]["Properties"]["Timeout"]) >= 3 * read_timeout
    try:
        from vodai.runtime.server import THREADS
    except ImportError:
        THREADS = 100
    for name in ("OnUploadConcurrency", "VodCallbackConcurrency"):
        assert tpl["Parameters"][name]["MaxValue"] <= THREADS, f"{name}: more than the shim's {THREADS} threads"


def test_code_the_template_names_exists(fns, resolve):
    for name, fn in fns.items():
        assert (ROOT / "functions" / name / "index.py").is_file(), f"functions/{name}/index.py"
        assert "def handler(" in (ROOT / "functions" / name / "index.py").read_text(encoding="utf-8")
    initializer = fns["vod_callback"]["Properties"]["InstanceLifecycleConfig"]["Initializer"]
    assert initializer["Handler"] == "index.initializer"
    assert "def initializer(" in (ROOT / "functions" / "vod_callback" / "index.py").read_text(encoding="utf-8")
    assert "InstanceLifecycleConfig" not in fns["on_upload"]["Properties"]
    bootstrap = ROOT / "bootstrap"
    assert bootstrap.is_file() and os.stat(bootstrap).st_mode & stat.S_IXUSR, "bootstrap must be executable (FC runs it)"
    text = bootstrap.read_text(encoding="utf-8")
    assert "/opt/python3.12/bin/python3.12" in text, "bootstrap must find custom.debian12's Python 3.12"
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"^package:", makefile, re.M), "`make package` builds what CodeObject names"


def test_every_vodai_variable_is_a_setting_fed_from_a_parameter(tpl, fns):
    fields = set(Settings.model_fields)
    for name, fn in fns.items():
        for var, value in env_of(fn).items():
            if var == "VODAI_FUNCTION":
                assert value == name
                continue
            assert var.startswith("VODAI_"), f"{name}: {var}"
            assert var[len("VODAI_"):].lower() in fields, f"{name}: {var} is not a vodai.config setting"
            assert roscheck.is_intrinsic(value), f"{name}: {var} is a literal; feed it from a parameter"


def test_each_function_gets_the_settings_it_reads(fns):
    assert set(env_of(fns["on_upload"])) == ON_UPLOAD_NEEDS
    assert set(env_of(fns["vod_callback"])) == VOD_CALLBACK_NEEDS
    assert set(env_of(fns["track_jobs"])) == TRACK_JOBS_NEEDS
    for fn in fns.values():
        assert "VODAI_CALLBACK_ALLOW_UNAUTHENTICATED" not in env_of(fn), "the template never turns authentication off"


def test_every_setting_has_a_parameter_or_a_documented_default(fns):
    """A setting the deployed functions never receive must have its default told in the README."""
    fed = {var for fn in fns.values() for var in env_of(fn)}
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for field in Settings.model_fields:
        var = "VODAI_" + field.upper()
        assert var in fed or var in readme, f"{var}: neither in template.yml nor in the README's settings"


def test_resolved_settings_are_valid(fns, resolve):
    settings = {}
    for name, fn in fns.items():
        env = {k: str(v) for k, v in resolve(env_of(fn)).items()}
        settings[name] = Settings.from_env(env)  # raises ConfigError naming a bad variable
    assert settings["vod_callback"].callback_auth_keys() == [SAMPLE_AUTH_KEY]
    assert settings["vod_callback"].callback_url is None, "empty: the URL each request was addressed to"
    from vodai.callback.app import check_startup

    check_startup(settings["vod_callback"])  # what the initializer checks
    assert settings["track_jobs"].tracking_url() == settings["on_upload"].idempotency_url() == SAMPLE_STORE
    assert settings["vod_callback"].idempotency_url() == SAMPLE_STORE  # its seen marks, in the same store
    assert settings["on_upload"].verify_callback_media is True


def test_parameters_are_described_and_their_defaults_fit(tpl):
    for name, spec in tpl["Parameters"].items():
        assert spec["Type"] in {"String", "Number", "CommaDelimitedList", "Json", "Boolean"}, name
        assert re.fullmatch(r"[A-Za-z][A-Za-z0-9]{0,127}", name), name
        assert spec.get("Description"), f"{name}: say what it is"
        if "Default" not in spec:
            continue
        default = spec["Default"]
        if "AllowedPattern" in spec:
            assert re.fullmatch(spec["AllowedPattern"], str(default)), f"{name}: default {default!r} fails its pattern"
        if "AllowedValues" in spec:
            assert default in spec["AllowedValues"], name
        if "MinValue" in spec:
            assert spec["MinValue"] <= default <= spec["MaxValue"], name


def test_secrets_are_given_at_deploy_time(tpl, fns):
    params = tpl["Parameters"]
    for name, spec in params.items():
        if SECRET_NAME.search(name):
            assert spec.get("NoEcho") is True, f"{name} looks secret: NoEcho: true"
        if spec.get("NoEcho"):
            assert "Default" not in spec, f"{name} carries a secret: no Default"
    assert env_of(fns["vod_callback"])["VODAI_CALLBACK_AUTH_KEY"] == {"Ref": "CallbackAuthKey"}
    assert env_of(fns["on_upload"])["VODAI_IDEMPOTENCY_STORE"] == {"Ref": "IdempotencyStore"}
    assert "VODAI_CALLBACK_AUTH_KEY" not in env_of(fns["on_upload"]), "only the function that verifies gets the key"
    # The callback records a seen mark per accepted request (issue 26): VOD signs URL|timestamp,
    # not the body, so only a store shared by every instance can refuse an identical replay.
    assert env_of(fns["vod_callback"])["VODAI_IDEMPOTENCY_STORE"] == {"Ref": "IdempotencyStore"}
    pattern = params["CallbackAuthKey"]["AllowedPattern"]
    assert re.fullmatch(pattern, SAMPLE_AUTH_KEY) and re.fullmatch(pattern, "OldKey1,NewKey2")
    assert not re.fullmatch(pattern, "k" * 33) and not re.fullmatch(pattern, "")
    text = rosyaml.TEMPLATE.read_text(encoding="utf-8")
    assert "ALIBABA_CLOUD_ACCESS_KEY" not in text and not re.search(r"\bLTAI[0-9A-Za-z]{12,}", text)


@pytest.mark.parametrize("prefix", [None, "x", "video-ai"])
def test_queues_are_distinct_and_every_sink_is_a_queue(tpl, fns, prefix):
    params = {"CallbackAuthKey": SAMPLE_AUTH_KEY, "IdempotencyStore": SAMPLE_STORE, "CodeBucket": "b-1"}
    resolve = Resolver(tpl, rosyaml.defaults(tpl, **params, **({"NamePrefix": prefix} if prefix else {})))
    queues = queue_names(tpl, resolve)
    assert set(queues) == {"EventsQueue", "DeadLetterQueue", "FailedQueue", "CallbackInboxQueue"}
    assert len(set(queues.values())) == 4, queues
    if prefix is None:
        assert queues["EventsQueue"] == "vodai-events" and queues["DeadLetterQueue"] == "vodai-dead-letters"
    assert resolve(env_of(fns["on_upload"])["VODAI_DEAD_LETTERS"]) == f"mns-queue://{queues['DeadLetterQueue']}"
    assert resolve(env_of(fns["vod_callback"])["VODAI_EVENTS_QUEUE"]) == queues["EventsQueue"]
    # The callback topic keeps nothing by itself: a queue subscribed to it keeps every message.
    topic = resolve(tpl["Resources"]["CallbackTopic"]["Properties"]["TopicName"])
    assert resolve(env_of(fns["on_upload"])["VODAI_CALLBACK_TOPIC"]) == topic
    subscription = resolve(tpl["Resources"]["CallbackInboxSubscription"]["Properties"])
    assert subscription["TopicName"] == topic
    assert subscription["Endpoint"] == (f"acs:mns:{PSEUDO['ALIYUN::Region']}:{PSEUDO['ALIYUN::AccountId']}:"
                                        f"queues/{queues['CallbackInboxQueue']}")
    # No topic without a subscription anywhere in the stack.
    topics = rosyaml.of_type(tpl, "ALIYUN::MNS::Topic")
    subscribed = {s["Properties"]["TopicName"]["Fn::GetAtt"][0]
                  for s in rosyaml.of_type(tpl, "ALIYUN::MNS::Subscription").values()}
    assert set(topics) == subscribed


def test_the_events_queue_triggers_on_upload_in_batches(tpl, fns, resolve):
    triggers = rosyaml.of_type(tpl, "ALIYUN::FC3::Trigger")
    by_function = {t["Properties"]["FunctionName"]["Fn::GetAtt"][0]: t for t in triggers.values()}
    trigger = resolve(by_function["OnUploadFunction"]["Properties"])
    assert trigger["TriggerType"] == "eventbridge"
    config = trigger["TriggerConfig"]
    source = config["eventSourceConfig"]
    assert source["eventSourceType"] == "MNS"
    mns = source["eventSourceParameters"]["sourceMNSParameters"]
    assert mns["QueueName"] == queue_names(tpl, resolve)["EventsQueue"]
    assert mns["RegionId"] == PSEUDO["ALIYUN::Region"], "the queue and the function share a region"
    assert mns["IsBase64Decode"] is False, "vodai reads plain and base64 bodies itself"
    run = config["runOptions"]
    assert run["mode"] == "event-streaming" and run["batchWindow"]["CountBasedWindow"] == 10
    assert run["deadLetterQueue"]["Arn"].endswith(f"/queues/{queue_names(tpl, resolve)['FailedQueue']}")
    assert config["asyncInvocationType"] is True, "so OnUploadAsyncConfig's retries and destination apply"
    role = trigger["InvocationRole"]
    assert role == f"acs:ram::{PSEUDO['ALIYUN::AccountId']}:role/vodai-events-trigger"


def test_failed_invocations_go_to_the_failed_queue(tpl, fns, resolve):
    configs = rosyaml.of_type(tpl, "ALIYUN::FC3::AsyncInvokeConfig")
    by_function = {c["Properties"]["FunctionName"]["Fn::GetAtt"][0]: resolve(c["Properties"]) for c in configs.values()}
    on_upload = by_function["OnUploadFunction"]
    failed = queue_names(tpl, resolve)["FailedQueue"]
    destination = on_upload["DestinationConfig"]["OnFailure"]["Destination"]
    assert destination == f"acs:mns:{PSEUDO['ALIYUN::Region']}:{PSEUDO['ALIYUN::AccountId']}:/queues/{failed}/messages"
    assert 1 <= on_upload["MaxAsyncRetryAttempts"] <= 8 and on_upload["MaxAsyncEventAgeInSeconds"] == 86400
    # FC sends to the destination with the function's role.
    assert destination in grants(role_statements(tpl, resolve, function_role(fns["on_upload"])))["mns:SendMessage"]
    assert by_function["TrackJobsFunction"]["MaxAsyncRetryAttempts"] == 0, "the next tick polls again"


def test_one_role_per_function_with_only_what_it_calls(tpl, fns, resolve):
    """The role matrix of the README (Deploying)."""
    region, account = PSEUDO["ALIYUN::Region"], PSEUDO["ALIYUN::AccountId"]
    queues = queue_names(tpl, resolve)
    topic = resolve(tpl["Resources"]["CallbackTopic"]["Properties"]["TopicName"])
    logstore = f"acs:log:{region}:{account}:project/vodai-logs-{account}/logstore/functions"

    def queue(name):
        return f"acs:mns:{region}:{account}:/queues/{name}/messages"

    publish = f"acs:mns:{region}:{account}:/topics/{topic}/messages"
    expected = {
        "on_upload": {
            "vod:SubmitAIImageJob": {"*"}, "vod:SubmitAIImageAuditJob": {"*"},
            # An HTTP callback's media is checked before its job is paid for.
            "vod:GetVideoInfo": {"*"}, "vod:GetImageInfo": {"*"},
            "mns:PublishMessage": {publish},
            "mns:SendMessage": {queue(queues["DeadLetterQueue"]), queue(queues["FailedQueue"])},
            "log:PostLogStoreLogs": {logstore},
        },
        "vod_callback": {"mns:SendMessage": {queue(queues["EventsQueue"])}, "log:PostLogStoreLogs": {logstore}},
        "track_jobs": {
            "vod:GetAIImageJobs": {"*"}, "vod:GetAIMediaAuditJob": {"*"},
            "mns:PublishMessage": {publish}, "log:PostLogStoreLogs": {logstore},
        },
    }
    roles = set()
    for name, fn in fns.items():
        role_id = function_role(fn)
        roles.add(role_id)
        assert grants(role_statements(tpl, resolve, role_id)) == expected[name], name
        trust = tpl["Resources"][role_id]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        assert [(s["Action"], s["Principal"]) for s in trust] == [("sts:AssumeRole", {"Service": ["fc.aliyuncs.com"]})]
    assert len(roles) == 3, "one role per function"
    # on_upload can never feed the queue that triggers it.
    assert queue(queues["EventsQueue"]) not in grants(role_statements(tpl, resolve, function_role(fns["on_upload"])))["mns:SendMessage"]
    trigger_role = grants(role_statements(tpl, resolve, "EventsTriggerRole"))
    assert trigger_role["fc:InvokeFunction"] == {f"acs:fc:{region}:{account}:functions/vodai-on-upload"}


def test_the_callback_has_an_anonymous_post_http_trigger(tpl, resolve):
    trigger = resolve(tpl["Resources"]["HttpTrigger"]["Properties"])
    assert trigger["TriggerType"] == "http"
    assert trigger["FunctionName"] == "vodai-vod-callback"
    assert trigger["TriggerConfig"]["authType"] == "anonymous"  # VOD cannot sign FC requests; X-VOD-SIGNATURE is checked
    assert trigger["TriggerConfig"]["methods"] == ["POST"]
    assert "2016-08-15/proxy" not in rosyaml.TEMPLATE.read_text(encoding="utf-8"), "FC 2.0 URLs are gone"


def test_vod_notification_goes_to_the_events_queue_or_the_http_trigger(tpl):
    callback = tpl["Resources"]["VodMessageCallback"]
    assert callback["Condition"] == "SetVodNotification"
    for choice, kind in (("MNS", "MNS"), ("HTTP", "HTTP")):
        resolve = Resolver(tpl, rosyaml.defaults(tpl, CallbackAuthKey="Old1,New2", IdempotencyStore=SAMPLE_STORE,
                                                 VodNotification=choice))
        props = resolve(callback["Properties"])
        assert props["CallbackType"] == kind
        if kind == "MNS":
            assert props["MnsQueueName"] == queue_names(tpl, resolve)["EventsQueue"]
            assert props["MnsEndpoint"] == f"https://{PSEUDO['ALIYUN::AccountId']}.mns.{PSEUDO['ALIYUN::Region']}.aliyuncs.com/"
            assert "CallbackUrl" not in props and "AuthKey" not in props
        else:
            assert props["CallbackUrl"] == resolve(tpl["Outputs"]["CallbackUrl"]["Value"])
            assert props["AuthKey"] == "Old1" and props["AuthSwitch"] == "on"
            assert "MnsQueueName" not in props
        assert props["EventTypeList"].split(",")[:2] == ["FileUploadComplete", "ImageUploadComplete"]
    none = Resolver(tpl, rosyaml.defaults(tpl, VodNotification="None"))
    assert none.condition("SetVodNotification") is False


def test_vpc_is_optional(tpl, fns):
    for choice in ("", "vpc-123"):
        resolve = Resolver(tpl, rosyaml.defaults(tpl, VpcId=choice, VSwitchIds=["vsw-1"], SecurityGroupId="sg-1"))
        for name in ("on_upload", "track_jobs", "vod_callback"):  # each reaches the store
            vpc = resolve(fns[name]["Properties"]).get("VpcConfig")
            if choice:
                assert vpc == {"VpcId": "vpc-123", "VSwitchIds": ["vsw-1"], "SecurityGroupId": "sg-1"}
            else:
                assert vpc is None, "empty VpcId: no VPC"


def test_logs_are_indexed_on_the_outcome_line(tpl, fns):
    from vodai.pipeline.outcome import Outcome

    index = tpl["Resources"]["LogIndex"]["Properties"]
    message = next(k for k in index["KeyIndices"] if k["Name"] == "message")
    assert message["Type"] == "json"
    keys = {k["Name"] for k in message["JsonKeyIndices"]}
    fields = set(Outcome(index=0, status="submitted", reason="r", action="a", region="r", job_id="j", media_id="m",
                         media_type="video", event_type="e", duration_ms=1.0, dead_letter_id="d").to_dict())
    assert {"Status", "Reason", "Action", "Region", "JobId", "MediaId", "EventType", "DurationMs"} <= fields
    assert keys - {"logger", "level", "fcRequestId"} <= fields, keys - fields
    for fn in fns.values():
        log = fn["Properties"]["LogConfig"]
        assert log["Project"] == {"Fn::GetAtt": ["LogStore", "ProjectName"]}
        assert log["Logstore"] == {"Fn::GetAtt": ["LogStore", "LogstoreName"]}
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for chart in tpl["Resources"]["Dashboard"]["Properties"]["Charts"]:
        assert chart["search"]["query"] in readme, f"the README shows the query of {chart['title']!r}"


def test_track_jobs_runs_on_a_timer_and_shares_the_store_and_topic(tpl, fns, resolve):
    timer = resolve(tpl["Resources"]["TimerTrigger"]["Properties"])
    assert timer["TriggerType"] == "timer" and timer["FunctionName"] == "vodai-track-jobs"
    assert timer["TriggerConfig"]["cronExpression"] == "@every 1m" and timer["TriggerConfig"]["enable"] is True
    pattern = tpl["Parameters"]["TrackJobsSchedule"]["AllowedPattern"]
    for good in ("@every 1m", "@every 5m", "0 */5 * * * *", "CRON_TZ=Asia/Shanghai 0 0 * * * *"):
        assert re.fullmatch(pattern, good), good
    for bad in ("every minute", "* * * *", "@every 0m", ""):
        assert not re.fullmatch(pattern, bad), bad
    assert env_of(fns["track_jobs"])["VODAI_IDEMPOTENCY_STORE"] == env_of(fns["on_upload"])["VODAI_IDEMPOTENCY_STORE"]


def test_the_default_parameters_give_the_default_settings(tpl, fns, resolve):
    """A parameter left at its default deploys the setting's own default (empty: unset)."""
    checked = set()
    for name, fn in fns.items():
        for var, value in env_of(fn).items():
            field = var[len("VODAI_"):].lower()
            parameter = tpl["Parameters"].get(value.get("Ref")) if isinstance(value, dict) else None
            if parameter is None or "Default" not in parameter:
                continue
            checked.add(var)
            resolved = Settings.from_env({var: str(resolve(value))})
            assert getattr(resolved, field) == Settings.model_fields[field].default, f"{name}: {var}"
    assert {"VODAI_TRACKING_BUDGET", "VODAI_TRACKING_CONCURRENCY", "VODAI_TRACKING_POLL_LIMIT"} <= checked
