"""The config's `medfid:` section: its JSON-schema fragment, loading with defaults, weights lookup.

`SCHEMA_FRAGMENT` is meant to become `properties.medfid` of
`deeppc/schemas/config.schema.yaml`. Until it is there, `load_config`
validates the `medfid`, `weights` and `data` sections on their own (filling
defaults the same way `deeppc.config` does) and leaves other sections alone;
once it is there, `load_config` is `deeppc.config.load`.
"""

from __future__ import annotations

from pathlib import Path
import yaml

from deeppc import config as deeppc_config
from deeppc.metrics import weights as weight_files

SCHEMA_FRAGMENT_YAML = """
type: object
additionalProperties: false
default: {}
description: >
  The medfid stage (paper, appendix A): InceptionV3 fine-tuned to classify the
  body part of public radiographs; its dense_3 features give MedFID. Validated
  by distortion sweeps (appendix A.7).
properties:
  sources:
    type: array
    default: []
    description: >
      Labelled radiograph datasets. A relative root is resolved against the --data
      folder of `deeppc medfid train` (default: the working directory).
    items:
      type: object
      additionalProperties: false
      required: [layout, root]
      properties:
        layout: {type: string, enum: [mura, lera, folders]}
        root: {type: string}
  demo:
    type: [object, "null"]
    default: null
    additionalProperties: false
    description: >
      Demo only: phantom radiographs of six body parts written in MURA-v1.1 and LERA
      layout (`deeppc medfid demo-data`) and used as sources MURA-v1.1 and LERA.
    properties:
      per_class: {type: integer, minimum: 4, default: 72}
      size: {type: integer, minimum: 32, default: 96}
      seed: {type: integer, default: 11}
  classes:
    type: object
    minProperties: 2
    additionalProperties: {type: array, items: {type: string}, minItems: 1}
    default:
      elbow: [elbow]
      forearm: [forearm]
      hand: [hand]
      humerus: [humerus]
      shoulder: [shoulder]
      foot_ankle: [foot, ankle]
      knee: [knee]
    description: >
      Class name -> body-part labels it takes (normalised: XR_ELBOW -> elbow,
      "XR FOOT" -> foot). Labels no class takes (finger, wrist, hip) are dropped.
  sampling:
    type: object
    additionalProperties: false
    default: {}
    description: Images per class and split; patients never cross splits.
    properties:
      train_per_class: {type: integer, minimum: 1, default: 400}
      val_per_class: {type: integer, minimum: 1, default: 50}
      test_per_class: {type: integer, minimum: 1, default: 100}
  image_size:
    type: [integer, "null"]
    minimum: 16
    default: null
    description: Square size training images are stored at before the network's resize; null = data.image_size.
  input_size: {type: integer, minimum: 75, default: 299, description: network input side (torchvision InceptionV3 needs >= 75)}
  batch_size: {type: integer, minimum: 2, default: 32}
  augment:
    type: object
    additionalProperties: false
    default: {}
    properties:
      hflip: {type: boolean, default: true}
      shift: {type: number, minimum: 0, maximum: 0.5, default: 0.1, description: largest shift, fraction of the side}
  phase1:
    type: object
    additionalProperties: false
    default: {}
    description: Frozen InceptionV3 base, dense head trained.
    properties:
      epochs: {type: integer, minimum: 1, default: 50}
      optimizer: {type: string, enum: [rmsprop, sgd], default: rmsprop}
      lr: {type: number, exclusiveMinimum: 0, default: 1.0e-4}
      momentum: {type: number, minimum: 0, maximum: 1, default: 0.9, description: SGD only}
  phase2:
    type: object
    additionalProperties: false
    default: {}
    description: >
      Top inception blocks unfrozen too. The paper's text says RMSprop; its code used SGD
      (lr 1e-4, momentum 0.9).
    properties:
      epochs: {type: integer, minimum: 0, default: 20}
      optimizer: {type: string, enum: [rmsprop, sgd], default: rmsprop}
      lr: {type: number, exclusiveMinimum: 0, default: 1.0e-4}
      momentum: {type: number, minimum: 0, maximum: 1, default: 0.9}
      unfreeze:
        type: array
        items: {type: string}
        default: [Mixed_7b, Mixed_7c]
        description: torchvision block names (Keras mixed9, mixed10)
  weights:
    type: string
    default: imagenet_inception_v3
    description: >
      Key of the weights section naming torchvision's ImageNet InceptionV3 state dict
      (inception_v3_google-0cc3c7bd.pth). random_init there trains from a random base
      (demo and tests; every output then says it is not comparable to published MedFID).
  device: {type: string, default: auto}
  validation:
    type: object
    additionalProperties: false
    default: {}
    properties:
      max_images: {type: integer, minimum: 2, default: 500, description: seeded subset of the real images}
      fid: {type: boolean, default: true, description: also sweep FID (weights.inception)}
      noise_sd: {type: number, minimum: 0, default: 0.1}
      blocks_per_image: {type: integer, minimum: 1, default: 5}
      levels:
        type: object
        additionalProperties: false
        default: {}
        properties:
          blur:
            type: array
            items: {type: integer, minimum: 0}
            minItems: 3
            default: [0, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31, 33, 35, 37, 39, 41, 43, 45, 47, 49]
            description: Gaussian kernel sizes (odd; 0 = none)
          noise:
            type: array
            items: {type: number}
            minItems: 3
            default: [0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 1.0]
            description: noise means on the [0, 1] pixel scale
          salt_pepper:
            type: array
            items: {type: number, minimum: 0, maximum: 1}
            minItems: 3
            default: [0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9]
          blocks:
            type: array
            items: {type: number, minimum: 0, maximum: 1}
            minItems: 3
            default: [0, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3]
            description: largest box area, fraction of the image
"""
SCHEMA_FRAGMENT: dict = yaml.safe_load(SCHEMA_FRAGMENT_YAML)


