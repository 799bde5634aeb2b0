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



def run_v1(model_dir: str, feeds: dict, tags=("serve",), key="serving_default") -> dict:
    """A SavedModel's signature run in a TF1 Session, as the original's predictor ran it:
    feeds and results keyed by the signature's keys."""
    graph = tf.Graph()
    with graph.as_default(), tf.compat.v1.Session(graph=graph) as session:
        signature = tf.compat.v1.saved_model.loader.load(session, list(tags), model_dir).signature_def[key]
        fetches = {k: v.name for k, v in signature.outputs.items()}
        return session.run(fetches, {signature.inputs[k].name: v for k, v in feeds.items()})


def three_in_five_out_model(keras, width: int = 28, dense: bool = True):
    """The 3-input, 5-output Keras model of the original's saved_model_v2_test and trace_test
    (`dense`: a Dense layer on each input, the "stateful" variant), built with `keras` (Keras 3,
    or Keras 2 from tf_keras)."""
    inputs = [keras.layers.Input((width,)) for _ in range(3)]
    x = [keras.layers.Dense(width)(i) for i in inputs] if dense else inputs
    add01 = keras.layers.Add()([x[0], x[1]])
    add02 = keras.layers.Add()([x[0], x[2]])
    outputs = [keras.layers.Activation("sigmoid")(add01), add01, add02, keras.layers.Activation("tanh")(add02),
               keras.layers.Activation("sigmoid")(add02)]
    return keras.Model(inputs=inputs, outputs=outputs)

# ------------------------------------------------- tf2_keras_test.py's Keras models, and inputs
# Each returns (model, example inputs), smaller than the original's where the size is not the
# point; the LSTM stack is one of the original's expected failures.


def keras(layers, shape):
    return tf.keras.Sequential([tf.keras.Input(shape), *layers])


def flatten_dense_dropout():
    layers = [tf.keras.layers.Flatten(), tf.keras.layers.Dense(7, activation="tanh"),
              tf.keras.layers.Dropout(0.2), tf.keras.layers.Dense(5)]
    return keras(layers, (28, 28, 1)), tf.random.uniform((1, 28, 28, 1))


def conv2d_conv2d_flatten_dense():
    layers = [tf.keras.layers.Conv2D(4, 3, activation="relu"), tf.keras.layers.Conv2D(4, 3, activation="relu"),
              tf.keras.layers.Flatten(), tf.keras.layers.Dense(5)]
    return keras(layers, (28, 28, 1)), tf.random.uniform((1, 28, 28, 1))


def maxpool2d():
    return keras([tf.keras.layers.MaxPool2D(2, strides=1, padding="same")], (9, 9, 1)), tf.random.uniform((1, 9, 9, 1))


def lstm_lstm_dense_dense():
    layers = [tf.keras.layers.LSTM(4, return_sequences=True), tf.keras.layers.LSTM(4),
              tf.keras.layers.Dense(3, activation="sigmoid"), tf.keras.layers.Dense(10)]
    return keras(layers, (6, 5)), tf.random.uniform((1, 6, 5))


def toy_resnet():
    inputs = tf.keras.Input((32, 32, 3))
    x = tf.keras.layers.Conv2D(8, 3, activation="relu")(inputs)
    block_1 = tf.keras.layers.MaxPooling2D(3)(tf.keras.layers.Conv2D(16, 3, activation="relu")(x))
    x = tf.keras.layers.Conv2D(16, 3, activation="relu", padding="same")(block_1)
    block_2 = tf.keras.layers.add([tf.keras.layers.Conv2D(16, 3, activation="relu", padding="same")(x), block_1])
    x = tf.keras.layers.GlobalAveragePooling2D()(tf.keras.layers.Conv2D(16, 3, activation="relu")(block_2))
    x = tf.keras.layers.Dropout(0.5)(tf.keras.layers.Dense(32, activation="relu")(x))
    return tf.keras.Model(inputs, tf.keras.layers.Dense(10)(x)), tf.random.uniform((1, 32, 32, 3))


def conv(name):
    return tf.keras.layers.Conv2D(3, 1, name=name)


def multiple_io():
    input1, input2 = tf.keras.Input((2, 2, 3)), tf.keras.Input((2, 2, 3))
    added = tf.keras.layers.Add()([conv("c1")(input1), conv("c2")(input2)])
    relu2 = tf.keras.layers.ReLU()(conv("c3")(tf.keras.layers.Activation("sigmoid")(added)))
    model = tf.keras.Model([input1, input2], [tf.keras.layers.ReLU()(added), relu2])
    return model, [tf.random.uniform([1, 2, 2, 3]), tf.random.uniform([1, 2, 2, 3])]


def branch_merge():
    input1 = tf.keras.Input((2, 2, 3))
    added = tf.keras.layers.Add()([conv("c1")(input1), conv("c2")(input1)])
    return tf.keras.Model(input1, [tf.keras.layers.ReLU()(added), added]), tf.random.uniform([1, 2, 2, 3])


def no_fuse():
    input1 = tf.keras.Input((2, 2, 3))
    c1, c2, c3 = conv("c1")(input1), conv("c2")(input1), conv("c3")(input1)
    add1, add2, add3 = (tf.keras.layers.Add()(pair) for pair in ([c1, c2], [c1, c3], [c2, c3]))
    outputs = [tf.keras.layers.ReLU()(tf.keras.layers.Add()(pair)) for pair in ([add3, add2], [add2, add1], [add3, add1])]
    return tf.keras.Model(input1, outputs), tf.random.uniform([1, 2, 2, 3])


def inputs_short_long():
    input1, input2 = tf.keras.Input((3, 5)), tf.keras.Input((3, 5))
    relu3 = tf.keras.layers.ReLU()(tf.keras.layers.ReLU()(tf.keras.layers.ReLU()(input1)))
    add1 = tf.keras.layers.Add()([input1, relu3])
    model = tf.keras.Model([input1, input2], [tf.keras.layers.Activation("sigmoid")(add1), relu3])
    return model, [tf.random.uniform([1, 3, 5]), tf.random.uniform([1, 3, 5])]


def short_long_mid():
    """Inputs of different batch sizes (2, 1, 2, 2) and an input handed straight out."""
    inputs = [tf.keras.Input((3, 5)) for _ in range(4)]
    relu3 = tf.keras.layers.ReLU()(tf.keras.layers.ReLU()(tf.keras.layers.ReLU()(inputs[3])))
    add1 = tf.keras.layers.Add()([inputs[0], relu3])
    model = tf.keras.Model(inputs, [tf.keras.layers.Activation("sigmoid")(add1), relu3, inputs[3]])
    return model, [tf.random.uniform([b, 3, 5]) for b in (2, 1, 2, 2)]


TF2_KERAS_MODELS = [
    flatten_dense_dropout, conv2d_conv2d_flatten_dense, maxpool2d, lstm_lstm_dense_dense, toy_resnet,
    multiple_io, branch_merge, no_fuse, inputs_short_long, short_long_mid,
]
