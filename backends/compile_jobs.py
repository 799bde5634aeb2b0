"""One compiler run: what a cluster's compile job is, how its process is run and stopped, and
what came of it.

This module imports neither TensorFlow nor Ray: it is what a compile-farm worker imports to run
a job, and a worker should start in milliseconds, not in TensorFlow's seconds.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass

_PR_SET_PDEATHSIG = 1
_LIBC = ctypes.CDLL(None) if sys.platform.startswith("linux") else None


@dataclass(frozen=True)
class EmittedCluster:
    """A cluster's folder in the workdir and the command that compiles it there.

    `inputs` are the files of the folder the command reads: with the command, they are the
    whole job, what the compile cache hashes and what a remote worker is sent."""

    name: str  # the NeuronOp node's name in the graph
    folder: str
    command: tuple[str, ...]
    compiler: str = "neuron-cc"
    neff_file: str = "graph_def.neff"
    log_file: str = "graph_def.neuron-cc.log"
    inputs: tuple[str, ...] = ("graph_def.pb",)

    @property
    def neff(self) -> str:
        return os.path.join(self.folder, self.neff_file)

    @property
    def log(self) -> str:
        return os.path.join(self.folder, self.log_file)


@dataclass(frozen=True)
class CompileResult:
    name: str
    folder: str
    ok: bool
    reason: str = ""
    log_file: str = "graph_def.neuron-cc.log"
    from_cache: bool = False

    @property
    def log(self) -> str:
        return os.path.join(self.folder, self.log_file)


@dataclass(frozen=True)
class ProcessOutcome:
    """How a compiler process ended: its exit code, or why it has none."""

    returncode: int | None
    timed_out: bool = False
    start_error: str = ""
    log_bytes_before_stop: int | None = None  # what the log said before nir interrupted it


def stop_process_group(process: subprocess.Popen) -> None:
    """SIGINT to the compiler and its children (neuron-cc cleans up on it), SIGKILL a second
    later if they are still there."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGINT)
        process.wait(timeout=1)
    except (subprocess.TimeoutExpired, ProcessLookupError, PermissionError):
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait()


def _die_with_parent() -> None:
    # A farm worker can be killed outright (Ray's force-cancel, an OOM kill); its compiler
    # must not live on as an orphan holding gigabytes. Runs between fork and exec, so it
    # only calls into a libc handle opened beforehand.
    _LIBC.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL))


def run_compiler(
    command: tuple[str, ...] | list[str],
    folder: str,
    log_path: str,
    timeout: float,
    started: Callable[[subprocess.Popen], None] = lambda p: None,
    finished: Callable[[subprocess.Popen], None] = lambda p: None,
    die_with_parent: bool = False,
) -> ProcessOutcome:
    """Run `command` in `folder` with its output in `log_path`; stop it after `timeout`
    seconds, and on any exception (an interrupt) before re-raising it."""
    preexec = _die_with_parent if die_with_parent and sys.platform.startswith("linux") else None
    with open(log_path, "wb") as log:
        try:
            process = subprocess.Popen(
                list(command), cwd=folder, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True, preexec_fn=preexec,
            )
        except OSError as err:
            return ProcessOutcome(None, start_error=f"could not start {command[0]}: {err}")
        started(process)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            said_so_far = os.fstat(log.fileno()).st_size
            stop_process_group(process)
            return ProcessOutcome(None, timed_out=True, log_bytes_before_stop=said_so_far)
        except BaseException:
            stop_process_group(process)
            raise
        finally:
            finished(process)
    return ProcessOutcome(process.returncode)


def last_error(log_path: str, log_bytes: int | None = None, limit: int = 300) -> str:
    """The line of a compiler's log (of its first `log_bytes`, if given) that says why it
    failed: its last error line, else its last line, so a warning names the cause without the
    user opening the log."""
    try:
        with open(log_path, "rb") as f:
            text = f.read(-1 if log_bytes is None else log_bytes).decode(errors="replace")
    except OSError:
        return ""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    errors = [line for line in lines if "ERROR" in line or "error:" in line.lower()]
    said = (errors or lines or [""])[-1]
    return said if len(said) <= limit else said[: limit - 3] + "..."


def result_of(cluster: EmittedCluster, outcome: ProcessOutcome, timeout: float) -> CompileResult:
    """What a finished run means for the cluster: compiled only with exit 0 and a NEFF."""
    if outcome.start_error:
        return CompileResult(cluster.name, cluster.folder, False, outcome.start_error, cluster.log_file)
    if outcome.timed_out:
        return _failed(cluster, f"timed out after {timeout:g} s", outcome.log_bytes_before_stop)
    if outcome.returncode != 0:
        return _failed(cluster, f"{cluster.compiler} exited with {outcome.returncode}")
    if not os.path.isfile(cluster.neff) or os.path.getsize(cluster.neff) == 0:
        return _failed(cluster, f"{cluster.compiler} wrote no NEFF")
    return CompileResult(cluster.name, cluster.folder, True, log_file=cluster.log_file)


def _failed(cluster: EmittedCluster, reason: str, log_bytes: int | None = None) -> CompileResult:
    said = last_error(cluster.log, log_bytes)
    return CompileResult(cluster.name, cluster.folder, False, f"{reason}: {said}" if said else reason, cluster.log_file)