def load_config(path: str | Path) -> dict:
    """The study config with `medfid`, `weights` and `data` validated and defaulted."""
    main = deeppc_config.schema()
    if "medfid" in main["properties"]:
        return deeppc_config.load(path)
    try:
        config = yaml.safe_load(Path(path).read_text()) or {}
    except FileNotFoundError:
        raise deeppc_config.ConfigError(f"config file not found: {path}") from None
    except yaml.YAMLError as exc:
        raise deeppc_config.ConfigError(f"config file {path} is not valid YAML: {exc}") from None
    if not isinstance(config, dict):
        raise deeppc_config.ConfigError(f"config file {path} must hold a mapping at the top level")
    config.setdefault("medfid", {})
    props = {key: main["properties"][key] for key in ("seed", "results", "weights", "data")}
    partial = {**main, "required": [], "additionalProperties": True, "properties": {**props, "medfid": SCHEMA_FRAGMENT}}
    validator = deeppc_config._DefaultingValidator(partial)  # the same default-filling validation as the schema's
    errors = sorted(validator.iter_errors(config), key=lambda e: list(e.absolute_path))
    if errors:
        lines = [f"config key '{'.'.join(map(str, e.absolute_path)) or '<top>'}': {e.message}" for e in errors[:10]]
        raise deeppc_config.ConfigError("invalid configuration:\n  " + "\n  ".join(lines))
    config.setdefault("data", {}).setdefault("image_size", main["properties"]["data"]["properties"]["image_size"]["default"])
    return config


def image_size(config: dict) -> int:
    """Stored training-image size: medfid.image_size, else the GAN data's size."""
    return int(config["medfid"].get("image_size") or config["data"]["image_size"])


def imagenet_weights(config: dict) -> Path | None:
    """The ImageNet InceptionV3 weights file, or None when the config asks for a random base."""
    key = config["medfid"]["weights"]
    entry = (config.get("weights") or {}).get(key) or {}
    if entry.get("random_init"):
        return None
    return weight_files.resolve(config.get("weights") or {}, key)


def fid_weights(config: dict) -> Path | None:
    """The FID Inception weights for the validation sweep, or None for random ones (weights.inception)."""
    entry = (config.get("weights") or {}).get("inception") or {}
    if entry.get("random_init"):
        return None
    return weight_files.resolve(config.get("weights") or {}, "inception")
