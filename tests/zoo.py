"""The test model zoo (built by nir.examples) and helpers to run and compare models."""

from __future__ import annotations

import functools
import os

import numpy as np

from nir.examples import BUILDERS as EXAMPLES


def build_cumsum_cut(path: str, w3_scale: float = 1.0) -> None:
    """Two small subgraphs neuron-cc takes, cut by a Cumsum, which its op table lacks:
    x -> MatMul, BiasAdd, Relu -> Cumsum -> MatMul, Tanh, MatMul -> y. Two clusters, each of
    three ops, that the tests of the API paths can count, split, force and compile quickly.
    `w3_scale` edits the weights of the last layer only (the second cluster's)."""
    import tensorflow as tf

    rng = np.random.RandomState(7)

    class Cut(tf.Module):
        def __init__(self):
            super().__init__()
            self.w1 = tf.Variable(rng.standard_normal((8, 8)).astype(np.float32))
            self.b1 = tf.Variable(rng.standard_normal((8,)).astype(np.float32))
            self.w2 = tf.Variable(rng.standard_normal((8, 8)).astype(np.float32) / 4)
            self.w3 = tf.Variable(rng.standard_normal((8, 3)).astype(np.float32) * w3_scale)

        @tf.function(input_signature=[tf.TensorSpec([None, 8], tf.float32, name="x")])
        def __call__(self, x):
            hidden = tf.nn.relu(tf.nn.bias_add(tf.matmul(x, self.w1), self.b1))
            running = tf.math.cumsum(hidden, axis=1, name="running_sum")
            return {"y": tf.matmul(tf.tanh(tf.matmul(running, self.w2)), self.w3)}

    module = Cut()
    tf.saved_model.save(module, path, signatures=module.__call__)


def build_wide_mlp(path: str) -> None:
    """x -> Dense 8x512 -> Relu -> Dense 512x512 -> Relu -> Dense 512x512 -> Relu -> Dense 512x8:
    2.1 MB of float32 weights, two of 1 MB, for tests of models bigger than a limit (the
    tests shrink the limits, not grow the model)."""
    import tensorflow as tf

    rng = np.random.RandomState(11)

    class Wide(tf.Module):
        def __init__(self):
            super().__init__()
            shapes = [(8, 512), (512, 512), (512, 512), (512, 8)]
            self.ws = [tf.Variable((rng.standard_normal(s) / np.sqrt(s[0])).astype(np.float32)) for s in shapes]

        @tf.function(input_signature=[tf.TensorSpec([None, 8], tf.float32, name="x")])
        def __call__(self, x):
            for w in self.ws[:-1]:
                x = tf.nn.relu(tf.matmul(x, w))
            return {"y": tf.matmul(x, self.ws[-1])}

    module = Wide()
    tf.saved_model.save(module, path, signatures=module.__call__)


def build_scan_map_while(path: str) -> None:
    """tf.scan over a static time axis, tf.map_fn over its steps, and a tf.while_loop bounded by
    tf.shape(x)[1] that reads x[:, i] with tf.gather: three loops with trip counts known at
    compile time, none of them a Keras layer."""
    import tensorflow as tf

    class Loops(tf.Module):
        def __init__(self):
            super().__init__()
            self.w = tf.Variable(np.random.RandomState(1).rand(4, 4).astype(np.float32))

        @tf.function(input_signature=[tf.TensorSpec([None, 6, 4], tf.float32, name="x")])
        def __call__(self, x):
            steps = tf.transpose(x, [1, 0, 2])
            states = tf.scan(lambda a, s: tf.tanh(tf.matmul(a, self.w) + s), steps, initializer=tf.zeros_like(steps[0]))
            mapped = tf.map_fn(lambda s: tf.nn.relu(s) * 2.0, states)

            def body(i, total):
                return i + 1, total + tf.gather(x, i, axis=1)

            _, total = tf.while_loop(lambda i, total: i < tf.shape(x)[1], body, [tf.constant(0), tf.zeros_like(x[:, 0])])
            return {"scan": tf.transpose(mapped, [1, 0, 2]), "total": total}

    module = Loops()
    tf.saved_model.save(module, path, signatures=module.__call__)


def build_loop_over_the_batch(path: str) -> None:
    """A tf.while_loop over the samples of the batch (i < tf.shape(x)[0]): its trip count is the
    batch size, a constant only when the batch is."""
    import tensorflow as tf

    class OverBatch(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32, name="x")])
        def __call__(self, x):
            def body(i, total):
                return i + 1, total + tf.tanh(tf.gather(x, i))

            _, total = tf.while_loop(lambda i, total: i < tf.shape(x)[0], body, [tf.constant(0), tf.zeros([4])])
            return {"total": total}

    module = OverBatch()
    tf.saved_model.save(module, path, signatures=module.__call__)


def build_hashed_categories(path: str) -> None:
    """Three string categories per sample hashed into 20 buckets (Keras' Hashing), embedded and
    classified: ids bounded by the bucket count, no table."""
    import keras

    keras.utils.set_random_seed(0)
    categories = keras.Input((3,), dtype="string", name="categories")
    ids = keras.layers.Hashing(num_bins=20)(categories)
    hidden = keras.layers.Flatten()(keras.layers.Embedding(20, 4)(ids))
    keras.Model(categories, keras.layers.Dense(2)(hidden)).export(path, verbose=False)


