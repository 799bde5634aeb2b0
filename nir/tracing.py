"""The TF2 entry point: `nir.trace(func, example_inputs)` compiles a live Keras model or
function and gives back a model to call, save and serve; `nir.load` reads such a model back.

    import nir as tfn
    model_neuron = tfn.trace(keras_model, example_inputs)
    model_neuron(example_inputs)          # runs here, each cluster as its own TF function
    model_neuron.save("model_neuron")     # a SavedModel whose clusters are NeuronOps
    tfn.load("model_neuron")(example_inputs)

It runs the pipeline `saved_model.compile` runs (the same frontend steps, passes, target,
compiler, cache and executors); only how the graph is obtained (TensorFlow traces `func` on
`example_inputs`) and how the result is handed back differ. Arguments follow the original
tensorflow-neuron's `tfn.trace`: a tuple of example inputs is passed as positional arguments
(`func(*example_inputs)`), anything else (a tensor, a list, a dict) as the one argument.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping

from backends.cpu_fallback import cpu_function
from backends.neuron.neuron_op import count_nodes, neuron_ops, ops_on_neuron
from frontends.tensorflow.function import load_concrete_function
from frontends.tensorflow.writer import atomic_directory, check_new_model_dir, write_saved_model_contents
from nir.compile_driver import CompileSetup, Job, compile_jobs, pipeline_module
from nir.errors import NirInputError
from nir.explain import explain_module, format_report
from nir.options import CompileOptions
from nir.relift import read_compiled_model

STRUCTURE_FILE = os.path.join("assets.extra", "nir_structure.pb")
# The original's automatic placement (no subgraph_builder_function): clusters of any size, and
# when the largest cluster holds more than this share of the clustered ops, only it is kept.
AUTOMATIC_MINIMUM_SEGMENT_SIZE = 1
AUTOMATIC_KEEP_LARGEST_RATIO = 0.8


def trace(func, example_inputs, subgraph_builder_function: Callable | None = None, **compile_options) -> NeuronModel:
    """Compile `func` (a Keras model, a tf.function or a callable taking tensors) for the
    shapes of `example_inputs` and return a `NeuronModel`.

    `subgraph_builder_function(node_def) -> bool` decides per node (a TensorFlow NodeDef of the
    frozen, inlined graph) whether it may join a subgraph: True places it on the accelerator
    when that is possible, False keeps it on CPU. Constants follow the ops they feed.
    `compile_options` are `nir.saved_model.compile`'s keyword options (target=, neuron_cc=,
    compiler_workdir=, dynamic_batch_size=, executor=, ...). Dynamic batch is on, as in the
    original, when every cluster's inputs and outputs carry the batch on dimension 0: the
    returned model then takes any batch size.
    """
    concrete, job, setup = _traced_job(func, example_inputs, subgraph_builder_function, compile_options)
    (prepared,) = compile_jobs([job], setup)
    graph_def, signature = prepared.compiled
    report = dict(prepared.report, CompilerWorkdir=job.compiler_workdir)
    return NeuronModel(graph_def, signature, _Structure.of(concrete, job.loaded.signature), report)


def analyze_model(func, example_inputs, subgraph_builder_function: Callable | None = None,
                  print_report: bool = True, **compile_options) -> dict:
    """Which ops of `func` would run on the accelerator and why the others stay on CPU, without
    compiling: `nir explain`'s report (its "cpu", "clusters" and "cut_by" entries) for the
    traced graph. Prints it unless `print_report` is False."""
    _, job, setup = _traced_job(func, example_inputs, subgraph_builder_function, compile_options)
    module, _ = pipeline_module(job, setup, setup.options.dump_dir)
    report = explain_module(module)
    if print_report:
        print(format_report(report))
    return report


def _traced_job(func, example_inputs, subgraph_builder_function, compile_options: dict):
    """`func` traced and frozen, as one compile job of `saved_model`'s with its setup.
    Returns (concrete function, job, setup)."""
    concrete, example_inputs = concrete_function_of(func, example_inputs)
    batch_size = batch_size_of(example_inputs)
    loaded = _load(concrete, batch_size)
    options = _placement_options(loaded.graph_def, subgraph_builder_function, compile_options)
    workdir = options.pop("compiler_workdir", None)
    setup = CompileSetup.of(CompileOptions.of(**options))
    job = Job(_display_name(func), None, batch_size or 1, workdir or setup.flags.workdir, loaded)
    return concrete, job, setup


def load(model_dir: str) -> NeuronModel:
    """Load a SavedModel that nir compiled (by `NeuronModel.save` or `saved_model.compile`) so
    it runs on this machine without the Neuron runtime: each NeuronOp runs its own embedded
    graph on CPU (the CPU fallback, not the accelerator)."""
    graph_def, signature = read_compiled_model(model_dir)
    return NeuronModel(graph_def, signature, _Structure.read(model_dir, signature), None)


def concrete_function_of(func, example_inputs):
    """The original's rules: a non-tuple `example_inputs` is the one argument; a plain
    callable given only tensors is traced for exactly their shapes and dtypes."""
    import tensorflow as tf

    if not isinstance(example_inputs, tuple):
        example_inputs = (example_inputs,)
    example_inputs = tf.nest.map_structure(_as_tensor, example_inputs)
    if isinstance(func, tf.types.experimental.ConcreteFunction):
        return func, example_inputs
    if not isinstance(func, tf.types.experimental.PolymorphicFunction):
        if not callable(func):
            raise NirInputError(f"trace needs a Keras model, a tf.function or a callable, got {type(func).__name__}")
        signature = None
        if all(isinstance(t, tf.Tensor) for t in example_inputs):
            signature = [tf.TensorSpec(t.shape, t.dtype) for t in example_inputs]
        func = tf.function(func, input_signature=signature)
    try:
        return func.get_concrete_function(*example_inputs), example_inputs
    except (TypeError, ValueError) as err:
        raise NirInputError(
            f"tracing {getattr(func, '__name__', func)} on the example inputs failed: {err}. A tuple of "
            "example inputs is passed as positional arguments, a tensor, list or dict as one argument"
        ) from None


def _display_name(func) -> str:
    name = getattr(func, "name", None) or getattr(func, "__name__", None) or type(func).__name__
    return f"the traced '{name.decode() if isinstance(name, bytes) else name}'"


def _as_tensor(value):
    import tensorflow as tf

    return value if isinstance(value, tf.Tensor) else tf.convert_to_tensor(value)


def batch_size_of(example_inputs) -> int | None:
    """Dimension 0 of the example tensors when they all have one and agree on it: the batch
    size, as the original takes it."""
    import tensorflow as tf

    sizes = {t.shape[0] if t.shape.rank else None for t in tf.nest.flatten(example_inputs, expand_composites=True)}
    (size,) = sizes if len(sizes) == 1 else (None,)
    return size


def _load(concrete, batch_size: int | None):
    return load_concrete_function(concrete, batch_size, _output_keys(concrete.structured_outputs))


def _output_keys(structured_outputs) -> list[str] | None:
    """A flat dict of outputs names the signature's outputs by its keys, as Keras does;
    anything else gets `output_<i>`."""
    import tensorflow as tf

    if isinstance(structured_outputs, Mapping) and all(
        isinstance(k, str) and isinstance(v, tf.Tensor) for k, v in structured_outputs.items()
    ):
        return sorted(structured_outputs)  # the flat order of a dict
    return None


def _placement_options(graph_def, subgraph_builder_function, options: dict) -> dict:
    """The original's two modes: automatic (small clusters pruned away), or the user's
    function deciding node by node."""
    options = dict(options)
    options.setdefault("dynamic_batch_size", None)  # automatic, as the original's
    if subgraph_builder_function is None:
        options.setdefault("minimum_segment_size", AUTOMATIC_MINIMUM_SEGMENT_SIZE)
        options.setdefault("keep_largest_ratio", AUTOMATIC_KEEP_LARGEST_RATIO)
        return options
    if "no_fuse_ops" in options or "force_fuse_ops" in options:
        raise NirInputError(
            "subgraph_builder_function decides every node's placement; pass it or "
            "no_fuse_ops/force_fuse_ops, not both"
        )
    chosen, refused = [], []
    for node in _nodes_of(graph_def):
        if node.op in ("Const", "Placeholder"):
            continue  # constants follow their users; inputs stay where they are
        (chosen if subgraph_builder_function(node) else refused).append(node.name)
    options["force_fuse_ops"] = chosen
    options["no_fuse_ops"] = refused
    options.setdefault("minimum_segment_size", 1)
    return options


def _nodes_of(graph_def):
    yield from graph_def.node
    for function in graph_def.library.function:
        yield from function.node_def


class NeuronModel:
    """A compiled model. Calling it runs each cluster as its own TensorFlow function on this
    machine (the CPU fallback); `save` writes the SavedModel the Neuron runtime serves, with one
    NeuronOp per compiled cluster. `report` is compile's report (None for a loaded model)."""

    def __init__(self, graph_def, signature, structure: _Structure, report: dict | None):
        self.neuron_graph_def = graph_def
        self.signature = signature
        self.report = report
        self._structure = structure
        self._function = None
        by_key = {s.key: s for s in signature.inputs}
        self._input_specs = [by_key[k] for k in structure.input_keys]  # in the call's flat order

    @property
    def on_neuron_ratio(self) -> float:
        """The share of the model's ops placed in compiled NeuronOps."""
        if self.report is not None:
            return self.report["OnNeuronRatio"]

        compiled = [n for n in neuron_ops(self.neuron_graph_def) if n.attr["executable"].s]
        on_neuron = sum(ops_on_neuron(n) for n in compiled)
        after = count_nodes(self.neuron_graph_def) + on_neuron - len(compiled)
        return on_neuron / after if after else 0.0

    @property
    def aws_neuron_function(self):
        """The tf ConcreteFunction that runs the model on CPU, flat inputs to flat outputs
        (built on first use)."""
        if self._function is None:
            self._function = self._build_function()
        return self._function

    def _build_function(self):
        by_key_out = {s.key: s for s in self.signature.outputs}
        inputs = [s.tensor_name for s in self._input_specs]
        outputs = [by_key_out[k].tensor_name for k in self._structure.output_keys]
        relaxed = [s.tensor_name.split(":")[0] for s in self._input_specs if s.shape and s.shape[0] == -1]
        function = cpu_function(self.neuron_graph_def, inputs, outputs, relaxed)
        if self.signature.init_op:
            # What a SavedModel loader does first: run the main op (fill lookup tables) once.
            cpu_function(self.neuron_graph_def, [], [self.signature.init_op])()
        return function

    def __call__(self, *args, **kwargs):
        import tensorflow as tf

        flat = self._structure.flatten_inputs(args, kwargs)
        for tensor, spec in zip(flat, self._input_specs):
            _check_shape(tensor, spec)
        flat = [tf.cast(t, tf.as_dtype(s.dtype)) if t.dtype != tf.as_dtype(s.dtype) else t
                for t, s in zip(flat, self._input_specs)]
        return self._structure.pack_outputs(self.aws_neuron_function(*flat))

    def save(self, path: str) -> None:
        """Write the SavedModel with NeuronOps to `path` (which must not exist), all or nothing."""
        from tensorflow.core.framework import graph_pb2


        target = check_new_model_dir(path)
        graph_def = graph_pb2.GraphDef()
        graph_def.CopyFrom(self.neuron_graph_def)  # the writer consumes what it is given
        with atomic_directory(target) as staging:
            write_saved_model_contents(staging, graph_def, self.signature)
            self._structure.write(staging)

    def __repr__(self) -> str:
        ratio = f"{self.on_neuron_ratio:.3f}"
        return f"<nir.NeuronModel: {len(self._structure.input_keys)} inputs, on_neuron_ratio {ratio}>"


