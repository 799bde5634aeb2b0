"""nir: an MLIR-style multi-pass compiler framework on xDSL for TensorFlow and AWS Inferentia.

    import nir as tfn
    tfn.saved_model.compile("resnet50/", "resnet50_neuron/", batch_size=1)
"""

import importlib as _importlib
import os as _os
from importlib.metadata import PackageNotFoundError as _NotInstalled
from importlib.metadata import version as _version

try:
    __version__ = _version("nir")
except _NotInstalled:  # run from a source tree that was never installed
    __version__ = "0+unknown"

# TensorFlow's C++ start-up chatter buries nir's own report; users can still raise it.
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# Public name -> (module, attribute; None for the module itself). Loaded on first use (PEP 562),
# so `import nir.ir` (a pass author's, a plug-in's) loads the IR alone, not TensorFlow, the
# passes and the backends behind the API.
_LAZY = {
    "explain": ("nir.explain", None),
    "graph_util": ("nir.graph_util", None),
    "saved_model": ("nir.saved_model", None),
    "verify_clusters": ("nir.verify_clusters", None),
    # nir.verify was verify_clusters' name until 0.1 (it is unrelated to nir.ir.verifier); kept
    # for one release.
    "verify": ("nir.verify_clusters", None),
    "NirError": ("nir.errors", "NirError"),
    "NirInputError": ("nir.errors", "NirInputError"),
    "parse_module": ("nir.ir", "parse_module"),
    "print_module": ("nir.ir", "print_module"),
    "PassFailedError": ("nir.passmanager", "PassFailedError"),
    "PassManager": ("nir.passmanager", "PassManager"),
    "PipelineError": ("nir.passmanager", "PipelineError"),
    "register_pass": ("nir.passmanager", "register_pass"),
    "default_pipeline": ("nir.pipeline", "default_pipeline"),
    "CompileOptions": ("nir.options", "CompileOptions"),
    # The pipeline template default_pipeline() fills in; kept for one release (it does not parse as is).
    "DEFAULT_PIPELINE": ("nir.pipeline", "DEFAULT_PIPELINE"),
    "import_saved_model": ("nir.pipeline", "import_saved_model"),
    "NeuronModel": ("nir.tracing", "NeuronModel"),
    "analyze_model": ("nir.tracing", "analyze_model"),
    "load": ("nir.tracing", "load"),
    "trace": ("nir.tracing", "trace"),
}


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module 'nir' has no attribute '{name}'")
    module_name, attribute = _LAZY[name]
    module = _importlib.import_module(module_name)
    value = module if attribute is None else getattr(module, attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


__all__ = [
    "__version__",
    "CompileOptions",
    "DEFAULT_PIPELINE",
    "default_pipeline",
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
    "verify_clusters",
]
