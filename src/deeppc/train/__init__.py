"""The train stage: GAN training loops with checkpoints, samples, loss logs and exact resume.

An iteration is one discriminator/critic minibatch update (docs/contracts.md).
Entry point: `stage.train_experiment` (the workflow's rule and `deeppc train`).
"""

from deeppc.train.losses import GANLoss, PhaseContext, build_loss, gradient_penalty, register_loss
from deeppc.train.losslog import Diverged
from deeppc.train.loop import Trainer, run
from deeppc.train.rundir import RunPaths
from deeppc.train.settings import TrainSettings, from_config, from_params
from deeppc.train.signals import Interrupted
from deeppc.train.stage import EXIT_DIVERGED, train_experiment
from deeppc.train.stylegan2_loss import StyleGAN2Loss  # registers the stylegan2 family's loss

__all__ = [
    "EXIT_DIVERGED",
    "Diverged",
    "GANLoss",
    "Interrupted",
    "PhaseContext",
    "RunPaths",
    "StyleGAN2Loss",
    "TrainSettings",
    "Trainer",
    "build_loss",
    "from_config",
    "from_params",
    "gradient_penalty",
    "register_loss",
    "run",
    "train_experiment",
]
