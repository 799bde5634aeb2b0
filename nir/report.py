"""What a compile tells its user: the seed's INFO lines and counts, why nothing reached the
accelerator, and what to do when the compiler is missing."""

from __future__ import annotations

import logging

from nir.explain import explain_module
from nir.ir.placement import CpuReason

_tf_logger = logging.getLogger("tensorflow")
ON_NEURON_RATIO_THRESHOLD = 0.3


def info(message: str, *args) -> None:
    # The seed prints its counts as INFO:tensorflow lines; users grep for them.
    _tf_logger.info(message, *args)


def no_cluster_message(module) -> str:
    """Why a pipeline produced no NeuronOp, from the reasons legalize left on the ops."""
    rows = [r for r in explain_module(module)["cpu"] if CpuReason.of(r["reason"]) is not CpuReason.IO_STAND_IN]
    total = sum(r["count"] for r in rows)
    if rows and all(CpuReason.of(r["reason"]) is CpuReason.NOT_PLACED for r in rows):
        why = "no op was placed by legalize: the pipeline has no legalize pass, or none before cluster"
    else:
        placed = [r for r in rows if CpuReason.of(r["reason"]) is CpuReason.NOT_PLACED]
        reasons: dict[str, int] = {}
        for row in rows:
            if row not in placed:
                reasons[row["reason"]] = reasons.get(row["reason"], 0) + row["count"]
        top = sorted(reasons.items(), key=lambda kv: -kv[1])[:3]
        why = f"{total} ops stayed on CPU, most for: " + "; ".join(f"{r} ({n} op{'' if n == 1 else 's'})" for r, n in top)
        if any(CpuReason.of(r) is CpuReason.DYNAMIC_SHAPE for r, _ in top):
            why += " (does the pipeline run shape-inference before legalize?)"
        if not reasons:
            why = "every op was placed on the target, but no cluster was formed: does the pipeline run cluster?"
    return f"the pipeline produced no cluster, so nothing will run on Neuron: {why}. Run `nir explain` for every op's reason."


def not_installed_message(compiler_workdir: str | None, compiler: str = "neuron-cc") -> str:
    message = f"{compiler} is not installed, so no cluster was compiled: every cluster stays on CPU in the output model. "
    if compiler_workdir is None:
        return message + (
            f"Pass compiler_workdir= to have nir write each cluster's {compiler} inputs and command "
            f"line there; compile them on a machine with {compiler} and run `nir relift WORKDIR NEW_MODEL_DIR`."
        )
    return message + (
        f"Each cluster's inputs and command.sh are in '{compiler_workdir}': run them where {compiler} "
        f"is installed, then `nir relift {compiler_workdir} NEW_MODEL_DIR`."
    )


def log_report(report: dict, source: str, target: str, uncompiled_because: str) -> None:
    """The seed's INFO lines; below the on-Neuron threshold, a warning that says why: clusters
    left uncompiled (`uncompiled_because`), or else a placement nir explain can show."""
    info("Number of operations in TensorFlow session: %d", report["OperatorCountInSession"])
    info("Number of operations after tf.neuron optimizations: %d", report["OperatorCountAfterOptimization"])
    info("Number of operations placed on Neuron runtime: %d", report["OperatorCountOnNeuron"])
    if report["OnNeuronRatio"] > ON_NEURON_RATIO_THRESHOLD:
        info("Successfully converted %s to %s", source, target)
        return
    message = (
        f"{100 * report['OnNeuronRatio']:.1f}% of the operations of {source} run on Neuron "
        f"({report['NumCompiledClusters']} of {report['NumClusters']} clusters compiled); "
        "little or nothing will run on the accelerator. "
    )
    if report["NumCompiledClusters"] < report["NumClusters"]:
        message += f"Clusters were left on CPU because {uncompiled_because}."
    else:
        message += "Run `nir explain` to see why."
    _tf_logger.warning(message)
