"""What VOD says about a finished job, read defensively, and the summary users get."""

from __future__ import annotations

import json

import pytest

from vodai.emulator import results as emulated
from vodai.tracking.results import ai_image_result, ai_image_summary, audit_result, audit_summary, final_status

DOCUMENTED = "[{\"Score\":5.035636554444242,\"Url\":\"http://outin-x.oss-cn-shanghai.aliyuncs.com/v/image/ai/b-00001.gif\"}]"


@pytest.mark.parametrize("raw, want", [
    ("success", "success"), ("Success", "success"), ("SUCCESS", "success"), (" success ", "success"),
    ("fail", "fail"), ("Fail", "fail"), ("failed", "fail"), ("FAILED", "fail"),
    ("Processing", None), ("processing", None), ("init", None), ("", None), (None, None), ("succeeded?", None),
])
def test_final_status_is_case_insensitive_and_anything_else_is_running(raw, want):
    assert final_status(raw) == want


def test_the_documented_ai_image_result():
    summary = ai_image_summary(DOCUMENTED)
    assert summary == {"Type": "AIImage", "Images": 1, "Best": [
        {"Url": "http://outin-x.oss-cn-shanghai.aliyuncs.com/v/image/ai/b-00001.gif", "Score": 5.035636554444242}]}


def test_best_images_by_score_with_scores_as_strings_and_odd_keys():
    raw = json.dumps([{"Score": "3.5", "Url": "u1"}, {"score": 9.25, "url": "u2"}, {"URL": "u3"},
                      {"Score": "7", "Url": "u4"}, {"Score": 8, "Url": "u5"}])
    summary = ai_image_summary(raw)
    assert summary["Images"] == 5
    assert [b["Url"] for b in summary["Best"]] == ["u2", "u5", "u4"]  # the best three, best first
    assert summary["Best"][0]["Score"] == 9.25 and "Unreadable" not in summary


@pytest.mark.parametrize("raw, images", [
    ({"Images": [{"Url": "a", "Score": 1}]}, 1),  # wrapped in an object
    (json.dumps({"ImageList": json.dumps([{"Url": "a"}, {"Url": "b"}])}), 2),  # JSON in JSON
    (["http://x/1.gif", "http://x/2.gif"], 2),  # plain URLs
    ("", 0), (None, 0),
])
def test_other_shapes_of_the_result(raw, images):
    summary = ai_image_summary(raw)
    assert summary["Images"] == images and "Unreadable" not in summary


def test_an_unreadable_result_says_so_instead_of_zero_images():
    assert ai_image_summary("<xml/>") == {"Type": "AIImage", "Images": 0, "Best": [], "Unreadable": True}


def test_what_the_emulator_produces_reads_back():
    raw = emulated.ai_image_result(3, video_id="v1", template_id="t", oss_host="outin-x.oss-cn-shanghai.aliyuncs.com")
    summary = ai_image_summary(raw)
    assert summary["Images"] == len(json.loads(raw)) and summary["Best"][0]["Url"].startswith("http://outin-x")
    data = emulated.audit_data(3, media_id="m", template_id="t", image_url="https://img/1.jpg", suggestion="block")
    audit = audit_summary(data)
    assert audit["Suggestion"] == "block" and audit["Suggestions"] == {"block": 1} and audit["Images"] == 1
    assert audit["Top"][0]["Url"] == "https://img/1.jpg" and audit["Top"][0]["Score"] >= 90


def test_audit_summary_counts_per_suggestion_worst_first():
    data = {"Suggestion": "review", "Label": "porn", "AbnormalModules": "image-cover", "ImageResult": [
        {"Url": "p", "Suggestion": "pass", "Label": "normal", "Result": [{"Scene": "porn", "Score": "99.1"}]},
        {"Url": "r", "Suggestion": "review", "Label": "porn", "Result": [{"Scene": "porn", "Label": "sexy", "Score": "71.5"},
                                                                        {"Scene": "ad", "Score": "10"}]},
        {"Url": "p2", "Suggestion": "Pass", "Label": "normal"},
    ]}
    for shape in (data, json.dumps(data)):  # an object, or a JSON string
        summary = audit_summary(shape)
        assert summary["Suggestion"] == "review" and summary["Label"] == "porn"
        assert summary["Suggestions"] == {"pass": 2, "review": 1} and summary["Images"] == 3
        assert summary["Top"][0] == {"Url": "r", "Suggestion": "review", "Label": "porn", "Scene": "porn", "Score": 71.5}


def test_job_results_from_vod_answers():
    item = {"JobId": "j1", "Status": "SUCCESS", "Code": "Success", "Message": "success", "AIImageResult": DOCUMENTED}
    result = ai_image_result(item)
    assert (result.job_id, result.status, result.code, result.summary["Images"]) == ("j1", "success", "Success", 1)
    assert ai_image_result({**item, "Status": "Processing"}) is None
    failed = ai_image_result({**item, "Status": "Failed", "Code": "ProcessFailed", "AIImageResult": ""})
    assert (failed.status, failed.code, failed.summary) == ("fail", "ProcessFailed", None)

    audit = audit_result({"JobId": "j2", "Status": "success", "Code": 0, "Message": "OK",
                          "CompleteTime": "2017-01-11T13:00:00Z", "Data": json.dumps({"Suggestion": "pass"})})
    assert (audit.status, audit.code, audit.complete_time, audit.summary["Suggestion"]) == ("success", "0", "2017-01-11T13:00:00Z", "pass")
    assert audit_result({"JobId": "j2", "Status": "init"}) is None
