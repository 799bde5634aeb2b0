"""Choosing where compile jobs run (`--executor`), how many run at once, and where the compile
cache lives by default: the small decisions every compile makes before it starts."""

from __future__ import annotations

import sys

import pytest

from backends import executors
from backends.compile_cache import default_cache_root
from backends.executors import COMPILER_MEMORY_BYTES, LocalExecutor, default_pool_size, parse_executor
from nir.errors import NirInputError


@pytest.mark.parametrize(("spec", "workers"), [("local", None), (None, 3), ("", 2)])
def test_local_is_the_default_executor(spec, workers):
    assert parse_executor(spec, max_workers=workers) == LocalExecutor(workers)


@pytest.mark.parametrize("spec", ["spark", "local:somewhere", "rays"])
def test_an_unknown_executor_names_the_ones_there_are(spec):
    with pytest.raises(NirInputError) as err:
        parse_executor(spec)
    assert str(err.value) == f"unknown executor '{spec}': use 'local' or 'ray[:ADDRESS]'"


def test_ray_without_ray_installed_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # what an interpreter without Ray imports
    with pytest.raises(NirInputError, match=r"needs Ray, which is not installed: pip install 'nir\[ray\]'"):
        parse_executor("ray")


@pytest.mark.parametrize(("spec", "address"), [("ray", None), ("ray:auto", "auto")])
def test_ray_takes_the_address_the_memory_and_the_limit_given(spec, address):
    pytest.importorskip("ray")
    from backends.ray_executor import RayExecutor

    chosen = parse_executor(spec, max_workers=2, memory_per_compiler=5 << 30)
    assert chosen == RayExecutor(address=address, memory_per_compiler=5 << 30, max_in_flight=2)


@pytest.mark.parametrize(("cpus", "free_pages", "expected"), [
    (8, 4 << 20, 4),    # 16 GiB free (4 KiB pages): memory bounds it at four 4-GiB compilers
    (2, 64 << 20, 2),   # 256 GiB free: the CPUs bound it
    (8, 1 << 10, 1),    # almost nothing free: still one
])
def test_the_local_pool_is_bounded_by_cpus_and_free_memory(monkeypatch, cpus, free_pages, expected):
    monkeypatch.setattr(executors.os, "cpu_count", lambda: cpus)
    monkeypatch.setattr(executors.os, "sysconf", lambda name: {"SC_AVPHYS_PAGES": free_pages, "SC_PAGE_SIZE": 4096}[name])
    assert default_pool_size() == expected
    assert default_pool_size(COMPILER_MEMORY_BYTES // 4) == min(cpus, max(1, free_pages * 4096 // (1 << 30)))


@pytest.mark.parametrize(("max_workers", "pool"), [(None, 3), (1, 1), (5, 5)])
def test_the_local_executor_runs_as_many_compilers_as_asked_else_the_default(monkeypatch, max_workers, pool):
    sizes = []

    class RecordingPool(executors.ThreadPoolExecutor):
        def __init__(self, max_workers=None, **kwargs):
            sizes.append(max_workers)
            super().__init__(max_workers, **kwargs)

    monkeypatch.setattr(executors, "ThreadPoolExecutor", RecordingPool)
    monkeypatch.setattr(executors, "default_pool_size", lambda: 3)
    assert list(LocalExecutor(max_workers).run([], timeout=1)) == []
    assert sizes == [pool]


@pytest.mark.parametrize(("env", "expected"), [
    ({"NIR_CACHE_DIR": "/data/nir-cache", "XDG_CACHE_HOME": "/xdg"}, "/data/nir-cache"),
    ({"XDG_CACHE_HOME": "/xdg"}, "/xdg/nir"),
    ({"HOME": "/home/someone"}, "/home/someone/.cache/nir"),
])
def test_the_cache_folder_follows_nir_cache_dir_then_xdg_then_home(monkeypatch, env, expected):
    for name in ("NIR_CACHE_DIR", "XDG_CACHE_HOME", "HOME"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert default_cache_root() == expected
