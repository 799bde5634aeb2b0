"""The compiler stand-ins the tests and benchmarks run, and launchers that run them with this
process's interpreter (never whatever python3 comes first on PATH)."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time

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


def communicate_or_show_stacks(process: subprocess.Popen, timeout: float) -> tuple[str, str]:
    """`process.communicate(timeout)`; a nir process still running then is asked for its
    threads' stacks (SIGUSR1), killed with the stand-ins it started, and the test fails showing
    where it hung: an interrupt not acted on is otherwise a bare timeout."""
    try:
        return process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        signals = _signal_state(process.pid)
        process.send_signal(signal.SIGUSR1)
        time.sleep(2)
        process.kill()
        _, stderr = process.communicate()
        subprocess.run(["pkill", "-f", f"{FAKE_NEURON_CC} compile"], check=False)
        raise AssertionError(f"still running {timeout} s later ({signals}); its threads:\n{stderr[-8000:]}") from None


def _signal_state(pid: int) -> str:
    """The process's blocked, ignored and pending signal masks, as Linux shows them."""
    try:
        with open(f"/proc/{pid}/status") as f:
            return ", ".join(line.strip() for line in f if line.startswith(("SigBlk", "SigIgn", "SigPnd", "ShdPnd")))
    except OSError:
        return "signal state unknown"


def as_a_user_would_run_it() -> None:
    """preexec_fn for a nir process a test interrupts: SIGINT back to its default. A process
    started in the background by a non-interactive shell (`pytest ... &`, as a mutation run or
    a long suite is) ignores SIGINT, its children inherit that, and Python then installs no
    KeyboardInterrupt: the test's Ctrl-C would reach nothing a user's would."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
