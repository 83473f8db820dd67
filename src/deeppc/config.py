"""Study configuration: loading and JSON-schema validation with defaults.

The same validator runs in the Snakefile (before any job) and in the
command-line tools, so a wrong key or type stops everything with a message
naming the key, and every default lives in one place: the schema.
"""

from __future__ import annotations

import copy
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from deeppc.validate import InputError

SCHEMA_FILE = "config.schema.yaml"


class ConfigError(InputError):
    """A configuration value is missing, unknown or of the wrong type."""


def schema() -> dict:
    text = resources.files("deeppc.schemas").joinpath(SCHEMA_FILE).read_text()
    return yaml.safe_load(text)


def _with_defaults(cls):
    validate_props = cls.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for key, sub in properties.items():
                if "default" in sub and key not in instance:
                    instance[key] = copy.deepcopy(sub["default"])
        yield from validate_props(validator, properties, instance, schema)

    return jsonschema.validators.extend(cls, {"properties": set_defaults})


_DefaultingValidator = _with_defaults(jsonschema.Draft202012Validator)


def _key(error: jsonschema.ValidationError) -> str:
    path = ".".join(str(p) for p in error.absolute_path)
    if error.validator == "additionalProperties":
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        path = ".".join(filter(None, [path, *extra]))
    return path or "<top level>"


# Mappings whose key order means something (experiment order sets table and figure order).
ORDERED = ("experiments",)


def validate(config: dict) -> dict:
    """Validate `config` in place (filling defaults), put its keys in canonical order, and return it.

    Raises ConfigError naming the offending key.
    """
    validator = _DefaultingValidator(schema())
    errors = sorted(validator.iter_errors(config), key=lambda e: list(e.absolute_path))
    if errors:
        lines = [f"config key '{_key(e)}': {_message(e)}" for e in errors[:10]]
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(lines))
    orders = {key: list(config[key]) for key in ORDERED if isinstance(config.get(key), dict)}
    _sort_keys(config)
    for key, order in orders.items():
        config[key] = {name: config[key][name] for name in order}
    return config


def _sort_keys(node: Any) -> None:
    """Sort every mapping's keys in place, so a config re-saved by a tool that reorders keys
    gives jobs identical params (Snakemake compares their reprs) and reruns nothing."""
    if isinstance(node, list):
        for item in node:
            _sort_keys(item)
    elif isinstance(node, dict):
        items = sorted(node.items(), key=lambda kv: str(kv[0]))
        node.clear()
        for key, value in items:
            node[key] = value
            _sort_keys(value)


def _message(error: jsonschema.ValidationError) -> str:
    if error.validator == "additionalProperties":
        return "unknown key (not in the schema; check spelling)"
    if error.validator == "oneOf" and error.absolute_path and error.absolute_path[-1] == "data":
        return "give exactly one of data.input (your folder) or data.demo (synthetic demo set)"
    return error.message


def load(path: str | Path) -> dict:
    """Read a YAML config file and validate it."""
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"config file {path} is a folder, expected a YAML file")
    try:
        config = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"config file {path} is not a text (UTF-8) YAML file") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML: {' '.join(str(exc).split())}") from None
    if not isinstance(config, dict):
        raise ConfigError(f"config file {path} must hold a mapping at the top level")
    try:
        return validate(config)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def section(config: dict, *keys: str) -> Any:
    """Return config[keys[0]][keys[1]]..., or raise ConfigError naming the key path."""
    node: Any = config
    for i, key in enumerate(keys):
        if not isinstance(node, dict) or key not in node:
            raise ConfigError(f"config key '{'.'.join(keys[: i + 1])}' is missing")
        node = node[key]
    return node
