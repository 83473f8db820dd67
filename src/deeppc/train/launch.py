"""A training run on several processes: torchrun starts one rank per GPU, each runs the train stage.

``launch`` is what the train stage does for a run with ``gpus`` > 1 when it is
not itself one of torchrun's ranks: it writes the run's settings and inputs
next to the run folder, starts ``python -m torch.distributed.run --standalone
--nproc_per_node N -m deeppc.train.launch SPEC`` and waits. A SIGTERM or
SIGINT it receives (a scheduler's warning before the time limit) goes on to
torchrun, which passes it to every rank; the ranks save the resume state at
the same iteration, and the exit code is the signal's, as for one process,
so the workflow's retry resumes the run. ``main`` is a rank's entry point.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Mapping

from deeppc import files

FORWARDED = (signal.SIGTERM, signal.SIGINT)


def launch(params: Mapping, run: str, folders: list[Path], out: Path, device: str, threads: int | None,
           processes: int, manifest: Path | None = None) -> int:
    """Run `run` (settings `params`, see TrainSettings.to_dict) on `processes` torchrun ranks; the exit code."""
    spec = out.with_name(f".{out.name}.launch.json")
    files.write_json(spec, {"params": dict(params), "run": run, "folders": [str(f) for f in folders],
                            "out": str(out), "device": device, "manifest": str(manifest) if manifest else None,
                            "threads": max(1, (threads or processes) // processes)})  # fmt: skip
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}",
               "-m", "deeppc.train.launch", str(spec)]  # fmt: skip
    received: list[int] = []
    process = subprocess.Popen(command)

    def forward(signum: int, _frame: object) -> None:
        received.append(signum)
        process.send_signal(signum)

    previous = {s: signal.signal(s, forward) for s in FORWARDED}
    try:
        code = process.wait()
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        spec.unlink(missing_ok=True)
    # torchrun reports a forwarded signal as a failure (1); answer like a one-process run interrupted by it
    return 128 + received[0] if received and code != 0 else code


def main(argv: list[str]) -> int:
    """One rank: read the launch spec and train (the rank, world size and rendezvous come from torchrun)."""
    from deeppc.train.settings import from_params
    from deeppc.train.stage import train_experiment

    spec = json.loads(Path(argv[0]).read_text())
    settings = from_params(spec["params"], spec["run"])
    folders = [Path(f) for f in spec["folders"]]
    data = dict(zip(settings.classes, folders)) if settings.classes else folders[0]
    manifest = Path(spec["manifest"]) if spec.get("manifest") else None
    return train_experiment(settings, data, Path(spec["out"]), spec["device"], spec["threads"], manifest)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
