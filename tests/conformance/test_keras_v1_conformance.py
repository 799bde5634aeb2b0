"""Facts of the original's `tfv1_keras_test.py`, `keras_test.py` and `op_register_test.py`:
TF1-session models of the shapes its Keras tests build (Flatten/Dense/Dropout, two convs then
Dense, a MaxPool, the toy ResNet of Keras's functional-API guide; ResNet in float16), saved by
`simple_save`, compiled with the original's float64 `model_feed_dict`, answer as the original
does; and `simple_save` works in a fresh process, its output loading in another.

TensorFlow 2.21's `tf.compat.v1.keras` is Keras 3, which builds no TF1 session graphs (the
original's tests need Keras 2), so the same layers are written here with TensorFlow ops. The
original ran its compiled models with `tf.contrib.predictor` on Inferentia; here the NeuronOps
are inlined and a TF1 Session runs them.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from original_graphs import run_v1  # noqa: E402

import nir  # noqa: E402

WEIGHT_STDDEV = 0.001  # the original's initializer: small weights keep assert_allclose meaningful


class Layers:
    """The few Keras layers the original's tests use, as TF1 ops with variables."""

    def __init__(self, rng, dtype):
        self.rng, self.dtype = rng, dtype

    def weight(self, shape):
        return tf.compat.v1.Variable(self.rng.normal(0, WEIGHT_STDDEV, shape).astype(self.dtype))

    def dense(self, x, units, activation=tf.identity):
        return activation(tf.matmul(x, self.weight([x.shape[-1], units])) + self.weight([units]))

    def conv(self, x, filters, size, activation=tf.nn.relu, padding="VALID"):
        kernel = self.weight([size, size, x.shape[-1], filters])
        return activation(tf.nn.bias_add(tf.nn.conv2d(x, kernel, 1, padding), self.weight([filters])))


def flatten_dense_dropout(layers, activation):
    x = tf.compat.v1.placeholder(layers.dtype, [None, 28, 28], name="input")
    hidden = layers.dense(tf.reshape(x, [-1, 28 * 28]), 5, activation)
    # Dropout(0.2) is the identity when serving: Keras exports no op for it.
    return x, layers.dense(hidden, 3)


def conv2d_conv2d_flatten_dense(layers, activation, size):
    x = tf.compat.v1.placeholder(layers.dtype, [None, 28, 28, size], name="input")
    hidden = layers.conv(layers.conv(x, 2, size, activation), 2, size, activation)
    return x, layers.dense(tf.reshape(hidden, [-1, int(np.prod(hidden.shape[1:]))]), 3)


def maxpool2d(layers, side):
    x = tf.compat.v1.placeholder(layers.dtype, [None, side, side, 1], name="input")
    return x, tf.nn.max_pool2d(x, 2, 1, "SAME")


def toy_resnet(layers):
    x = tf.compat.v1.placeholder(layers.dtype, [None, 32, 32, 3], name="img")
    h = layers.conv(layers.conv(x, 32, 3), 64, 3)
    block1 = tf.nn.max_pool2d(h, 3, 3, "VALID")
    block2 = layers.conv(layers.conv(block1, 64, 3, padding="SAME"), 64, 3, padding="SAME") + block1
    block3 = layers.conv(layers.conv(block2, 64, 3, padding="SAME"), 64, 3, padding="SAME") + block2
    pooled = tf.reduce_mean(layers.conv(block3, 64, 3), axis=[1, 2])
    return x, layers.dense(layers.dense(pooled, 256, tf.nn.relu), 10)


MODELS = {
    "flatten_dense_dropout_relu": lambda layers: flatten_dense_dropout(layers, tf.nn.relu),
    "flatten_dense_dropout_softmax": lambda layers: flatten_dense_dropout(layers, tf.nn.softmax),
    "conv2d_conv2d_flatten_dense_k1_tanh": lambda layers: conv2d_conv2d_flatten_dense(layers, tf.tanh, 1),
    "conv2d_conv2d_flatten_dense_k3_sigmoid": lambda layers: conv2d_conv2d_flatten_dense(layers, tf.sigmoid, 3),
    "maxpool2d": lambda layers: maxpool2d(layers, 14),
    "toy_resnet": toy_resnet,
    "toy_resnet_float16": toy_resnet,  # keras_test's float16 ResNet: compiles, no "half" error
}


def save_model(path: str, name: str) -> np.ndarray:
    """simple_save of MODELS[name] under 'input' -> 'output'; returns the original's float64 feed."""
    dtype = np.float16 if name.endswith("float16") else np.float32
    graph = tf.Graph()
    with graph.as_default(), tf.compat.v1.Session(graph=graph) as session:
        x, y = MODELS[name](Layers(np.random.default_rng(7051994), dtype))
        session.run(tf.compat.v1.global_variables_initializer())
        tf.compat.v1.saved_model.simple_save(session, path, {"input": x}, {"output": y})
    return np.random.default_rng(1).random([1, *x.shape[1:]])  # float64, as np.random.rand gives


@pytest.mark.parametrize("name", sorted(MODELS))
def test_keras_shaped_session_models_compile_and_answer(tmp_path, fake_neuron_cc, name):
    model, out, inline = (str(tmp_path / n) for n in ("model", "out", "inline"))
    feed = save_model(model, name)
    if name == "maxpool2d":
        # One MaxPool is a segment of 1, below the minimum of 2: the original leaves it on CPU too.
        with pytest.warns(UserWarning, match="below minimum_segment_size=2"):
            report = nir.saved_model.compile(model, out, model_feed_dict={"input": feed},
                                             neuron_cc=fake_neuron_cc, progress=False)
        assert report["NumClusters"] == 0
    else:
        report = nir.saved_model.compile(model, out, model_feed_dict={"input": feed}, neuron_cc=fake_neuron_cc,
                                         progress=False)
        assert report["NumClusters"] == report["NumCompiledClusters"] >= 1
        assert report["OnNeuronRatio"] > 0.5
    nir.saved_model.inline_neuron_ops(out, inline)
    tolerance = dict(rtol=1e-2, atol=1e-3) if name.endswith("float16") else dict(rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(run_v1(inline, {"input": feed})["output"], run_v1(model, {"input": feed})["output"],
                               **tolerance)


def test_simple_save_in_a_fresh_process_loads_in_another(tmp_path, fake_neuron_cc):
    """op_register_test: simple_save (signature keys that are tensor names) in a clean
    process, the result loaded in another clean process (nir.load declares NeuronOp there)."""
    out = str(tmp_path / "out")
    save = textwrap.dedent(f"""
        import numpy as np, tensorflow as tf, nir
        tf.compat.v1.disable_eager_execution()
        with tf.compat.v1.Session() as sess:
            ph = tf.compat.v1.placeholder(tf.float32, [1, 1])
            output = tf.matmul(ph, np.ones([1, 1]).astype(np.float32)) + 1.0
            report = nir.saved_model.simple_save(sess, {out!r}, {{ph.name: ph}}, {{output.name: output}},
                                                 neuron_cc={fake_neuron_cc!r}, progress=False)
        assert report["NumCompiledClusters"] == 1, report
    """)
    subprocess.run([sys.executable, "-c", save], check=True, capture_output=True)
    run = textwrap.dedent(f"""
        import numpy as np, nir
        model = nir.load({out!r})
        print(float(next(iter(model(**{{"Placeholder:0": np.array([[2.0]], np.float32)}}).values()))[0, 0]))
    """)
    result = subprocess.run([sys.executable, "-c", run], check=True, capture_output=True, text=True)
    assert float(result.stdout.strip().splitlines()[-1]) == 3.0
