"""Lower a cluster's GraphDef to XLA HLO with TensorFlow's own tf2xla, for neuronx-cc.

The cluster's GraphDef (its Placeholders are its inputs, in NeuronOp order) is imported into a
function, pruned to its inputs and outputs, and wrapped in `tf.function(jit_compile=True)`;
`experimental_get_compiler_ir(...)(stage="hlo_serialized")` gives the `HloModuleProto`. Graph
inputs become HLO parameters in input order; weights (the cluster's Consts) become HLO
constants. Calling the same function runs the HLO through XLA on CPU, which is how
`verify_cluster` checks a lowering against TensorFlow's own execution.

Lowerings are cached in-process by the GraphDef's bytes: the `lower-clusters` pass lowers each
cluster to find out whether it can, and emission writes the same HLO without lowering twice.
`forget_lowerings()` empties the cache (a compile does when it ends: HLO holds the weights).
"""

from __future__ import annotations

import hashlib
import re
import threading
from dataclasses import dataclass

from nir.errors import NirError

# tf2xla names the nodes it cannot compile as {{node NAME}}.
_NODE_IN_MESSAGE = re.compile(r"\{\{node ([^}]+)\}\}")
_cache: dict[str, LoweredCluster] = {}
_lock = threading.Lock()


class LoweringError(NirError):
    """tf2xla could not lower a cluster. `nodes` are the node names its message blames."""

    def __init__(self, message: str, nodes: tuple[str, ...]):
        super().__init__(message)
        self.message = message
        self.nodes = nodes


@dataclass(frozen=True)
class LoweredCluster:
    hlo_module: bytes  # serialized HloModuleProto
    text: str  # the same module as HLO text, for people
    opcodes: frozenset[str]


def forget_lowerings() -> None:
    with _lock:
        _cache.clear()


def lower_cluster(graph_def: bytes, input_names: tuple[str, ...], output_names: tuple[str, ...]) -> LoweredCluster:
    key = hashlib.sha256(b"\0".join([graph_def, *(n.encode() for n in (*input_names, "|", *output_names))])).hexdigest()
    with _lock:
        cached = _cache.get(key)
    if cached is not None:
        return cached
    try:
        function, specs, _ = _jit_function(graph_def, input_names, output_names)
        compiler_ir = function.experimental_get_compiler_ir(*specs)
        hlo = compiler_ir(stage="hlo_serialized")
    except Exception as err:  # tracing and tf2xla report failures as ValueError/InvalidArgumentError
        message = _first_line(str(err))
        raise LoweringError(message, tuple(dict.fromkeys(_NODE_IN_MESSAGE.findall(str(err))))) from None
    # The text costs a second lowering, but of an already traced function (a third of the first).
    lowered = LoweredCluster(hlo, compiler_ir(stage="hlo"), hlo_opcodes(hlo))
    with _lock:
        _cache[key] = lowered
    return lowered


def hlo_opcodes(hlo_module: bytes) -> frozenset[str]:
    from tensorflow.compiler.xla.service import hlo_pb2

    module = hlo_pb2.HloModuleProto.FromString(hlo_module)
    return frozenset(i.opcode for c in module.computations for i in c.instructions)


def run_both(graph_def: bytes, input_names: tuple[str, ...], output_names: tuple[str, ...], feeds: list):
    """The cluster's outputs from XLA on CPU and from TensorFlow's executor, on `feeds`."""
    import tensorflow as tf

    function, _, pruned = _jit_function(graph_def, input_names, output_names)
    tensors = [tf.constant(f) for f in feeds]
    xla = [t.numpy() for t in function(*tensors)]
    reference = [t.numpy() for t in pruned(*tensors)]
    return xla, reference


def input_specs(parsed, input_names: tuple[str, ...]) -> list:
    """The tf.TensorSpec of each input Placeholder of a cluster graph, in input order."""
    import tensorflow as tf

    placeholders = {n.name: n for n in parsed.node if n.op == "Placeholder"}
    specs = []
    for name in input_names:
        node = placeholders[name.split(":")[0]]
        shape = [d.size for d in node.attr["shape"].shape.dim]
        specs.append(tf.TensorSpec(shape, tf.dtypes.as_dtype(node.attr["dtype"].type)))
    return specs


def _fed_graph(parsed, input_names: tuple[str, ...]):
    """The cluster graph with each input Placeholder turned into an Identity of a stand-in
    constant, which `import_graph_def(input_map=...)` then replaces by the function's argument.
    XLA has no Placeholder kernel, and mapping a Placeholder still imports it; importing this
    way costs one import of the weights, where wrap_function + prune cost two and a copy."""
    import tensorflow as tf

    fed = tf.compat.v1.GraphDef()
    fed.CopyFrom(parsed)
    feeds = {}
    for name in input_names:
        node_name = name.split(":")[0]
        node = next(n for n in fed.node if n.name == node_name)
        dtype = node.attr["dtype"].type
        feed = fed.node.add(name=f"{node_name}/nir_feed", op="Const")
        feed.attr["dtype"].type = dtype
        feed.attr["value"].tensor.dtype = dtype
        node.op = "Identity"
        node.input.append(feed.name)
        node.attr.clear()
        node.attr["T"].type = dtype
        feeds[name] = f"{feed.name}:0"
    return fed, feeds


def _jit_function(graph_def: bytes, input_names: tuple[str, ...], output_names: tuple[str, ...]):
    """(the cluster as an XLA-compiled function, its input specs, the same without XLA)."""
    import tensorflow as tf

    parsed = tf.compat.v1.GraphDef.FromString(graph_def)
    specs = input_specs(parsed, input_names)
    fed, feeds = _fed_graph(parsed, input_names)

    def cluster(*args):
        input_map = {feeds[name]: arg for name, arg in zip(input_names, args)}
        return tf.graph_util.import_graph_def(fed, input_map=input_map, return_elements=list(output_names), name="")

    jitted = tf.function(cluster, jit_compile=True, autograph=False)
    plain = tf.function(cluster, autograph=False)
    return jitted, specs, plain


def _first_line(message: str) -> str:
    text = message.replace("Failed getting HLO text: ", "").strip().strip("'")
    return text.splitlines()[0] if text else "tf2xla failed"
