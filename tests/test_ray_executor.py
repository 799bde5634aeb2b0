"""The compile farm on Ray (`--executor ray`, the `ray` extra): same results as local compiles,
same failures, timeouts and interrupts, and Ray never imported unless asked for."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from stand_ins import FAKE_NEURON_CC, as_a_user_would_run_it, communicate_or_show_stacks, write_launcher
from test_compile_cache import same_tree

import nir
from nir.errors import NirInputError
from nir.saved_model import CompileFailedError


@pytest.fixture(scope="module")
def ray_cluster():
    ray = pytest.importorskip("ray", reason="the ray extra is not installed (pip install -e '.[ray]')")
    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR")
    yield ray
    ray.shutdown()


def stand_in(tmp_path, **env) -> tuple[str, str]:
    """A neuron-cc launcher with `env` baked in (Ray workers keep the environment they started
    with), and the file it logs its compiles to."""
    calls = str(tmp_path / "calls.log")
    folder = tmp_path / "bin"
    folder.mkdir(exist_ok=True)
    return write_launcher(str(folder), env={"FAKE_NEURON_CC_CALL_LOG": calls, **env}), calls


def compile_on(executor: str, model: str, out: str, compiler: str, **kwargs) -> dict:
    return nir.saved_model.compile(model, out, neuron_cc=compiler, executor=executor, compile_cache=False,
                                   progress=False, **kwargs)


def leftover_stand_ins() -> str:
    # The launcher execs the stand-in, so a running compile carries the script's path.
    return subprocess.run(["pgrep", "-f", f"{FAKE_NEURON_CC} compile"], capture_output=True, text=True).stdout.strip()


def test_ray_compiles_give_the_bytes_local_compiles_give(ray_cluster, zoo, tmp_path):
    compiler, calls = stand_in(tmp_path)
    local = compile_on("local", zoo["cumsum_cut"], str(tmp_path / "local"), compiler)
    farmed = compile_on("ray", zoo["cumsum_cut"], str(tmp_path / "ray"), compiler,
                        compiler_workdir=str(tmp_path / "work"))
    assert local["NumCompiledClusters"] == farmed["NumCompiledClusters"] == 2
    assert same_tree(str(tmp_path / "local"), str(tmp_path / "ray"))
    runs = open(calls).read().splitlines()
    assert len(runs) == 4 and sum("/nir-job-" in line for line in runs) == 2, runs
    # The NEFF and the log came back into the cluster folders, as after a local compile.
    folders = [d for d in os.listdir(tmp_path / "work") if d.startswith("neuron_op_")]
    for folder in folders:
        assert (tmp_path / "work" / folder / "graph_def.neff").stat().st_size > 0
        assert "wrote" in (tmp_path / "work" / folder / "graph_def.neuron-cc.log").read_text()


def test_ray_failures_are_reported_as_local_ones_and_strict_mode_holds(ray_cluster, zoo, tmp_path):
    compiler, _ = stand_in(tmp_path, FAKE_NEURON_CC_MODE="fail")
    report = compile_on("ray", zoo["cumsum_cut"], str(tmp_path / "out"), compiler)
    assert report["NumClusters"] == 2 and report["NumCompiledClusters"] == 0
    with pytest.raises(CompileFailedError, match="exited with 1: ERROR: failing as FAKE_NEURON_CC_MODE=fail asks"):
        compile_on("ray", zoo["cumsum_cut"], str(tmp_path / "strict"), compiler, strict=True)
    assert not os.path.exists(tmp_path / "strict")


def test_ray_timeouts_stop_the_compiler(ray_cluster, zoo, tmp_path):
    compiler, _ = stand_in(tmp_path, FAKE_NEURON_CC_MODE="hang")
    with pytest.raises(CompileFailedError, match="timed out after 3 s: .*hanging as FAKE_NEURON_CC_MODE=hang asks"):
        compile_on("ray", zoo["cumsum_cut"], str(tmp_path / "out"), compiler, compiler_timeout=3, strict=True)
    assert leftover_stand_ins() == "", "a compiler outlived its timed-out Ray task"


def test_a_ray_worker_that_dies_fails_its_cluster_and_takes_its_compiler_with_it(ray_cluster, zoo, tmp_path):
    """A worker killed mid-compile (the OOM killer, a node lost) is a failed compile, reported
    like one, with Ray's reason in the cluster's log; its compiler, started to die with its
    parent, does not outlive it."""
    compiler, _ = stand_in(tmp_path, FAKE_NEURON_CC_MODE="kill-parent")
    workdir = tmp_path / "work"
    report = compile_on("ray", zoo["cumsum_cut"], str(tmp_path / "out"), compiler, compiler_workdir=str(workdir))
    assert report["NumClusters"] == 2 and report["NumCompiledClusters"] == 0
    logs = [(workdir / d / "graph_def.neuron-cc.log").read_text() for d in os.listdir(workdir) if d.startswith("neuron_op_")]
    assert len(logs) == 2 and all(log.startswith("nir: the Ray task compiling this cluster failed: ") for log in logs), logs
    deadline = time.time() + 10
    while leftover_stand_ins() and time.time() < deadline:
        time.sleep(0.2)
    assert not leftover_stand_ins(), "a compiler outlived the Ray worker that started it"
    with pytest.raises(CompileFailedError, match=r"the Ray task failed \(\w+Error: "):
        compile_on("ray", zoo["cumsum_cut"], str(tmp_path / "strict"), compiler, strict=True)
    assert not os.path.exists(tmp_path / "strict")


def test_ctrl_c_during_a_ray_compile_leaves_no_compiler_and_no_output(zoo, tmp_path):
    pytest.importorskip("ray")
    compiler, calls = stand_in(tmp_path, FAKE_NEURON_CC_MODE="hang")
    out = str(tmp_path / "out")
    process = subprocess.Popen(
        [sys.executable, "-m", "nir.cli", "compile", zoo["cumsum_cut"], out, "--neuron-cc", compiler,
         "--executor", "ray", "--no-cache"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=as_a_user_would_run_it,
    )
    deadline = time.time() + 180
    while time.time() < deadline and not (os.path.exists(calls) and len(open(calls).read().splitlines()) == 2):
        time.sleep(0.5)
    assert os.path.exists(calls), "the Ray tasks never started the compiler"
    process.send_signal(signal.SIGINT)
    _, stderr = communicate_or_show_stacks(process, 120)
    assert process.returncode == 130, stderr
    assert not os.path.exists(out)
    time.sleep(1)
    assert leftover_stand_ins() == "", "compilers survived the interrupt"


def test_without_ray_the_option_says_how_to_install_it(zoo, tmp_path, monkeypatch, fake_neuron_cc):
    monkeypatch.setitem(sys.modules, "ray", None)  # what `import ray` meets without the extra
    with pytest.raises(NirInputError, match=r"pip install 'nir\[ray\]'"):
        compile_on("ray", zoo["cumsum_cut"], str(tmp_path / "out"), fake_neuron_cc)
    with pytest.raises(NirInputError, match="unknown executor 'rya'"):
        compile_on("rya", zoo["cumsum_cut"], str(tmp_path / "out"), fake_neuron_cc)
    assert not os.path.exists(tmp_path / "out")


def test_an_unreachable_ray_cluster_is_an_error_before_any_work(zoo, tmp_path, fake_neuron_cc):
    pytest.importorskip("ray")
    with pytest.raises(NirInputError, match="'127.0.0.1:1' does not answer .* --executor local"):
        compile_on("ray:127.0.0.1:1", zoo["cumsum_cut"], str(tmp_path / "out"), fake_neuron_cc)
    assert not os.path.exists(tmp_path / "out")


def test_a_local_compile_never_imports_ray(zoo, tmp_path, fake_neuron_cc):
    script = (
        "import sys, nir.cli\n"
        f"code = nir.cli.main(['compile', {zoo['cumsum_cut']!r}, {str(tmp_path / 'out')!r}, '--neuron-cc', {fake_neuron_cc!r}])\n"
        "assert code == 0, code\n"
        "print('ray imported' if 'ray' in sys.modules else 'ray not imported')\n"
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip().endswith("ray not imported")
