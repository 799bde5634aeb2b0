"""The names of the attributes and properties nir's IR carries, in one place: what the frontend
writes, the passes read and annotate, and the exporter turns back into TensorFlow."""

# builtin.module: the model the module came from.
ENTRY_FUNCTION_ATTR = "tf.signature"  # the entry function's name
MODULE_SIGNATURE_KEY = "tf.signature_key"
MODULE_METHOD = "tf.method_name"
MODULE_TAGS = "tf.tags"
MODULE_PRODUCER = "tf.producer"
MODULE_MIN_CONSUMER = "tf.min_consumer"

# func.func arguments and results.
ARG_NODE = "tf.node_name"  # the Placeholder (or function argument) the value was in TensorFlow
INPUT_KEY = "tf.input_key"  # the signature's input key
OUTPUT_KEY = "tf.output_key"  # the signature's output key
ARG_ATTRS = "tf.attrs"  # a library function argument's own TensorFlow attributes
BATCH_AXIS = "nir.batch_axis"  # batch-specialize: this input's batch dimension

# func.func of a TensorFlow library function.
FUNC_ATTRS = "tf.function_attrs"
STATEFUL = "tf.is_stateful"
CONTROL_RET = "tf.control_ret"  # the nodes a function's callers wait on

# tf.node properties written by passes.
CPU_REASON = "nir.cpu_reason"  # why the op stays on CPU (nir.ir.placement reads it)
ON_TARGET = "nir.target"  # the target legalize placed the op on
BATCH_AXES = "nir.batch_axes"  # shape-inference: which results carry the batch on dim 0
PROVEN_BATCH_AXES = "nir.proven_batch_axes"  # prove-batch-axes: 0, -1 or -2 (cannot be cut) per result
BATCH_AXES_PROVED = "nir.batch_axes_proved"  # on the module: prove-batch-axes ran
NOT_INLINED = "nir.not_inlined"  # inline-calls: why a call stayed a call
NOT_UNROLLED = "nir.not_unrolled"  # unroll-loops: why a While stayed a loop
UNROLLED_LOOPS = "nir.unrolled_loops"  # on the module: unroll-loops' loops and their trip counts
REWRITE_DECLINED = "nir.rewrite_declined"  # legalize: why a rewrite to supported ops did not apply
