"""TF2 in, TF2 out: a compiled model keeps its input's object graph.

A SavedModel written by `tf.saved_model.save` or a Keras export is more than its signatures:
`tf.saved_model.load` gives back an object that can be called (`loaded(x)`), with its methods,
variables and signatures. nir compiles one signature into a GraphDef with NeuronOps (written as
a TF1-style SavedModel, see writer.py); for such an input, that graph is then put back into the
input's object graph, as the original tensorflow-neuron does: the input is loaded, the compiled
signature replaces its namesake, the compiled model is attached to the root (so its CPU-side
variables are saved), and TensorFlow's own `tf.saved_model.save` writes the result. What the
input could call stays callable with the same arguments; only the compiled signature runs
NeuronOps, the object's other functions (`__call__`, other signatures) run as before, on CPU.
This is the saver's way, for a compiled graph with variables or tables of its own; the usual,
much faster way splices the compiled signature into the input's saved_model.pb (splice.py).
This module also holds what both ways share (payloads, function renaming, copying).

TensorFlow names every function it traces with a process-wide counter, so two saves of the
same model differ; the library's functions are renamed in an order fixed by the object graph,
which makes the output the same bytes whenever the input and options are.

A NeuronOp carries its cluster's graph and NEFF (ResNet50: 100 MB) in two attributes. TF2's
loader and saver copy a function's attributes several times over, so the payloads are taken out
of the compiled graph first (`take_payloads`) and put back into the written saved_model.pb by
node name: on ResNet50 that halves the time the object graph costs.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
from collections import Counter

from nir.errors import NirInputError

COMPILED_ATTRIBUTE = "nir_compiled"  # where the compiled model hangs off the root object
PAYLOAD_ATTRS = ("graph_def", "executable")  # a NeuronOp's big attributes
SPLICED_ALIAS_PREFIX = "nir_compiled/"  # function_aliases entry of a spliced signature
_COUNTER_SUFFIX = re.compile(r"_\d+$")


def has_object_graph(meta_graph) -> bool:
    """True for a SavedModel written by TF2's saver (which `tf.saved_model.load` restores as
    objects), False for a TF1 one (SavedModelBuilder, simple_save: signatures only)."""
    return len(meta_graph.object_graph_def.nodes) > 0


def written_by_nir(meta_graph) -> bool:
    """True for a TF2 SavedModel nir compiled: its root object holds the compiled model, or
    (spliced, see splice.py) a function alias names the compiled signature."""
    nodes = meta_graph.object_graph_def.nodes
    if nodes and any(child.local_name == COMPILED_ATTRIBUTE for child in nodes[0].children):
        return True
    return any(alias.startswith(SPLICED_ALIAS_PREFIX) for alias in meta_graph.meta_info_def.function_aliases)


def signatures_reaching(meta_graph, op_type: str) -> list[str]:
    """The keys of the signatures whose graph reaches a node of `op_type`, directly or
    through the library functions it calls."""
    library = {f.signature.name: f for f in meta_graph.graph_def.library.function}
    nodes = {n.name: n for n in meta_graph.graph_def.node}
    holds: dict[str, bool] = {}

    def function_holds(name: str) -> bool:
        if name not in holds:
            holds[name] = False  # a recursive function holds what its other nodes hold
            body = library[name].node_def
            holds[name] = any(n.op == op_type for n in body) or any(
                function_holds(f) for f in _functions_used_by(body, library))
        return holds[name]

    def reaches(start: str) -> bool:
        seen, stack = set(), [start]
        while stack:
            node = nodes.get(stack.pop())
            if node is None or node.name in seen:
                continue
            seen.add(node.name)
            if node.op == op_type or any(function_holds(f) for f in _functions_used_by([node], library)):
                return True
            stack.extend(i.lstrip("^").split(":")[0] for i in node.input)
        return False

    return sorted(
        key for key, signature in meta_graph.signature_def.items()
        if not key.startswith("__") and any(reaches(t.name.split(":")[0]) for t in signature.outputs.values())
    )


def take_payloads(graph_def, op_type: str) -> dict[str, dict[str, bytes]]:
    """Empty the PAYLOAD_ATTRS of every `op_type` node of `graph_def` (its functions included)
    whose name is unique; returns node name -> attribute -> bytes, for `put_back_payloads`."""
    nodes = [*graph_def.node, *(n for f in graph_def.library.function for n in f.node_def)]
    chosen = [n for n in nodes if n.op == op_type]
    counts = Counter(n.name for n in nodes)
    payloads = {}
    for node in chosen:
        if counts[node.name] == 1:
            payloads[node.name] = {a: node.attr[a].s for a in PAYLOAD_ATTRS if a in node.attr}
            for name in payloads[node.name]:
                node.attr[name].s = b""
    return payloads


def put_back_payloads(meta_graph, payloads: dict[str, dict[str, bytes]]) -> None:
    """Undo take_payloads in the MetaGraphDef written since, finding the nodes by name."""
    graph_def = meta_graph.graph_def
    missing = set(payloads)
    for node in [*graph_def.node, *(n for f in graph_def.library.function for n in f.node_def)]:
        if node.name in payloads:
            for name, value in payloads[node.name].items():
                node.attr[name].s = value
            missing.discard(node.name)
    if missing:  # a node nir made was dropped or renamed on the way: writing on would lose it
        raise RuntimeError(f"the written graph lost the NeuronOps {sorted(missing)} of the compiled graph")


def save_with_object_graph(model_dir: str, tags, signature_key: str, compiled_dir: str, export_dir: str,
                           payloads: dict[str, dict[str, bytes]] | None = None) -> None:
    """Write to `export_dir` the object graph of `model_dir`, its `signature_key` signature
    replaced by that of the TF1-style compiled model in `compiled_dir`, with `payloads`
    (take_payloads) put back. TensorFlow must know every op type of the compiled graph: a
    backend declares its fused op first (NeuronOp: backends.neuron.tensorflow_op)."""
    import tensorflow as tf
    from tensorflow.python.eager import context

    # TF2's loader and saver need eager execution, which the caller may have turned off; the
    # saver's INFO line ("Assets written to: ...") would name the temporary staging folder.
    with context.eager_mode(), _tensorflow_log_at_least(logging.WARNING):
        original = tf.saved_model.load(model_dir, tags=list(tags))
        compiled = tf.saved_model.load(compiled_dir, tags=list(tags))
        signatures = dict(original.signatures.items())
        signatures[signature_key] = compiled.signatures[signature_key]
        try:
            setattr(original, COMPILED_ATTRIBUTE, compiled)
        except (AttributeError, TypeError, ValueError) as err:
            raise NirInputError(
                f"the object restored from '{model_dir}' does not accept the compiled model as "
                f"an attribute ({err}); save the model with tf.saved_model.save from a tf.Module"
            ) from None
        tf.saved_model.save(original, export_dir, signatures=signatures)
        del original, compiled, signatures
    canonicalize_saved_model(export_dir, payloads or {})


@contextlib.contextmanager
def _tensorflow_log_at_least(level: int):
    tf_logger = logging.getLogger("tensorflow")
    before = tf_logger.level
    tf_logger.setLevel(max(before, level))
    try:
        yield
    finally:
        tf_logger.setLevel(before)


def canonicalize_saved_model(export_dir: str, payloads: dict[str, dict[str, bytes]]) -> None:
    """Rename and order the library's functions of `export_dir/saved_model.pb` in a fixed
    order, put `payloads` back, and drop the fingerprint."""
    from tensorflow.core.protobuf import saved_model_pb2

    path = os.path.join(export_dir, "saved_model.pb")
    proto = saved_model_pb2.SavedModel()
    with open(path, "rb") as f:
        proto.ParseFromString(f.read())
    for meta_graph in proto.meta_graphs:
        if payloads:
            put_back_payloads(meta_graph, payloads)
        renames = canonical_function_names(meta_graph)
        rename_functions(meta_graph, renames)
        _name_captured_arguments(meta_graph.graph_def.library)
        _order_library(meta_graph.graph_def.library, list(renames.values()))
    with open(path, "wb") as f:
        f.write(proto.SerializeToString(deterministic=True))
    _drop_fingerprint(export_dir)


def canonical_function_names(meta_graph) -> dict[str, str]:
    """Old name -> `<name without its counter>_<n>`, n counting functions in the order the
    object graph, then the graph, then the function bodies reach them."""
    library = {f.signature.name: f for f in meta_graph.graph_def.library.function}
    order: list[str] = []
    seen: set[str] = set()

    def reach(name: str) -> None:
        if name in library and name not in seen:
            seen.add(name)
            order.append(name)

    for node in meta_graph.object_graph_def.nodes:
        kind = node.WhichOneof("kind")
        if kind == "function":
            for name in node.function.concrete_functions:
                reach(name)
        elif kind == "bare_concrete_function":
            reach(node.bare_concrete_function.concrete_function_name)
        elif kind == "captured_tensor":
            reach(node.captured_tensor.concrete_function)
    for name in _functions_used_by(meta_graph.graph_def.node, library):
        reach(name)
    for gradient in meta_graph.graph_def.library.registered_gradients:
        reach(gradient.gradient_func)
    position = 0
    while position < len(order):
        for name in _functions_used_by(library[order[position]].node_def, library):
            reach(name)
        position += 1
    for name in sorted(library, key=lambda n: (_COUNTER_SUFFIX.sub("", n), n)):
        reach(name)  # reached by nothing: gradients, say
    return {name: f"{_COUNTER_SUFFIX.sub('', name)}_{n}" for n, name in enumerate(order)}


def _functions_used_by(nodes, library) -> list[str]:
    used: list[str] = []
    for node in nodes:
        if node.op in library:
            used.append(node.op)
        for key in sorted(node.attr):
            used.extend(_function_names_in(node.attr[key]))
    return used


def _function_names_in(attr) -> list[str]:
    kind = attr.WhichOneof("value")
    if kind == "func":
        return [attr.func.name, *(n for k in sorted(attr.func.attr) for n in _function_names_in(attr.func.attr[k]))]
    if kind == "list":
        return [f.name for f in attr.list.func]
    return []


def rename_functions(meta_graph, renames: dict[str, str]) -> None:
    """Apply `renames` to every place a MetaGraphDef names a library function."""
    rename_functions_in_graph(meta_graph.graph_def, renames)
    aliases = meta_graph.meta_info_def.function_aliases
    for alias, name in list(aliases.items()):
        aliases[alias] = renames.get(name, name)
    objects = meta_graph.object_graph_def
    for node in objects.nodes:
        kind = node.WhichOneof("kind")
        if kind == "function":
            names = [renames.get(n, n) for n in node.function.concrete_functions]
            del node.function.concrete_functions[:]
            node.function.concrete_functions.extend(names)
        elif kind == "bare_concrete_function":
            bare = node.bare_concrete_function
            bare.concrete_function_name = renames.get(bare.concrete_function_name, bare.concrete_function_name)
        elif kind == "captured_tensor":
            captured = node.captured_tensor
            captured.concrete_function = renames.get(captured.concrete_function, captured.concrete_function)
    concrete = {renames.get(k, k): v for k, v in objects.concrete_functions.items()}
    objects.ClearField("concrete_functions")
    for name in sorted(concrete):
        objects.concrete_functions[name].CopyFrom(concrete[name])


def rename_functions_in_graph(graph_def, renames: dict[str, str]) -> None:
    """Apply `renames` to a GraphDef's library and every node (its own and its functions')
    that calls or names a function."""
    for function in graph_def.library.function:
        function.signature.name = renames.get(function.signature.name, function.signature.name)
        _rename_in_nodes(function.node_def, renames)
    _rename_in_nodes(graph_def.node, renames)
    for gradient in graph_def.library.gradient:
        gradient.function_name = renames.get(gradient.function_name, gradient.function_name)
        gradient.gradient_func = renames.get(gradient.gradient_func, gradient.gradient_func)
    for gradient in graph_def.library.registered_gradients:
        gradient.gradient_func = renames.get(gradient.gradient_func, gradient.gradient_func)


def _rename_in_nodes(nodes, renames: dict[str, str]) -> None:
    for node in nodes:
        node.op = renames.get(node.op, node.op)
        for attr in node.attr.values():
            _rename_in_attr(attr, renames)


def _rename_in_attr(attr, renames: dict[str, str]) -> None:
    kind = attr.WhichOneof("value")
    if kind == "func":
        attr.func.name = renames.get(attr.func.name, attr.func.name)
        for inner in attr.func.attr.values():
            _rename_in_attr(inner, renames)
    elif kind == "list":
        for function in attr.list.func:
            function.name = renames.get(function.name, function.name)


def copy_with_new_proto(model_dir: str, proto, export_dir: str, pieces=None, write_variables=None) -> None:
    """Copy the SavedModel `model_dir` (variables, assets, everything) to `export_dir` with
    `proto` as its saved_model.pb (or the bytes `pieces` yields, when given): how a rewrite of
    its graph (inlining, splicing) keeps the rest. `write_variables(folder)`, when given, writes
    variables/ instead of the copy."""
    replaced = ("saved_model.pb", "saved_model.pbtxt", "fingerprint.pb", *(("variables",) if write_variables else ()))
    shutil.copytree(model_dir, export_dir, ignore=lambda folder, names: [
        n for n in names if folder == model_dir and n in replaced
    ])
    if write_variables is not None:
        os.makedirs(os.path.join(export_dir, "variables"))
        write_variables(os.path.join(export_dir, "variables"))
    with open(os.path.join(export_dir, "saved_model.pb"), "wb") as f:
        for piece in pieces if pieces is not None else [proto.SerializeToString(deterministic=True)]:
            f.write(piece)


def _name_captured_arguments(library) -> None:
    """A function's captured inputs (variables, say) are named after a process-wide counter
    (`_user_specified_name: "1075"`); the name is informational, so a fixed one replaces it."""
    for function in library.function:
        for index, attrs in function.arg_attr.items():
            name = attrs.attr.get("_user_specified_name")
            if name is not None and name.s.isdigit():
                name.s = f"captured_{index}".encode()


def _order_library(library, order: list[str]) -> None:
    position = {name: n for n, name in enumerate(order)}
    functions = sorted(library.function, key=lambda f: position[f.signature.name])
    del library.function[:]
    library.function.extend(functions)


def _drop_fingerprint(export_dir: str) -> None:
    """fingerprint.pb hashes saved_model.pb (which the renaming changed) and carries a random
    UUID, so it could never be the same bytes twice; loaders do not need it (nir's TF1-style
    outputs have none either)."""
    path = os.path.join(export_dir, "fingerprint.pb")
    if os.path.exists(path):
        os.remove(path)
