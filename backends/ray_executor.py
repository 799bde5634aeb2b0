"""Compile jobs on a Ray cluster (the `ray` extra): `--executor ray[:ADDRESS]`.

Each cluster becomes one Ray task that asks for one CPU and the compiler's memory (4 GB for
neuron-cc unless told otherwise), so Ray places as many compiles on a node as it can hold. The
task is sent the job's input files and command, runs the compiler in a scratch folder on the
worker under the same timeout as a local compile, and sends back the NEFF and the log, which
land in the cluster's folder as if the compile had run here.

Stopping: a timeout is enforced by the task itself (time spent queued for a node does not
count). Ctrl-C cancels every task; Ray raises KeyboardInterrupt in a running task, which stops
its compiler's process group, and a compiler whose worker dies outright is killed by the kernel
(PR_SET_PDEATHSIG), so no compiler outlives its job. Only this module imports Ray, and only
when a compile asks for it.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from backends.compile_jobs import CompileResult, EmittedCluster, ProcessOutcome, result_of, run_compiler
from nir.errors import NirInputError

logger = logging.getLogger("nir")


def run_job(files: dict[str, bytes], command: list[str], neff_file: str, log_file: str, timeout: float) -> dict:
    """The task: run one compile in a scratch folder of the worker, return NEFF and log."""
    with tempfile.TemporaryDirectory(prefix="nir-job-") as folder:
        for name, data in files.items():
            with open(os.path.join(folder, name), "wb") as f:
                f.write(data)
        log_path = os.path.join(folder, log_file)
        outcome = run_compiler(_on_this_worker(command), folder, log_path, timeout, die_with_parent=True)
        neff_path = os.path.join(folder, neff_file)
        return {
            "outcome": outcome,
            "neff": _read(neff_path) if os.path.isfile(neff_path) else None,
            "log": _read(log_path) if os.path.isfile(log_path) else b"",
        }


def _on_this_worker(command: list[str]) -> list[str]:
    # The driver's compiler path may not exist on a remote node: use the same name on its PATH.
    if os.path.isfile(command[0]):
        return command
    found = shutil.which(os.path.basename(command[0]))
    return [found, *command[1:]] if found else command


def _read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


@dataclass
class RayExecutor:
    address: str | None
    memory_per_compiler: int
    max_in_flight: int | None = None

    def run(self, clusters: Sequence[EmittedCluster], timeout: float) -> Iterator[CompileResult]:
        import ray

        started_here = not ray.is_initialized()
        if started_here:
            try:
                ray.init(address=self.address, include_dashboard=False, logging_level=logging.WARNING)
            except (ConnectionError, RuntimeError, ValueError) as err:
                where = f"the Ray cluster at '{self.address}'" if self.address else "a local Ray instance"
                raise NirInputError(
                    f"could not start or reach {where}: {str(err).strip().splitlines()[0]}; check the "
                    "address (ray:auto joins the cluster this machine is part of) or use --executor local"
                ) from None
        task = ray.remote(run_job).options(num_cpus=1, memory=self.memory_per_compiler, max_retries=0)
        waiting = list(clusters)
        running: dict = {}
        try:
            while waiting or running:
                while waiting and (self.max_in_flight is None or len(running) < self.max_in_flight):
                    cluster = waiting.pop(0)
                    running[task.remote(_inputs(cluster), list(cluster.command), cluster.neff_file,
                                        cluster.log_file, timeout)] = cluster
                done, _ = ray.wait(list(running), num_returns=1)
                for ref in done:
                    yield self._land(running.pop(ref), ref, timeout)
        except BaseException:
            for ref in running:
                ray.cancel(ref)
            if running:
                ray.wait(list(running), num_returns=len(running), timeout=5)
            raise
        finally:
            if started_here:
                ray.shutdown()

    @staticmethod
    def _land(cluster: EmittedCluster, ref, timeout: float) -> CompileResult:
        import ray

        if os.path.exists(cluster.neff):
            os.remove(cluster.neff)
        try:
            answer = ray.get(ref)
        except ray.exceptions.RayError as err:
            message = str(err).strip().splitlines()[-1] if str(err).strip() else type(err).__name__
            with open(cluster.log, "w") as f:
                f.write(f"nir: the Ray task compiling this cluster failed: {err}\n")
            return CompileResult(cluster.name, cluster.folder, False,
                                 f"the Ray task failed ({type(err).__name__}: {message})", cluster.log_file)
        with open(cluster.log, "wb") as f:
            f.write(answer["log"])
        if answer["neff"] is not None:
            with open(cluster.neff, "wb") as f:
                f.write(answer["neff"])
        outcome: ProcessOutcome = answer["outcome"]
        return result_of(cluster, outcome, timeout)


def check_reachable(address: str | None, timeout: float = 5.0) -> None:
    """Fail in seconds, not after Ray's own minute of retries, when a host:port given as the
    Ray cluster's address does not answer."""
    if not address or address == "auto":
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        return
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as err:
        raise NirInputError(
            f"the Ray cluster at '{address}' does not answer ({err}); check the address (ray:auto joins "
            "the cluster this machine is part of) or use --executor local"
        ) from None


def _inputs(cluster: EmittedCluster) -> dict[str, bytes]:
    return {name: _read(os.path.join(cluster.folder, name)) for name in cluster.inputs}
