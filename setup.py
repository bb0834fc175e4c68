"""Adds the Stripe API emulator (./emulator, its own distribution) to the `dev` extra.

PEP 508 has no relative path dependencies, so the emulator's location is written here as an
absolute `file:` URL of this checkout when the metadata is built (`pip install -e '.[dev]'`
from a fresh clone anywhere). `pip install .` without extras never pulls the emulator.
"""

import tomllib
from pathlib import Path

from setuptools import setup

HERE = Path(__file__).resolve().parent
pyproject = tomllib.loads((HERE / "pyproject.toml").read_text())
extras = pyproject["tool"]["billing-sync"]["optional-dependencies"]
extras["dev"] = [*extras["dev"], f"stripe-emulator @ {(HERE / 'emulator').as_uri()}"]
setup(extras_require=extras)
