"""Deterministic, patient-preserving train/holdout split."""

from __future__ import annotations

import pytest

from deeppc.data import split


def test_patients_never_straddle_and_fraction_is_met():
    groups = [f"p{i // 3}" for i in range(90)]  # 30 patients x 3 images
    sides = split.assign(groups, 0.2, seed=5)
    by_patient = {}
    for g, s in zip(groups, sides):
        by_patient.setdefault(g, set()).add(s)
    assert all(len(s) == 1 for s in by_patient.values())
    assert sides.count("holdout") == 18


def test_deterministic_and_seed_dependent():
    groups = [f"p{i}" for i in range(50)]
    assert split.assign(groups, 0.3, 1) == split.assign(groups, 0.3, 1)
    assert split.assign(groups, 0.3, 1) != split.assign(groups, 0.3, 2)


def test_adding_a_patient_moves_no_other_patient_into_train():
    groups = [f"p{i}" for i in range(40)]
    before = dict(zip(groups, split.assign(groups, 0.25, 3)))
    after = dict(zip(groups + ["p_new"], split.assign(groups + ["p_new"], 0.25, 3)))
    moved = [g for g in groups if before[g] != after[g]]
    assert len(moved) <= 1  # at most the boundary patient changes side


def test_uneven_groups_do_not_overshoot_badly():
    groups = ["big"] * 30 + [f"s{i}" for i in range(70)]
    sides = split.assign(groups, 0.1, seed=0)
    assert 8 <= sides.count("holdout") <= 12


def test_nested_subsets_keep_whole_patients_and_nest():
    from deeppc.data.split import nested_subset

    groups = [f"p{i // 3}" for i in range(60)] + [f"q{i}" for i in range(40)]  # 20 patients x 3, 40 singles
    kept = {f: nested_subset(groups, f, seed=7) for f in (0.1, 0.25, 0.5, 1.0)}
    for f, keep in kept.items():
        assert abs(sum(keep) - f * 100) <= 2  # within one patient of the share
        for g in set(groups):  # a patient is kept whole or not at all
            assert len({k for k, x in zip(keep, groups) if x == g}) == 1
    for small, large in ((0.1, 0.25), (0.25, 0.5), (0.5, 1.0)):
        assert all(b for a, b in zip(kept[small], kept[large]) if a)  # nested
    assert nested_subset(groups, 0.25, seed=8) != kept[0.25]  # the seed chooses the patients
    assert sum(nested_subset(groups, 0.001, seed=7)) >= 1
    with pytest.raises(ValueError, match="fraction"):
        nested_subset(groups, 0, seed=7)
