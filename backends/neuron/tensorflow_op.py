"""NeuronOp declared to this process's TensorFlow, so a `tf.Graph` can hold it.

The original's `graph_util.inference_graph_from_session` returns a `tf.Graph` whose compiled
clusters are NeuronOps; its C++ library registered the op. Stock TensorFlow refuses a graph
with an op type it does not know ("Op type not registered 'NeuronOp'"), so nir declares the
OpDef through TensorFlow's C API (`TF_RegisterOpDefinition`, exported by
libtensorflow_framework), with ctypes: no C++ to build. Only the op's signature is declared:
there is no kernel, so a Session that runs a NeuronOp says "No OpKernel was registered"; the
Neuron runtime's kernel (or nir's inlining, `inline_neuron_ops`) is what runs one. Its shape
function is TensorFlow's own "unknown shape" function.

Registration is process-wide and happens only when asked for (`graph_util` asks); a process
that already has NeuronOp (the Neuron runtime's own library loaded) is left as it is.
"""

from __future__ import annotations

import ctypes
import os

from backends.neuron.neuron_op import NEURON_OP, neuron_op_def
from nir.errors import NirError


class RegistrationError(NirError):
    """TensorFlow's C API refused the OpDef, or is not there."""


def register_neuron_op() -> None:
    """Declare NeuronOp to TensorFlow, once per process."""
    from tensorflow.python.framework import op_def_registry

    if op_def_registry.get(NEURON_OP) is not None:
        return
    library = _framework_library()
    builder = library.TF_NewOpDefinitionBuilder(NEURON_OP.encode())
    op_def = neuron_op_def()
    for arg in op_def.input_arg:
        library.TF_OpDefinitionBuilderAddInput(builder, f"{arg.name}: {arg.type_list_attr}".encode())
    for arg in op_def.output_arg:
        library.TF_OpDefinitionBuilderAddOutput(builder, f"{arg.name}: {arg.type_list_attr}".encode())
    for attr in op_def.attr:
        # Type lists may be empty: a cluster's I/O lists always have entries, a test's may not.
        minimum = " >= 0" if attr.type == "list(type)" else ""
        library.TF_OpDefinitionBuilderAddAttr(builder, f"{attr.name}: {attr.type}{minimum}".encode())
    library.TF_OpDefinitionBuilderSetIsStateful(builder, op_def.is_stateful)
    library.TF_OpDefinitionBuilderSetShapeInferenceFunction(
        builder, ctypes.cast(library.TF_ShapeInferenceContextSetUnknownShape, ctypes.c_void_p)
    )
    status = library.TF_NewStatus()
    try:
        library.TF_RegisterOpDefinition(builder, status)
        if library.TF_GetCode(status) != 0:
            raise RegistrationError(
                f"TensorFlow refused NeuronOp's OpDef: {library.TF_Message(status).decode()}"
            )
    finally:
        library.TF_DeleteStatus(status)


def _framework_library():
    import tensorflow as tf

    path = os.path.join(os.path.dirname(tf.__file__), "libtensorflow_framework.so.2")
    try:
        library = ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
        _declare_signatures(library)
    except (OSError, AttributeError) as err:
        raise RegistrationError(
            f"cannot reach TensorFlow's C API in '{path}' ({err}) to declare NeuronOp; a graph "
            "holding NeuronOps cannot be built in this TensorFlow: use nir.saved_model.compile, "
            "which writes NeuronOps without it"
        ) from None
    return library


def _declare_signatures(library) -> None:
    pointer, text = ctypes.c_void_p, ctypes.c_char_p
    library.TF_NewOpDefinitionBuilder.restype = pointer
    library.TF_NewOpDefinitionBuilder.argtypes = [text]
    for name in ("TF_OpDefinitionBuilderAddInput", "TF_OpDefinitionBuilderAddOutput", "TF_OpDefinitionBuilderAddAttr"):
        getattr(library, name).argtypes = [pointer, text]
    library.TF_OpDefinitionBuilderSetIsStateful.argtypes = [pointer, ctypes.c_bool]
    library.TF_OpDefinitionBuilderSetShapeInferenceFunction.argtypes = [pointer, pointer]
    library.TF_NewStatus.restype = pointer
    library.TF_DeleteStatus.argtypes = [pointer]
    library.TF_RegisterOpDefinition.argtypes = [pointer, pointer]
    library.TF_GetCode.argtypes = [pointer]
    library.TF_Message.argtypes = [pointer]
    library.TF_Message.restype = text
