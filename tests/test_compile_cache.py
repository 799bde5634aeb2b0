"""The compile cache: a NEFF is compiled once per content, whatever compiles ask for it."""

from __future__ import annotations

import filecmp
import json
import os
import time

import pytest
from stand_ins import write_launcher

import nir
from backends.compile_cache import CompileCache
from backends.compile_jobs import EmittedCluster


@pytest.fixture
def cached(tmp_path, monkeypatch):
    """The cache on, as a user has it, in a folder of this test; compiler calls logged."""
    monkeypatch.delenv("NIR_COMPILE_CACHE", raising=False)
    monkeypatch.setenv("NIR_CACHE_DIR", str(tmp_path / "cache"))
    calls = tmp_path / "calls.log"
    monkeypatch.setenv("FAKE_NEURON_CC_CALL_LOG", str(calls))
    return lambda: calls.read_text().splitlines() if calls.exists() else []


def compile_quietly(model: str, out: str, compiler: str, **kwargs) -> dict:
    return nir.saved_model.compile(model, out, neuron_cc=compiler, progress=False, **kwargs)


def same_tree(a: str, b: str) -> bool:
    compared = filecmp.dircmp(a, b)
    if compared.left_only or compared.right_only or compared.funny_files:
        return False
    _, mismatch, errors = filecmp.cmpfiles(a, b, compared.common_files, shallow=False)
    return not mismatch and not errors and all(same_tree(os.path.join(a, d), os.path.join(b, d)) for d in compared.common_dirs)


def test_second_compile_runs_no_compiler_and_writes_the_same_bytes(zoo, tmp_path, fake_neuron_cc, cached):
    first = compile_quietly(zoo["cumsum_cut"], str(tmp_path / "a"), fake_neuron_cc)
    assert len(cached()) == 2 and first["NumCompiledClusters"] == 2 and first["NumClustersFromCache"] == 0
    second = compile_quietly(zoo["cumsum_cut"], str(tmp_path / "b"), fake_neuron_cc)
    assert len(cached()) == 2, "the second compile ran the compiler"
    assert second["NumClustersFromCache"] == 2 and second["NumCompiledClusters"] == 2
    assert same_tree(str(tmp_path / "a"), str(tmp_path / "b"))


def test_editing_one_layer_recompiles_only_the_cluster_that_holds_it(zoo, tmp_path, fake_neuron_cc, cached):
    workdir = tmp_path / "work"
    compile_quietly(zoo["cumsum_cut"], str(tmp_path / "a"), fake_neuron_cc)
    report = compile_quietly(zoo["cumsum_cut_w3_edited"], str(tmp_path / "b"), fake_neuron_cc,
                             compiler_workdir=str(workdir))
    calls = cached()
    assert len(calls) == 3 and report["NumClustersFromCache"] == 1
    recompiled = os.path.basename(calls[-1].split()[1])
    with open(workdir / recompiled / "graph_def.pb", "rb") as f:
        graph = f.read()
    assert b"Tanh" in graph and b"Relu" not in graph, "the recompiled cluster is not the one after the Cumsum"
    restored = [d for d in os.listdir(workdir) if d.startswith("neuron_op_") and d != recompiled]
    assert "taken from the compile cache" in (workdir / restored[0] / "graph_def.neuron-cc.log").read_text()


def test_compiler_version_and_arguments_are_part_of_the_key(zoo, tmp_path, fake_neuron_cc, cached, monkeypatch):
    compile_quietly(zoo["cumsum_cut"], str(tmp_path / "a"), fake_neuron_cc)
    newer = write_launcher(str(tmp_path), name="neuron-cc", env={"FAKE_NEURON_CC_VERSION": "1.1.0"})
    compile_quietly(zoo["cumsum_cut"], str(tmp_path / "b"), newer)
    assert len(cached()) == 4, "a NEFF of another compiler version was reused"
    compile_quietly(zoo["cumsum_cut"], str(tmp_path / "c"), fake_neuron_cc, compiler_args=["--fast-math", "none"])
    assert len(cached()) == 6, "a NEFF compiled with other arguments was reused"
    compile_quietly(zoo["cumsum_cut"], str(tmp_path / "d"), newer)
    assert len(cached()) == 6


def test_failed_compiles_are_not_cached_and_a_damaged_entry_is_recompiled(zoo, tmp_path, fake_neuron_cc, cached, monkeypatch):
    monkeypatch.setenv("FAKE_NEURON_CC_MODE", "fail")
    report = compile_quietly(zoo["cumsum_cut"], str(tmp_path / "a"), fake_neuron_cc)
    assert report["NumCompiledClusters"] == 0
    cache = CompileCache(str(tmp_path / "cache"))
    assert cache.info().entries == 0
    monkeypatch.delenv("FAKE_NEURON_CC_MODE")
    compile_quietly(zoo["cumsum_cut"], str(tmp_path / "b"), fake_neuron_cc)
    assert cache.info().entries == 2 and len(cached()) == 4
    entry = cache.entries()[0]
    with open(os.path.join(entry["path"], entry["neff_file"]), "ab") as f:
        f.write(b"bit rot")
    report = compile_quietly(zoo["cumsum_cut"], str(tmp_path / "c"), fake_neuron_cc)
    assert len(cached()) == 5 and report["NumClustersFromCache"] == 1
    assert cache.info().entries == 2


