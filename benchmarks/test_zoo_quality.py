"""Quality of result on a broad zoo: every keras.applications model that builds at a small
input size, plus a transformer encoder, recurrent models (an LSTM, a bidirectional GRU, a
stacked LSTM, a masked encoder-decoder) and the tests' models.

    python -m pytest benchmarks/test_zoo_quality.py --benchmark-enable \
        --benchmark-json=benchmarks/zoo_quality.json
    python benchmarks/quality_table.py benchmarks/zoo_quality.json   # the README's table

Each model is compiled once with the neuron-cc stand-in of the tests, which holds each cluster
to neuron-cc's contract and op table (the same table legalize reads through `list-operators`),
so the figures are nir's partition, not a real compiler's verdict on the kernels. Recorded
per model in `extra_info`: clusters, OnNeuronRatio, ops left on CPU by reason (from `nir
explain`), the ops between clusters, and the compile time (the benchmark's own figure).

Each model is then compiled again with `dynamic_batch_size=True` (not timed): it must give as
many clusters, and its NeuronOps inlined must answer as the input does at batch 1, 3 and 8
(`dynamic_clusters`, `dynamic_on_neuron_ratio`): within rtol 1e-4 (`dynamic_answer_rtol` is
the least that holds), or else within four times what TensorFlow's own answers move by when it
computes with other kernels (`dynamic_noise_rtol`; see `_noise_rtol`). A model whose inlined
graph does not fit in memory under Grappler's optimizations is run, both sides, without them
(`dynamic_answers_without_grappler`).
"""

from __future__ import annotations

import os
import shutil

import pytest
from records import assert_no_worse_than_recorded, recorded_rows

from nir.examples import BUILDERS

# name -> input side (pixels); each the smallest comfortable size the architecture accepts.
KERAS_APPLICATIONS = {
    "ResNet50": 64, "ResNet101": 64, "ResNet152": 64, "ResNet50V2": 64, "ResNet101V2": 64,
    "ResNet152V2": 64, "VGG16": 64, "VGG19": 64, "MobileNet": 64, "MobileNetV2": 64,
    "MobileNetV3Small": 64, "MobileNetV3Large": 64, "DenseNet121": 64, "DenseNet169": 64,
    "DenseNet201": 64, "EfficientNetB0": 64, "EfficientNetB1": 64, "EfficientNetB2": 64,
    "EfficientNetB3": 64, "EfficientNetB4": 64, "EfficientNetB5": 64, "EfficientNetB6": 64,
    "EfficientNetB7": 64, "EfficientNetV2B0": 64, "EfficientNetV2B1": 64, "EfficientNetV2B2": 64,
    "EfficientNetV2B3": 64, "EfficientNetV2S": 64, "EfficientNetV2M": 64, "EfficientNetV2L": 64,
    "ConvNeXtTiny": 64, "ConvNeXtSmall": 64, "ConvNeXtBase": 64, "ConvNeXtLarge": 64,
    "ConvNeXtXLarge": 64, "InceptionV3": 75, "InceptionResNetV2": 75, "Xception": 71,
    "NASNetMobile": 64, "NASNetLarge": 64,
}
NIR_MODELS = ["encoder", "transformer", "lstm", "bidirectional_gru", "stacked_lstm", "masked_seq2seq", "text_classifier", "two_io",
              "tf1_two_signatures", "control_flow"]


def build_keras_application(name: str, side: int, path: str) -> None:
    import keras

    keras.utils.set_random_seed(0)
    model = getattr(keras.applications, name)(weights=None, input_shape=(side, side, 3))
    model.export(path, verbose=False)
    keras.backend.clear_session()


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    return tmp_path_factory.mktemp("zoo-quality")


def _build(name: str, root) -> str:
    path = str(root / name)
    if not os.path.exists(path):
        if name in KERAS_APPLICATIONS:
            build_keras_application(name, KERAS_APPLICATIONS[name], path)
        else:
            BUILDERS[name](path)
    return path


def _partition(model_dir: str) -> dict:
    from nir.explain import explain_module
    from nir.pipeline import default_pipeline, import_saved_model, run_pipeline

    module, _ = import_saved_model(model_dir)
    run_pipeline(module, default_pipeline())
    report = explain_module(module)
    return {
        "cpu_by_reason": {f"{r['op_type']}: {r['reason']}": r["count"] for r in report["cpu"]},
        "cuts": [f"{c['op_type']} {c['node']}" for c in report["cuts"]],
        "body_clusters": sum(1 for c in report["clusters"] if "function" in c),
    }


