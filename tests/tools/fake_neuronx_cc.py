"""A stand-in for neuronx-cc (Inferentia2, Trainium), used only by nir's tests, held to the
documented command line:

    neuronx-cc compile <file> --framework XLA --target {inf2,trn1,trn1n,trn2} [--model-type TYPE]
               [--auto-cast MODE] [--auto-cast-type TYPE] [--enable-fast-context-switch]
               [--enable-fast-loading-neuron-binaries] [--logfile FILE] [--output FILE] [--verbose LEVEL]
    neuronx-cc list-operators --framework XLA

Options in any order, as `--opt value` or `--opt=value`; a later option overrides an earlier one;
an unknown option is refused. `compile` reads the file as a serialized HloModuleProto and refuses
what the compiler would: a file that is not one, an HLO opcode outside the table it prints for
`list-operators` (tests/tools/neuronx_cc_xla_ops.txt, or FAKE_NEURONX_CC_OPS), an entry
computation whose parameters disagree with the module's program shape, a dynamic dimension. The
NEFF (a recognisable placeholder, default name file.neff) is written only on success.
FAKE_NEURON_CC_MODE=fail|hang|crash|kill-parent|no-neff makes it misbehave as the neuron-cc stand-in does.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from stand_in_common import finish, tensorflow_proto_module, version

NEFF_MAGIC = b"NIR-TEST-NEFFX\n"
HERE = os.path.dirname(os.path.abspath(__file__))
TARGETS = ("inf2", "trn1", "trn1n", "trn2")


class CompileError(Exception):
    pass


def hlo_pb2():
    return tensorflow_proto_module("compiler.xla.service.hlo_pb2")


def supported_opcodes() -> list[str]:
    path = os.environ.get("FAKE_NEURONX_CC_OPS") or os.path.join(HERE, "neuronx_cc_xla_ops.txt")
    with open(path) as f:
        return [line.strip() for line in f if line.strip() and not line.startswith("#")]


def compile_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="neuronx-cc compile", allow_abbrev=False)
    parser.add_argument("files", nargs="+")
    parser.add_argument("--framework", required=True, choices=("XLA",))
    parser.add_argument("--target", required=True, choices=TARGETS)
    parser.add_argument("--model-type", choices=("generic", "transformer", "unet-inference"))
    parser.add_argument("--auto-cast", choices=("matmult", "all", "none"))
    parser.add_argument("--auto-cast-type", choices=("bf16", "fp16", "tf32", "fp8_e4m3"))
    parser.add_argument("--enable-fast-context-switch", action="store_true")
    parser.add_argument("--enable-fast-loading-neuron-binaries", action="store_true")
    parser.add_argument("--logfile")
    parser.add_argument("--output", default="file.neff")
    parser.add_argument("--verbose")
    return parser


def check_module(module) -> None:
    table = set(supported_opcodes())
    computations = {c.id: c for c in module.computations}
    entry = computations.get(module.entry_computation_id)
    if entry is None:
        raise CompileError("the HloModuleProto has no entry computation")
    for computation in module.computations:
        for instruction in computation.instructions:
            if instruction.opcode not in table:
                raise CompileError(f"Unsupported HLO operator '{instruction.opcode}' "
                                   f"(instruction {instruction.name} in {computation.name})")
            if any(instruction.shape.is_dynamic_dimension):
                raise CompileError(f"dynamic dimension in {instruction.name}: shapes must be static")
    parameters = sorted((i for i in entry.instructions if i.opcode == "parameter"), key=lambda i: i.parameter_number)
    declared = list(module.host_program_shape.parameters)
    if len(parameters) != len(declared):
        raise CompileError(f"entry computation has {len(parameters)} parameters, the program shape {len(declared)}")
    for parameter, shape in zip(parameters, declared):
        if list(parameter.shape.dimensions) != list(shape.dimensions) or parameter.shape.element_type != shape.element_type:
            raise CompileError(f"parameter {parameter.parameter_number} disagrees with the program shape")


def compile_model(argv: list[str]) -> int:
    args = compile_parser().parse_intermixed_args(argv)
    print(f"neuronx-cc compile: started at {time.time():.6f} in {os.getcwd()}", flush=True)
    print(f"neuronx-cc compile: options {json.dumps(vars(args))}", flush=True)
    try:
        module = hlo_pb2().HloModuleProto()
        with open(args.files[0], "rb") as f:
            data = f.read()
        try:
            module.ParseFromString(data)
        except Exception as err:  # protobuf's DecodeError
            raise CompileError(f"{args.files[0]} is not a serialized HloModuleProto ({err})") from None
        check_module(module)
    except (CompileError, OSError) as err:
        print(f"ERROR: {err}", file=sys.stderr)
        return 1
    shapes = [list(p.dimensions) for p in module.host_program_shape.parameters]
    neff = NEFF_MAGIC + json.dumps({"module": module.name, "parameters": shapes}).encode()
    checked = f"{sum(len(c.instructions) for c in module.computations)} instructions"
    return finish("neuronx-cc", args.output, neff, checked)


def main(argv: list[str]) -> int:
    if argv == ["--version"]:
        return version("neuronx-cc")
    if argv[:1] == ["list-operators"]:
        parser = argparse.ArgumentParser(prog="neuronx-cc list-operators", allow_abbrev=False)
        parser.add_argument("--framework", required=True, choices=("XLA",))
        parser.parse_args(argv[1:])
        print("\n".join(supported_opcodes()))
        return 0
    if argv[:1] == ["compile"]:
        return compile_model(argv[1:])
    print("usage: neuronx-cc {compile,list-operators} ...", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
