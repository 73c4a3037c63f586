"""Every saved sample in events/ parses, resolves its region and routes as events/expected.json says;
every malformed one gets a reason naming its field, without raising."""

import pytest

from conftest import EVENTS, TOLERATED, expected_outcomes, sample_files, tolerated_files, tolerated_outcomes
from vodai.config import Settings
from vodai.events.envelopes import unwrap
from vodai.events.models import parse_event
from vodai.exceptions import EventError
from vodai.regions import resolve_region
from vodai.routing import DEFAULT_TABLE, Submit, decide

SETTINGS = Settings(ai_template_id="tpl-ai", audit_template_id="tpl-audit", callback_topic="t")
EXPECTED = expected_outcomes()
# Shapes no documentation shows (PascalCase CloudEvent data, the STREAM {"body","attrs"} message):
# tolerated by the parser, not documented, so they are fixtures here and not samples in events/.
TOLERATED_EXPECTED = tolerated_outcomes()


def test_manifest_covers_every_sample():
    names = {str(p.relative_to(EVENTS)) for p in sample_files()}
    assert names == set(EXPECTED)


def _conclude(record):
    """(error field) or (event, region, decision) for one record, as the pipeline concludes it."""
    if record.error is not None:
        return record.error, None, None
    try:
        event = parse_event(record.body)
    except EventError as exc:
        return exc, None, None
    region, _ = resolve_region(envelope_region=record.region, envelope_source=record.region_source,
                               file_url=getattr(event, "file_url", None), configured_region=None, context_region=None)
    return event, region, decide(event, region=region, table=DEFAULT_TABLE, settings=SETTINGS)


def test_tolerated_manifest_covers_every_fixture():
    assert {str(p.relative_to(TOLERATED)) for p in tolerated_files()} == set(TOLERATED_EXPECTED)


_CASES = [pytest.param(p, EXPECTED[str(p.relative_to(EVENTS))], id=str(p.relative_to(EVENTS))) for p in sample_files()]
_CASES += [pytest.param(p, TOLERATED_EXPECTED[str(p.relative_to(TOLERATED))], id=f"tolerated/{p.relative_to(TOLERATED)}")
           for p in tolerated_files()]


@pytest.mark.parametrize(("path", "expected"), _CASES)
def test_sample(path, expected):
    records = unwrap(path.read_bytes())
    assert len(records) == len(expected)
    for record, want in zip(records, expected):
        event, region, decision = _conclude(record)
        if "error_field" in want:
            assert isinstance(event, EventError), f"expected an error naming {want['error_field']}"
            assert event.field == want["error_field"], str(event)
            assert event.reason
            continue
        assert not isinstance(event, EventError), str(event)
        assert (event.event_type, event.media_id, event.media_type) == (want["event_type"], want["media_id"], want["media_type"])
        assert region == want["region"]
        if want["skipped"]:
            assert not isinstance(decision, Submit), decision
            assert decision.reason
        else:
            assert isinstance(decision, Submit) and decision.action == want["action"]
