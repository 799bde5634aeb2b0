"""Print the README's clustering table for the tests' zoo (markdown).

    python benchmarks/zoo_table.py [CACHE_DIR]

Models are built (random weights) into CACHE_DIR (a temporary directory by default) and run
through the default pipeline; counts cover the entry function and the loop/branch bodies it runs.
"""

from __future__ import annotations

import os
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

LABELS = {
    "resnet50": "ResNet50",
    "mobilenetv2": "MobileNetV2",
    "two_io": "two inputs/two outputs (Embedding, Dense)",
    "transformer": "transformer block (MHA, LayerNorm, gelu)",
    "tf1_two_signatures": "TF1 session model (variables, 2 signatures)",
    "control_flow": "tf.Module with while_loop and cond",
    "efficientnetb0": "EfficientNetB0 (96x96)",
    "convnext_tiny": "ConvNeXtTiny (64x64)",
    "encoder": "2-layer encoder (token + position embeddings)",
    "lstm": "Keras LSTM (12 steps)",
    "bidirectional_gru": "bidirectional GRU (10 steps)",
    "stacked_lstm": "stacked LSTM (8 steps)",
    "masked_seq2seq": "masked seq2seq (GRU encoder, LSTM decoder)",
}


def row(name: str, path: str) -> str:
    from nir.examples import BUILDERS
    from nir.ir.control_flow import graph_functions
    from nir.ir.neuron_dialect import ClusterOp
    from nir.ir.tf_dialect import TFNodeOp
    from nir.pipeline import default_pipeline, import_saved_model, run_pipeline

    if not os.path.exists(path):
        BUILDERS[name](path)
    module, loaded = import_saved_model(path)
    imported = sum(len(list(f.body.block.ops)) - 1 for f in graph_functions(module))
    run_pipeline(module, default_pipeline())
    functions = graph_functions(module)
    after = sum(len(list(f.body.block.ops)) - 1 for f in functions)
    clusters = [op for f in functions for op in f.body.block.ops if isinstance(op, ClusterOp)]
    in_bodies = sum(1 for f in functions[1:] for op in f.body.block.ops if isinstance(op, ClusterOp))
    placed = sum(sum(1 for op in c.block.ops if isinstance(op, TFNodeOp)) for c in clusters)
    on_cpu = sum(1 for f in functions for op in f.body.block.ops if isinstance(op, TFNodeOp))
    count = f"{len(clusters)}" + (f" ({in_bodies} in loop bodies)" if in_bodies else "")
    return f"| {LABELS[name]} | {loaded.num_session_ops} | {imported} | {after} | {count} | {placed} | {on_cpu} |"


def main(cache: str) -> None:
    print("| model | ops in TF session | ops after import (frozen, inlined) | ops after pipeline "
          "| clusters | ops placed in clusters | ops left on CPU |")
    print("|---|---|---|---|---|---|---|")
    for name in LABELS:
        print(row(name, os.path.join(cache, name)))


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(sys.argv[1])
    else:
        with tempfile.TemporaryDirectory() as cache:
            main(cache)