@pytest.fixture(scope="session")
def neuron_cc(tmp_path_factory) -> str:
    from stand_ins import write_launcher

    return write_launcher(str(tmp_path_factory.mktemp("neuron-cc-bin")))


@pytest.mark.parametrize("name", [*KERAS_APPLICATIONS, *NIR_MODELS])
def test_compile_quality(benchmark, workspace, name, neuron_cc):
    import nir as tfn

    benchmark.group = "zoo quality: whole compile with the neuron-cc stand-in"
    model_dir = _build(name, workspace)
    out = str(workspace / f"{name}-compiled")
    reports = []

    def setup():
        shutil.rmtree(out, ignore_errors=True)

    def compile_once():
        reports.append(tfn.saved_model.compile(model_dir, out, neuron_cc=neuron_cc, progress=False))

    benchmark.pedantic(compile_once, setup=setup, rounds=1, iterations=1)
    report = reports[-1]
    shutil.rmtree(out, ignore_errors=True)
    dynamic = _dynamic_batch_compile(model_dir, out, neuron_cc)
    benchmark.extra_info.update({
        "clusters": report["NumClusters"],
        "compiled": report["NumCompiledClusters"],
        "on_neuron_ratio": round(report["OnNeuronRatio"], 4),
        "ops_on_neuron": report["OperatorCountOnNeuron"],
        "ops_after_optimization": report["OperatorCountAfterOptimization"],
        "input_side": KERAS_APPLICATIONS.get(name),
        "dynamic_clusters": dynamic["NumClusters"],
        "dynamic_on_neuron_ratio": round(dynamic["OnNeuronRatio"], 4),
        "dynamic_answer_rtol": float(f"{dynamic['answer_rtol']:.2e}"),
        **({"dynamic_noise_rtol": float(f"{dynamic['noise_rtol']:.2e}")} if "noise_rtol" in dynamic else {}),
        **({"dynamic_answers_without_grappler": True} if dynamic.get("answers_without_grappler") else {}),
        **_partition(model_dir),
    })
    if name in KERAS_APPLICATIONS:
        shutil.rmtree(model_dir, ignore_errors=True)  # the big ones take GBs
    # zoo_quality_loops.json re-records the tests' models after unroll-loops (2026-12-02); its rows
    # take the place of the halves' for the same model.
    recorded = recorded_rows("zoo_quality_a.json", "zoo_quality_b.json", "zoo_quality_loops.json").get((("name", name),))
    assert_no_worse_than_recorded(report, recorded, name)
    assert dynamic["NumClusters"] == report["NumClusters"], \
        f"{name}: {dynamic['NumClusters']} clusters with dynamic batch, {report['NumClusters']} without"


# Each model runs in a process of its own, loaded once: a load keeps its functions for the
# process's life, so one process for the survey grew past 20 GB at the big EfficientNets, and
# one process for both of a model's versions (ConvNeXtXLarge's 1.4 GB of weights, inlined as
# graph constants beside the original) past this machine's 24 GB. The first run draws the feeds
# (batches 1, 3 and 8) and keeps them with its answers; the others read them from there.
_ANSWERS = """
import sys
import numpy as np
import tensorflow as tf
sys.path.insert(0, sys.argv[4])
from zoo import random_feeds
model, given, kept = sys.argv[1:4]
if sys.argv[5] == "no-grappler":
    tf.config.optimizer.set_experimental_options({"disable_meta_optimizer": True})
fn = tf.saved_model.load(model).signatures["serving_default"]
drawn = dict(np.load(given, allow_pickle=True)) if given else {}
out = {}
for batch in (1, 3, 8):
    if given:
        feeds = {k.split("/", 2)[2]: v for k, v in drawn.items() if k.startswith(f"feed/{batch}/")}
    else:
        feeds = random_feeds(model, batch=batch, seed=batch, signature=fn)
    out.update({f"feed/{batch}/{k}": v for k, v in feeds.items()})
    answers = fn(**{k: tf.constant(v) for k, v in feeds.items()})
    out.update({f"out/{batch}/{k}": v.numpy() for k, v in answers.items()})
np.savez(kept, **out)
"""
ANSWER_RTOL = 1e-4
NOISE_FACTOR = 4


