"""The compiler stand-ins the tests and benchmarks run, and launchers that run them with this
process's interpreter (never whatever python3 comes first on PATH)."""

from __future__ import annotations

import os
import shlex
import sys

TOOLS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tools")
FAKE_NEURON_CC = os.path.join(TOOLS, "fake_neuron_cc.py")
FAKE_NEURONX_CC = os.path.join(TOOLS, "fake_neuronx_cc.py")


def write_launcher(folder: str, script: str = FAKE_NEURON_CC, name: str = "neuron-cc", env: dict | None = None) -> str:
    """An executable `name` in `folder` that runs `script` with this interpreter; `folder` can
    go on PATH. `env` is set by the launcher itself, so it reaches the stand-in wherever the
    launcher runs (a Ray worker keeps the environment it started with)."""
    path = os.path.join(folder, name)
    settings = "".join(f"{k}={shlex.quote(str(v))} " for k, v in (env or {}).items())
    with open(path, "w") as f:
        f.write(f'#!/bin/sh\n{settings}exec {shlex.quote(sys.executable)} {shlex.quote(script)} "$@"\n')
    os.chmod(path, 0o755)
    return path
