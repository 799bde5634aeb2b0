"""The neuron-cc driver: compile every emitted cluster, in parallel, with a timeout.

Pool size follows the original: min(CPU count, available memory / 4 GB), at least one, unless
`max_num_compilers` says otherwise. A compile that outlives `timeout` gets SIGINT, then SIGKILL
a second later, and counts as a failure. Ctrl-C kills every running neuron-cc.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from backends.inferentia.emit import EmittedCluster

logger = logging.getLogger("nir")
LOG_FILE = "graph_def.neuron-cc.log"
NEFF_FILE = "graph_def.neff"


@dataclass(frozen=True)
class CompileResult:
    name: str
    folder: str
    ok: bool
    reason: str = ""
    log_file: str = LOG_FILE

    @property
    def log(self) -> str:
        return os.path.join(self.folder, self.log_file)


def default_pool_size() -> int:
    cpus = os.cpu_count() or 1
    try:
        available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError):
        available = 4 << 30
    return max(1, min(cpus, available // (4 << 30)))


class _Children:
    """Running neuron-cc processes, so an interrupt can kill them all."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.processes: set[subprocess.Popen] = set()

    def kill_all(self) -> None:
        with self.lock:
            for process in self.processes:
                _stop(process)


def _stop(process: subprocess.Popen) -> None:
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


def _compile_one(cluster: EmittedCluster, timeout: float, children: _Children) -> CompileResult:
    neff = os.path.join(cluster.folder, cluster.neff_file)
    if os.path.exists(neff):
        os.remove(neff)
    with open(os.path.join(cluster.folder, cluster.log_file), "wb") as log:
        try:
            process = subprocess.Popen(
                cluster.command, cwd=cluster.folder, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as err:
            return CompileResult(cluster.name, cluster.folder, False, f"could not start {cluster.compiler}: {err}",
                                 cluster.log_file)
        with children.lock:
            children.processes.add(process)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            # What the log said before the interrupt, not the traceback the interrupt causes.
            said_so_far = os.fstat(log.fileno()).st_size
            _stop(process)
            return _failed(cluster, f"timed out after {timeout:g} s", said_so_far)
        finally:
            with children.lock:
                children.processes.discard(process)
    if process.returncode != 0:
        return _failed(cluster, f"{cluster.compiler} exited with {process.returncode}")
    if not os.path.isfile(neff) or os.path.getsize(neff) == 0:
        return _failed(cluster, f"{cluster.compiler} wrote no NEFF")
    return CompileResult(cluster.name, cluster.folder, True, log_file=cluster.log_file)


def _failed(cluster: EmittedCluster, reason: str, log_bytes: int | None = None) -> CompileResult:
    said = _last_error(os.path.join(cluster.folder, cluster.log_file), log_bytes)
    return CompileResult(cluster.name, cluster.folder, False, f"{reason}: {said}" if said else reason, cluster.log_file)


def _last_error(log_path: str, log_bytes: int | None = None, limit: int = 300) -> str:
    """The line of neuron-cc's log (of its first `log_bytes`, if given) that says why it failed:
    its last error line, else its last line, so a warning names the cause without the user
    opening the log."""
    try:
        with open(log_path, "rb") as f:
            text = f.read(-1 if log_bytes is None else log_bytes).decode(errors="replace")
    except OSError:
        return ""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    errors = [line for line in lines if "ERROR" in line or "error:" in line.lower()]
    said = (errors or lines or [""])[-1]
    return said if len(said) <= limit else said[: limit - 3] + "..."


def compile_clusters(
    clusters: Sequence[EmittedCluster], timeout: float, max_workers: int | None = None, progress: bool = True
) -> list[CompileResult]:
    if not clusters:
        return []
    workers = max_workers or default_pool_size()
    children = _Children()
    results: list[CompileResult] = []
    done = 0
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(_compile_one, c, timeout, children) for c in clusters]
        try:
            for future in futures:
                results.append(future.result())
                done += 1
                if progress:
                    sys.stderr.write(f"\rnir: {clusters[0].compiler} {done}/{len(clusters)} clusters compiled")
                    sys.stderr.flush()
        except BaseException:
            children.kill_all()
            for future in futures:
                future.cancel()
            raise
        finally:
            if progress:
                sys.stderr.write("\n")
    return results
