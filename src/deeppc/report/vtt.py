"""Visual Turing test kit: a blinded, shuffled set of real and generated images.

`make_kit` draws K real images and K images of each generator (seeded), gives
each a random id, re-encodes every image the same way (8-bit grayscale PNG,
no metadata, one size) so file properties cannot tell real from generated,
and writes:

    OUT/sheet/sheet.html            printable answer sheet (hand this out)
    OUT/sheet/images/{id}.png       the images, named by id only
    OUT/sheet/answers_template.csv  image_id, answer, rating: one row per image
    OUT/key.csv                     the answer key: keep it away from raters
    OUT/manifest.json               seed, sources, counts (names no image's truth)

Everything a rater receives lies under OUT/sheet; the key sits beside it,
never referenced by it. Scoring is in `deeppc.report.vtt_score`.
"""

from __future__ import annotations

import io
import logging
import os
from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd
from PIL import Image

from deeppc import __version__
from deeppc.data.imageset import list_images, open_gray
from deeppc.files import atomic_folder, moved, sha256_bytes, write_bytes, write_json
from deeppc.models.checkpoint import write_samples
from deeppc.report.vtt_sheet import render_sheet
from deeppc.seeding import derive_seed, rng
from deeppc.stats.tables import write_csv
from deeppc.validate import InputError

log = logging.getLogger(__name__)

REAL, FAKE = "real", "fake"
KEY_COLUMNS = ["position", "image_id", "truth", "model", "source"]
# no 0/O, 1/l/I: ids are copied by hand from paper sheets
ID_ALPHABET = np.array(list("abcdefghjkmnpqrstuvwxyz23456789"))
ID_LENGTH = 6


class VTTError(InputError):
    """The kit cannot be made or scored as asked."""


def _draw(folder: str | os.PathLike, k: int, generator: np.random.Generator, what: str) -> list[Path]:
    paths = list_images(folder)
    if len(paths) < k:
        raise VTTError(f"{what} folder {folder} has {len(paths)} PNG image(s); -k {k} needs at least {k}")
    picked = generator.choice(len(paths), size=k, replace=False)
    return [paths[i] for i in sorted(picked)]


def _ids(n: int, generator: np.random.Generator) -> list[str]:
    ids: list[str] = []
    while len(ids) < n:
        candidate = "".join(generator.choice(ID_ALPHABET, ID_LENGTH))
        if candidate not in ids:
            ids.append(candidate)
    return ids