def build_static_vocabulary_table(path: str) -> None:
    """A tf.Module with a tf.lookup.StaticVocabularyTable (3 words, 2 out-of-vocabulary
    buckets): the id of an unknown word is its hash bucket plus the table's size, computed in
    the graph (LookupTableSizeV2, AddV2, Select)."""
    import tensorflow as tf

    rng = np.random.RandomState(5)

    class Vocabulary(tf.Module):
        def __init__(self):
            super().__init__()
            keys = tf.lookup.KeyValueTensorInitializer(["the", "quick", "fox"], tf.constant([0, 1, 2], tf.int64))
            self.table = tf.lookup.StaticVocabularyTable(keys, num_oov_buckets=2)
            self.embedding = tf.Variable(rng.standard_normal((5, 4)).astype(np.float32))
            self.w = tf.Variable(rng.standard_normal((8, 2)).astype(np.float32))

        @tf.function(input_signature=[tf.TensorSpec([None, 2], tf.string, name="words")])
        def __call__(self, words):
            hidden = tf.reshape(tf.gather(self.embedding, self.table.lookup(words)), [-1, 8])
            return {"y": tf.nn.relu(tf.matmul(hidden, self.w))}

    module = Vocabulary()
    tf.saved_model.save(module, path, signatures=module.__call__)


def build_shared_cond(path: str) -> None:
    """A tf.function holding a tf.cond, called twice: inlined at both calls, two Ifs run the
    same branch functions."""
    import tensorflow as tf

    w = np.random.RandomState(7).standard_normal((4, 4)).astype(np.float32)

    @tf.function
    def gate(x):
        return tf.cond(tf.reduce_sum(x) > 0, lambda: tf.nn.relu(x * 2.0), lambda: tf.tanh(x - 1.0))

    class Twice(tf.Module):
        def __init__(self):
            super().__init__()
            self.w = tf.Variable(w)

        @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32, name="x")])
        def __call__(self, x):
            return {"y": tf.matmul(gate(x), self.w) + gate(-3.0 * x)}

    module = Twice()
    tf.saved_model.save(module, path, signatures=module.__call__)


BUILDERS = {
    **EXAMPLES,
    "cumsum_cut": build_cumsum_cut,
    "cumsum_cut_w3_edited": functools.partial(build_cumsum_cut, w3_scale=2.0),
    "wide_mlp": build_wide_mlp,
    "scan_map_while": build_scan_map_while,
    "loop_over_the_batch": build_loop_over_the_batch,
    "hashed_categories": build_hashed_categories,
    "static_vocabulary_table": build_static_vocabulary_table,
    "shared_cond": build_shared_cond,
}


def random_feeds(model_dir: str, key: str = "serving_default", batch: int = 1, seed: int = 0, signature=None) -> dict:
    """Random inputs for the signature (`signature`, if already loaded: each load of a model
    keeps its functions for the process's life)."""
    import tensorflow as tf

    fn = signature if signature is not None else tf.saved_model.load(model_dir).signatures[key]
    rng = np.random.RandomState(seed)
    feeds = {}
    for name, spec in fn.structured_input_signature[1].items():
        shape = [batch if d is None else d for d in spec.shape]
        if spec.dtype == tf.string:  # sentences of known and unknown words, of varying length
            words = np.array(["the", "quick", "Brown", "fox!", "jumps", "over", "a", "lazy", "dog", "zebra"])
            feeds[name] = np.array([" ".join(rng.choice(words, size=rng.randint(1, 16))) for _ in range(int(np.prod(shape)))],
                                   dtype=object).reshape(shape)
        elif spec.dtype.is_integer:
            feeds[name] = rng.randint(0, 50, size=shape).astype(spec.dtype.as_numpy_dtype)
        else:
            feeds[name] = rng.standard_normal(shape).astype(spec.dtype.as_numpy_dtype)
    return feeds


def run_signature(model_dir: str, feeds: dict, key: str = "serving_default") -> dict:
    import tensorflow as tf

    fn = tf.saved_model.load(model_dir).signatures[key]
    out = fn(**{k: tf.constant(v) for k, v in feeds.items()})
    return {k: v.numpy() for k, v in out.items()}


def assert_same_outputs(expected: dict, actual: dict, rtol: float = 1e-5) -> None:
    assert sorted(expected) == sorted(actual)
    for key in expected:
        a, b = expected[key], actual[key]
        assert a.shape == b.shape, key
        scale = max(1.0, float(np.max(np.abs(a))))
        np.testing.assert_allclose(b, a, rtol=rtol, atol=rtol * scale, err_msg=key)


def tree_digest(path: str) -> dict[str, str]:
    import hashlib

    digests = {}
    for root, _, files in os.walk(path):
        for name in files:
            full = os.path.join(root, name)
            with open(full, "rb") as f:
                digests[os.path.relpath(full, path)] = hashlib.sha256(f.read()).hexdigest()
    return digests
