"""Utility-stage classifier training: deeppc's loop against a plain torchvision training loop, same data and network.

Both train torchvision's ResNet-18 on one channel (random initialisation;
speed does not depend on the weights) with AdamW, cross-entropy and the same
batch size, for the same number of steps, on the same uint8 images:

* deeppc: `deeppc.utility.fit.fit` (images converted once to a tensor, a
  seeded permutation per pass, validation every `eval_every` steps, the best
  state kept);
* torchvision, as its tutorials train: a Dataset of PIL images with
  `transforms.ToTensor()` + `Normalize`, a shuffling `DataLoader`
  (`num_workers=0`: the same two cores), the same validation schedule.

The two alternate for `--rounds` rounds; the medians of training images per
second and their ratio are printed.

    python benchmarks/classifier.py                 # 64 px, 320 images, 60 steps of 32, 2 threads
    python benchmarks/classifier.py --quick         # a smoke run
    python benchmarks/classifier.py --size 256 --device cuda --steps 200
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time


def _args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--size", type=int, default=64, help="image side (default 64)")
    p.add_argument("--images", type=int, default=320)
    p.add_argument("--steps", type=int, help="training steps per run (default 60, quick 6)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--eval-every", type=int, default=20)
    p.add_argument("--rounds", type=int, help="alternating rounds (default 3, quick 1)")
    return p.parse_args()


ARGS = _args()
for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_var] = str(ARGS.threads)

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from PIL import Image  # noqa: E402
from torchvision import transforms  # noqa: E402

from deeppc.utility.fit import FitSettings, fit  # noqa: E402
from deeppc.utility.networks import resnet18  # noqa: E402
from deeppc.utility.task import LabelledImages  # noqa: E402
from synthetic import images, sync  # noqa: E402


class PILDataset(torch.utils.data.Dataset):
    """Images as PIL, transformed per item: the usual torchvision pipeline."""

    def __init__(self, data: np.ndarray, labels: np.ndarray) -> None:
        self.pil = [Image.fromarray(a) for a in data]
        self.labels = labels
        self.transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize([0.5], [0.5])])

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):
        return self.transform(self.pil[i]), int(self.labels[i])


def torchvision_loop(train: PILDataset, val: PILDataset, steps: int, device: torch.device) -> None:
    torch.manual_seed(0)
    model = resnet18(2).to(device).train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-4)
    loader = torch.utils.data.DataLoader(train, batch_size=ARGS.batch_size, shuffle=True, drop_last=True)
    val_loader = torch.utils.data.DataLoader(val, batch_size=256)
    step, best = 0, float("inf")
    while step < steps:
        for x, y in loader:
            loss = F.cross_entropy(model(x.to(device)), y.to(device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            if step % ARGS.eval_every == 0 or step == steps:
                model.eval()
                with torch.no_grad():
                    total = sum(F.cross_entropy(model(vx.to(device)), vy.to(device), reduction="sum").item()
                                for vx, vy in val_loader)  # fmt: skip
                model.train()
                best = min(best, total / len(val))
            if step == steps:
                break


def timed(fn, n: int, device: torch.device) -> float:
    sync(device)
    start = time.perf_counter()
    fn()
    sync(device)
    return n / (time.perf_counter() - start)


def main() -> int:
    torch.set_num_threads(ARGS.threads)
    device = torch.device(ARGS.device)
    steps = ARGS.steps or (6 if ARGS.quick else 60)
    rounds = ARGS.rounds or (1 if ARGS.quick else 3)
    data = images(ARGS.images, ARGS.size)
    labels = np.arange(ARGS.images) % 2
    groups = np.array([f"p{i}" for i in range(ARGS.images)], dtype=object)
    n_val = ARGS.images // 5
    train = LabelledImages(data[n_val:], labels[n_val:], groups[n_val:], ("a", "b"))
    val = LabelledImages(data[:n_val], labels[:n_val], groups[:n_val], ("a", "b"))
    settings = FitSettings(network="resnet18", steps=steps, batch_size=ARGS.batch_size, eval_every=ARGS.eval_every,
                           patience=10**6, device=str(device))  # fmt: skip
    pil_train, pil_val = PILDataset(train.images, train.labels), PILDataset(val.images, val.labels)
    n = steps * ARGS.batch_size
    print(f"device={device} threads={ARGS.threads} images={len(train)}x{ARGS.size}^2 batch={ARGS.batch_size} "
          f"steps={steps} eval_every={ARGS.eval_every} rounds={rounds} torch={torch.__version__}")  # fmt: skip
    ours, theirs = [], []
    for _ in range(rounds):
        ours.append(timed(lambda: fit(train, val, settings, seed=0), n, device))
        theirs.append(timed(lambda: torchvision_loop(pil_train, pil_val, steps, device), n, device))
    a, b = statistics.median(ours), statistics.median(theirs)
    print(f"deeppc fit            {a:8.1f} training images/s   (rounds: {', '.join(f'{v:.1f}' for v in ours)})")
    print(f"torchvision loop      {b:8.1f} training images/s   (rounds: {', '.join(f'{v:.1f}' for v in theirs)})")
    print(f"ratio deeppc / torchvision: {a / b:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
