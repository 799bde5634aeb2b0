"""Session-scoped fixtures: the model zoo is built once per test session, lazily."""

from __future__ import annotations

import os
import shlex
import sys

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(__file__))

from zoo import BUILDERS  # noqa: E402

TOOLS = os.path.join(os.path.dirname(__file__), "tools")
FAKE_NEURON_CC = os.path.join(TOOLS, "fake_neuron_cc.py")


class Zoo:
    def __init__(self, root: str):
        self.root = root

    def __getitem__(self, name: str) -> str:
        path = os.path.join(self.root, name)
        if not os.path.exists(path):
            BUILDERS[name](path)
        return path


@pytest.fixture(scope="session")
def zoo(tmp_path_factory) -> Zoo:
    return Zoo(str(tmp_path_factory.mktemp("zoo")))


def write_launcher(folder: str, script: str = FAKE_NEURON_CC) -> str:
    """An executable `neuron-cc` in `folder` that runs `script` with this test session's
    interpreter, whatever python3 is first on PATH."""
    path = os.path.join(folder, "neuron-cc")
    with open(path, "w") as f:
        f.write(f"#!/bin/sh\nexec {shlex.quote(sys.executable)} {shlex.quote(script)} \"$@\"\n")
    os.chmod(path, 0o755)
    return path


@pytest.fixture(scope="session")
def fake_neuron_cc(tmp_path_factory) -> str:
    """The path of a `neuron-cc` that runs the stand-in; its folder can go on PATH."""
    return write_launcher(str(tmp_path_factory.mktemp("neuron-cc-bin")))


@pytest.fixture(scope="session")
def imported(zoo):
    """name -> (module text, LoadedModel), imported once per session."""
    from nir.pipeline import import_saved_model

    cache = {}

    def get(name: str, **kwargs):
        key = (name, tuple(sorted(kwargs.items())))
        if key not in cache:
            cache[key] = import_saved_model(zoo[name], **kwargs)
        return cache[key]

    return get
