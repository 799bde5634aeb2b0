"""nir: an MLIR-style multi-pass compiler framework on xDSL for TensorFlow and AWS Inferentia.

    import nir as tfn
    tfn.saved_model.compile("resnet50/", "resnet50_neuron/", batch_size=1)
"""

import os as _os
from importlib.metadata import PackageNotFoundError as _NotInstalled
from importlib.metadata import version as _version

try:
    __version__ = _version("nir")
except _NotInstalled:  # run from a source tree that was never installed
    __version__ = "0+unknown"

# TensorFlow's C++ start-up chatter buries nir's own report; users can still raise it.
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from nir import explain, graph_util, saved_model, verify  # noqa: E402
from nir.errors import NirError, NirInputError  # noqa: E402
from nir.ir import parse_module, print_module  # noqa: E402
from nir.passmanager import PassFailedError, PassManager, PipelineError, register_pass  # noqa: E402
from nir.pipeline import DEFAULT_PIPELINE, import_saved_model  # noqa: E402
from nir.trace import NeuronModel, analyze_model, load, trace  # noqa: E402

__all__ = [
    "__version__",
    "DEFAULT_PIPELINE",
    "NirError",
    "NeuronModel",
    "NirInputError",
    "PassFailedError",
    "PassManager",
    "PipelineError",
    "analyze_model",
    "explain",
    "graph_util",
    "import_saved_model",
    "load",
    "parse_module",
    "print_module",
    "register_pass",
    "saved_model",
    "trace",
    "verify",
]
