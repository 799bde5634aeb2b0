"""Signature outputs and inputs keep their tensor names through a compile, as the original
keeps them.

Passes move a signature output: an output Identity is forwarded away, an output computed in a
cluster becomes an output of its NeuronOp (`neuron_op_<hash>:i`). Code that fetches tensors by
name (`sess.run("relu0:0")`, a TF1 predictor, op counts in tests) would lose them. So, after
export, each output that no longer has its name gets a stand-in node of that name reading the
tensor that now computes it: an Identity for port 0, an IdentityN for an output at port k > 0
(ports it does not stand for read the same tensor; nothing reads them). Stand-ins carry
`STAND_IN_ATTR`, so that inlining a NeuronOp whose embedded graph holds the real node of that
name drops the stand-in and the real node takes its place.

Inputs: a signature input at port k of a multi-output node (`identity_n1:2`) is fed through a
Placeholder of another name once the graph is cut there. After export, an IdentityN of the
node's name stands for those Placeholders, and their readers read it: the input is fed by its
old name (a Session's feed replaces the IdentityN's output, so what it reads never runs).
"""

from __future__ import annotations

from dataclasses import replace

from frontends.tensorflow.importer import full_tensor_name, split_tensor_name

STAND_IN_ATTR = "_nir_output_stand_in"


def add_output_stand_ins(graph_def, signature, original_signature):
    """`graph_def` with stand-ins for the outputs of `signature` that lost the name they have in
    `original_signature` (matched by key); returns (graph_def, signature)."""
    originals = {s.key: s.tensor_name for s in original_signature.outputs}
    present = {n.name for n in graph_def.node}
    wanted: dict[str, dict[int, object]] = {}
    for spec in signature.outputs:
        original = originals.get(spec.key)
        if original is None or split_tensor_name(original) == split_tensor_name(spec.tensor_name):
            continue
        node, port = split_tensor_name(original)
        if node not in present:
            wanted.setdefault(node, {})[port] = spec
    if not wanted:
        return graph_def, signature
    for name, ports in wanted.items():
        _add_stand_in(graph_def, name, ports)
    outputs = tuple(_renamed(s, originals, wanted) for s in signature.outputs)
    return graph_def, replace(signature, outputs=outputs)


def _renamed(spec, originals, wanted):
    """The output's original name where a stand-in now has it (two keys may share one)."""
    node, port = split_tensor_name(originals.get(spec.key, spec.tensor_name))
    if node in wanted and port in wanted[node]:
        return replace(spec, tensor_name=f"{node}:{port}")
    return spec


def _add_stand_in(graph_def, name: str, ports: dict[int, object], identity_n: bool = False) -> None:
    node = graph_def.node.add()
    node.name = name
    node.attr[STAND_IN_ATTR].b = True
    if set(ports) == {0} and not identity_n:
        spec = ports[0]
        node.op = "Identity"
        node.input.append(spec.tensor_name)
        node.attr["T"].type = spec.dtype
        return
    node.op = "IdentityN"
    filler = ports[min(ports)]
    for port in range(max(ports) + 1):
        spec = ports.get(port, filler)
        node.input.append(spec.tensor_name)
        node.attr["T"].list.type.append(spec.dtype)


def is_stand_in(node) -> bool:
    return STAND_IN_ATTR in node.attr and node.attr[STAND_IN_ATTR].b


def add_input_stand_ins(graph_def, signature, fed_tensors: dict[str, str]):
    """`graph_def` with an IdentityN stand-in for each node whose outputs `fed_tensors` (key ->
    original tensor name) names, its readers rewired to it; returns (graph_def, signature)."""
    present = {n.name for n in graph_def.node}
    wanted: dict[str, dict[int, object]] = {}
    for spec in signature.inputs:
        original = fed_tensors.get(spec.key)
        if original is not None and split_tensor_name(original)[0] not in present:
            node, port = split_tensor_name(original)
            wanted.setdefault(node, {})[port] = spec
    if not wanted:
        return graph_def, signature
    readers = {}
    for name, ports in wanted.items():
        readers.update({full_tensor_name(spec.tensor_name): f"{name}:{port}" for port, spec in ports.items()})
    for node in graph_def.node:
        inputs = [readers.get(full_tensor_name(i), i) for i in node.input]
        del node.input[:]
        node.input.extend(inputs)
    for name, ports in wanted.items():
        _add_stand_in(graph_def, name, ports, identity_n=True)
    inputs = tuple(
        replace(spec, tensor_name=readers[full_tensor_name(spec.tensor_name)]) if full_tensor_name(spec.tensor_name) in readers else spec
        for spec in signature.inputs
    )
    return graph_def, replace(signature, inputs=inputs)
