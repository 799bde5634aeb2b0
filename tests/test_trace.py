"""nir.trace, NeuronModel, nir.load and nir.analyze_model: the TF2 entry point end to end."""

from __future__ import annotations

import os

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

import nir  # noqa: E402


def two_inputs_dict_output_model():
    tokens = tf.keras.Input((8,), dtype="int32", name="tokens")
    features = tf.keras.Input((16,), name="features")
    embedded = tf.keras.layers.Flatten()(tf.keras.layers.Embedding(50, 4)(tokens))
    joined = tf.keras.layers.Concatenate()([embedded, tf.keras.layers.Dense(8, activation="relu")(features)])
    hidden = tf.keras.layers.Dense(12, activation="gelu")(joined)
    return tf.keras.Model(
        {"tokens": tokens, "features": features},
        {"logits": tf.keras.layers.Dense(3)(hidden), "score": tf.keras.layers.Dense(1, activation="sigmoid")(hidden)},
    )


def inputs_of(batch: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    return {
        "tokens": tf.constant(rng.integers(0, 50, (batch, 8)), tf.int32),
        "features": tf.constant(rng.standard_normal((batch, 16)), tf.float32),
    }


@pytest.fixture(scope="module")
def traced_pair(fake_neuron_cc):
    tf.keras.utils.set_random_seed(3)
    model = two_inputs_dict_output_model()
    return model, nir.trace(model, inputs_of(2, 0), neuron_cc=fake_neuron_cc)


def assert_same(actual: dict, expected: dict) -> None:
    assert sorted(actual) == sorted(expected)
    for key in expected:
        np.testing.assert_allclose(np.asarray(actual[key]), np.asarray(expected[key]), rtol=1e-4, atol=1e-6)


def test_two_inputs_dict_output_called_saved_loaded_and_inlined(traced_pair, tmp_path):
    model, traced = traced_pair
    neuron_ops = [n for n in traced.neuron_graph_def.node if n.op == "NeuronOp"]
    assert len(neuron_ops) == 1 and neuron_ops[0].attr["executable"].s
    assert traced.report["NumCompiledClusters"] == 1
    assert traced.on_neuron_ratio == traced.report["OnNeuronRatio"] > 0.5
    example = inputs_of(2, 1)
    expected = model(example)
    assert_same(traced(example), expected)

    saved = str(tmp_path / "saved")
    traced.save(saved)
    loaded = nir.load(saved)
    assert_same(loaded(example), expected)
    assert loaded.on_neuron_ratio == pytest.approx(traced.on_neuron_ratio)

    inlined = str(tmp_path / "inlined")
    nir.saved_model.inline_neuron_ops(saved, inlined)
    serving = tf.saved_model.load(inlined).signatures["serving_default"]
    keys = {s.key: s for s in traced.signature.inputs}
    feeds = {key: example[name] for key, name in zip(keys, ("features", "tokens"))}
    assert_same(serving(**feeds), expected)


def test_signature_names_dict_outputs_by_their_keys(traced_pair):
    _, traced = traced_pair
    assert [s.key for s in traced.signature.outputs] == ["logits", "score"]


def test_other_batch_sizes_run_in_compiled_size_pieces(traced_pair):
    model, traced = traced_pair
    for batch in (1, 3, 7):
        example = inputs_of(batch, batch)
        assert_same(traced(example), model(example))


def test_save_never_overwrites(traced_pair, tmp_path):
    _, traced = traced_pair
    (tmp_path / "taken").mkdir()
    with pytest.raises(nir.NirInputError, match="already exists"):
        traced.save(str(tmp_path / "taken"))
    assert os.listdir(tmp_path / "taken") == []


def test_call_with_the_wrong_structure_says_what_it_takes(traced_pair):
    _, traced = traced_pair
    with pytest.raises(nir.NirInputError, match="call it with the example inputs' structure"):
        traced([tf.zeros([2, 8], tf.int32)])


def test_trace_refuses_what_is_not_callable():
    with pytest.raises(nir.NirInputError, match="needs a Keras model, a tf.function or a callable"):
        nir.trace(42, tf.zeros([1, 3]))


def test_trace_of_a_function_without_inputs_says_so():
    with pytest.raises(nir.NirInputError, match="takes no tensor input"):
        nir.trace(tf.function(lambda: tf.ones([2]), input_signature=[]), ())


def dense_reshape_dense():
    inputs = tf.keras.Input((3,))
    hidden = tf.keras.layers.Dense(3)(inputs)
    hidden = tf.keras.layers.Reshape([1, 3])(hidden)
    return tf.keras.Model(inputs, tf.keras.layers.Dense(2)(hidden))


def test_subgraph_builder_function_changes_the_partition(fake_neuron_cc):
    """The original's docstring example: only MatMuls may join a subgraph, so the two Dense
    layers' MatMuls become two NeuronOps and their BiasAdds and the Reshapes stay on CPU."""
    tf.keras.utils.set_random_seed(4)
    model = dense_reshape_dense()
    example = tf.random.uniform([1, 3])
    automatic = nir.trace(model, example, neuron_cc=fake_neuron_cc)
    manual = nir.trace(model, example, neuron_cc=fake_neuron_cc,
                       subgraph_builder_function=lambda node: node.op == "MatMul")

    def neuron_ops(traced):
        return [n for n in traced.neuron_graph_def.node if n.op == "NeuronOp"]

    assert len(neuron_ops(automatic)) == 1
    assert len(neuron_ops(manual)) == 2
    for op in neuron_ops(manual):
        inner = tf.compat.v1.GraphDef.FromString(op.attr["graph_def"].s)
        assert sorted(n.op for n in inner.node if n.op not in ("Placeholder", "Const")) == ["MatMul"]
    cpu_ops = sorted(n.op for n in manual.neuron_graph_def.node
                     if n.op not in ("Placeholder", "Const", "NeuronOp") and n.name != "Identity")  # the output's name
    # Keras computes the second Dense on a rank-3 input as Reshape, MatMul, Reshape.
    assert set(cpu_ops) == {"BiasAdd", "Reshape"} and cpu_ops.count("BiasAdd") == 2
    np.testing.assert_allclose(manual(example), model(example), rtol=1e-5)


def test_subgraph_builder_function_excludes_no_fuse_ops():
    with pytest.raises(nir.NirInputError, match="not both"):
        nir.trace(dense_reshape_dense(), tf.zeros([1, 3]), subgraph_builder_function=lambda n: True,
                  no_fuse_ops=["x"])


def test_analyze_model_reports_placement_and_follows_the_builder_function(capsys):
    model = dense_reshape_dense()
    example = tf.random.uniform([1, 3])
    automatic = nir.analyze_model(model, example)
    assert "Clusters (1)" in capsys.readouterr().out
    assert len(automatic["clusters"]) == 1
    manual = nir.analyze_model(model, example, subgraph_builder_function=lambda node: node.op == "MatMul",
                               print_report=False)
    assert capsys.readouterr().out == ""
    assert len(manual["clusters"]) == 2
    reasons = {row["op_type"]: row["reason"] for row in manual["cpu"]}
    assert reasons["BiasAdd"] == reasons["Reshape"] == "listed in no_fuse_ops"


def test_load_refuses_a_folder_that_is_not_a_saved_model(tmp_path):
    with pytest.raises(nir.NirInputError, match="no saved_model.pb"):
        nir.load(str(tmp_path))


@pytest.mark.parametrize("name", ["two_io", "control_flow"])
def test_load_of_a_compiled_saved_model_takes_signature_keys(zoo, fake_neuron_cc, tmp_path, name):
    """A model from saved_model.compile has no traced structure: nir.load takes its inputs by
    signature key and answers with a dict, as its serving signature does; a model whose graph
    calls library functions (a While's body and condition) too."""
    out = str(tmp_path / name)
    report = nir.saved_model.compile(zoo[name], out, neuron_cc=fake_neuron_cc)
    assert report["NumCompiledClusters"] >= 1
    loaded = nir.load(out)
    inline = str(tmp_path / "inline")
    nir.saved_model.inline_neuron_ops(out, inline)
    serving = tf.saved_model.load(inline).signatures["serving_default"]
    feeds = {
        name: tf.zeros([d if d > 0 else 1 for d in spec.shape], tf.as_dtype(spec.dtype))
        for name, spec in ((s.key, s) for s in loaded.signature.inputs)
    }
    assert_same(loaded(**feeds), serving(**feeds))


@pytest.fixture(scope="module")
def fake_neuronx_cc(tmp_path_factory) -> str:
    from stand_ins import FAKE_NEURONX_CC, write_launcher

    return write_launcher(str(tmp_path_factory.mktemp("neuronx-cc-bin")), FAKE_NEURONX_CC, "neuronx-cc")


def test_trace_honours_the_target(fake_neuronx_cc):
    """inferentia2: the clusters go to neuronx-cc as HLO, the NeuronOps say so, and the model
    still answers through the CPU fallback (the embedded GraphDef, not the HLO)."""
    tf.keras.utils.set_random_seed(5)
    model = dense_reshape_dense()
    example = tf.random.uniform([2, 3])
    traced = nir.trace(model, example, target="inferentia2", neuron_cc=fake_neuronx_cc)
    (neuron_op,) = [n for n in traced.neuron_graph_def.node if n.op == "NeuronOp"]
    assert neuron_op.attr["_target"].s == b"inferentia2"
    assert neuron_op.attr["executable"].s
    np.testing.assert_allclose(traced(example), model(example), rtol=1e-5)


def test_trace_uses_the_compile_cache(fake_neuron_cc, tmp_path):
    model = dense_reshape_dense()
    example = tf.random.uniform([1, 3])
    options = dict(neuron_cc=fake_neuron_cc, compile_cache=True, cache_dir=str(tmp_path / "cache"))
    first = nir.trace(model, example, **options)
    second = nir.trace(model, example, **options)
    assert (first.report["NumClustersFromCache"], second.report["NumClustersFromCache"]) == (0, 1)
    assert first.neuron_graph_def.SerializeToString(deterministic=True) == \
        second.neuron_graph_def.SerializeToString(deterministic=True)


def test_a_shape_it_was_not_compiled_for_is_refused(fake_neuron_cc):
    model = dense_reshape_dense()
    fixed = nir.trace(model, tf.zeros([2, 3]), neuron_cc=fake_neuron_cc, dynamic_batch_size=False)
    with pytest.raises(nir.NirInputError, match=r"compiled for 2x3"):
        fixed(tf.zeros([4, 3]))
    dynamic = nir.trace(model, tf.zeros([2, 3]), neuron_cc=fake_neuron_cc)
    with pytest.raises(nir.NirInputError, match=r"compiled for \?x3"):
        dynamic(tf.zeros([4, 5]))
    np.testing.assert_allclose(dynamic(tf.ones([4, 3])), model(tf.ones([4, 3])), rtol=1e-5)
