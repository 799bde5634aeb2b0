"""The compile driver: every emitted cluster gets a NEFF from the compile cache or from a
compiler run on an executor, and one CompileResult.

Order of work: clusters whose key is in the cache are restored first, without starting any
compiler; clusters with the same key (one model compiled at several batch sizes often has some)
are compiled once; the rest go to the executor, and each NEFF it brings back is stored in the
cache before it is copied to the cluster's twins.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
from collections.abc import Sequence

from backends.compile_cache import CompileCache, compiler_version
from backends.compile_jobs import CompileResult, EmittedCluster
from backends.executors import Executor, LocalExecutor

logger = logging.getLogger("nir")


def compile_clusters(
    clusters: Sequence[EmittedCluster],
    timeout: float,
    executor: Executor | None = None,
    cache: CompileCache | None = None,
    progress: bool = True,
) -> list[CompileResult]:
    """One result per cluster, in the order of `clusters`."""
    if not clusters:
        return []
    executor = executor or LocalExecutor()
    versions = _compiler_versions(clusters, cache)
    keys = {c.folder: CompileCache.key(c, versions.get(c.command[0]) or "?") for c in clusters}
    cacheable = {c.folder for c in clusters if cache is not None and versions.get(c.command[0])}
    results: dict[str, CompileResult] = {}
    to_compile: list[EmittedCluster] = []
    twins: dict[str, list[EmittedCluster]] = {}
    for cluster in clusters:
        key = keys[cluster.folder]
        if cluster.folder in cacheable and cache.restore(key, cluster):
            results[cluster.folder] = CompileResult(cluster.name, cluster.folder, True, log_file=cluster.log_file,
                                                    from_cache=True)
        elif key in twins:
            twins[key].append(cluster)
        else:
            twins[key] = []
            to_compile.append(cluster)
    meter = _Progress(clusters[0].compiler, len(clusters), len(results), progress)
    by_folder = {c.folder: c for c in to_compile}
    try:
        for result in executor.run(to_compile, timeout):
            cluster = by_folder[result.folder]
            key = keys[cluster.folder]
            results[cluster.folder] = result
            if result.ok and cluster.folder in cacheable:
                cache.store(key, cluster, versions[cluster.command[0]])
            for twin in twins[key]:
                results[twin.folder] = _same_as(result, cluster, twin)
            meter.advance(1 + len(twins[key]))
    finally:
        meter.close()
    return [results[c.folder] for c in clusters]


def _compiler_versions(clusters: Sequence[EmittedCluster], cache: CompileCache | None) -> dict[str, str | None]:
    """compiler path -> its `--version`, asked only when there is a cache to key by it: a
    compiler that cannot say its version gets no cache, since its NEFFs could not be told from
    another version's."""
    versions: dict[str, str | None] = {}
    if cache is None:
        return versions
    for path in dict.fromkeys(c.command[0] for c in clusters):
        versions[path] = compiler_version(path)
        if versions[path] is None:
            logger.warning("compile cache not used for %s: `%s --version` failed", os.path.basename(path), path)
    return versions


def _same_as(result: CompileResult, compiled: EmittedCluster, twin: EmittedCluster) -> CompileResult:
    """A twin's result: the compiled cluster's NEFF and log copied into its folder."""
    if result.ok:
        shutil.copyfile(compiled.neff, twin.neff)
    shutil.copyfile(compiled.log, twin.log)
    return CompileResult(twin.name, twin.folder, result.ok, result.reason, twin.log_file)


class _Progress:
    """The compile progress line. On a terminal it is rewritten in place; anywhere else (CI
    logs, pipes) `\r` updates would arrive glued together, so whole lines are printed at the
    start, at each quarter of the clusters and at the end."""

    QUARTERS = 4

    def __init__(self, compiler: str, total: int, cached: int, show: bool):
        self.compiler, self.total, self.cached, self.show = compiler, total, cached, show
        self.done = cached
        self.in_place = getattr(sys.stderr, "isatty", lambda: False)()
        self._last_quarter = -1
        self._write()

    def advance(self, n: int) -> None:
        self.done += n
        self._write()

    def _line(self) -> str:
        cached = f" ({self.cached} from the compile cache)" if self.cached else ""
        return f"nir: {self.compiler} {self.done}/{self.total} clusters compiled{cached}"

    def _write(self) -> None:
        if not self.show:
            return
        if self.in_place:
            sys.stderr.write("\r" + self._line())
        else:
            quarter = self.done * self.QUARTERS // self.total if self.total else self.QUARTERS
            if quarter <= self._last_quarter:
                return
            self._last_quarter = quarter
            sys.stderr.write(self._line() + "\n")
        sys.stderr.flush()

    def close(self) -> None:
        if self.show and self.in_place:
            sys.stderr.write("\n")
