"""Example models nir can build itself (random weights, nothing downloaded): the README's
example, the test zoo and the benchmarks use them. `nir example NAME DIR` writes one."""

from __future__ import annotations

import numpy as np


def _keras():
    import keras

    keras.utils.set_random_seed(0)
    return keras


def build_resnet50(path: str) -> None:
    keras = _keras()
    keras.applications.ResNet50(weights=None).export(path, verbose=False)


def build_mobilenetv2(path: str) -> None:
    keras = _keras()
    keras.applications.MobileNetV2(weights=None).export(path, verbose=False)


def build_two_io(path: str) -> None:
    """Two inputs (float features, int ids), two outputs."""
    keras = _keras()
    features = keras.Input((16,), name="features")
    ids = keras.Input((8,), dtype="int32", name="ids")
    embedded = keras.layers.GlobalAveragePooling1D()(keras.layers.Embedding(100, 16)(ids))
    hidden = keras.layers.Dense(32, activation="relu")(keras.layers.Concatenate()([features, embedded]))
    score = keras.layers.Dense(1, name="score")(hidden)
    logits = keras.layers.Dense(5, name="logits")(hidden)
    keras.Model([features, ids], [score, logits]).export(path, verbose=False)


def build_transformer(path: str) -> None:
    """A small encoder block: MultiHeadAttention, LayerNorm, a gelu MLP."""
    keras = _keras()
    tokens = keras.Input((16, 32), name="tokens")
    attended = keras.layers.MultiHeadAttention(num_heads=4, key_dim=8)(tokens, tokens)
    x = keras.layers.LayerNormalization()(tokens + attended)
    mlp = keras.layers.Dense(32)(keras.layers.Dense(64, activation="gelu")(x))
    x = keras.layers.LayerNormalization()(x + mlp)
    logits = keras.layers.Dense(10)(keras.layers.GlobalAveragePooling1D()(x))
    keras.Model(tokens, logits).export(path, verbose=False)


def build_efficientnetb0(path: str) -> None:
    """EfficientNetB0 at 96x96: swish (a custom-gradient IdentityN per activation), squeeze-and-
    excite, and batch-norm parameter arithmetic that only constant folding removes."""
    keras = _keras()
    keras.applications.EfficientNetB0(weights=None, input_shape=(96, 96, 3)).export(path, verbose=False)


def build_convnext_tiny(path: str) -> None:
    """ConvNeXtTiny at 64x64: depthwise convolutions behind function calls, LayerNorm, GELU and
    layer scale."""
    keras = _keras()
    keras.applications.ConvNeXtTiny(weights=None, input_shape=(64, 64, 3)).export(path, verbose=False)


