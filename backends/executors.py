"""Where compile jobs run: on this machine (a thread pool of compiler processes, the default)
or on a Ray cluster (`ray[:ADDRESS]`, the `ray` extra).

An executor takes the clusters whose NEFF is not in the cache and returns one CompileResult per
cluster, in any order, as each finishes. Whatever the executor, a job that fails, times out or
is interrupted ends the same way: its compiler is stopped, its log kept in the cluster folder,
its result says why.
"""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Protocol

from backends.compile_jobs import CompileResult, EmittedCluster, result_of, run_compiler, stop_process_group
from nir.errors import NirInputError

COMPILER_MEMORY_BYTES = 4 << 30  # what one neuron-cc wants, by the original's heuristic


class Executor(Protocol):
    def run(self, clusters: Sequence[EmittedCluster], timeout: float) -> Iterator[CompileResult]: ...


def default_pool_size(memory_per_compiler: int = COMPILER_MEMORY_BYTES) -> int:
    """min(CPU count, available memory / memory per compiler), at least one."""
    cpus = os.cpu_count() or 1
    try:
        available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError):
        available = memory_per_compiler
    return max(1, min(cpus, available // memory_per_compiler))


class _Children:
    """Running compiler processes, so an interrupt can stop them all."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.processes: set[subprocess.Popen] = set()

    def add(self, process: subprocess.Popen) -> None:
        with self.lock:
            self.processes.add(process)

    def discard(self, process: subprocess.Popen) -> None:
        with self.lock:
            self.processes.discard(process)

    def stop_all(self) -> None:
        with self.lock:
            running = list(self.processes)
        for process in running:
            stop_process_group(process)


@dataclass
class LocalExecutor:
    """Compiler processes on this machine, `max_workers` at a time."""

    max_workers: int | None = None

    def run(self, clusters: Sequence[EmittedCluster], timeout: float) -> Iterator[CompileResult]:
        children = _Children()

        def compile_one(cluster: EmittedCluster) -> CompileResult:
            if os.path.exists(cluster.neff):
                os.remove(cluster.neff)
            outcome = run_compiler(
                cluster.command, cluster.folder, cluster.log, timeout, children.add, children.discard
            )
            return result_of(cluster, outcome, timeout)

        with ThreadPoolExecutor(max_workers=self.max_workers or default_pool_size()) as pool:
            futures = [pool.submit(compile_one, c) for c in clusters]
            try:
                for future in as_completed(futures):
                    yield future.result()
            except BaseException:
                for future in futures:
                    future.cancel()
                children.stop_all()
                raise


def parse_executor(spec: str, max_workers: int | None = None, memory_per_compiler: int = COMPILER_MEMORY_BYTES) -> Executor:
    """`local` or `ray[:ADDRESS]` (ADDRESS as ray.init takes it: `auto`, `host:port`,
    `ray://host:10001`; none starts a Ray instance on this machine for the compile)."""
    kind, _, address = (spec or "local").partition(":")
    if kind == "local" and not address:
        return LocalExecutor(max_workers)
    if kind == "ray":
        try:
            import ray  # noqa: F401 - only here: nothing else of nir needs Ray
        except ImportError:
            raise NirInputError(
                "--executor ray needs Ray, which is not installed: pip install 'nir[ray]' "
                "(in a checkout of nir: pip install -e '.[ray]')"
            ) from None
        # Imported here: Ray is an optional extra ('nir[ray]') and takes seconds to load.
        from backends.ray_executor import RayExecutor, check_reachable

        check_reachable(address or None)  # before the model is loaded, not after
        return RayExecutor(address or None, memory_per_compiler, max_workers)
    raise NirInputError(f"unknown executor '{spec}': use 'local' or 'ray[:ADDRESS]'")

