"""The contract between a NeuronOp and the HLO module compiled for it: the runtime feeds the
NeuronOp's inputs to the module's parameters in order, and reads its outputs from the module's
result in order. A lowering that reordered, reshaped or retyped any of them would still
compile, and the model would compute garbage on the accelerator; nothing on the CPU path can
notice (the CPU fallback runs the NeuronOp's own graph). So emission checks the contract for
every cluster and refuses one that breaks it.
"""

from __future__ import annotations

from tensorflow.compiler.xla import xla_data_pb2
from tensorflow.compiler.xla.service import hlo_pb2
from tensorflow.core.framework import node_def_pb2, types_pb2

from nir.errors import NirError

# TensorFlow dtype -> XLA element type, for the dtypes a cluster may carry across its boundary.
_XLA_OF_TF = {
    types_pb2.DT_FLOAT: xla_data_pb2.F32, types_pb2.DT_HALF: xla_data_pb2.F16,
    types_pb2.DT_BFLOAT16: xla_data_pb2.BF16, types_pb2.DT_DOUBLE: xla_data_pb2.F64,
    types_pb2.DT_INT8: xla_data_pb2.S8, types_pb2.DT_INT16: xla_data_pb2.S16,
    types_pb2.DT_INT32: xla_data_pb2.S32, types_pb2.DT_INT64: xla_data_pb2.S64,
    types_pb2.DT_UINT8: xla_data_pb2.U8, types_pb2.DT_UINT16: xla_data_pb2.U16,
    types_pb2.DT_UINT32: xla_data_pb2.U32, types_pb2.DT_UINT64: xla_data_pb2.U64,
    types_pb2.DT_BOOL: xla_data_pb2.PRED, types_pb2.DT_COMPLEX64: xla_data_pb2.C64,
    types_pb2.DT_COMPLEX128: xla_data_pb2.C128,
}


class SignatureMismatch(NirError):
    """A cluster's HLO does not take or give what its NeuronOp feeds or reads: a bug in nir's
    lowering, never the user's input."""


def describe(element_type: int, dims) -> str:
    return f"{xla_data_pb2.PrimitiveType.Name(element_type).lower()}[{','.join(str(d) for d in dims)}]"


def neuron_op_tensors(node: node_def_pb2.NodeDef, side: str) -> list[str]:
    """The NeuronOp's inputs or outputs (`side`), as `f32[1,16]`, in order."""
    dtypes = node.attr[f"{side}_dtypes"].list.type
    shapes = node.attr[f"{side}_shapes"].list.shape
    return [describe(_XLA_OF_TF.get(dtype, xla_data_pb2.PRIMITIVE_TYPE_INVALID), [d.size for d in shape.dim])
            for dtype, shape in zip(dtypes, shapes)]


def hlo_tensors(hlo_module: bytes) -> tuple[list[str], list[str]]:
    """The entry computation's parameters and results, as `f32[1,16]`, in order (a tuple
    result is its elements)."""
    program = hlo_pb2.HloModuleProto.FromString(hlo_module).host_program_shape
    parameters = [describe(p.element_type, p.dimensions) for p in program.parameters]
    result = program.result
    elements = result.tuple_shapes if result.element_type == xla_data_pb2.TUPLE else [result]
    return parameters, [describe(e.element_type, e.dimensions) for e in elements]


def check_hlo_signature(node: node_def_pb2.NodeDef, hlo_module: bytes) -> None:
    """Raise SignatureMismatch, naming the first position that differs, unless the HLO's
    parameters are the NeuronOp's inputs and its results the NeuronOp's outputs, in order."""
    parameters, results = hlo_tensors(hlo_module)
    for side, expected, actual, hlo_side in (
        ("input", neuron_op_tensors(node, "input"), parameters, "parameter"),
        ("output", neuron_op_tensors(node, "output"), results, "result"),
    ):
        if expected == actual:
            continue
        if len(expected) != len(actual):
            where = f"the NeuronOp has {len(expected)} {side}s, the HLO {len(actual)} {hlo_side}s"
        else:
            i = next(i for i, (e, a) in enumerate(zip(expected, actual)) if e != a)
            where = f"{side} {i} is {expected[i]}, HLO {hlo_side} {i} is {actual[i]}"
        raise SignatureMismatch(
            f"cluster {node.name}: its HLO does not match its NeuronOp ({where}); nir will not emit a "
            "cluster the runtime would feed wrongly. This is a bug in nir: please report it with the model"
        )
