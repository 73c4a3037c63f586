"""Every combination of region and media type routes as the table says."""

import json

import pytest
from pydantic import ValidationError

from vodai.config import Settings
from vodai.events.models import parse_event
from vodai.exceptions import ConfigError, ParameterError
from vodai.routing import DEFAULT_TABLE, Skip, Submit, decide, load_table
from vodai.routing.userdata import USER_DATA_MAX_BYTES

SETTINGS = Settings(ai_template_id="tpl-ai", audit_template_id="tpl-audit", callback_topic="t")
REGIONS = ["cn-shanghai", "cn-beijing", "ap-southeast-1", "cn-shenzhen", "eu-central-1", "ap-south-1"]
MEDIA = {
    "video": {"EventType": "FileUploadComplete", "VideoId": "v1", "FileUrl": "http://b.oss-x.aliyuncs.com/a.mp4"},
    "audio": {"EventType": "FileUploadComplete", "VideoId": "a1", "FileUrl": "http://b.oss-x.aliyuncs.com/a.mp3"},
    "image": {"EventType": "ImageUploadComplete", "ImageId": "i1", "FileURL": "http://b.oss-x.aliyuncs.com/a.jpg"},
    "attached": {"EventType": "AttachedMediaUploadComplete", "AttachedMediaId": "m1", "FileURL": "http://b/a.srt"},
}
EXPECTED = {("video", "cn-shanghai"): "SubmitAIImageJob", ("video", "cn-beijing"): "SubmitAIImageJob",
            ("image", "ap-southeast-1"): "SubmitAIImageAuditJob"}


@pytest.mark.parametrize("region", REGIONS)
@pytest.mark.parametrize("media", sorted(MEDIA))
def test_default_table(media, region):
    event = parse_event(MEDIA[media])
    assert event.media_type == media
    decision = decide(event, region=region, table=DEFAULT_TABLE, settings=SETTINGS)
    action = EXPECTED.get((media, region))
    if action:
        assert isinstance(decision, Submit) and decision.action == action and decision.region == region
    else:
        assert isinstance(decision, Skip)
        assert media in decision.reason and region in decision.reason


def test_submit_ai_image_job_parameters_carry_extend_and_identity():
    body = dict(MEDIA["video"], Extend='{"test":"your extend data"}', EventTime="2017-03-20T07:49:17Z")
    d = decide(parse_event(body), region="cn-shanghai", table=DEFAULT_TABLE,
               settings=SETTINGS.model_copy(update={"ai_pipeline_id": "pipe"}), source_id="msg-1")
    assert d.params["VideoId"] == "v1" and d.params["AITemplateId"] == "tpl-ai" and d.params["AIPipelineId"] == "pipe"
    user_data = json.loads(d.params["UserData"])
    assert set(user_data) == {"Extend"}
    assert user_data["Extend"]["Upload"] == {"test": "your extend data"}
    assert user_data["Extend"]["vodai"] == {"EventType": "FileUploadComplete", "MediaId": "v1",
                                            "EventTime": "2017-03-20T07:49:17Z", "MessageId": "msg-1"}


def test_user_data_over_512_bytes_is_an_error_before_any_call():
    body = dict(MEDIA["video"], Extend=json.dumps({"note": "x" * 500}))
    with pytest.raises(ParameterError) as info:
        decide(parse_event(body), region="cn-shanghai", table=DEFAULT_TABLE, settings=SETTINGS)
    assert info.value.parameter == "UserData" and str(USER_DATA_MAX_BYTES) in str(info.value)


def test_user_data_counts_bytes_not_characters():
    # 160 three-byte characters fit in characters but not in bytes once wrapped.
    body = dict(MEDIA["video"], Extend=json.dumps({"n": "视" * 160}, ensure_ascii=False))
    with pytest.raises(ParameterError):
        decide(parse_event(body), region="cn-shanghai", table=DEFAULT_TABLE, settings=SETTINGS)


@pytest.mark.parametrize("bad", ["Image Audit", "porn-terrorism", "违规"])
def test_resource_type_character_set(bad):
    settings = SETTINGS.model_copy(update={"audit_resource_type": bad})
    with pytest.raises(ParameterError) as info:
        decide(parse_event(MEDIA["image"]), region="ap-southeast-1", table=DEFAULT_TABLE, settings=settings)
    assert info.value.parameter == "MediaAuditConfiguration.ResourceType"


def test_resource_type_goes_into_media_audit_configuration():
    settings = SETTINGS.model_copy(update={"audit_resource_type": "Image_1"})
    d = decide(parse_event(MEDIA["image"]), region="ap-southeast-1", table=DEFAULT_TABLE, settings=settings)
    assert d.params == {"MediaId": "i1", "TemplateId": "tpl-audit", "MediaAuditConfiguration": '{"ResourceType":"Image_1"}'}


def test_missing_template_is_a_config_error_naming_the_variable():
    with pytest.raises(ConfigError) as info:
        decide(parse_event(MEDIA["video"]), region="cn-beijing", table=DEFAULT_TABLE, settings=Settings())
    assert info.value.setting == "VODAI_AI_TEMPLATE_ID"


