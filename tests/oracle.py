"""TensorFlow as the verifier's oracle: mutate real graphs, ask TensorFlow and nir, compare.

Each case is a seed graph (a small frozen Keras CNN, a transformer encoder layer, a graph of
shape-manipulating ops, functional control flow, a TF1 graph) with one mutation applied: a
dimension, a rank, an attribute, an operand, an op type, a function's signature, a constant's
shape or payload. TensorFlow's verdict is whether it can build the graph: its classic importer
(which runs every op's C++ shape function) and its MLIR importer and verifier
(`tf-standard-pipeline`, which also checks functional control flow against its bodies: the
classic importer accepts a While whose body takes an extra argument). nir's verdict is whether
its frontend imports the graph and the pass manager's verifier accepts it before and after
`tf-shape-inference`. The two must agree; a nir refusal that is a crash rather than a clear
error counts as a disagreement too.

Cases are numbered: `case(i)` is the same graph and mutation on every machine, so a
disagreement found in a long benchmark run is a one-line reproduction.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import tensorflow as tf
from tensorflow.core.framework import graph_pb2, types_pb2

# ----------------------------------------------------------------------------- seed graphs


@dataclass(frozen=True)
class Seed:
    name: str
    graph_def: graph_pb2.GraphDef
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]


def _frozen(fn: tf.types.experimental.ConcreteFunction, name: str) -> Seed:
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    frozen = convert_variables_to_constants_v2(fn, lower_control_flow=False)
    graph_def = frozen.graph.as_graph_def()
    inputs = tuple(t.name.split(":")[0] for t in frozen.inputs)
    outputs = tuple(t.name for t in frozen.outputs)
    return Seed(name, graph_def, inputs, outputs)


def _keras(model, name: str) -> Seed:
    spec = [tf.TensorSpec((1, *i.shape[1:]), i.dtype) for i in model.inputs]
    return _frozen(tf.function(lambda *xs: model(list(xs) if len(xs) > 1 else xs[0])).get_concrete_function(*spec), name)


def seed_cnn() -> Seed:
    keras = tf.keras
    x = keras.Input((12, 12, 3))
    y = keras.layers.Conv2D(8, 3, padding="same")(x)
    y = keras.layers.BatchNormalization()(y)
    y = keras.layers.ReLU(6.0)(y)
    y = keras.layers.DepthwiseConv2D(3, padding="valid")(y)
    y = keras.layers.MaxPooling2D(2)(y)
    y = keras.layers.ZeroPadding2D(1)(y)
    y = keras.layers.Conv2D(6, 3, strides=2)(y)
    y = keras.layers.AveragePooling2D(2, padding="same")(y)
    y = keras.layers.GlobalAveragePooling2D()(y)
    y = keras.layers.Dense(5, activation="softmax")(y)
    return _keras(keras.Model(x, y), "cnn")


def seed_encoder() -> Seed:
    keras = tf.keras
    x = keras.Input((6, 16))
    a = keras.layers.MultiHeadAttention(2, 8)(x, x)
    y = keras.layers.LayerNormalization()(x + a)
    f = keras.layers.Dense(24, activation="gelu")(y)
    f = keras.layers.Dense(16)(f)
    y = keras.layers.LayerNormalization()(y + f)
    y = keras.layers.Flatten()(y)
    return _keras(keras.Model(x, keras.layers.Dense(3)(y)), "encoder")


def seed_tensor_ops() -> Seed:
    @tf.function
    def ops(x, i):
        r = tf.reshape(x, [4, 6])
        t = tf.transpose(r, [1, 0])
        c = tf.concat([t, t * 2.0], axis=1)
        p = tf.stack([r, r + 1.0])
        u0, u1 = tf.unstack(p)
        s = tf.slice(c, [1, 2], [3, 4])
        ss = c[1:5:2, ::-1]
        g = tf.gather(r, i, axis=1)
        tl = tf.tile(tf.expand_dims(s, 0), [2, 1, 1])
        b = tf.broadcast_to(tf.reduce_sum(u0, axis=0, keepdims=True), [3, 6])
        sel = tf.where(b > 1.0, b, -b)
        oh = tf.one_hot(i, 5)
        sq = tf.squeeze(tf.expand_dims(u1, 2), axis=[2])
        bm = tf.matmul(tl, tl, transpose_b=True)
        mm = tf.matmul(sq, r, transpose_a=True)
        pad = tf.pad(sel, [[1, 0], [0, 2]])
        cs = tf.cumsum(pad, axis=1)
        am = tf.argmax(cs, axis=1)
        rng = tf.range(0, 6, 2)
        fill = tf.fill(tf.shape(ss), 0.5)
        mean = tf.reduce_mean(mm, axis=[0])
        return bm, g, oh, am, rng, fill + ss, mean, tf.nn.softmax(c)

    spec = (tf.TensorSpec([2, 3, 4], tf.float32), tf.TensorSpec([3], tf.int32))
    return _frozen(ops.get_concrete_function(*spec), "tensor_ops")


def seed_control_flow() -> Seed:
    @tf.function
    def loops(x, n):
        def body(i, h):
            return i + 1, tf.tanh(h) * 0.5

        _, h = tf.while_loop(lambda i, h: i < n, body, [0, x])
        return tf.cond(n > 2, lambda: h * 2.0, lambda: tf.reshape(tf.reverse(tf.reshape(h, [2, 4]), [1]), [8]))

    spec = (tf.TensorSpec([8], tf.float32), tf.TensorSpec([], tf.int32))
    return _frozen(loops.get_concrete_function(*spec), "control_flow")


def seed_tf1() -> Seed:
    graph = tf.Graph()
    with graph.as_default():
        v1 = tf.compat.v1
        x = v1.placeholder(tf.float32, [2, 10, 10, 4], name="x")
        w = tf.constant(np.linspace(-1, 1, 3 * 3 * 4 * 8, dtype=np.float32).reshape(3, 3, 4, 8))
        y = tf.nn.conv2d(x, w, strides=[1, 2, 2, 1], padding="SAME")
        y = tf.nn.bias_add(y, tf.constant(np.arange(8, dtype=np.float32)))
        y = tf.nn.relu(y)
        y = tf.nn.max_pool2d(y, 2, 2, "VALID")
        y = tf.reshape(y, [2, -1])
        m = tf.constant(np.ones((32, 5), np.float32))
        y = tf.identity(tf.matmul(y, m) + tf.constant(np.zeros(5, np.float32)), name="y")
    return Seed("tf1", graph.as_graph_def(), ("x",), ("y:0",))


SEED_BUILDERS: dict[str, Callable[[], Seed]] = {
    "cnn": seed_cnn,
    "encoder": seed_encoder,
    "tensor_ops": seed_tensor_ops,
    "control_flow": seed_control_flow,
    "tf1": seed_tf1,
}


@functools.cache
def seeds() -> tuple[Seed, ...]:
    tf.keras.utils.set_random_seed(0)
    return tuple(build() for build in SEED_BUILDERS.values())


# ----------------------------------------------------------------------------- mutations

_OTHER_DTYPES = [types_pb2.DT_FLOAT, types_pb2.DT_INT32, types_pb2.DT_INT64, types_pb2.DT_HALF,
                 types_pb2.DT_DOUBLE, types_pb2.DT_BOOL, types_pb2.DT_STRING, types_pb2.DT_UINT8]
_STRING_CHOICES = {
    "padding": ["SAME", "VALID"],
    "data_format": ["NHWC", "NCHW"],
}
_OP_FAMILIES = [
    ["Relu", "Relu6", "Tanh", "Sigmoid", "Identity", "Neg", "Exp", "Rsqrt", "Square"],
    ["AddV2", "Sub", "Mul", "RealDiv", "Maximum", "Minimum", "SquaredDifference", "MatMul", "BiasAdd"],
    ["MaxPool", "AvgPool"],
    ["Sum", "Mean", "Max", "Min", "Prod", "ArgMax"],
    ["Conv2D", "DepthwiseConv2dNative"],
    ["MatMul", "BatchMatMulV2"],
    ["Reshape", "Tile", "BroadcastTo", "ExpandDims", "Transpose"],
    ["ConcatV2", "Pack"],
    ["Squeeze", "Identity"],
]
_UNTOUCHED_ATTRS = {"value", "_class", "_output_shapes", "_read_only_resource_inputs", "shape", "dtype"}


def _data_inputs(node) -> list[int]:
    return [i for i, name in enumerate(node.input) if not name.startswith("^")]


def _outputs_something(node) -> bool:
    from tensorflow.python.framework import op_def_registry

    op_def = op_def_registry.get(node.op)
    return op_def is None or bool(op_def.output_arg)


def _array(node) -> np.ndarray:
    return tf.make_ndarray(node.attr["value"].tensor)


def _set_array(node, array: np.ndarray) -> None:
    node.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(array, dtype=node.attr["dtype"].type))


def _placeholders(graph_def):
    return [n for n in graph_def.node if n.op == "Placeholder" and "shape" in n.attr]


def mutate_placeholder_dim(graph_def, rng: random.Random) -> str | None:
    nodes = [n for n in _placeholders(graph_def) if not n.attr["shape"].shape.unknown_rank and n.attr["shape"].shape.dim]
    if not nodes:
        return None
    node = rng.choice(nodes)
    dims = node.attr["shape"].shape.dim
    axis = rng.randrange(len(dims))
    old = dims[axis].size
    new = rng.choice([d for d in {old + 1, old * 2, 1, -1, max(old - 1, 0)} if d != old])
    dims[axis].size = new
    return f"placeholder '{node.name}' dim {axis}: {old} -> {new}"


def mutate_placeholder_rank(graph_def, rng: random.Random) -> str | None:
    nodes = [n for n in _placeholders(graph_def) if not n.attr["shape"].shape.unknown_rank]
    if not nodes:
        return None
    node = rng.choice(nodes)
    shape = node.attr["shape"].shape
    dims = [d.size for d in shape.dim]
    if dims and rng.random() < 0.4:
        dims.pop(rng.randrange(len(dims)))
    elif rng.random() < 0.15:
        shape.ClearField("dim")
        shape.unknown_rank = True
        return f"placeholder '{node.name}': unknown rank"
    else:
        dims.insert(rng.randrange(len(dims) + 1), rng.choice([1, 2]))
    shape.ClearField("dim")
    for d in dims:
        shape.dim.add(size=d)
    return f"placeholder '{node.name}': shape {dims}"


def mutate_placeholder_dtype(graph_def, rng: random.Random) -> str | None:
    nodes = [n for n in graph_def.node if n.op == "Placeholder"]
    if not nodes:
        return None
    node = rng.choice(nodes)
    new = rng.choice([t for t in _OTHER_DTYPES if t != node.attr["dtype"].type])
    node.attr["dtype"].type = new
    return f"placeholder '{node.name}': dtype {types_pb2.DataType.Name(new)}"


def _consts(graph_def, small: bool = False):
    limit = 16 if small else 1 << 16
    return [n for n in graph_def.node if n.op == "Const" and _size(n) <= limit]


def _size(node) -> int:
    return int(np.prod([d.size for d in node.attr["value"].tensor.tensor_shape.dim], dtype=np.int64))


def mutate_const_dim(graph_def, rng: random.Random) -> str | None:
    nodes = [n for n in _consts(graph_def) if n.attr["value"].tensor.tensor_shape.dim]
    if not nodes:
        return None
    node = rng.choice(nodes)
    array = _array(node)
    axis = rng.randrange(array.ndim)
    if array.shape[axis] > 1 and rng.random() < 0.5:
        array = np.take(array, range(array.shape[axis] - 1), axis=axis)
    else:
        array = np.concatenate([array, np.take(array, [0], axis=axis)], axis=axis)
    _set_array(node, array)
    return f"const '{node.name}': shape {list(array.shape)}"


def mutate_const_rank(graph_def, rng: random.Random) -> str | None:
    nodes = _consts(graph_def)
    if not nodes:
        return None
    node = rng.choice(nodes)
    array = _array(node)
    ones = [a for a, d in enumerate(array.shape) if d == 1]
    array = np.squeeze(array, axis=rng.choice(ones)) if ones and rng.random() < 0.5 else array[np.newaxis]
    _set_array(node, array)
    return f"const '{node.name}': shape {list(array.shape)}"


def mutate_const_value(graph_def, rng: random.Random) -> str | None:
    nodes = [n for n in _consts(graph_def, small=True)
             if n.attr["dtype"].type in (types_pb2.DT_INT32, types_pb2.DT_INT64) and _size(n) > 0]
    if not nodes:
        return None
    node = rng.choice(nodes)
    array = _array(node).copy()
    flat = array.reshape(-1)
    index = rng.randrange(flat.size)
    old = int(flat[index])
    flat[index] = rng.choice([v for v in (old + 1, old - 1, old + 2, 0, -1, 2 * old + 3) if v != old])
    _set_array(node, array)
    return f"const '{node.name}' element {index}: {old} -> {int(flat[index])}"


def mutate_attr(graph_def, rng: random.Random) -> str | None:
    # Sorted: a protobuf map's order is not the same in every process.
    candidates = [(n, k) for n in _all_nodes(graph_def) for k in sorted(n.attr) if k not in _UNTOUCHED_ATTRS]
    rng.shuffle(candidates)
    for node, key in candidates:
        attr = node.attr[key]
        kind = attr.WhichOneof("value")
        if kind == "i":
            attr.i = rng.choice([v for v in (attr.i + 1, attr.i - 1, 0, 2 * attr.i + 1) if v != attr.i])
        elif kind == "b":
            attr.b = not attr.b
        elif kind == "f":
            attr.f = attr.f * 2 + 1
        elif kind == "type":
            attr.type = rng.choice([t for t in _OTHER_DTYPES if t != attr.type])
        elif kind == "s" and (key in _STRING_CHOICES or rng.random() < 0.3):
            choices = [s for s in _STRING_CHOICES.get(key, []) if s != attr.s.decode()]
            attr.s = rng.choice([*choices, attr.s.decode().lower() + "_X"]).encode()
        elif kind == "list" and attr.list.i:
            index = rng.randrange(len(attr.list.i))
            attr.list.i[index] = attr.list.i[index] + rng.choice([1, -1, 2])
        elif kind == "shape" and attr.shape.dim:
            attr.shape.dim[rng.randrange(len(attr.shape.dim))].size += 1
        else:
            continue
        return f"node '{node.name}' ({node.op}) attr {key} -> {_attr_text(attr)}"
    return None


def _attr_text(attr) -> str:
    return str(attr).replace("\n", " ").strip()


def mutate_drop_attr(graph_def, rng: random.Random) -> str | None:
    candidates = [(n, k) for n in _all_nodes(graph_def) for k in sorted(n.attr) if k not in ("_class", "_output_shapes")]
    if not candidates:
        return None
    node, key = rng.choice(candidates)
    del node.attr[key]
    return f"node '{node.name}' ({node.op}) without attr {key}"


def mutate_rename_attr(graph_def, rng: random.Random) -> str | None:
    """A misspelt attribute, or one made internal with a leading `_`. TensorFlow ignores a name
    its OpDef lacks ("Unknown attributes will be ignored": a graph from a newer TensorFlow), so
    either is refused only when the OpDef needs the original and gives it no default; nir's
    verifier must not refuse more."""
    candidates = [(n, k) for n in _all_nodes(graph_def) for k in sorted(n.attr) if not k.startswith("_")]
    if not candidates:
        return None
    node, key = rng.choice(candidates)
    new_key = rng.choice([key + "s", key.upper() if key.upper() != key else key.lower(), "_" + key])
    node.attr[new_key].CopyFrom(node.attr[key])
    del node.attr[key]
    return f"node '{node.name}' ({node.op}) attr {key} renamed {new_key}"


def _topological(graph_def) -> list:
    """Nodes in an order where every data input comes first (what `import_graph_def` needs of
    a rewired input to not make a cycle)."""
    by_name = {n.name: n for n in graph_def.node}
    order, state = [], {}

    def visit(node):
        stack = [(node, iter(node.input))]
        state[node.name] = 1
        while stack:
            current, inputs = stack[-1]
            for name in inputs:
                source = by_name.get(name.lstrip("^").split(":")[0])
                if source is not None and source.name not in state:
                    state[source.name] = 1
                    stack.append((source, iter(source.input)))
                    break
            else:
                stack.pop()
                order.append(current)

    for node in graph_def.node:
        if node.name not in state:
            visit(node)
    return order


def mutate_rewire(graph_def, rng: random.Random) -> str | None:
    order = _topological(graph_def)
    position = {n.name: i for i, n in enumerate(order)}
    users = [n for n in order if _data_inputs(n) and position[n.name] > 0]
    if not users:
        return None
    node = rng.choice(users)
    earlier = [n for n in order[: position[node.name]] if _outputs_something(n) and n.op != "NoOp"]
    if not earlier:
        return None
    index = rng.choice(_data_inputs(node))
    source = rng.choice(earlier)
    node.input[index] = source.name
    return f"node '{node.name}' ({node.op}) input {index} <- '{source.name}' ({source.op})"


def _node_reading(graph_def, rng: random.Random, inputs: int = 1):
    """A node with at least `inputs` data inputs, or None."""
    users = [n for n in graph_def.node if len(_data_inputs(n)) >= inputs]
    return rng.choice(users) if users else None


def mutate_drop_input(graph_def, rng: random.Random) -> str | None:
    node = _node_reading(graph_def, rng)
    if node is None:
        return None
    index = rng.choice(_data_inputs(node))
    del node.input[index]
    return f"node '{node.name}' ({node.op}) without input {index}"


def mutate_extra_input(graph_def, rng: random.Random) -> str | None:
    node = _node_reading(graph_def, rng)
    if node is None:
        return None
    inputs = _data_inputs(node)
    node.input.insert(inputs[-1] + 1, node.input[rng.choice(inputs)])
    return f"node '{node.name}' ({node.op}) with an extra input"


def mutate_swap_inputs(graph_def, rng: random.Random) -> str | None:
    node = _node_reading(graph_def, rng, inputs=2)
    if node is None:
        return None
    a, b = rng.sample(_data_inputs(node), 2)
    node.input[a], node.input[b] = node.input[b], node.input[a]
    return f"node '{node.name}' ({node.op}) inputs {a} and {b} swapped"


def mutate_op_type(graph_def, rng: random.Random) -> str | None:
    family_of = {op: family for family in _OP_FAMILIES for op in family}
    nodes = [n for n in graph_def.node if n.op in family_of]
    if not nodes:
        return None
    node = rng.choice(nodes)
    old = node.op
    node.op = rng.choice([op for op in family_of[old] if op != old])
    return f"node '{node.name}' op {old} -> {node.op}"


def mutate_function_signature(graph_def, rng: random.Random) -> str | None:
    functions = list(graph_def.library.function)
    if not functions:
        return None
    fn = rng.choice(functions)
    signature = fn.signature
    choice = rng.randrange(3)
    if choice == 0:
        arg = signature.input_arg.add(name="extra_arg", type=rng.choice([types_pb2.DT_FLOAT, types_pb2.DT_INT32]))
        return f"function '{signature.name}' takes an extra argument of {types_pb2.DataType.Name(arg.type)}"
    if choice == 1 and signature.output_arg:
        last = signature.output_arg[-1].name
        del signature.output_arg[-1]
        fn.ret.pop(last, None)
        return f"function '{signature.name}' without its last result"
    if signature.input_arg:
        arg = signature.input_arg[rng.randrange(len(signature.input_arg))]
        arg.type = rng.choice([t for t in _OTHER_DTYPES if t != arg.type])
        return f"function '{signature.name}' argument '{arg.name}' of {types_pb2.DataType.Name(arg.type)}"
    return None


def mutate_control_input(graph_def, rng: random.Random) -> str | None:
    order = _topological(graph_def)
    if len(order) < 2:
        return None
    index = rng.randrange(1, len(order))
    source = order[rng.randrange(index)]
    order[index].input.append("^" + source.name)
    return f"node '{order[index].name}' waits for '{source.name}'"


def _all_nodes(graph_def):
    yield from graph_def.node
    for fn in graph_def.library.function:
        yield from fn.node_def


MUTATIONS: tuple[Callable[[graph_pb2.GraphDef, random.Random], str | None], ...] = (
    mutate_placeholder_dim, mutate_placeholder_rank, mutate_placeholder_dtype,
    mutate_const_dim, mutate_const_rank, mutate_const_value,
    mutate_attr, mutate_drop_attr, mutate_rename_attr,
    mutate_rewire, mutate_drop_input, mutate_extra_input, mutate_swap_inputs,
    mutate_op_type, mutate_function_signature, mutate_control_input,
)


@dataclass(frozen=True)
class Case:
    index: int
    seed: Seed
    kind: str  # the mutation's function name, or "unchanged"
    mutation: str
    graph_def: graph_pb2.GraphDef

    def __str__(self) -> str:
        return f"case {self.index} ({self.seed.name}): {self.mutation}"


def case(index: int) -> Case:
    """The index-th case: its seed graph and mutation depend on nothing else. Every 8th case is
    a seed unchanged, so the valid side is exercised too."""
    rng = random.Random(index)
    seed = seeds()[index % len(seeds())]
    graph_def = graph_pb2.GraphDef()
    graph_def.CopyFrom(seed.graph_def)
    if index % 8 == 0:
        return Case(index, seed, "unchanged", "unchanged", graph_def)
    while True:
        mutation = rng.choice(MUTATIONS)
        description = mutation(graph_def, rng)
        if description is not None:
            return Case(index, seed, mutation.__name__, description, graph_def)


def cases(count: int, start: int = 0) -> Iterator[Case]:
    return (case(i) for i in range(start, start + count))


# ----------------------------------------------------------------------------- verdicts


def tensorflow_verdict(graph_def: graph_pb2.GraphDef) -> str | None:
    """None if TensorFlow builds the graph, else its error."""
    try:
        with tf.Graph().as_default():
            tf.graph_util.import_graph_def(graph_def, name="")
    except Exception as err:  # TensorFlow raises ValueError, TypeError, KeyError, InvalidArgumentError...
        return f"import_graph_def: {type(err).__name__}: {err}"
    try:
        tf.mlir.experimental.convert_graph_def(graph_def, pass_pipeline="tf-standard-pipeline")
    except Exception as err:
        return f"MLIR importer: {type(err).__name__}: {err}"
    return None


class NirCrashed(AssertionError):
    """nir refused a graph with an exception that is not one of its clear errors."""


def nir_verdict(case: Case) -> str | None:
    """None if nir's frontend imports the graph and the verifier accepts it before and after
    shape inference; else nir's error. Raises NirCrashed for an unclear error."""
    from graphdef_files import signature_for
    from xdsl.utils.exceptions import VerifyException

    from frontends.tensorflow.importer import import_graph_def
    from nir.errors import NirError
    from nir.passmanager import PassFailedError, PassManager
    from passes.shape_inference import ShapeInferencePass

    try:
        module = import_graph_def(case.graph_def, signature_for(case.graph_def, case.seed.inputs, case.seed.outputs))
        PassManager([ShapeInferencePass()]).run(module)
    except PassFailedError as err:
        cause = err.__cause__
        if cause is not None and not isinstance(cause, (NirError, ValueError, VerifyException)):
            raise NirCrashed(f"{case}: {type(cause).__name__}: {cause}") from err
        return str(err)
    except NirError as err:
        return str(err)
    except Exception as err:
        raise NirCrashed(f"{case}: {type(err).__name__}: {err}") from err
    return None


@dataclass(frozen=True)
class Verdicts:
    case: Case
    tensorflow: str | None
    nir: str | None
    crashed: bool = False

    @property
    def agree(self) -> bool:
        return not self.crashed and (self.tensorflow is None) == (self.nir is None)

    def __str__(self) -> str:
        def said(verdict):
            return "accepts" if verdict is None else "refuses: " + verdict.splitlines()[0][:300]

        nir = "crashes: " + (self.nir or "") if self.crashed else said(self.nir)
        return f"{self.case}\n  TensorFlow {said(self.tensorflow)}\n  nir {nir}"


def judge(case: Case) -> Verdicts:
    tensorflow = tensorflow_verdict(case.graph_def)
    try:
        return Verdicts(case, tensorflow, nir_verdict(case))
    except NirCrashed as err:
        return Verdicts(case, tensorflow, str(err), crashed=True)
