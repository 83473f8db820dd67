"""FID feature extraction: deeppc's Inception extractor against torch-fidelity's, same images and device.

torch-fidelity's `FeatureExtractorInceptionV3` runs as torch-fidelity runs it
(uint8 RGB batches, the grayscale image repeated to 3 channels, under
`torch.no_grad`). deeppc runs `preprocess` + `features` on the grayscale
batches. Both load the same weights file; by default a randomly initialised
one (speed does not depend on the weight values), or --weights for the real
file. Prints images/s, the ratio, and the largest feature difference.

On CUDA torch-fidelity is timed twice: with PyTorch's default TF32
convolutions (faster, but features differ by ~1e-3) and with TF32 off, which
is what deeppc uses so that GPU and CPU features agree to float32 rounding.

    python benchmarks/features.py                   # 64 images of 256×256 on CPU, 2 threads
    python benchmarks/features.py --quick           # 8 images: a smoke run
    python benchmarks/features.py --device cuda --images 512 --batch-size 64
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path


def _args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="small smoke run")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=2, help="CPU threads (default 2)")
    p.add_argument("--images", type=int, help="number of images (default 64, quick 8)")
    p.add_argument("--size", type=int, default=256, help="image side in pixels (default 256, the study's size)")
    p.add_argument("--batch-size", type=int, help="batch size (default 16, quick 4)")
    p.add_argument("--reps", type=int, help="timed passes over all images, median kept (default 3, quick 1)")
    p.add_argument("--weights", help="Inception weights file (default: random weights in a temporary file)")
    return p.parse_args()


ARGS = _args()
for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_var] = str(ARGS.threads)

import numpy as np  # noqa: E402
import torch  # noqa: E402

from deeppc.metrics.extractors import extract_features  # noqa: E402
from deeppc.metrics.inception import InceptionExtractor, load_reference, save_random_weights  # noqa: E402
from synthetic import images, sync  # noqa: E402



def torch_fidelity_features(model, data: np.ndarray, batch_size: int, device: torch.device) -> np.ndarray:
    out = []
    with torch.no_grad():
        for start in range(0, len(data), batch_size):
            batch = torch.from_numpy(data[start : start + batch_size]).unsqueeze(1).repeat(1, 3, 1, 1)
            out.append(model(batch.to(device))[0].double().cpu().numpy())
    return np.concatenate(out)


def rate(fn, n: int, reps: int, device: torch.device) -> tuple[float, np.ndarray]:
    """Median images/s over `reps` passes, after one untimed warm-up pass."""
    result = fn()
    rates = []
    for _ in range(reps):
        sync(device)
        start = time.perf_counter()
        result = fn()
        sync(device)
        rates.append(n / (time.perf_counter() - start))
    return statistics.median(rates), result


def main() -> int:
    torch.set_num_threads(ARGS.threads)
    device = torch.device(ARGS.device)
    n = ARGS.images or (8 if ARGS.quick else 64)
    batch_size = ARGS.batch_size or (4 if ARGS.quick else 16)
    reps = ARGS.reps or (1 if ARGS.quick else 3)
    data = images(n, ARGS.size)
    with tempfile.TemporaryDirectory() as tmp:
        weights = Path(ARGS.weights) if ARGS.weights else save_random_weights(Path(tmp) / "random.pth")
        ours = InceptionExtractor(weights, str(device))
        reference = load_reference(weights).to(device)
    print(f"device={device} threads={ARGS.threads} images={n}x{ARGS.size}^2 batch={batch_size} reps={reps} "
          f"torch={torch.__version__} weights={'given' if ARGS.weights else 'random'}")  # fmt: skip
    rate_ours, f_ours = rate(lambda: extract_features(ours, data, batch_size), n, reps, device)
    runs = [("torch-fidelity", None)]
    if device.type == "cuda":
        runs = [("torch-fidelity (TF32)", True), ("torch-fidelity (no TF32)", False)]
    print(f"{'deeppc':<26} {rate_ours:8.2f} img/s")
    for label, tf32 in runs:
        if tf32 is not None:
            torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = tf32
        rate_ref, f_ref = rate(lambda: torch_fidelity_features(reference, data, batch_size, device), n, reps, device)
        diff = np.abs(f_ours - f_ref).max()
        print(f"{label:<26} {rate_ref:8.2f} img/s   deeppc speedup {rate_ours / rate_ref:5.2f}x   "
              f"max |feature diff| {diff:.2e} (features up to {np.abs(f_ref).max():.1f})")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
