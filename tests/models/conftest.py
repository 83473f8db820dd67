"""The network tests run on one torch thread, like the train-stage tests."""

from toy_runs import one_torch_thread  # noqa: F401 (autouse fixture)
