"""Pipelines, the pass registry and instrumentation."""

from nir.passmanager.manager import PassFailedError, PassManager, PassTiming, parse_pipeline_string
from nir.passmanager.registry import (
    ENTRY_POINT_GROUP,
    PipelineError,
    available_passes,
    pass_options,
    pass_summary,
    register_pass,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "PassFailedError",
    "PassManager",
    "PassTiming",
    "PipelineError",
    "available_passes",
    "parse_pipeline_string",
    "pass_options",
    "pass_summary",
    "register_pass",
]
