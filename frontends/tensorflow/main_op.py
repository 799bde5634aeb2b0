"""The SavedModel's main op (lookup tables' initializers) survives a compile.

A model with a `StringLookup` or `TextVectorization` layer fills its tables in the op the
SavedModel loader runs once after restoring variables (TF2's `__saved_model_init_op`
signature, TF1's `saved_model_main_op` collection). The loader keeps that op's subgraph, but the
passes see only a NoOp nothing reads and remove it, keeping the stateful initializers it ran.
After export, `restore_main_op` puts the op back under its name, waiting on those initializers,
and the writer names it in both places, so TensorFlow's loaders (v1 and v2) run it.
"""

from __future__ import annotations

from dataclasses import replace

from frontends.tensorflow.importer import split_tensor_name

INIT_OP_SIGNATURE_KEY = "__saved_model_init_op"
MAIN_OP_COLLECTIONS = ("saved_model_main_op", "legacy_init_op")


def restore_main_op(graph_def, signature, loaded_graph_def):
    """Add the main op `signature.init_op` to `graph_def` if the passes removed it: a NoOp with
    a control input on each stateful op of its original subgraph that is still there. A main op
    that runs nothing (every Keras export has one) is dropped. Returns the signature."""
    from tensorflow.python.framework import op_def_registry

    if not signature.init_op or any(n.name == signature.init_op for n in graph_def.node):
        return signature
    present = {n.name for n in graph_def.node}
    effects = []
    for node in _subgraph_of(signature.init_op, loaded_graph_def):
        op_def = op_def_registry.get(node.op)
        if node.name in present and op_def is not None and op_def.is_stateful:
            effects.append(node.name)
    if not effects:
        return replace(signature, init_op=None)
    main_op = graph_def.node.add()
    main_op.name, main_op.op = signature.init_op, "NoOp"
    main_op.input.extend(f"^{name}" for name in sorted(effects))
    return signature


def _subgraph_of(name: str, graph_def):
    """The nodes `name` depends on (data or control), itself included."""
    nodes = {n.name: n for n in graph_def.node}
    seen, stack = set(), [name]
    while stack:
        current = stack.pop()
        if current in seen or current not in nodes:
            continue
        seen.add(current)
        yield nodes[current]
        stack.extend(split_tensor_name(i.lstrip("^"))[0] for i in nodes[current].input)
