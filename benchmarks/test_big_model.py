"""Big models in bounded memory: two shapes of about 2.3 GB of float32 weights (random, built
here), each compiled on both paths (no compiler: clusters stay on CPU; the neuron-cc
stand-in), the output checked in stock TensorFlow against the original, and the compile's peak
RSS measured against the bound 1.5 x weights + 0.6 GB.

    python -m pytest benchmarks/test_big_model.py --benchmark-enable --benchmark-json=benchmarks/big_model.json

- `medium`: 64 weights of 36 MiB (an MLP 3072 wide), 2.42 GB: many clusters' worth of weights.
- `over_1_gib`: 2048 -> 16384 -> 16384 -> 16384 -> 8, 2.28 GB, two weights of 1 GiB each.

Both pass protobuf's 2 GiB, so nothing may hold them in one message. Needs about 10 GB of
memory (building the model in TensorFlow) and 12 GB of disk; about 4 minutes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from stand_ins import write_launcher

SHAPES = {
    "medium": [3072] * 65,
    "over_1_gib": [2048, 16384, 16384, 16384, 8],
}
PATHS = ["no_compiler", "stand_in"]

BUILD = """
import numpy as np, tensorflow as tf, sys, json
dims = json.loads(sys.argv[2])
rng = np.random.default_rng(5)
class MLP(tf.Module):
    def __init__(self):
        super().__init__()
        self.ws = [tf.Variable(rng.standard_normal((a, b), dtype=np.float32) / a ** 0.5) for a, b in zip(dims, dims[1:])]
        self.bs = [tf.Variable(rng.standard_normal(b, dtype=np.float32) * 0.1) for b in dims[1:]]
    @tf.function(input_signature=[tf.TensorSpec([None, dims[0]], tf.float32, name="x")])
    def __call__(self, x):
        for w, b in zip(self.ws, self.bs):
            x = tf.tanh(tf.matmul(x, w) + b)
        return {"y": x}
m = MLP()
tf.saved_model.save(m, sys.argv[1], signatures=m.__call__)
"""

COMPILE = """
import json, sys, time, warnings
warnings.simplefilter("ignore")
t = time.perf_counter()
import nir
compiler = {"neuron_cc": sys.argv[3]} if sys.argv[3] else {}
report = nir.saved_model.compile(sys.argv[1], sys.argv[2], progress=False, compile_cache=False, **compiler)
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM")][0].split()[1]
print(json.dumps({"seconds": time.perf_counter() - t, "peak_rss_mb": int(hwm) / 1024, "report": report}))
"""

RUN = """
import json, sys
import numpy as np, tensorflow as tf
x = np.random.default_rng(1).standard_normal((2, int(sys.argv[3])), dtype=np.float32)
y = tf.saved_model.load(sys.argv[1]).signatures["serving_default"](x=tf.constant(x))["y"].numpy()
np.save(sys.argv[2], y)
"""


def _python(code: str, *args: str, env: dict | None = None) -> str:
    run = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    return run.stdout


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """shape name -> (model folder, weight bytes, expected output file), built when first asked."""
    root = tmp_path_factory.mktemp("big")
    cache = {}

    def get(shape: str):
        if shape not in cache:
            model = str(root / shape)
            _python(BUILD, model, json.dumps(SHAPES[shape]))
            variables = os.path.join(model, "variables")
            weight_bytes = sum(os.path.getsize(os.path.join(variables, f)) for f in os.listdir(variables))
            assert weight_bytes > 2**31
            expected = str(root / f"{shape}-expected.npy")
            _python(RUN, model, expected, str(SHAPES[shape][0]))
            cache[shape] = (model, weight_bytes, expected)
        return cache[shape]

    return get


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("shape", list(SHAPES))
def test_big_model_in_bounded_memory(benchmark, built, tmp_path, shape, path):
    model, weight_bytes, expected = built(shape)
    out, inlined = str(tmp_path / "out"), str(tmp_path / "inlined")
    compiler = write_launcher(str(tmp_path)) if path == "stand_in" else ""
    env = {**os.environ, "PATH": os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep)
                                                 if not os.path.exists(os.path.join(p, "neuron-cc")))}
    results = []
    benchmark.pedantic(lambda: results.append(json.loads(_python(COMPILE, model, out, compiler, env=env).splitlines()[-1])),
                       rounds=1, iterations=1)
    result = results[0]
    report = result["report"]
    if path == "stand_in":
        assert report["NumCompiledClusters"] == report["NumClusters"] > 0
    else:
        assert report["NumCompiledClusters"] == 0
    _python("import sys, nir; nir.saved_model.inline_neuron_ops(sys.argv[1], sys.argv[2])", out, inlined)
    actual = str(tmp_path / "actual.npy")
    _python(RUN, inlined, actual, str(SHAPES[shape][0]))
    np.testing.assert_allclose(np.load(actual), np.load(expected), rtol=1e-4, atol=1e-5)
    bound_mb = 1.5 * weight_bytes / 2**20 + 0.6 * 1e9 / 2**20
    benchmark.group = "big models in bounded memory"
    benchmark.extra_info.update(
        shape=shape, path=path, weight_mb=weight_bytes / 2**20, peak_rss_mb=result["peak_rss_mb"], bound_mb=bound_mb,
        seconds=result["seconds"], saved_model_pb_mb=os.path.getsize(os.path.join(out, "saved_model.pb")) / 2**20,
        clusters=report["NumClusters"], compiled=report["NumCompiledClusters"], on_neuron_ratio=report["OnNeuronRatio"],
    )
    assert result["peak_rss_mb"] <= bound_mb, f"peak {result['peak_rss_mb']:.0f} MB over the bound {bound_mb:.0f} MB"
