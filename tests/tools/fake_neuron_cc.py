"""A stand-in for neuron-cc, used only by nir's tests, held to neuron-cc's documented contract.

    neuron-cc [--verbose LEVEL] compile <file> --framework TENSORFLOW --io-config <json>
              [--output <file>] [--pipeline STAGE ...] [--neuroncore-pipeline-cores N]
              [--fp32-cast MODE] [--fast-math VALUE ...] [--enable-saturate-infinity]
              [--enable-fast-loading-neuron-binaries] [--enable-fast-context-switch]
              [--dynamic-batch-size] [--verbose LEVEL]
    neuron-cc list-operators --framework TENSORFLOW

Options come in any order, as `--opt value` or `--opt=value`, with relative or absolute paths;
an unknown option is an error, as neuron-cc's argparse makes it. `compile` checks what the real
compiler would refuse -- an op type outside the table `list-operators` prints, a string, resource
or variant tensor, an io-config input that is not a Placeholder of the graph, a Placeholder the
io-config does not feed, an io-config output the graph lacks, an io-config without outputs --
and writes the NEFF (a recognisable placeholder) only on success. Every outcome is logged on
stdout/stderr, which nir keeps in graph_def.neuron-cc.log, so tests can assert the reason.

Misbehaviour on request: FAKE_NEURON_CC_MODE=fail|hang|crash|kill-parent|no-neff. Refusals for a reason the
real compiler gives only once it compiles, so that some clusters of a model compile and others
return to CPU: FAKE_NEURON_CC_REFUSE_OPS=Op,... (operators it lists but then fails to lower, as
neuron-cc does for attribute combinations its list does not spell out) and
FAKE_NEURON_CC_MAX_WEIGHT_BYTES=N (the graph's constants must fit in N bytes of on-chip memory).
The op table is
tests/tools/neuron_cc_tensorflow_ops.txt (a copy of the release-notes list) unless
FAKE_NEURON_CC_OPS names another file.

Run it as `sys.executable fake_neuron_cc.py ...` (tests write a launcher for that): it must not
depend on which python3 is first on PATH.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from stand_in_common import finish, tensorflow_proto_module, version

NEFF_MAGIC = b"NIR-TEST-NEFF\n"
HERE = os.path.dirname(os.path.abspath(__file__))
VERBOSE_LEVELS = ("DEBUG", "INFO", "WARN", "ERROR")
FP32_CAST = ("all", "matmult", "matmult-fp16", "matmult-bf16", "all-fp16", "none")
PIPELINE_STAGES = ("compile", "SaveTemps")
# DataType enum values neuron-cc cannot hold in a tensor (types.proto).
DT_STRING, DT_RESOURCE, DT_VARIANT = 7, 20, 21
BAD_DTYPES = {DT_STRING: "string", DT_RESOURCE: "resource", DT_VARIANT: "variant"}
DTYPE_BYTES = {1: 4, 2: 8, 3: 4, 4: 1, 5: 2, 6: 1, 9: 8, 10: 1, 14: 2, 17: 2, 19: 2, 22: 4, 23: 8}
DTYPE_NAMES = {1: "float32", 2: "float64", 3: "int32", 4: "uint8", 5: "int16", 6: "int8", 9: "int64",
               10: "bool", 14: "bfloat16", 17: "uint16", 19: "float16", 22: "uint32", 23: "uint64"}


class CompileError(Exception):
    """What neuron-cc reports as 'ERROR' before exiting 1."""


def graph_pb2():
    return tensorflow_proto_module("core.framework.graph_pb2")


def supported_ops() -> list[str]:
    path = os.environ.get("FAKE_NEURON_CC_OPS") or os.path.join(HERE, "neuron_cc_tensorflow_ops.txt")
    with open(path) as f:
        return [line.strip() for line in f if line.strip()]


def verbose_level(text: str) -> str:
    if text.upper() in VERBOSE_LEVELS or text.isdigit():
        return text
    raise argparse.ArgumentTypeError(f"invalid choice: '{text}' (choose from {', '.join(VERBOSE_LEVELS)} or a number)")


def main_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="neuron-cc", allow_abbrev=False)
    parser.add_argument("--verbose", type=verbose_level, default="WARN")
    parser.add_argument("command", choices=("compile", "list-operators"))
    return parser


def compile_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="neuron-cc compile", allow_abbrev=False)
    parser.add_argument("files", nargs="+")
    parser.add_argument("--framework", required=True, choices=("TENSORFLOW", "MXNET", "ONNX"))
    parser.add_argument("--io-config")
    parser.add_argument("--output", default="out.neff")
    parser.add_argument("--pipeline", nargs="+", choices=PIPELINE_STAGES)
    parser.add_argument("--neuroncore-pipeline-cores", type=int)
    parser.add_argument("--fp32-cast", choices=FP32_CAST)
    parser.add_argument("--fast-math", nargs="+")
    parser.add_argument("--enable-saturate-infinity", action="store_true")
    parser.add_argument("--enable-fast-loading-neuron-binaries", action="store_true")
    parser.add_argument("--enable-fast-context-switch", action="store_true")
    parser.add_argument("--dynamic-batch-size", action="store_true")
    parser.add_argument("--verbose", type=verbose_level)
    return parser


def list_operators(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="neuron-cc list-operators", allow_abbrev=False)
    parser.add_argument("--framework", required=True, choices=("TENSORFLOW", "MXNET", "ONNX"))
    args = parser.parse_args(argv)
    if args.framework != "TENSORFLOW":
        print(f"ERROR: this stand-in knows only TENSORFLOW operators, not {args.framework}", file=sys.stderr)
        return 1
    print("\n".join(supported_ops()))
    return 0


def read_io_config(text: str | None) -> dict:
    if text is None:
        raise CompileError("--io-config is required for --framework TENSORFLOW")
    try:
        config = json.loads(text)
    except json.JSONDecodeError as err:
        raise CompileError(f"--io-config is not JSON: {err}") from None
    if not isinstance(config, dict) or not isinstance(config.get("inputs"), dict):
        raise CompileError("--io-config needs an 'inputs' object")
    if not isinstance(config.get("outputs"), list) or not config["outputs"]:
        raise CompileError("--io-config lists no outputs: nothing to compile")
    return config


def tensor_node(name: str) -> str:
    node, _, port = name.partition(":")
    return node


def bad_dtype(node) -> str | None:
    for value in node.attr.values():
        if value.type in BAD_DTYPES:
            return BAD_DTYPES[value.type]
        for t in value.list.type:
            if t in BAD_DTYPES:
                return BAD_DTYPES[t]
    return None


def check_graph(graph_def, config: dict) -> None:
    nodes = {}
    for node in graph_def.node:
        if node.name in nodes:
            raise CompileError(f"duplicate node name '{node.name}'")
        nodes[node.name] = node
    table = set(supported_ops())
    for node in graph_def.node:
        if node.op != "Placeholder" and node.op not in table:
            raise CompileError(f"Unsupported operator {node.op} (node '{node.name}'); "
                               "see `neuron-cc list-operators --framework TENSORFLOW`")
        if (dtype := bad_dtype(node)) is not None:
            raise CompileError(f"node '{node.name}' ({node.op}) has a {dtype} tensor, which Inferentia cannot hold")
        for source in node.input:
            source_node = tensor_node(source.lstrip("^"))
            if source_node not in nodes:
                raise CompileError(f"node '{node.name}' reads '{source}', which is not in the graph")
    placeholders = {n.name for n in graph_def.node if n.op == "Placeholder"}
    for name, entry in config["inputs"].items():
        node = nodes.get(tensor_node(name))
        if node is None:
            raise CompileError(f"io-config input '{name}' is not a tensor of the graph")
        if node.op != "Placeholder":
            raise CompileError(f"io-config input '{name}' is a {node.op}, not a Placeholder")
        shape, dtype = entry
        declared = [d.size for d in node.attr["shape"].shape.dim]
        declared_dtype = DTYPE_NAMES.get(node.attr["dtype"].type, str(node.attr["dtype"].type))
        if declared != shape or declared_dtype != dtype:
            raise CompileError(f"io-config input '{name}' is {shape}/{dtype}, the Placeholder {declared}/{declared_dtype}")
    unfed = placeholders - {tensor_node(n) for n in config["inputs"]}
    if unfed:
        raise CompileError(f"Placeholders {sorted(unfed)} are not inputs in --io-config")
    for name in config["outputs"]:
        if tensor_node(name) not in nodes:
            raise CompileError(f"io-config output '{name}' is not a tensor of the graph")


def check_lowering(graph_def) -> None:
    """What neuron-cc finds only while it compiles, on request (see the module's docstring)."""
    refused = {op for op in os.environ.get("FAKE_NEURON_CC_REFUSE_OPS", "").split(",") if op}
    for node in graph_def.node:
        if node.op in refused:
            raise CompileError(f"Internal compiler error: lowering {node.op} (node '{node.name}') failed: "
                               "no kernel for this configuration")
    limit = os.environ.get("FAKE_NEURON_CC_MAX_WEIGHT_BYTES")
    if limit is not None:
        total = sum(constant_bytes(n) for n in graph_def.node if n.op == "Const")
        if total > int(limit):
            raise CompileError(f"Out of on-chip memory: the graph's constants take {total} bytes, "
                               f"the state buffer holds {int(limit)}")


def constant_bytes(node) -> int:
    tensor = node.attr["value"].tensor
    if tensor.tensor_content:
        return len(tensor.tensor_content)
    count = 1
    for dim in tensor.tensor_shape.dim:
        count *= dim.size
    return count * DTYPE_BYTES.get(tensor.dtype, 4)


def compile_model(argv: list[str]) -> int:
    args = compile_parser().parse_intermixed_args(argv)
    print(f"neuron-cc compile: started at {time.time():.6f} in {os.getcwd()}", flush=True)
    print(f"neuron-cc compile: options {json.dumps({k: v for k, v in vars(args).items() if k != 'io_config'})}", flush=True)
    if args.framework != "TENSORFLOW":
        print(f"ERROR: this stand-in compiles only TENSORFLOW graphs, not {args.framework}", file=sys.stderr)
        return 1
    try:
        config = read_io_config(args.io_config)
        graph_def = graph_pb2().GraphDef()
        with open(args.files[0], "rb") as f:
            graph_def.ParseFromString(f.read())
        check_graph(graph_def, config)
        check_lowering(graph_def)
    except (CompileError, OSError) as err:
        print(f"ERROR: {err}", file=sys.stderr)
        return 1
    neff = NEFF_MAGIC + json.dumps(config, sort_keys=True).encode()
    return finish("neuron-cc", args.output, neff, f"{len(graph_def.node)} nodes")


def main(argv: list[str]) -> int:
    if argv == ["--version"]:
        return version("neuron-cc")
    # neuron-cc [options] <command> [parameters]: what precedes the command is global.
    commands = [i for i, token in enumerate(argv) if token in ("compile", "list-operators")]
    split = commands[0] + 1 if commands else len(argv)
    args = main_parser().parse_args(argv[:split])
    rest = argv[split:]
    if args.command == "list-operators":
        return list_operators(rest)
    if args.verbose != "WARN":
        rest = [*rest, "--verbose", args.verbose]
    return compile_model(rest)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
