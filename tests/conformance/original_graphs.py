"""Graphs the original's tests build, rebuilt for nir's conformance tests."""

from __future__ import annotations

import numpy as np
import tensorflow as tf


def conv_add_graph(rng, variables: bool = False):
    """saved_model_test's and graph_util_test's graph, in the default graph: two fp16 inputs,
    three 1x1 convs (their kernels constants, or variables), outputs relu0 and relu1. Returns
    ({"x0", "x1"} -> inputs, {"y0", "y1"} -> outputs)."""
    def kernel():
        value = rng.uniform(-1, 1, size=[1, 1, 3, 3]).astype(np.float16)
        return tf.compat.v1.Variable(value) if variables else value

    input0 = tf.compat.v1.placeholder(tf.float16, [None, 2, 2, 3], name="input0")
    input1 = tf.compat.v1.placeholder(tf.float16, [None, 2, 2, 3], name="input1")
    conv2d0 = tf.nn.conv2d(input0, kernel(), strides=[1, 1, 1, 1], padding="VALID", name="conv2d0")
    conv2d1 = tf.nn.conv2d(input1, kernel(), strides=[1, 1, 1, 1], padding="VALID", name="conv2d1")
    add0 = tf.add(conv2d0, conv2d1, name="add0")
    relu0 = tf.nn.relu(add0, name="relu0")
    conv2d2 = tf.nn.conv2d(tf.sigmoid(add0, name="sigmoid0"), kernel(), strides=[1, 1, 1, 1], padding="VALID",
                           name="conv2d1")
    relu1 = tf.nn.relu(conv2d2, name="relu1")
    return {"x0": input0, "x1": input1}, {"y0": relu0, "y1": relu1}
