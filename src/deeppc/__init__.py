"""deeppc: reproducible evaluation of GANs on small X-ray datasets."""

__version__ = "0.1.0"
