"""The neuron-cc stand-in is held to neuron-cc's contract, not to nir's habits, and nir's
workdir drives it the way a user would: the offline workflow (compile without neuron-cc, run
each command.sh elsewhere, relift) and a relift with some NEFFs missing."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import warnings

import pytest
from stand_ins import FAKE_NEURON_CC, write_launcher
from zoo import assert_same_outputs, random_feeds, run_signature

import nir as tfn
from backends.neuron.neuron_op import neuron_ops
from frontends.tensorflow.loader import read_saved_model_proto

NO_NEURON_CC_PATH = "/usr/bin:/bin"


@pytest.fixture(scope="module")
def offline(zoo, tmp_path_factory):
    """cumsum_cut compiled on a machine without neuron-cc: (workdir, report, warning text)."""
    root = tmp_path_factory.mktemp("offline")
    workdir = str(root / "workdir")
    with pytest.MonkeyPatch.context() as patch, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        patch.setenv("PATH", NO_NEURON_CC_PATH)
        report = tfn.saved_model.compile(zoo["cumsum_cut"], str(root / "cpu"), compiler_workdir=workdir, progress=False)
    return workdir, report, " ".join(str(w.message) for w in caught)


def cluster_folders(workdir: str) -> list[str]:
    return sorted(os.path.join(workdir, d) for d in os.listdir(workdir) if d.startswith("neuron_op_"))


def stand_in(args: list[str], cwd: str, **env) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, FAKE_NEURON_CC, *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, **env})


@pytest.fixture()
def cluster(offline, tmp_path):
    """A copy of one emitted cluster folder: (folder, io-config text)."""
    folder = str(tmp_path / "cluster")
    shutil.copytree(cluster_folders(offline[0])[0], folder)
    with open(os.path.join(folder, "graph_def.io-config.json")) as f:
        return folder, json.dumps(json.load(f))


def test_stand_in_accepts_tensorflow_neurons_own_command_line(cluster):
    folder, config = cluster
    neff = os.path.join(folder, "graph_def.neff")
    # tensorflow-neuron's order (--output before --pipeline), with absolute paths.
    result = stand_in(["compile", os.path.join(folder, "graph_def.pb"), "--framework", "TENSORFLOW",
                       "--output", neff, "--pipeline", "compile", "SaveTemps", "--io-config", config], cwd="/")
    assert result.returncode == 0, result.stderr
    assert open(neff, "rb").read().startswith(b"NIR-TEST-NEFF")
    # Global --verbose before the command, --opt=value forms, documented options in any order.
    os.remove(neff)
    result = stand_in(["--verbose=INFO", "compile", "--framework=TENSORFLOW", f"--io-config={config}",
                       "--fp32-cast", "matmult-bf16", "graph_def.pb", "--output=graph_def.neff"], cwd=folder)
    assert result.returncode == 0, result.stderr
    assert '"fp32_cast": "matmult-bf16"' in result.stdout and '"verbose": "INFO"' in result.stdout
    assert os.path.isfile(neff)


def _graph_with(tmp_path, make) -> str:
    import tensorflow as tf

    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [1, 4], name="x")
        make(tf, x)
    path = str(tmp_path / "graph_def.pb")
    with open(path, "wb") as f:
        f.write(graph.as_graph_def().SerializeToString())
    return path


GOOD_CONFIG = json.dumps({"inputs": {"x:0": [[1, 4], "float32"]}, "outputs": ["y:0"]})


@pytest.mark.parametrize("case,make,config,extra,reason", [
    ("unknown option", lambda tf, x: tf.nn.relu(x, name="y"), GOOD_CONFIG, ["--bogus-flag"],
     "neuron-cc compile: error: unrecognized arguments: --bogus-flag"),
    ("string op", lambda tf, x: tf.strings.as_string(x, name="y"), GOOD_CONFIG, [],
     "ERROR: Unsupported operator AsString (node 'y')"),
    ("string tensor", lambda tf, x: tf.identity(tf.strings.as_string(x), name="y"), GOOD_CONFIG, [],
     "ERROR: Unsupported operator AsString"),
    ("unsupported op", lambda tf, x: tf.math.cumsum(x, axis=1, name="y"), GOOD_CONFIG, [],
     "ERROR: Unsupported operator Cumsum (node 'y')"),
    ("no outputs", lambda tf, x: tf.nn.relu(x, name="y"),
     json.dumps({"inputs": {"x:0": [[1, 4], "float32"]}, "outputs": []}), [],
     "ERROR: --io-config lists no outputs"),
    ("input not a Placeholder", lambda tf, x: tf.nn.relu(tf.nn.relu(x, name="h"), name="y"),
     json.dumps({"inputs": {"h:0": [[1, 4], "float32"]}, "outputs": ["y:0"]}), [],
     "ERROR: io-config input 'h:0' is a Relu, not a Placeholder"),
    ("output missing", lambda tf, x: tf.nn.relu(x, name="y"),
     json.dumps({"inputs": {"x:0": [[1, 4], "float32"]}, "outputs": ["z:0"]}), [],
     "ERROR: io-config output 'z:0' is not a tensor of the graph"),
    # The checks that stand between nir and two real io-config bugs (a dtype the cluster does
    # not take, an input the cluster reads but the io-config does not feed):
    ("wrong input dtype", lambda tf, x: tf.nn.relu(x, name="y"),
     json.dumps({"inputs": {"x:0": [[1, 4], "int32"]}, "outputs": ["y:0"]}), [],
     "ERROR: io-config input 'x:0' is [1, 4]/int32, the Placeholder [1, 4]/float32"),
    ("unfed Placeholder", lambda tf, x: tf.add(x, tf.compat.v1.placeholder(tf.float32, [1, 4], name="z"), name="y"),
     GOOD_CONFIG, [], "ERROR: Placeholders ['z'] are not inputs in --io-config"),
    ("string tensor of a supported op", lambda tf, x: tf.identity(tf.constant(["a"], name="s"), name="y"),
     GOOD_CONFIG, [], "ERROR: node 's' (Const) has a string tensor, which Inferentia cannot hold"),
    ("wrong input shape", lambda tf, x: tf.nn.relu(x, name="y"),
     json.dumps({"inputs": {"x:0": [[2, 4], "float32"]}, "outputs": ["y:0"]}), [],
     "ERROR: io-config input 'x:0' is [2, 4]/float32, the Placeholder [1, 4]/float32"),
])
def test_stand_in_rejects_what_neuron_cc_rejects(tmp_path, case, make, config, extra, reason):
    _graph_with(tmp_path, make)
    result = stand_in(["compile", "graph_def.pb", "--framework", "TENSORFLOW", "--io-config", config,
                       "--output", "graph_def.neff", *extra], cwd=str(tmp_path))
    assert result.returncode != 0, case
    assert reason in result.stderr, result.stderr
    assert not os.path.exists(tmp_path / "graph_def.neff"), "a NEFF was written for a failed compile"


def test_stand_in_lists_the_table_it_checks_against(tmp_path):
    listed = stand_in(["list-operators", "--framework", "TENSORFLOW"], cwd=str(tmp_path))
    assert listed.returncode == 0
    ops = listed.stdout.split()
    assert "Conv2D" in ops and "Cumsum" not in ops and "AsString" not in ops
    table = tmp_path / "ops.txt"
    table.write_text("\n".join([*ops, "Cumsum"]))
    _graph_with(tmp_path, lambda tf, x: tf.math.cumsum(x, axis=1, name="y"))
    result = stand_in(["compile", "graph_def.pb", "--framework", "TENSORFLOW", "--io-config", GOOD_CONFIG],
                      cwd=str(tmp_path), FAKE_NEURON_CC_OPS=str(table))
    assert result.returncode == 0, result.stderr
    assert os.path.isfile(tmp_path / "out.neff")  # neuron-cc's default output name


def test_offline_workflow_compile_without_neuron_cc_then_command_sh_then_relift(offline, zoo, tmp_path):
    workdir, report, warning = offline
    assert report["NumClusters"] == 2 and report["NumCompiledClusters"] == 0
    # The warning speaks to a user who did pass a workdir.
    assert "Pass compiler_workdir=" not in warning and f"nir relift {workdir}" in warning
    work = str(tmp_path / "workdir")
    shutil.copytree(workdir, work)
    bin_dir = str(tmp_path / "bin")
    os.makedirs(bin_dir)
    write_launcher(bin_dir)
    for folder in cluster_folders(work):
        run = subprocess.run([os.path.join(folder, "command.sh")], capture_output=True, text=True,
                             env={**os.environ, "PATH": f"{bin_dir}:{NO_NEURON_CC_PATH}"})
        assert run.returncode == 0, run.stderr
        assert os.path.isfile(os.path.join(folder, "graph_def.neff"))
    out = str(tmp_path / "out")
    result = subprocess.run([sys.executable, "-m", "nir.cli", "relift", work, out], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["NumCompiledClusters"] == 2
    meta_graph = read_saved_model_proto(out).meta_graphs[0]
    assert len(neuron_ops(meta_graph.graph_def)) == 2


def test_relift_with_some_neffs_missing_restores_those_clusters(offline, zoo, tmp_path, fake_neuron_cc):
    work = str(tmp_path / "workdir")
    shutil.copytree(offline[0], work)
    first, second = cluster_folders(work)
    subprocess.run([os.path.join(first, "command.sh")], check=True, capture_output=True,
                   env={**os.environ, "PATH": f"{os.path.dirname(fake_neuron_cc)}:{NO_NEURON_CC_PATH}"})
    out = str(tmp_path / "out")
    result = subprocess.run([sys.executable, "-m", "nir.cli", "relift", work, out], capture_output=True, text=True)
    assert result.returncode == 3, result.stderr  # partial: one cluster stays on CPU
    report = json.loads(result.stdout)
    assert (report["NumClusters"], report["NumCompiledClusters"]) == (2, 1)
    assert f"1 of 2 clusters have no graph_def.neff in {work} and stay on CPU" in result.stderr
    (kept,) = neuron_ops(read_saved_model_proto(out).meta_graphs[0].graph_def)
    assert kept.name.endswith(os.path.basename(first))
    inlined = str(tmp_path / "inlined")
    inline = subprocess.run([sys.executable, "-m", "nir.cli", "inline", out, inlined], capture_output=True, text=True)
    assert inline.returncode == 0, inline.stderr
    feeds = random_feeds(zoo["cumsum_cut"], batch=1)
    assert_same_outputs(run_signature(zoo["cumsum_cut"], feeds), run_signature(inlined, feeds))
