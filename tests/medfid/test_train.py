"""Training loop: checkpoint choice on validation accuracy, exact resume after a kill."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from deeppc.medfid.resume import LoopState
from deeppc.medfid.train import PhaseSettings, Split, FinetuneSettings, train


class Killed(Exception):
    pass


def _images() -> dict[str, Split]:
    from deeppc.demo import phantom
    from deeppc.data.geometry import square_thumbnail, to_uint8
    from deeppc.seeding import rng

    def draw(part: str, i: int) -> np.ndarray:
        return to_uint8(square_thumbnail(phantom.draw(part, "AP", rng(9, part, i), (70, 60)), 64))

    images = np.stack([draw(part, i) for i in range(6) for part in ("hand", "knee")])
    labels = np.array([0, 1] * 6)
    return {"train": Split(images[:8], labels[:8]), "val": Split(images[8:], labels[8:])}


# a narrow head keeps the per-epoch state files small; the loop does not depend on the width
SETTINGS = FinetuneSettings(PhaseSettings(2), PhaseSettings(1), input_size=75, batch_size=4, hidden=64, depth=2, seed=5)


def _run(state_dir=None, on_epoch=None):
    return train(_images(), 2, SETTINGS, weights=None, device=torch.device("cpu"), state_dir=state_dir,
                 fingerprint="test", on_epoch=on_epoch)  # fmt: skip


def test_selected_epoch_has_the_best_validation_accuracy_and_resume_is_exact(tmp_path):
    straight = _run()
    history = straight.history
    assert [(r["phase"], r["epoch"]) for r in history] == [(1, 1), (1, 2), (2, 1)]
    best = max(r["val_accuracy"] for r in history)
    first_best = next(r for r in history if r["val_accuracy"] == best)
    assert (straight.selected.phase, straight.selected.epoch) == (first_best["phase"], first_best["epoch"])
    assert straight.phase_best[1].accuracy == max(r["val_accuracy"] for r in history if r["phase"] == 1)

    with pytest.raises(Killed):
        _run(tmp_path, _kill_after_first_epoch)
    assert (tmp_path / "resume.pt").is_file()
    resumed = _run(tmp_path)
    strip = [{k: v for k, v in r.items() if k != "seconds"} for r in history]
    assert [{k: v for k, v in r.items() if k != "seconds"} for r in resumed.history] == strip
    a, b = straight.net.state_dict(), resumed.net.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a), "resumed run differs from the uninterrupted one"
    assert resumed.backbone_init == straight.backbone_init
    assert sorted(p.name for p in tmp_path.glob("best-*.pt")) == sorted(
        f"best-phase{b.phase}-epoch{b.epoch}.pt" for b in resumed.phase_best.values() if b.state is not None
    )


def _kill_after_first_epoch(row: dict) -> None:
    if (row["phase"], row["epoch"]) == (1, 1):
        raise Killed


def test_state_of_other_data_or_settings_is_not_resumed(tmp_path):
    torch.save({"fingerprint": "other", "phase": 2, "epoch": 1}, tmp_path / "resume.pt")
    state = LoopState.start(tmp_path, "this run", seed=1)
    assert (state.phase, state.epoch, state.history, state.model_state) == (1, 0, [], None)