def test_no_cache_neither_reads_nor_writes(zoo, tmp_path, fake_neuron_cc, cached):
    compile_quietly(zoo["cumsum_cut"], str(tmp_path / "a"), fake_neuron_cc, compile_cache=False)
    compile_quietly(zoo["cumsum_cut"], str(tmp_path / "b"), fake_neuron_cc, compile_cache=False)
    assert len(cached()) == 4
    assert not os.path.exists(tmp_path / "cache")


def test_compile_many_shares_one_set_of_jobs(zoo, tmp_path, fake_neuron_cc, cached):
    twin = tmp_path / "models" / "twin"
    os.makedirs(twin.parent)
    os.symlink(zoo["cumsum_cut"], twin)
    reports = nir.saved_model.compile_many(
        [zoo["cumsum_cut"], str(twin)], str(tmp_path / "out"), [1, 2], neuron_cc=fake_neuron_cc,
        progress=False, compile_cache=False,
    )
    assert sorted(os.path.basename(k) for k in reports) == ["cumsum_cut_b1", "cumsum_cut_b2", "twin_b1", "twin_b2"]
    assert all(r["NumCompiledClusters"] == 2 for r in reports.values())
    # Two models alike at two batch sizes: 8 clusters, 4 distinct ones, each compiled once.
    assert len(cached()) == 4
    assert same_tree(str(tmp_path / "out" / "cumsum_cut_b2"), str(tmp_path / "out" / "twin_b2"))


def test_compile_many_refuses_clashing_names_and_leaves_nothing(zoo, tmp_path, fake_neuron_cc):
    from nir.errors import NirInputError

    with pytest.raises(NirInputError, match="appear more than once"):
        nir.saved_model.compile_many([zoo["cumsum_cut"], zoo["cumsum_cut"] + "/"], str(tmp_path / "out"),
                                     neuron_cc=fake_neuron_cc)
    with pytest.raises(NirInputError, match="positive integer"):
        nir.saved_model.compile_many(zoo["cumsum_cut"], str(tmp_path / "out"), [0], neuron_cc=fake_neuron_cc)
    assert not os.path.exists(tmp_path / "out")


def make_entry(cache: CompileCache, folder, name: str, payload: bytes) -> tuple[str, EmittedCluster]:
    os.makedirs(folder, exist_ok=True)
    (folder / "graph_def.pb").write_bytes(payload)
    cluster = EmittedCluster(name, str(folder), ("/opt/bin/neuron-cc", "compile", "graph_def.pb"))
    key = cache.key(cluster, "1.0")
    (folder / "graph_def.neff").write_bytes(b"NEFF" + payload)
    (folder / "graph_def.neuron-cc.log").write_text("compiled\n")
    cache.store(key, cluster, "1.0")
    return key, cluster


def test_cache_entries_appear_whole_and_clear_removes_them(tmp_path):
    cache = CompileCache(str(tmp_path / "cache"))
    key, cluster = make_entry(cache, tmp_path / "a", "a", b"graph a")
    # The same key stored again (a concurrent compile) keeps the first entry and no debris.
    cache.store(key, cluster, "1.0")
    assert cache.info().entries == 1 and os.listdir(os.path.join(cache.folder, "tmp")) == []
    # The path of the compiler is not part of the key; its name and version are.
    moved = EmittedCluster("b", cluster.folder, ("/usr/local/bin/neuron-cc", "compile", "graph_def.pb"))
    assert cache.key(moved, "1.0") == key and cache.key(moved, "1.1") != key
    # What a killed process leaves in tmp/ is never an entry, and goes once it is old.
    leftover = os.path.join(cache.folder, "tmp", "killed")
    os.makedirs(leftover)
    assert cache.info().entries == 1
    make_entry(cache, tmp_path / "b", "b", b"graph b")
    old = time.time() - 40 * 86400
    os.utime(leftover, (old, old))
    first = cache.entries()[0]
    meta = json.load(open(os.path.join(first["path"], "entry.json")))
    meta["created"] = old
    json.dump(meta, open(os.path.join(first["path"], "entry.json"), "w"))
    assert cache.clear(older_than_seconds=30 * 86400) == 1
    assert cache.info().entries == 1 and not os.path.exists(leftover)
    assert cache.clear() == 1 and cache.info().entries == 0


def test_nir_cache_info_and_clear(tmp_path, capsys):
    from nir.cli import main

    cache = CompileCache(str(tmp_path / "cache"))
    make_entry(cache, tmp_path / "a", "a", b"graph a")
    assert main(["cache", "info", "--cache-dir", cache.root]) == 0
    out = capsys.readouterr().out
    assert "entries: 1" in out and "neuron-cc: 1" in out and cache.folder in out
    assert main(["cache", "clear", "--cache-dir", cache.root]) == 0
    assert "removed 1 entry" in capsys.readouterr().out
    assert cache.info().entries == 0
