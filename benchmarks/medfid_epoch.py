"""MedFID training speed: seconds per epoch of phase 1 (frozen base) and phase 2 (top two blocks unfrozen).

Times the stage's own training step (`preprocess` of 8-bit images, augmentation,
forward, cross-entropy, backward, optimizer step) on synthetic 256×256
grayscale batches, then the validation pass, on whatever device is present.
An epoch of the paper's setting is 7 classes × 400 training images (88 steps
of 32) plus 7 × 50 validation images; the per-epoch estimate is
steps × median step time + validation time. Weights are random (speed does
not depend on their values). Prints one JSON object.

    python benchmarks/medfid_epoch.py                  # 299 px, batch 32, 10 timed steps per phase
    python benchmarks/medfid_epoch.py --quick          # 3 timed steps, 75 px on CPU: a smoke run
    python benchmarks/medfid_epoch.py --device cuda --steps 30
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time


def _args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="3 timed steps (and 75 px input on CPU)")
    p.add_argument("--device", default="auto", help="auto (CUDA if present), cpu, cuda or cuda:N")
    p.add_argument("--threads", type=int, default=2, help="CPU threads (default 2)")
    p.add_argument("--input-size", type=int, help="network input side (default 299; quick on CPU: 75)")
    p.add_argument("--image-size", type=int, default=256, help="stored image side (default 256, the study's)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--steps", type=int, help="timed steps per phase (default 10, quick 3)")
    p.add_argument("--classes", type=int, default=7)
    p.add_argument("--train-per-class", type=int, default=400)
    p.add_argument("--val-per-class", type=int, default=50)
    p.add_argument("--sgd", action="store_true", help="phase 2 with SGD (momentum 0.9) instead of RMSprop")
    return p.parse_args()


ARGS = _args()
for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_var] = str(ARGS.threads)

import numpy as np  # noqa: E402
import torch  # noqa: E402

from deeppc.medfid.model import (  # noqa: E402
    TOP_BLOCKS,
    Preprocessing,
    build,
    set_trainable,
    trainable_parameter_count,
)
from deeppc.medfid.stage import select_device  # noqa: E402
from deeppc.medfid.train import (  # noqa: E402
    PhaseSettings,
    Split,
    FinetuneSettings,
    evaluate,
    make_optimizer,
    train_epoch,
)
from synthetic import images, sync  # noqa: E402



def time_steps(net, settings: FinetuneSettings, phase: PhaseSettings, batch: Split, steps: int, device) -> list[float]:
    """Seconds of each timed training step (one batch per `train_epoch` call), after 2 warm-up steps."""
    set_trainable(net, phase.unfreeze)
    opt = make_optimizer([p for p in net.parameters() if p.requires_grad], phase)
    spec = Preprocessing(settings.input_size)
    gen = torch.Generator().manual_seed(0)
    times = []
    for i in range(steps + 2):
        sync(device)
        start = time.perf_counter()
        train_epoch(net, batch, opt, settings, spec, gen, device)
        sync(device)
        if i >= 2:
            times.append(time.perf_counter() - start)
    return times


def main() -> None:
    device = select_device(ARGS.device)
    torch.set_num_threads(ARGS.threads)
    input_size = ARGS.input_size or (75 if ARGS.quick and device.type == "cpu" else 299)
    steps = ARGS.steps or (3 if ARGS.quick else 10)
    settings = FinetuneSettings(input_size=input_size, batch_size=ARGS.batch_size, seed=0)
    net = build(ARGS.classes, weights=None, seed=0)[0].to(device)
    batch = Split(images(ARGS.batch_size, ARGS.image_size), np.arange(ARGS.batch_size) % ARGS.classes)
    val_n = ARGS.classes * ARGS.val_per_class
    val = Split(images(val_n, ARGS.image_size), np.arange(val_n) % ARGS.classes)
    steps_per_epoch = -(-ARGS.classes * ARGS.train_per_class // ARGS.batch_size)

    evaluate(net, Split(val.images[: ARGS.batch_size], val.labels[: ARGS.batch_size]), Preprocessing(input_size),
             ARGS.batch_size, device)  # warm-up  # fmt: skip
    sync(device)
    start = time.perf_counter()
    evaluate(net, val, Preprocessing(input_size), ARGS.batch_size, device)
    sync(device)
    val_seconds = time.perf_counter() - start

    phase2 = PhaseSettings(20, optimizer="sgd" if ARGS.sgd else "rmsprop", unfreeze=TOP_BLOCKS)
    result = {"device": _describe(device), "input_size": input_size, "image_size": ARGS.image_size,
              "batch_size": ARGS.batch_size, "timed_steps": steps, "steps_per_epoch": steps_per_epoch,
              "val_images": val_n, "val_seconds": round(val_seconds, 3), "torch": str(torch.__version__)}  # fmt: skip
    for name, phase in (("phase1", PhaseSettings(50)), ("phase2", phase2)):
        times = time_steps(net, settings, phase, batch, steps, device)
        step = statistics.median(times)
        result[name] = {
            "optimizer": phase.optimizer, "trainable_parameters": trainable_parameter_count(net),
            "step_seconds_median": round(step, 4), "images_per_second": round(ARGS.batch_size / step, 1),
            "epoch_seconds": round(steps_per_epoch * step + val_seconds, 2),
        }  # fmt: skip
    print(json.dumps(result, indent=2))


def _describe(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda: {torch.cuda.get_device_name(device)}"
    return f"cpu: {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"


if __name__ == "__main__":
    main()
