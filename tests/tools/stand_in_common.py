"""What nir's compiler stand-ins share: TensorFlow's generated protobuf modules without
TensorFlow's start-up, and the misbehaviour FAKE_NEURON_CC_MODE asks for."""

from __future__ import annotations

import importlib
import importlib.util
import os
import signal
import sys
import time
import types


def tensorflow_proto_module(name: str):
    """`tensorflow.<name>` (a generated *_pb2 module) without running tensorflow/__init__,
    which takes seconds; the protobuf modules need only protobuf."""
    if "tensorflow" not in sys.modules:
        spec = importlib.util.find_spec("tensorflow")
        package = types.ModuleType("tensorflow")
        package.__path__ = list(spec.submodule_search_locations)
        sys.modules["tensorflow"] = package
    return importlib.import_module(f"tensorflow.{name}")


VERSION = "1.0.0 (nir test stand-in)"


def version(program: str) -> int:
    """`--version`, as the compile cache asks it; FAKE_NEURON_CC_VERSION changes the answer."""
    print(f"{program} {os.environ.get('FAKE_NEURON_CC_VERSION', VERSION)}")
    return 0


def record_call(program: str) -> None:
    """One line per compile in FAKE_NEURON_CC_CALL_LOG, if set, so tests can count runs."""
    path = os.environ.get("FAKE_NEURON_CC_CALL_LOG")
    if path:
        with open(path, "a") as f:
            f.write(f"{program} {os.getcwd()} {time.time():.6f}\n")


def finish(program: str, output: str, neff: bytes, checked: str) -> int:
    """Write the NEFF, unless FAKE_NEURON_CC_MODE=fail|hang|crash|kill-parent|no-neff asks otherwise; every
    outcome says so in the log. FAKE_NEURON_CC_SLEEP=SECONDS makes a compile take that long,
    as a real one takes minutes."""
    mode = os.environ.get("FAKE_NEURON_CC_MODE", "ok")
    print(f"{program} compile: checked {checked}", flush=True)
    record_call(program)
    if float(os.environ.get("FAKE_NEURON_CC_SLEEP", "0")) > 0:
        time.sleep(float(os.environ["FAKE_NEURON_CC_SLEEP"]))
    if mode == "fail":
        print("ERROR: failing as FAKE_NEURON_CC_MODE=fail asks", file=sys.stderr, flush=True)
        return 1
    if mode == "hang":
        print(f"{program} compile: hanging as FAKE_NEURON_CC_MODE=hang asks", flush=True)
        time.sleep(3600)
    if mode == "crash":
        print(f"{program} compile: aborting as FAKE_NEURON_CC_MODE=crash asks", flush=True)
        os.abort()
    if mode == "kill-parent":
        # The process that ran the compile dies (the OOM killer taking a Ray worker); a compiler
        # started to die with its parent goes with it, any other is left hanging, an orphan.
        print(f"{program} compile: killing its parent as FAKE_NEURON_CC_MODE=kill-parent asks", flush=True)
        os.kill(os.getppid(), signal.SIGKILL)
        time.sleep(3600)
    if mode == "no-neff":
        print(f"{program} compile: writing no NEFF as FAKE_NEURON_CC_MODE=no-neff asks", flush=True)
        return 0
    with open(output, "wb") as f:
        f.write(neff)
    print(f"{program} compile: wrote {os.path.abspath(output)} at {time.time():.6f}", flush=True)
    return 0
