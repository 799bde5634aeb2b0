"""The test model zoo (built by nir.examples) and helpers to run and compare models."""

from __future__ import annotations

import os

import numpy as np

from nir.examples import BUILDERS  # noqa: F401


def random_feeds(model_dir: str, key: str = "serving_default", batch: int = 1, seed: int = 0) -> dict:
    import tensorflow as tf

    fn = tf.saved_model.load(model_dir).signatures[key]
    rng = np.random.RandomState(seed)
    feeds = {}
    for name, spec in fn.structured_input_signature[1].items():
        shape = [batch if d is None else d for d in spec.shape]
        if spec.dtype.is_integer:
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
