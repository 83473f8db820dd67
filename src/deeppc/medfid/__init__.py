"""The MedFID stage: a domain feature extractor fine-tuned on radiographs, validated against distortions.

`stage` runs it (`run_training`, `run_validation`); `model` holds the network
and registers the "medfid" extractor with `deeppc.metrics.extractors` when
this package is imported, so scoring finds it by name without the metrics
layer ever importing this stage.
"""

from deeppc.medfid import model  # noqa: F401  registers the "medfid" feature extractor
