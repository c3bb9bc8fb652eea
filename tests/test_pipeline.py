import numpy as np
import pyarrow as pa
import pytest

from textmill.document import assign_keys, make_batch
from textmill.pipeline import Decision, Filter, StageOptions, apply_decisions, build_stage


def test_first_failing_reports_the_first_reason_in_priority_order():
    decision = Decision.first_failing(
        ("too_short", pa.array([True, False, True, None])),
        ("too_long", pa.array([True, True, False, False])),
    )
    assert decision.keep.tolist() == [False, False, False, True]
    assert decision.reasons.to_pylist() == ["too_short", "too_long", "too_short", None]
    assert decision.num_dropped == 3


def test_keep_all_has_no_reasons():
    decision = Decision.keep_all(2)
    assert decision.keep.tolist() == [True, True]
    assert decision.reasons.null_count == 2


def test_stage_options_reject_unknown_keys():
    with pytest.raises(Exception, match="min_word"):
        build_stage("exact_dedup", {"min_word": 3})


def test_stage_spec_round_trips_non_default_options():
    class LongEnough(Filter):
        name = "long_enough"

        class Options(StageOptions):
            min_chars: int = 3

        def measure(self, batch):
            import pyarrow.compute as pc

            return pa.table({"chars": pc.utf8_length(batch["text"])})

        def decide(self, metrics):
            import pyarrow.compute as pc

            return Decision.first_failing(("short", pc.less(metrics["chars"], 5)))

    stage = LongEnough(min_chars=5)
    assert stage.spec() == ("long_enough", {"min_chars": 5})
    batch = make_batch(["a", "b", "c"], ["hi", "hello", None])
    _, decision = stage.process(batch)
    assert decision.keep.tolist() == [False, True, True]


def test_apply_decisions_joins_on_the_key_never_on_the_id():
    batch = assign_keys(make_batch(["a", "b", "b"], ["x", "y", "z"]), 0, 0)
    decisions = pa.table(
        {
            "doc_key": pa.array([1, 2], pa.int64()),
            "id": ["b", "b"],
            "reason": pa.array(["duplicate_of=a", None], pa.string()),
            "cluster": pa.array([1, 2], pa.int64()),
        }
    )
    out, decision = apply_decisions(batch, decisions)
    assert decision.keep.tolist() == [True, False, True]
    assert decision.reasons.to_pylist() == [None, "duplicate_of=a", None]
    assert out["cluster"].to_pylist() == [None, 1, 2]
    assert out["id"].to_pylist() == ["a", "b", "b"]
    assert np.array_equal(decision.keep, np.array([True, False, True]))
