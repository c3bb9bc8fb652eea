"""The mixing arithmetic: shares by weights, temperature and UniMax, the epoch cap, and the
whole-document seeded selection."""

import numpy as np
import pytest

from textmill.mix.sampling import (
    GroupSize,
    group_rng,
    plan_targets,
    requested_shares,
    select_documents,
)
from textmill.mix.spec import MixError, build_mix_spec

SOURCE = [{"path": "unused"}]


def sizes(**pools: int) -> dict[str, GroupSize]:
    return {
        name: GroupSize(documents=max(pool // 10, 1), pool=pool, unique=pool)
        for name, pool in pools.items()
    }


def spec(**fields):
    return build_mix_spec({"sources": SOURCE, **fields})


def test_temperature_shares_follow_the_closed_form():
    groups = sizes(a=1_000_000, b=10_000, c=100)
    shares, _ = requested_shares(groups, spec(temperature=3.0))
    raw = {name: size.pool ** (1 / 3) for name, size in groups.items()}
    for name in groups:
        assert shares[name] == pytest.approx(raw[name] / sum(raw.values()), rel=1e-12)
    # T=1 is the data's own proportions
    shares, _ = requested_shares(groups, spec(temperature=1.0))
    assert shares["a"] == pytest.approx(1_000_000 / 1_010_100)


def test_weights_that_do_not_sum_to_one_are_normalised_and_said_so():
    shares, notes = requested_shares(
        sizes(zh=5000, en=5000, code=5000), spec(weights={"zh": 800, "en": 300, "code": 100})
    )
    assert shares == pytest.approx({"zh": 800 / 1200, "en": 300 / 1200, "code": 100 / 1200})
    assert notes == ["weights sum to 1200: normalised to sum to 1"]


def test_rest_weight_is_shared_by_the_other_groups_by_their_tokens():
    shares, notes = requested_shares(
        sizes(fr=100, en=100, de=300, es=100), spec(weights={"fr": 0.33, "en": 0.33, "*": 0.34})
    )
    assert shares["de"] == pytest.approx(0.34 * 0.75)
    assert shares["es"] == pytest.approx(0.34 * 0.25)
    assert not notes


def test_groups_without_a_weight_are_left_out_and_counted_in_a_note():
    shares, notes = requested_shares(
        sizes(fr=100, en=100, de=300), spec(weights={"fr": 1, "en": 1})
    )
    assert shares["de"] == 0
    assert "left out: de (30 documents)" in notes[-1]


def test_without_a_budget_the_mixture_is_the_largest_the_data_allows():
    plans, _ = plan_targets(sizes(fr=1000, en=4000), spec(weights={"fr": 0.5, "en": 0.5}))
    assert {p.name: p.target for p in plans} == {"fr": 1000, "en": 1000}  # fr is the limit


def test_a_budget_larger_than_the_data_is_refused_saying_how_to_fix_it():
    with pytest.raises(
        MixError,
        match=r"group 'fr' needs 2,500 tokens .* holds 1,000 \(max_epochs 1\); lower the "
        r"budget to at most 2,000 or raise max_epochs to 2.50",
    ):
        plan_targets(sizes(fr=1000, en=4000), spec(weights={"fr": 0.5, "en": 0.5}, budget=5000))
    plans, _ = plan_targets(
        sizes(fr=1000, en=4000), spec(weights={"fr": 0.5, "en": 0.5}, budget=5000, max_epochs=3)
    )
    assert {p.name: p.target for p in plans} == {"fr": 2500, "en": 2500}


def test_unimax_gives_a_uniform_budget_capped_at_max_epochs_and_shares_the_rest():
    groups = sizes(small=100, mid=1000, big=10_000)
    plans, _ = plan_targets(groups, spec(unimax=True, budget=3000, max_epochs=2))
    targets = {p.name: p.target for p in plans}
    assert targets == pytest.approx({"small": 200, "mid": 1400, "big": 1400})
    plans, _ = plan_targets(groups, spec(unimax=True, budget=3000, max_epochs=1))
    assert {p.name: p.target for p in plans} == pytest.approx(
        {"small": 100, "mid": 1000, "big": 1900}
    )
    with pytest.raises(MixError, match="larger than the data allows under unimax"):
        plan_targets(groups, spec(unimax=True, budget=30_000, max_epochs=2))
    with pytest.raises(MixError, match="unimax needs a budget"):
        plan_targets(groups, spec(unimax=True))


def test_selection_takes_whole_documents_close_to_the_target_and_is_seeded():
    lengths = np.random.default_rng(0).integers(10, 200, 5000)
    copies = np.ones_like(lengths)
    picked = select_documents(lengths, copies, 100_000, group_rng(7, "fr"))
    assert picked.dtype == np.int64 and set(np.unique(picked)) <= {0, 1}
    assert abs((picked * lengths).sum() - 100_000) <= lengths.max()
    again = select_documents(lengths, copies, 100_000, group_rng(7, "fr"))
    other = select_documents(lengths, copies, 100_000, group_rng(8, "fr"))
    assert np.array_equal(picked, again) and not np.array_equal(picked, other)


def test_upsampling_repeats_whole_passes_then_part_of_one_more():
    lengths = np.full(100, 10)
    picked = select_documents(lengths, np.ones(100, np.int64), 2500, group_rng(0, "g"))
    assert picked.sum() == 250 and set(np.unique(picked)) == {2, 3}
    # rehydrate copies are one pass's repeats
    copies = np.where(np.arange(100) < 50, 3, 1)
    picked = select_documents(lengths, copies, 2000, group_rng(0, "g"))
    assert np.array_equal(picked, copies)