class OutOfMemory(Exception):
    """The child running a model was killed by the OOM killer."""


def _answers(model_dir: str, kept: str, feeds_from: str = "", env: dict | None = None,
             grappler: bool = True) -> dict:
    """The model's answers (and feeds), run in a child process and kept in `kept`."""
    import signal
    import subprocess
    import sys

    import numpy as np

    tests = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests")
    run = subprocess.run([sys.executable, "-c", _ANSWERS, model_dir, feeds_from, kept, tests,
                          "grappler" if grappler else "no-grappler"], capture_output=True, text=True, env=env)
    if run.returncode == -signal.SIGKILL:
        raise OutOfMemory(model_dir)
    assert run.returncode == 0, f"{model_dir}: the model could not be run\n{run.stderr[-3000:]}"
    with np.load(kept, allow_pickle=True) as data:
        return {k: data[k] for k in data.files if k.startswith("out/")}


def _rtol_needed(expected: dict, actual: dict) -> float:
    """The least rtol at which `actual` passes assert_same_outputs against `expected`."""
    import numpy as np

    assert sorted(expected) == sorted(actual)
    worst = 0.0
    for key, a in expected.items():
        b = actual[key]
        assert a.shape == b.shape, key
        if a.size:
            scale = max(1.0, float(np.max(np.abs(a))))
            worst = max(worst, float(np.max(np.abs(b - a) / (np.abs(a) + scale))))
    return worst


def _dynamic_batch_compile(model_dir: str, out: str, neuron_cc: str) -> dict:
    """Compile with dynamic batch, inline the NeuronOps and compare answers with the input's
    at batch 1, 3 and 8 (in a child process); the report."""
    import nir as tfn

    inlined = out + "-inlined"
    try:
        report = tfn.saved_model.compile(model_dir, out, dynamic_batch_size=True, neuron_cc=neuron_cc, progress=False)
        tfn.saved_model.inline_neuron_ops(out, inlined)
        try:
            expected = _answers(model_dir, out + "-answers.npz")
            actual = _answers(inlined, out + "-inlined.npz", out + "-answers.npz")
        except OutOfMemory:
            # Grappler's copies of an inlined graph's constants (ConvNeXtXLarge: 1.4 GB of them)
            # passed 24 GB; TensorFlow's executor alone runs it in 15 GB. Both sides then run so.
            report["answers_without_grappler"] = True
            expected = _answers(model_dir, out + "-answers.npz", grappler=False)
            actual = _answers(inlined, out + "-inlined.npz", out + "-answers.npz", grappler=False)
        report["answer_rtol"] = _rtol_needed(expected, actual)
        if report["answer_rtol"] > ANSWER_RTOL:
            report["noise_rtol"] = _noise_rtol(model_dir, out + "-answers.npz", expected,
                                               grappler=not report.get("answers_without_grappler"))
            assert report["answer_rtol"] <= NOISE_FACTOR * report["noise_rtol"], (
                f"{model_dir}: dynamic-batch answers differ (rtol {report['answer_rtol']:.2e} needed), more than "
                f"{NOISE_FACTOR} times TensorFlow's own difference between its kernels ({report['noise_rtol']:.2e})")
        return report
    finally:
        shutil.rmtree(out, ignore_errors=True)
        shutil.rmtree(inlined, ignore_errors=True)
        for kept in (out + "-answers.npz", out + "-inlined.npz", out + "-again.npz"):
            if os.path.exists(kept):
                os.remove(kept)


def _noise_rtol(model_dir: str, answers: str, usual: dict, grappler: bool = True) -> float:
    """How far TensorFlow's own answers move when it computes them with other kernels (oneDNN's
    off, Eigen's instead): the least rtol at which the input model, run that way, passes against
    itself run the usual way. A deep network with random weights (EfficientNetV2M: softmax over
    saturated logits) moves by 1e-4 there already; a rewrite's answers are held to a few times
    that, not to a bar the model's own arithmetic does not meet."""
    again = _answers(model_dir, answers.replace("-answers.npz", "-again.npz"), answers,
                     env=dict(os.environ, TF_ENABLE_ONEDNN_OPTS="0"), grappler=grappler)
    return _rtol_needed(usual, again)
