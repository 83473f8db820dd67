"""Training settings have two declarations, the config schema and the dataclass: their defaults must agree."""

from __future__ import annotations

import dataclasses

from deeppc.config import schema
from deeppc.train.settings import TrainSettings


def test_schema_and_dataclass_defaults_agree():
    declared = {f.name: f for f in dataclasses.fields(TrainSettings)}
    schema_train = schema()["properties"]["train"]["properties"]
    compared = 0
    for key, spec in schema_train.items():
        if "default" not in spec or key == "replicates":  # replicates makes runs, it is no setting of one
            continue
        field = declared[key]
        default = field.default_factory() if field.default_factory is not dataclasses.MISSING else field.default
        expected = spec["default"]
        assert (list(default) if isinstance(default, tuple) else default) == expected, key
        compared += 1
    # every setting with a default in the dataclass is declared in the schema too
    with_default = {n for n, f in declared.items()
                    if f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING}
    assert with_default - {"seed"} <= set(schema_train), with_default - set(schema_train)
    assert compared >= 20
