"""vodai.values: the cold path's value classes behave as the dataclasses they replaced."""

import copy
import dataclasses
import pickle
from typing import Optional

import pytest

from vodai import values
from vodai.credentials import Credentials
from vodai.idempotency.base import Record
from vodai.pipeline.outcome import InvocationResult, Outcome
from vodai.retry import RetryPolicy
from vodai.routing.decision import Submit
from vodai.tracking.base import TrackedJob
from vodai.values import FrozenValue, Value


class Point(Value):
    def __init__(self, x: int, y: int = 0, *, label: Optional[str] = None) -> None:
        self.x = x
        self.y = y
        self.label = label


class Key(FrozenValue):
    _repr_hidden = frozenset({"secret"})

    def __init__(self, name: str, secret: str = "") -> None:
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "secret", secret)


# The oracles: what @dataclass makes of the same fields.
@dataclasses.dataclass
class PointOracle:
    x: int
    y: int = 0
    label: Optional[str] = dataclasses.field(default=None, kw_only=True)


@dataclasses.dataclass(frozen=True)
class KeyOracle:
    name: str
    secret: str = dataclasses.field(default="", repr=False)


def test_fields_are_the_init_parameters_in_order():
    assert values.fields(Point) == ("x", "y", "label") == tuple(f.name for f in dataclasses.fields(PointOracle))
    assert values.fields(Point(1)) == values.fields(Point)


def test_a_subclass_without_init_keeps_its_parents_fields():
    class Labelled(Point):
        pass

    assert values.fields(Labelled) == ("x", "y", "label")
    assert Labelled(1) != Point(1)  # another class is never equal, as dataclasses compare


def test_init_with_star_args_is_refused():
    with pytest.raises(TypeError, match=r"Bad.__init__ takes \*args or \*\*kwargs"):
        class Bad(Value):
            def __init__(self, *parts):
                self.parts = parts


@pytest.mark.parametrize("a, b", [((1, 2), (1, 2)), ((1, 2), (1, 3)), ((1,), (1,)), ((1,), (2,)), ((1, 0), (1,))])
def test_equality_as_a_dataclass_compares(a, b):
    assert (Point(*a) == Point(*b)) == (PointOracle(*a) == PointOracle(*b))
    assert (Point(*a) != Point(*b)) == (PointOracle(*a) != PointOracle(*b))


def test_the_same_nan_object_compares_equal_as_in_a_dataclass():
    nan = float("nan")
    assert (Point(nan) == Point(nan)) == (PointOracle(nan) == PointOracle(nan)) is True
    assert (Point(float("nan")) == Point(float("nan"))) == (PointOracle(float("nan")) == PointOracle(float("nan"))) is False


class One(Value):
    def __init__(self, x) -> None:
        self.x = x


class Empty(FrozenValue):
    def __init__(self) -> None:
        pass


@dataclasses.dataclass
class OneOracle:
    x: object


def test_one_field_and_no_field_compare_as_tuples():
    nan = float("nan")
    assert (One(nan) == One(nan)) == (OneOracle(nan) == OneOracle(nan)) is True
    assert One(1) == One(1) and One(1) != One(2)
    assert Empty() == Empty() and hash(Empty()) == hash(()) and repr(Empty()) == "Empty()"


def test_equality_with_another_type_is_not_implemented():
    assert Point(1).__eq__((1, 0, None)) is NotImplemented
    assert Point(1) != (1, 0, None)


def test_repr_matches_the_dataclass_one_with_hidden_fields_left_out():
    assert repr(Point(1, 2, label="a")) == repr(PointOracle(1, 2, label="a")).replace("PointOracle", "Point")
    assert repr(Key("n", "s3cr3t")) == repr(KeyOracle("n", "s3cr3t")).replace("KeyOracle", "Key")
    assert "s3cr3t" not in repr(Key("n", "s3cr3t"))


def test_a_value_holding_itself_repr_stops_there():
    point = Point(1)
    point.label = point
    oracle = PointOracle(1)
    oracle.label = oracle
    assert repr(point) == repr(oracle).replace("PointOracle", "Point") == "Point(x=1, y=0, label=...)"


