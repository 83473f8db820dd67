"""`deeppc` commands of the stats group (filled in by the stats work)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    """Add this group's subcommands to the `deeppc` parser."""