def _check_shape(tensor, spec) -> None:
    """A NeuronOp runs only the shapes it was compiled for (dimension 0 may vary where the model
    has dynamic batch); TensorFlow would not check a function's argument shapes."""
    shape = tuple(tensor.shape)
    if spec.shape is None:
        return
    if len(shape) != len(spec.shape) or any(s >= 0 and d != s for d, s in zip(shape, spec.shape)):
        compiled = "x".join("?" if s < 0 else str(s) for s in spec.shape)
        raise NirInputError(
            f"input '{spec.key}' has shape {list(shape)}, but the model was compiled for {compiled}; "
            "trace it again with an example of this shape (dimension 0 may vary only when the model "
            "has dynamic batch)"
        )


class _Structure:
    """How the caller's nested inputs and outputs map to the signature's flat keys."""

    def __init__(self, input_structure, output_structure, input_keys, output_keys):
        self.input_structure = input_structure  # (args, kwargs) of TensorSpecs
        self.output_structure = output_structure  # nest of TensorSpecs
        self.input_keys = list(input_keys)
        self.output_keys = list(output_keys)

    @staticmethod
    def of(concrete, signature) -> _Structure:
        import tensorflow as tf

        outputs = tf.nest.map_structure(
            lambda t: tf.TensorSpec.from_tensor(t) if isinstance(t, tf.Tensor) else t,
            concrete.structured_outputs,
        )
        return _Structure(
            concrete.structured_input_signature, outputs,
            [s.key for s in signature.inputs], [s.key for s in signature.outputs],
        )

    @staticmethod
    def read(model_dir: str, signature) -> _Structure:
        """The structure `write` stored, or, for a model compiled from a SavedModel, keyword
        inputs by signature key and a dict of outputs."""
        from tensorflow.core.protobuf import struct_pb2
        from tensorflow.python.saved_model import nested_structure_coder

        path = os.path.join(model_dir, STRUCTURE_FILE)
        if not os.path.isfile(path):
            keys_in = [s.key for s in signature.inputs]
            keys_out = [s.key for s in signature.outputs]
            specs_in = {s.key: s for s in signature.inputs}
            return _Structure(((), {k: specs_in[k] for k in keys_in}), {k: k for k in keys_out}, sorted(keys_in), keys_out)
        with open(path, "rb") as f:
            value = nested_structure_coder.decode_proto(struct_pb2.StructuredValue.FromString(f.read()))
        return _Structure(value["inputs"], value["outputs"], value["input_keys"], value["output_keys"])

    def write(self, model_dir: str) -> None:
        from tensorflow.python.saved_model import nested_structure_coder

        value = {
            "inputs": self.input_structure, "outputs": self.output_structure,
            "input_keys": self.input_keys, "output_keys": self.output_keys,
        }
        os.makedirs(os.path.join(model_dir, os.path.dirname(STRUCTURE_FILE)), exist_ok=True)
        with open(os.path.join(model_dir, STRUCTURE_FILE), "wb") as f:
            f.write(nested_structure_coder.encode_structure(value).SerializeToString())

    def flatten_inputs(self, args, kwargs) -> list:
        import tensorflow as tf

        expected_args, expected_kwargs = self.input_structure
        if not expected_args and not args and isinstance(expected_kwargs, Mapping):
            given = kwargs  # a model compiled from a SavedModel: inputs by signature key
        else:
            given = None
        try:
            if given is not None:
                flat = [given[k] for k in sorted(expected_kwargs)]
            else:
                tf.nest.assert_same_structure(self.input_structure, (tuple(args), kwargs), expand_composites=True)
                flat = tf.nest.flatten((tuple(args), kwargs), expand_composites=True)
        except (KeyError, TypeError, ValueError) as err:
            raise NirInputError(
                f"the model takes inputs shaped like {self.input_structure}, not like "
                f"{(args, kwargs)} ({err}); call it with the example inputs' structure"
            ) from None
        return [_as_tensor(t) for t in flat]

    def pack_outputs(self, flat):
        import tensorflow as tf

        return tf.nest.pack_sequence_as(self.output_structure, list(flat), expand_composites=True)