def test_mutable_values_are_unhashable_and_frozen_ones_hash_by_their_fields():
    with pytest.raises(TypeError):
        hash(Point(1))
    assert hash(Key("n", "s")) == hash(Key("n", "s")) == hash(("n", "s"))
    assert len({Key("n", "s"), Key("n", "s"), Key("m")}) == 2


def test_frozen_values_refuse_assignment_and_deletion():
    key = Key("n")
    with pytest.raises(dataclasses.FrozenInstanceError, match="cannot assign to field 'name'"):
        key.name = "m"
    with pytest.raises(dataclasses.FrozenInstanceError, match="cannot delete field 'name'"):
        del key.name
    assert key.name == "n"


def test_replace_makes_a_new_value_through_init():
    point = Point(1, 2, label="a")
    moved = values.replace(point, y=5)
    assert moved == Point(1, 5, label="a") and point == Point(1, 2, label="a")
    assert values.replace(Key("n", "s"), secret="t") == Key("n", "t")
    with pytest.raises(TypeError, match="Point has no field 'z' \\(fields: x, y, label\\)"):
        values.replace(point, z=1)


def test_copy_and_pickle_keep_the_fields():
    for value in (Point(1, 2, label="a"), Key("n", "s")):
        assert copy.copy(value) == value
        assert copy.deepcopy(value) == value
        assert pickle.loads(pickle.dumps(value)) == value


# The classes that replaced dataclasses keep their fields, defaults and order (to_dict and to_json walk
# __dict__ in the order __init__ sets it: the keys of a log line and of a stored record).
def test_outcome_sets_its_fields_in_order_and_round_trips():
    out = Outcome(0, "submitted", job_id="j", attempts=2)
    assert list(vars(out)) == list(values.fields(Outcome))
    assert list(out.to_dict()) == ["Index", "Status", "JobId", "Attempts"]
    assert Outcome.from_dict(out.to_dict()) == out
    assert values.fields(Outcome)[:3] == ("index", "status", "reason") and len(values.fields(Outcome)) == 21


def test_defaults_are_fresh_for_each_value():
    a, b = Submit("A", "r", "m", "t"), Submit("A", "r", "m", "t")
    assert a.params == {} and a.params is not b.params
    j1, j2 = TrackedJob("j", "A", "r"), TrackedJob("j", "A", "r")
    assert j1.source == {} and j1.source is not j2.source
    r1, r2 = InvocationResult("x"), InvocationResult("x")
    assert r1.outcomes == [] and r1.outcomes is not r2.outcomes


def test_invocation_result_compares_without_its_encoding_cache():
    a, b = InvocationResult("r"), InvocationResult("r")
    a.add(Outcome(0, "skipped"), ({"Index": 0}, "{}"))
    b.add(Outcome(0, "skipped"))
    assert a == b and "_encoded" not in repr(a) and values.fields(InvocationResult) == ("request_id", "outcomes")


def test_records_round_trip_through_json():
    record = Record("k", "SUBMITTED", 1.0, 2.0, 1, job_id="j", message="{}")
    assert Record.from_json(record.to_json()) == record
    assert list(vars(record)) == list(values.fields(Record))
    job = TrackedJob("j", "SubmitAIImageJob", "cn-shanghai", source={"EventType": "FileUploadComplete"})
    assert TrackedJob.from_json(job.to_json()) == job


def test_dependencies_repr_shows_no_secret():
    from vodai.pipeline.dependencies import Dependencies

    deps = Dependencies(None, None, None, None, None, None, secrets=["SECRET"])
    assert "SECRET" not in repr(deps) and "secrets" not in repr(deps)


def test_credentials_and_retry_policy_are_frozen_and_hide_secrets():
    creds = Credentials("AK", "SECRET", "TOKEN")
    assert repr(creds) == "Credentials(access_key_id='AK')"
    with pytest.raises(dataclasses.FrozenInstanceError):
        creds.access_key_id = "other"
    policy = RetryPolicy()
    assert (policy.max_attempts, policy.base_delay, policy.max_delay) == (5, 0.2, 5.0)
    assert values.replace(policy, max_attempts=15) == RetryPolicy(15)
