#!/usr/bin/env python3
"""A stand-in for neuron-cc, used only by nir's tests.

It checks what nir hands the real compiler -- the command line, the io-config, and that
graph_def.pb imports in TensorFlow with Placeholders matching the io-config -- then writes a
recognisable placeholder NEFF. FAKE_NEURON_CC_MODE=fail|hang|no-neff|crash makes it misbehave.
"""

import json
import os
import sys
import time

NEFF_MAGIC = b"NIR-TEST-NEFF\n"


def main(argv: list[str]) -> int:
    if argv[:1] == ["list-operators"]:
        return 2  # make nir use its shipped table
    mode = os.environ.get("FAKE_NEURON_CC_MODE", "ok")
    expected = ["compile", "graph_def.pb", "--framework", "TENSORFLOW", "--pipeline", "compile",
                "SaveTemps", "--output", "graph_def.neff", "--io-config"]
    if argv[: len(expected)] != expected:
        print(f"unexpected command line: {argv}", file=sys.stderr)
        return 3
    config = json.loads(argv[len(expected)])
    with open("graph_def.io-config.json") as f:
        if json.load(f) != config:
            print("io-config argument differs from graph_def.io-config.json", file=sys.stderr)
            return 4
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf

    graph_def = tf.compat.v1.GraphDef()
    with open("graph_def.pb", "rb") as f:
        graph_def.ParseFromString(f.read())
    graph = tf.Graph()
    with graph.as_default():
        tf.graph_util.import_graph_def(graph_def, name="")
    placeholders = {op.name + ":0": op for op in graph.get_operations() if op.type == "Placeholder"}
    if set(placeholders) != set(config["inputs"]):
        print(f"placeholders {sorted(placeholders)} != io-config inputs {sorted(config['inputs'])}", file=sys.stderr)
        return 5
    for name, (shape, dtype) in config["inputs"].items():
        tensor = placeholders[name].outputs[0]
        if tensor.shape.as_list() != shape or tensor.dtype.name != dtype:
            print(f"{name}: placeholder {tensor.shape}/{tensor.dtype.name} != io-config {shape}/{dtype}", file=sys.stderr)
            return 6
    for name in config["outputs"]:
        graph.get_tensor_by_name(name)
    print(f"compiled {len(graph_def.node)} nodes")
    if mode == "fail":
        print("error: rejected by the stand-in", file=sys.stderr)
        return 1
    if mode == "hang":
        time.sleep(3600)
    if mode == "crash":
        os.abort()
    if mode != "no-neff":
        with open("graph_def.neff", "wb") as f:
            f.write(NEFF_MAGIC + json.dumps(config, sort_keys=True).encode())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