def build_encoder(path: str) -> None:
    """A 2-layer BERT-style encoder: token and position embeddings, MultiHeadAttention, GELU."""
    keras = _keras()
    length, width, vocab = 16, 32, 100
    ids = keras.Input((length,), dtype="int32", name="ids")
    positions = keras.ops.arange(length)
    x = keras.layers.Embedding(vocab, width)(ids) + keras.layers.Embedding(length, width)(positions)
    x = keras.layers.LayerNormalization()(x)
    for _ in range(2):
        attended = keras.layers.MultiHeadAttention(num_heads=4, key_dim=width // 4)(x, x)
        x = keras.layers.LayerNormalization()(x + attended)
        mlp = keras.layers.Dense(width)(keras.layers.Dense(4 * width, activation="gelu")(x))
        x = keras.layers.LayerNormalization()(x + mlp)
    logits = keras.layers.Dense(2)(x[:, 0])
    keras.Model(ids, logits).export(path, verbose=False)


def build_lstm(path: str) -> None:
    """A Keras LSTM over 12 steps (a functional While loop whose body is the cell math)."""
    keras = _keras()
    steps = keras.Input((12, 8), name="steps")
    hidden = keras.layers.LSTM(16)(steps)
    keras.Model(steps, keras.layers.Dense(4)(hidden)).export(path, verbose=False)


def build_bidirectional_gru(path: str) -> None:
    """A bidirectional GRU over 10 steps (two While loops, one over the reversed sequence)."""
    keras = _keras()
    steps = keras.Input((10, 6), name="steps")
    hidden = keras.layers.Bidirectional(keras.layers.GRU(12))(steps)
    keras.Model(steps, keras.layers.Dense(3)(hidden)).export(path, verbose=False)


def build_stacked_lstm(path: str) -> None:
    """Two LSTMs, the first returning its whole sequence (a TensorList written at every step)."""
    keras = _keras()
    steps = keras.Input((8, 5), name="steps")
    sequence = keras.layers.LSTM(12, return_sequences=True)(steps)
    hidden = keras.layers.LSTM(8)(sequence)
    keras.Model(steps, keras.layers.Dense(2)(hidden)).export(path, verbose=False)


def build_masked_seq2seq(path: str) -> None:
    """An encoder-decoder with masking: a bidirectional GRU over masked source steps (its state
    kept where the mask is off: SelectV2 in the loop) and an LSTM decoder started from its state."""
    keras = _keras()
    source = keras.Input((7, 4), name="source")
    target = keras.Input((5, 4), name="target")
    masked = keras.layers.Masking(mask_value=0.0)(source)
    _, forward_state, backward_state = keras.layers.Bidirectional(keras.layers.GRU(8, return_state=True))(masked)
    state = keras.layers.Concatenate()([forward_state, backward_state])
    decoded = keras.layers.LSTM(16, return_sequences=True)(target, initial_state=[state, state])
    keras.Model([source, target], keras.layers.Dense(3)(decoded)).export(path, verbose=False)


TEXT_VOCABULARY = ["the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog"]


def build_text_classifier(path: str) -> None:
    """Sentences in, classes out: TextVectorization (lower-case, strip punctuation, split,
    vocabulary lookup, padded to 12 tokens) on CPU's string ops, then an embedding, an LSTM and
    a dense head. Its vocabulary table is filled by the SavedModel's initializer."""
    keras = _keras()
    text = keras.Input((), dtype="string", name="text")
    tokens = keras.layers.TextVectorization(max_tokens=40, output_sequence_length=12, vocabulary=TEXT_VOCABULARY)(text)
    hidden = keras.layers.LSTM(16)(keras.layers.Embedding(40, 8)(tokens))
    keras.Model(text, keras.layers.Dense(3)(hidden)).export(path, verbose=False)


def build_tf1_two_signatures(path: str) -> None:
    """A TF1 session model with variables and two signatures."""
    import tensorflow as tf

    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [None, 6], name="x")
        w = tf.compat.v1.get_variable("w", [6, 4], initializer=tf.compat.v1.random_normal_initializer(seed=1))
        b = tf.compat.v1.get_variable("b", [4], initializer=tf.compat.v1.random_normal_initializer(seed=2))
        logits = tf.nn.bias_add(tf.matmul(x, w), b, name="logits")
        probs = tf.nn.softmax(tf.nn.relu(logits), name="probs")
        with tf.compat.v1.Session(graph=graph) as session:
            session.run(tf.compat.v1.global_variables_initializer())
            builder = tf.compat.v1.saved_model.Builder(path)
            info = tf.compat.v1.saved_model.utils.build_tensor_info
            make = tf.compat.v1.saved_model.signature_def_utils.build_signature_def
            builder.add_meta_graph_and_variables(
                session, ["serve"],
                signature_def_map={
                    "serving_default": make({"x": info(x)}, {"probs": info(probs)}, "tensorflow/serving/predict"),
                    "logits": make({"x": info(x)}, {"logits": info(logits)}, "tensorflow/serving/predict"),
                },
            )
            builder.save()


def build_control_flow(path: str) -> None:
    """A tf.Module with tf.while_loop and tf.cond."""
    import tensorflow as tf

    class Loop(tf.Module):
        def __init__(self):
            super().__init__()
            self.w = tf.Variable(np.random.RandomState(3).rand(4, 4).astype(np.float32))

        @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32, name="x")])
        def __call__(self, x):
            def body(i, y):
                return i + 1, tf.tanh(tf.matmul(y, self.w))

            _, y = tf.while_loop(lambda i, y: i < 3, body, [tf.constant(0), x])
            return tf.cond(tf.reduce_sum(y) > 0, lambda: y * 2.0, lambda: y - 1.0)

    module = Loop()
    tf.saved_model.save(module, path, signatures=module.__call__)


BUILDERS = {
    "resnet50": build_resnet50,
    "mobilenetv2": build_mobilenetv2,
    "two_io": build_two_io,
    "transformer": build_transformer,
    "tf1_two_signatures": build_tf1_two_signatures,
    "control_flow": build_control_flow,
    "efficientnetb0": build_efficientnetb0,
    "convnext_tiny": build_convnext_tiny,
    "encoder": build_encoder,
    "lstm": build_lstm,
    "bidirectional_gru": build_bidirectional_gru,
    "stacked_lstm": build_stacked_lstm,
    "masked_seq2seq": build_masked_seq2seq,
    "text_classifier": build_text_classifier,
}