def _encode(path: Path, size: int | None) -> tuple[bytes, tuple[int, int]]:
    im = open_gray(path)
    if size is not None and im.size != (size, size):
        im = im.resize((size, size), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    im.save(buffer, format="PNG", optimize=False)
    return buffer.getvalue(), im.size


def _parse_fakes(fake: Mapping[str, str | os.PathLike] | str | os.PathLike) -> dict[str, str | os.PathLike]:
    if isinstance(fake, Mapping):
        if not fake:
            raise VTTError("no generated-image folder given")
        for model in fake:
            if not model or model == REAL or "," in model:
                raise VTTError(f"model name {model!r} is not allowed (empty, 'real' or with a comma)")
        return dict(fake)
    return {"generated": fake}


def kit_iterations(best_csv: Path, metric: str, vtt: Mapping) -> dict[str, int]:
    """The checkpoint each of vtt.models is sampled at: vtt.iteration, or ('best') the stats stage's best."""
    best = pd.read_csv(best_csv)
    best = best[best.metric == metric].set_index("experiment")["best_iteration"]
    return {m: int(best[m]) if vtt["iteration"] == "best" else int(vtt["iteration"]) for m in vtt["models"]}


def study_kit(checkpoints: Mapping[str, Mapping[int, str | os.PathLike]], best_csv: Path, metric: str,
              vtt: Mapping, holdout: Path, out: Path, seed: int, batch_size: int = 64) -> dict[str, str]:  # fmt: skip
    """The study's kit (rule vtt_kit): each of vtt.models sampled at vtt.iteration ('best': the stats stage's
    best checkpoint by `metric`), K images each, against K held-out real images."""
    fakes = {}
    for model, iteration in kit_iterations(best_csv, metric, vtt).items():
        ckpt = {int(k): v for k, v in checkpoints[model].items()}.get(iteration)
        if ckpt is None:
            raise InputError(f"config key 'vtt.iteration': {model} has no kept checkpoint at iteration {iteration}")
        log.info("%s: sampling checkpoint %s", model, ckpt)
        fakes[model] = Path(out) / "generated" / model
        write_samples(ckpt, vtt["k"], derive_seed(seed, "vtt", model, iteration), fakes[model], batch_size=batch_size)
    return make_kit(holdout, fakes, vtt["k"], Path(out) / "kit", derive_seed(seed, "vtt"),
                    size=vtt["size"], embed=vtt["embed"])  # fmt: skip


def make_kit(
    real: str | os.PathLike,
    fake: Mapping[str, str | os.PathLike] | str | os.PathLike,
    k: int,
    out: str | os.PathLike,
    seed: int,
    size: int | None = None,
    embed: bool = True,
    title: str = "Visual Turing test",
) -> dict[str, str]:
    """Draw K real and K generated images per model into a blinded kit; returns name -> path.

    `fake` is one folder or {model name: folder} for a multi-model test.
    With `embed` the sheet carries the images inline (one self-contained file);
    the PNGs are written alongside either way.
    """
    if k < 1:
        raise VTTError(f"-k must be at least 1, got {k}")
    fakes = _parse_fakes(fake)
    drawn = [(REAL, "", p) for p in _draw(real, k, rng(seed, "vtt", "real"), "real")]
    for model in sorted(fakes):
        drawn += [(FAKE, model, p) for p in _draw(fakes[model], k, rng(seed, "vtt", "fake", model), model)]
    order = rng(seed, "vtt", "order").permutation(len(drawn))
    ids = _ids(len(drawn), rng(seed, "vtt", "ids"))
    out = Path(out)
    images, sizes, rows = [], {}, []
    for position, (index, image_id) in enumerate(zip(order, ids), start=1):
        truth, model, source = drawn[index]
        data, shape = _encode(source, size)
        sizes.setdefault(shape, source)
        images.append((position, image_id, data))
        rows.append({"position": position, "image_id": image_id, "truth": truth, "model": model,
                     "source": os.fspath(source)})
    if len(sizes) > 1:
        (a, first), (b, other) = sorted(sizes.items(), key=lambda item: str(item[1]))[:2]
        raise VTTError(f"images differ in size ({first} is {a[0]}x{a[1]}, {other} is {b[0]}x{b[1]}), which would "
                       "tell real from generated; pass size to resize all of them")
    info = {"seed": seed, "k": k, "real": os.fspath(real), "models": {m: os.fspath(p) for m, p in fakes.items()},
            "size": size, "image_size": list(next(iter(sizes)))}
    with atomic_folder(out) as build:  # the whole kit or nothing
        paths = _write_kit(build, images, pd.DataFrame(rows, columns=KEY_COLUMNS), embed, title, info)
    return moved(paths, build, out)


def _write_kit(out: Path, images, key: pd.DataFrame, embed: bool, title: str, info: dict) -> dict[str, str]:
    sheet_dir = out / "sheet"
    for _, image_id, data in images:
        write_bytes(sheet_dir / "images" / f"{image_id}.png", data)
    html = render_sheet(images, title=title, embed=embed)
    write_bytes(sheet_dir / "sheet.html", html.encode())
    template = pd.DataFrame({"image_id": [i for _, i, _ in images], "answer": "", "rating": ""})
    paths = {
        "sheet": os.fspath(sheet_dir / "sheet.html"),
        "images": os.fspath(sheet_dir / "images"),
        "template": write_csv(template, sheet_dir / "answers_template.csv"),
        "key": write_csv(key, out / "key.csv"),
    }
    manifest = info | {"n_images": len(images), "deeppc_version": __version__,
                       "sheet_sha256": sha256_bytes(html.encode())}
    write_json(out / "manifest.json", manifest)
    paths["manifest"] = os.fspath(out / "manifest.json")
    return paths
