"""A model past protobuf's 2 GiB: 2.42 GB of float32 weights (four 12288 x 12288 matrices, random,
built here), compiled with the neuron-cc stand-in, its output checked in stock TensorFlow
against the original, and the compile's peak RSS recorded.

    python -m pytest benchmarks/test_big_model.py --benchmark-enable --benchmark-json=benchmarks/big_model.json

What it exercises: weights read from the checkpoint one variable at a time (no frozen GraphDef),
clusters cut under max-cluster-bytes (1 GiB: one matrix each), NeuronOps whose embedded graphs
together pass 2 GiB keeping their constants in the output checkpoint, and the output read back
by `inline_neuron_ops` and run by `tf.saved_model.load`. Target for the peak RSS of the compile:
1.5 x the weight bytes + 0.6 GB. Needs about 12 GB of memory and 15 GB of disk.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
from stand_ins import write_launcher

SIDE = 12288
LAYERS = 4

BUILD = f"""
import numpy as np, tensorflow as tf, sys
rng = np.random.default_rng(5)
class Big(tf.Module):
    def __init__(self):
        super().__init__()
        self.ws = [tf.Variable(rng.standard_normal(({SIDE}, {SIDE}), dtype=np.float32) / {SIDE ** 0.5})
                   for _ in range({LAYERS})]
    @tf.function(input_signature=[tf.TensorSpec([None, {SIDE}], tf.float32, name="x")])
    def __call__(self, x):
        for w in self.ws:
            x = tf.tanh(tf.matmul(x, w))
        return {{"y": x}}
m = Big()
tf.saved_model.save(m, sys.argv[1], signatures=m.__call__)
"""

COMPILE = """
import json, sys, time, warnings
warnings.simplefilter("ignore")
t = time.perf_counter()
import nir
report = nir.saved_model.compile(sys.argv[1], sys.argv[2], neuron_cc=sys.argv[3], progress=False,
                                 compile_cache=False)
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM")][0].split()[1]
print(json.dumps({"seconds": time.perf_counter() - t, "peak_rss_mb": int(hwm) / 1024, "report": report}))
"""

RUN = """
import json, sys
import numpy as np, tensorflow as tf
x = np.random.default_rng(1).standard_normal((2, %d), dtype=np.float32)
y = tf.saved_model.load(sys.argv[1]).signatures["serving_default"](x=tf.constant(x))["y"].numpy()
np.save(sys.argv[2], y)
""" % SIDE


def _python(code: str, *args: str) -> str:
    run = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-3000:]
    return run.stdout


def test_model_past_2_gib(benchmark, tmp_path):
    model, out, inlined = str(tmp_path / "big"), str(tmp_path / "out"), str(tmp_path / "inlined")
    _python(BUILD, model)
    variables = os.path.join(model, "variables")
    weight_bytes = sum(os.path.getsize(os.path.join(variables, f)) for f in os.listdir(variables))
    assert weight_bytes > 2**31
    compiler = write_launcher(str(tmp_path))
    results = []
    benchmark.pedantic(lambda: results.append(json.loads(_python(COMPILE, model, out, compiler).splitlines()[-1])),
                       rounds=1, iterations=1)
    result = results[0]
    assert result["report"]["NumCompiledClusters"] == result["report"]["NumClusters"] == LAYERS
    _python("import sys, nir; nir.saved_model.inline_neuron_ops(sys.argv[1], sys.argv[2])", out, inlined)
    _python(RUN, model, str(tmp_path / "expected.npy"))
    _python(RUN, inlined, str(tmp_path / "actual.npy"))
    np.testing.assert_allclose(np.load(tmp_path / "actual.npy"), np.load(tmp_path / "expected.npy"), rtol=1e-4, atol=1e-5)
    benchmark.group = "a model past 2 GiB"
    benchmark.extra_info.update(
        weight_mb=weight_bytes / 2**20,
        peak_rss_mb=result["peak_rss_mb"],
        target_mb=1.5 * weight_bytes / 2**20 + 600,
        saved_model_pb_mb=os.path.getsize(os.path.join(out, "saved_model.pb")) / 2**20,
        clusters=result["report"]["NumClusters"],
    )