def test_audit_without_template_leaves_templateid_out():
    # VOD then audits with the account's default template (documented), so it is no error.
    settings = SETTINGS.model_copy(update={"audit_template_id": None})
    d = decide(parse_event(MEDIA["image"]), region="ap-southeast-1", table=DEFAULT_TABLE, settings=settings)
    assert isinstance(d, Submit)
    assert d.params == {"MediaId": "i1"}
    assert d.template_id is None


def test_audit_with_template_sends_it():
    d = decide(parse_event(MEDIA["image"]), region="ap-southeast-1", table=DEFAULT_TABLE, settings=SETTINGS)
    assert isinstance(d, Submit)
    assert (d.params["TemplateId"], d.template_id) == ("tpl-audit", "tpl-audit")


def test_failed_upload_and_other_events_are_skipped():
    failed = dict(MEDIA["video"], Status="fail")
    assert isinstance(decide(parse_event(failed), region="cn-shanghai", table=DEFAULT_TABLE, settings=SETTINGS), Skip)
    other = parse_event({"EventType": "VideoAnalysisComplete", "VideoId": "v"})
    assert "VideoAnalysisComplete" in decide(other, region="cn-shanghai", table=DEFAULT_TABLE, settings=SETTINGS).reason


def test_no_region_is_a_skip_with_reason():
    d = decide(parse_event(MEDIA["video"]), region=None, table=DEFAULT_TABLE, settings=SETTINGS)
    assert isinstance(d, Skip) and "no region" in d.reason


@pytest.mark.parametrize("suffix", [".json", ".yaml"])
def test_rules_file_sets_regions_and_per_region_templates(tmp_path, suffix):
    doc = {
        "rules": [
            {"action": "SubmitAIImageJob", "media_types": ["video"], "regions": ["cn-shanghai"]},
            {"action": "SubmitAIImageAuditJob", "media_types": ["image"], "regions": ["ap-southeast-1", "cn-shanghai"]},
        ],
        "regions": {"cn-shanghai": {"ai_template_id": "sh-ai", "ai_pipeline_id": "sh-pipe", "audit_template_id": "sh-audit",
                                    "audit_resource_type": "Image_X"}},
    }
    path = tmp_path / f"routes{suffix}"
    if suffix == ".json":
        path.write_text(json.dumps(doc))
    else:
        import yaml

        path.write_text(yaml.safe_dump(doc))
    table = load_table(str(path))
    video = decide(parse_event(MEDIA["video"]), region="cn-shanghai", table=table, settings=SETTINGS)
    assert (video.template_id, video.pipeline_id) == ("sh-ai", "sh-pipe")
    assert isinstance(decide(parse_event(MEDIA["video"]), region="cn-beijing", table=table, settings=SETTINGS), Skip)
    image = decide(parse_event(MEDIA["image"]), region="cn-shanghai", table=table, settings=SETTINGS)
    assert image.params["TemplateId"] == "sh-audit" and "Image_X" in image.params["MediaAuditConfiguration"]
    # Regions without overrides fall back to the VODAI_* settings.
    sg = decide(parse_event(MEDIA["image"]), region="ap-southeast-1", table=table, settings=SETTINGS)
    assert sg.params["TemplateId"] == "tpl-audit"


@pytest.mark.parametrize(
    "content, fragment",
    [("{not json", "not valid"), ('{"rules": [{"action": "Nope", "media_types": ["video"], "regions": ["x"]}]}', "rules.0.action"),
     ('{"rules": [], "extra": 1}', "extra")],
)
def test_bad_rules_file_is_a_config_error(tmp_path, content, fragment):
    path = tmp_path / "routes.json"
    path.write_text(content)
    with pytest.raises(ConfigError) as info:
        load_table(str(path))
    assert info.value.setting == "VODAI_ROUTES" and fragment in str(info.value)


def test_missing_rules_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError):
        load_table(str(tmp_path / "nope.json"))


def test_the_default_table_built_without_validation_is_what_validation_builds():
    # DEFAULT_TABLE and the empty RegionSettings are built with model_construct (no validator at a
    # cold start): they must be exactly what the validating constructors make of the same data.
    from vodai.routing.rules import _NO_REGION_SETTINGS, RegionSettings, RouteTable

    data = {"rules": [{"action": "SubmitAIImageJob", "media_types": ["video"], "regions": ["cn-beijing", "cn-shanghai"]},
                      {"action": "SubmitAIImageAuditJob", "media_types": ["image"], "regions": ["ap-southeast-1"]}]}
    validated = RouteTable.model_validate(data)
    assert DEFAULT_TABLE == validated
    assert DEFAULT_TABLE.model_dump() == validated.model_dump()
    assert DEFAULT_TABLE.model_dump(exclude_unset=True) == validated.model_dump(exclude_unset=True)
    assert DEFAULT_TABLE.model_fields_set == validated.model_fields_set
    assert [(type(r), r.model_fields_set) for r in DEFAULT_TABLE.rules] == \
        [(type(r), r.model_fields_set) for r in validated.rules]
    # The constant passes the validation it skipped.
    assert RouteTable.model_validate(DEFAULT_TABLE.model_dump()) == DEFAULT_TABLE
    assert _NO_REGION_SETTINGS == RegionSettings()
    assert _NO_REGION_SETTINGS.model_fields_set == RegionSettings().model_fields_set == set()
    assert DEFAULT_TABLE.region_settings("cn-shanghai") == RegionSettings()
    with pytest.raises(ValidationError):  # frozen, as a validated table is
        DEFAULT_TABLE.rules = []
