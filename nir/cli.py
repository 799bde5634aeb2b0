"""The `nir` command: compile, compile-many, opt, explain, import, relift, inline, cache, example.

Exit codes: 0 success; 1 error (bad input, failed pass, strict-mode compile failure);
3 partial (the model was written, but some clusters were not compiled and run on CPU, or the
pipeline produced no cluster at all);
130 interrupted.
"""

from __future__ import annotations

import argparse
import faulthandler
import json
import logging
import os
import re
import signal
import sys
import time
import traceback

EXIT_OK, EXIT_ERROR, EXIT_PARTIAL, EXIT_INTERRUPTED = 0, 1, 3, 130
# Local imports: each command imports what it runs, so `nir --help` and `nir opt` start in
# milliseconds, without TensorFlow.


def _csv(text: str | None) -> list[str]:
    return [t for t in (text or "").split(",") if t]


# The CompileOptions fields the command line sets, and how (argparse keywords; "flag" when the
# flag is not --<field name>). Their help text and defaults come from CompileOptions itself.
_NAMES = {"metavar": "NAME,NAME", "type": _csv}
CLI_OPTIONS: dict[str, dict] = {
    "tags": {"metavar": "TAG,TAG"},
    "signature_def_key": {},
    "target": {},
    "neuron_cc": {"metavar": "PATH"},
    "minimum_segment_size": {"type": int},
    "no_fuse_ops": _NAMES,
    "force_fuse_ops": _NAMES,
    "supported_op_types": {"metavar": "TYPE,TYPE", "type": _csv},
    "max_cluster_bytes": {"type": int},
    "max_unrolled_ops": {"type": int},
    "pipeline": {},
    "dump_dir": {},
    "print_ir_after_all": {"action": "store_true"},
    "no_elide": {"action": "store_true"},
    "dynamic_batch_size": {"action": argparse.BooleanOptionalAction},
    "compiler_args": {"type": str.split, "metavar": "'ARG ARG'"},
    "compiler_timeout": {"type": float, "metavar": "SECONDS"},
    "strict": {"action": "store_const", "const": True},
    "max_num_compilers": {"type": int},
    "executor": {},
    "compiler_memory_gb": {"flag": "--compiler-memory", "type": float, "metavar": "GB"},
    "cache_dir": {},
    "compile_cache": {"flag": "--no-cache", "action": "store_const", "const": False,
                      "help": "neither use nor fill the compile cache"},
    "convert_constants_to_variables": {"action": "store_true"},
    "constant_size_to_exclude": {"type": int, "metavar": "ELEMENTS"},
    "progress": {"flag": "--no-progress", "action": "store_const", "const": False,
                 "help": "no compile progress line on stderr"},
}
# CompileOptions fields only the Python API takes: arrays, nir.trace's own, and an alias.
PYTHON_ONLY_OPTIONS = frozenset({"model_shape_feed_dict", "model_feed_dict", "keep_largest_ratio", "compiler_recovery"})
MODEL_OPTIONS = ("tags", "signature_def_key", "target", "neuron_cc", "minimum_segment_size", "no_fuse_ops",
                 "force_fuse_ops", "supported_op_types", "max_cluster_bytes", "max_unrolled_ops", "pipeline", "dump_dir", "no_elide",
                 "print_ir_after_all")
COMPILER_OPTIONS = ("compiler_args", "compiler_timeout", "strict", "max_num_compilers", "executor",
                    "compiler_memory_gb", "cache_dir", "compile_cache", "convert_constants_to_variables",
                    "constant_size_to_exclude", "progress")


def _add_options(p: argparse.ArgumentParser, names) -> None:
    """One flag per CompileOptions field of `names`. A flag not given is left out of the
    namespace (SUPPRESS), so CompileOptions' own default applies, as in the Python API."""
    from nir.options import option_help

    for name in names:
        how = dict(CLI_OPTIONS[name])
        flag = how.pop("flag", "--" + name.replace("_", "-"))
        how.setdefault("help", option_help(name))
        p.add_argument(flag, dest=name, default=argparse.SUPPRESS, **how)


def _compile_options(args) -> dict:
    """The CompileOptions fields given on the command line."""
    return {name: value for name, value in vars(args).items() if name in CLI_OPTIONS}


def _add_model_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--batch-size", type=int, default=1, help="the batch size to compile for (default: 1)")
    p.add_argument("--input-shapes", help="'name:1x224x224x3;other:1x128' (model_shape_feed_dict)")
    _add_options(p, MODEL_OPTIONS)


def _shape_feed(text: str | None) -> dict | None:
    if not text:
        return None
    from passes.batch_specialize import parse_input_shapes

    return {k: list(v) for k, v in parse_input_shapes(text).items()}


def _cmd_compile(args) -> int:
    from nir.saved_model import compile as compile_model

    report = compile_model(
        args.model_dir, args.new_model_dir,
        batch_size=args.batch_size,
        model_shape_feed_dict=_shape_feed(args.input_shapes),
        compiler_workdir=args.compiler_workdir,
        **_compile_options(args),
    )
    print(json.dumps(report, indent=2, sort_keys=True))
    # No cluster at all is not a success either: nothing will run on the accelerator.
    if report["NumClusters"] == 0 or report["NumCompiledClusters"] < report["NumClusters"]:
        return EXIT_PARTIAL
    return EXIT_OK


def _cmd_compile_many(args) -> int:
    from nir.saved_model import compile_many

    batch_sizes = [_positive_int(b, "--batch-sizes") for b in _csv(args.batch_sizes)]
    reports = compile_many(
        args.model_dirs, args.output_dir, batch_sizes, compiler_workdir=args.compiler_workdir,
        **_compile_options(args),
    )
    print(json.dumps(reports, indent=2, sort_keys=True))
    partial = any(r["NumClusters"] == 0 or r["NumCompiledClusters"] < r["NumClusters"] for r in reports.values())
    return EXIT_PARTIAL if partial else EXIT_OK


def _positive_int(text: str, option: str) -> int:
    from nir.errors import NirInputError

    try:
        value = int(text)
    except ValueError:
        raise NirInputError(f"{option} takes comma-separated positive integers, got '{text}'") from None
    if value < 1:
        raise NirInputError(f"{option} takes positive integers, got {value}")
    return value


def _cmd_cache(args) -> int:
    from backends.compile_cache import CompileCache, default_cache_root

    cache = CompileCache(args.cache_dir or default_cache_root())
    if args.action == "clear":
        removed = cache.clear(None if args.older_than is None else args.older_than * 86400)
        age = "" if args.older_than is None else f" older than {args.older_than:g} days"
        print(f"removed {removed} entr{'y' if removed == 1 else 'ies'}{age} from {cache.folder}")
        return EXIT_OK
    info = cache.info()

    def when(t: float | None) -> str:
        return "-" if t is None else time.strftime("%Y-%m-%d %H:%M", time.localtime(t))

    print(f"compile cache: {info.root}")
    print(f"entries: {info.entries}")
    print(f"size: {info.bytes / 1e6:.1f} MB")
    for compiler, count in sorted(info.compilers.items()):
        print(f"  {compiler}: {count}")
    print(f"oldest: {when(info.oldest)}  newest: {when(info.newest)}")
    return EXIT_OK


def _add_compile_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--compiler-workdir", help="keep the compiler's inputs and logs here")
    _add_options(p, COMPILER_OPTIONS)


def _partitioned(args):
    """The model of `args`, imported and run through the pipeline `nir compile` would run."""
    from nir.compile_driver import CompileSetup, Job, pipeline_module
    from nir.options import CompileOptions

    options = CompileOptions.of(model_shape_feed_dict=_shape_feed(args.input_shapes), **_compile_options(args))
    module, _ = pipeline_module(Job(args.model_dir, None, args.batch_size, None), CompileSetup.of(options), None)
    return module


def _cmd_explain(args) -> int:
    from nir.explain import explain_module, format_report, to_json

    module = _read_dump(args.model_dir) if os.path.isfile(args.model_dir) else _partitioned(args)
    report = explain_module(module)
    if args.svg or args.html:
        _draw_partition(module, args)
    sys.stdout.write(to_json(report) + "\n" if args.json else format_report(report, args.nodes))
    return EXIT_OK


def _read_dump(path: str):
    """A dump (`--dump-dir`'s `NNN-<pass>.mlir`), explained as that pass left it."""
    from nir.ir import parse_module
    from nir.ir.text import stored_payloads_of

    with open(path) as f:
        text = f.read()
    return parse_module(text, path, payloads=stored_payloads_of(path))


def _cmd_diff(args) -> int:
    from nir.ir.diff import diff_modules

    changes = diff_modules(_read_dump(args.a), _read_dump(args.b))
    for change in changes:
        print(change)
    if not changes:
        print("no op differs")
    return EXIT_ERROR if changes else EXIT_OK


def _cmd_verify_clusters(args) -> int:
    from nir.verify_clusters import format_rows, verify_clusters

    rows = verify_clusters(_partitioned(args), args.target)
    sys.stdout.write(json.dumps(rows, indent=2) + "\n" if args.json else format_rows(rows, args.rtol))
    worst = max((r["max_rel_diff"] for r in rows), default=0.0)
    return EXIT_OK if worst <= args.rtol else EXIT_ERROR


def _draw_partition(module, args) -> None:
    from nir.explain import picture_title
    from nir.partition_svg import partition_html, partition_svg

    title = picture_title(args.model_dir, module)
    picture = partition_svg(module, args.layout, title)
    if args.svg:
        _write(args.svg, picture)
    if args.html:
        _write(args.html, partition_html(picture, title))


def _cmd_import(args) -> int:
    from nir.ir import print_module
    from nir.ir.text import payloads_beside
    from nir.pipeline import import_saved_model

    module, _ = import_saved_model(args.model_dir, getattr(args, "tags", None), getattr(args, "signature_def_key", None))
    payloads = payloads_beside(args.output) if args.output not in (None, "-") else None
    _write(args.output, print_module(module, None if args.no_elide else 1024, payloads))
    return EXIT_OK


def _write(path: str | None, text: str) -> None:
    if path in (None, "-"):
        sys.stdout.write(text)
    else:
        with open(path, "w") as f:
            f.write(text)


SPLIT_MARKER = "// -----"


def _cmd_opt(args) -> int:
    from nir.errors import NirError
    from nir.ir import print_module
    from nir.ir.text import payloads_beside
    from nir.passmanager import PassTiming, PipelineError, available_passes, pass_options, pass_summary
    from nir.passmanager.manager import count_ops

    if args.list_passes:
        for name, cls in available_passes().items():
            print(f"{name}: {pass_summary(cls)}")
            for option, kind, default in pass_options(cls):
                print(f"    {option}: {kind} = {default}")
        return EXIT_OK
    if args.input in (None, "-"):
        source = sys.stdin.read()
    else:
        with open(args.input) as f:
            source = f.read()
    name = args.input or "<stdin>"
    chunks = split_input(source) if args.split_input_file else [(source, 0)]
    elide = None if args.no_elide else 1024
    # Weights over the limit go to a payloads folder beside the output file, as a dump's do;
    # on stdout they can only print elided.
    out_payloads = payloads_beside(args.output) if args.output not in (None, "-") else None
    outputs, failures = [], 0
    for index, (text, first_line) in enumerate(chunks):
        where = f"{name} (split {index + 1}, from line {first_line + 1})" if args.split_input_file else name
        try:
            module, manager, parse_timing = _run_opt_pipeline(args, text, where)
        except PipelineError:
            raise  # the pipeline or its options, not this piece: the same for every piece
        except Exception as err:  # noqa: BLE001 - each split reports and the others still run
            if not isinstance(err, NirError):
                raise
            failures += _report_split(args, err, text, where, name, first_line)
            continue
        if args.verify_diagnostics:
            failures += _expected_but_missing(text, where)
        started = time.perf_counter()
        outputs.append(print_module(module, elide, out_payloads))
        if args.timing:
            size = count_ops(module)
            printing = PassTiming("(print)", time.perf_counter() - started, size, size)
            sys.stderr.write(manager.timing_report([parse_timing], [printing]))
    _write(args.output, f"\n{SPLIT_MARKER}\n".join(outputs))
    return EXIT_ERROR if failures else EXIT_OK


def split_input(source: str) -> list[tuple[str, int]]:
    """The pieces of a file between `// -----` lines, each with the line it starts at, as
    mlir-opt's --split-input-file cuts them (so error lines stay meaningful)."""
    chunks, current, start = [], [], 0
    for number, line in enumerate(source.splitlines(keepends=True)):
        if line.strip() == SPLIT_MARKER:
            chunks.append(("".join(current), start))
            current, start = [], number + 1
        else:
            current.append(line)
    chunks.append(("".join(current), start))
    return [(text, first) for text, first in chunks if text.strip()]


def _run_opt_pipeline(args, source: str, where: str):
    import time

    from nir.ir import parse_module
    from nir.passmanager import PassManager, PassTiming
    from nir.passmanager.manager import count_ops

    verify_each_pass = not args.no_verify
    # The pass manager verifies the input before the first pass (the TF-aware verifier includes
    # xDSL's structural one), so the parser verifies only when the pass manager will not.
    started = time.perf_counter()
    module = parse_module(source, where, verify=not verify_each_pass, payloads=_input_payloads(args))
    parse_timing = PassTiming("(parse)", time.perf_counter() - started, 0, count_ops(module))
    if not args.allow_elided:
        refuse_elided_constants(module, where)
    after_pass = []
    if args.svg_after:
        from nir.partition_svg import DrawPartition  # drawing only when asked: nir opt starts fast

        after_pass.append(DrawPartition(tuple(_csv(args.svg_after)), "--svg-after"))
    manager = PassManager.parse(
        args.pass_pipeline or "",
        print_ir_before=_csv(args.print_ir_before),
        print_ir_after=["all"] if args.print_ir_after_all else _csv(args.print_ir_after),
        print_ir_after_change=args.print_ir_after_change,
        dump_dir=args.dump_dir,
        timing=args.timing,
        verify_each=verify_each_pass,
        # As compile does: a dump directory also gets the reproducer of a failing pass.
        reproducer_dir=args.reproducer_dir or args.dump_dir,
        elide_above=None if args.no_elide else 1024,
        after_pass=after_pass,
    )
    manager.run(module)
    return module, manager, parse_timing


def _input_payloads(args) -> str | None:
    from nir.ir.text import stored_payloads_of

    if args.payloads:
        return args.payloads
    return None if args.input in (None, "-") else stored_payloads_of(args.input)


def refuse_elided_constants(module, where: str) -> None:
    """A constant printed `__elided__` has lost its value; passes would take it for an unknown
    one and fold, place and cluster differently than the run that printed it."""
    from nir.errors import NirInputError
    from nir.ir.tf_attrs import TensorAttr
    from nir.ir.tf_dialect import TFNodeOp

    for op in module.walk():
        value = op.attributes.get("value") if isinstance(op, TFNodeOp) else None
        if isinstance(value, TensorAttr) and value.data.is_elided:
            raise NirInputError(
                f"{where}: constant '{op.node_name}' is printed __elided__, so its value is lost and passes would "
                "treat it as unknown: re-run from a dump directory (its payloads/ folder holds every weight), "
                "print with --no-elide, or pass --allow-elided to accept unknown values")


EXPECTED_ERROR = re.compile(r"//\s*expected-error\s*\{\{(.*?)\}\}")
_OP_LINE = re.compile(r'^\s*%([^\s,:=]+)[^=]*= "tf\.')
_NODE_NAME = re.compile(r'node_name = "((?:[^"\\]|\\.)*)"')


def node_lines(text: str) -> dict[str, int]:
    """Node name -> the (0-based) line of `text` that defines it: the op's `node_name`, or the
    node name its SSA name spells when the printer left `node_name` out."""
    from nir.ir.tf_dialect import node_name_of_hint

    lines: dict[str, int] = {}
    for number, line in enumerate(text.splitlines()):
        op = _OP_LINE.match(line)
        if op is None:
            continue
        named = _NODE_NAME.search(line)
        lines.setdefault(named.group(1) if named else node_name_of_hint(op.group(1)), number)
    return lines


def error_line(err: Exception, text: str) -> int | None:
    """The line of `text` defining the node a verifier error names, if it names one."""
    cause = err
    while cause is not None and getattr(cause, "node", None) is None:
        cause = cause.__cause__
    return None if cause is None else node_lines(text).get(cause.node)


def _report_split(args, err: Exception, text: str, where: str, name: str, first_line: int) -> int:
    """1 if this failure counts against the run. With --verify-diagnostics, a failure is what
    was asked for when its message holds every `// expected-error {{...}}` text of its piece
    and, when it names a node, the comment is on the line just above that node's op (as
    mlir-opt anchors a diagnostic to its line). Errors name `file:line` of the node's op."""
    message = str(err)
    line = error_line(err, text)
    located = f"{name}:{first_line + line + 1}" if line is not None else where
    if args.verify_diagnostics:
        expected = EXPECTED_ERROR.findall(text)
        missing = [e for e in expected if e not in message]
        lines = text.splitlines()
        anchored = line is None or (line > 0 and EXPECTED_ERROR.search(lines[line - 1]) is not None)
        if expected and not missing and anchored:
            return 0
        if missing:
            what = f"expected error '{missing[0]}' not produced"
        elif expected:
            what = "the expected error is not on the line above the op it is about"
        else:
            what = "unexpected error"
        sys.stderr.write(f"nir: {located}: {what}; the error was: {message}\n")
        return 1
    sys.stderr.write(f"nir: error: {located}: {message}\n")
    if args.traceback:
        traceback.print_exception(err)
    return 1


def _expected_but_missing(text: str, where: str) -> int:
    expected = EXPECTED_ERROR.findall(text)
    if expected:
        sys.stderr.write(f"nir: {where}: expected error '{expected[0]}', but the pipeline succeeded\n")
    return int(bool(expected))


def _cmd_relift(args) -> int:
    from nir.saved_model import relift

    report = relift(args.compiler_workdir, args.new_model_dir)
    print(json.dumps(report, indent=2, sort_keys=True))
    return EXIT_PARTIAL if report["NumCompiledClusters"] < report["NumClusters"] else EXIT_OK


def _cmd_inline(args) -> int:
    from nir.saved_model import inline_neuron_ops

    inline_neuron_ops(args.model_dir, args.new_model_dir)
    return EXIT_OK


def _cmd_example(args) -> int:
    import os

    from nir.examples import BUILDERS

    if os.path.exists(args.model_dir):
        raise OSError(f"'{args.model_dir}' already exists; choose a new directory")
    BUILDERS[args.name](args.model_dir)
    print(f"wrote {args.name} (random weights) to {args.model_dir}")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nir", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="log nir's progress (and print tracebacks)")
    parser.add_argument("--traceback", "--debug", action="store_true", help="print the Python traceback of an error")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("compile", help="compile a SavedModel for Inferentia (the seed's compile)")
    p.add_argument("model_dir")
    p.add_argument("new_model_dir")
    _add_model_options(p)
    _add_compile_options(p)
    _add_options(p, ("dynamic_batch_size",))
    p.set_defaults(run=_cmd_compile)

    p = sub.add_parser("compile-many", help="compile models at several batch sizes as one set of jobs")
    p.add_argument("model_dirs", nargs="+", metavar="MODEL_DIR")
    p.add_argument("-o", "--output-dir", required=True,
                   help="each result goes to OUTPUT_DIR/<model folder name>_b<batch size>")
    p.add_argument("--batch-sizes", default="1", help="comma-separated, e.g. 1,4,8 (default: 1)")
    _add_options(p, MODEL_OPTIONS)
    _add_compile_options(p)
    p.set_defaults(run=_cmd_compile_many)

    p = sub.add_parser("cache", help="the compile cache: what it holds, or empty it")
    p.add_argument("action", choices=("info", "clear"))
    p.add_argument("--cache-dir", help="default: NIR_CACHE_DIR, else ~/.cache/nir")
    p.add_argument("--older-than", type=float, metavar="DAYS", help="clear: only entries older than this")
    p.set_defaults(run=_cmd_cache)

    p = sub.add_parser("explain", help="report why ops stay on CPU and what each cluster holds")
    p.add_argument("model_dir", help="a SavedModel, or an .mlir dump to explain as its pass left it")
    _add_model_options(p)
    p.add_argument("--json", action="store_true", help="the report as JSON (node names included)")
    p.add_argument("--nodes", action="store_true", help="list the node name of every op left on CPU")
    p.add_argument("--svg", metavar="FILE", help="draw the partition: clusters, CPU runs by reason, boundary tensors")
    p.add_argument("--html", metavar="FILE", help="the same picture in a page, with hover text")
    p.add_argument("--layout", choices=("auto", "dot", "python"), default="auto",
                   help="auto: Graphviz dot when installed, else nir's own layered layout")
    p.set_defaults(run=_cmd_explain)

    p = sub.add_parser("verify-clusters", help="run each cluster's HLO on CPU through XLA and compare with TensorFlow")
    p.add_argument("model_dir")
    _add_model_options(p)
    p.set_defaults(target="inferentia2")
    p.add_argument("--rtol", type=float, default=1e-4, help="largest relative difference accepted (exit 1 above)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=_cmd_verify_clusters)

    p = sub.add_parser("import", help="print a SavedModel's NIR")
    p.add_argument("model_dir")
    _add_options(p, ("tags", "signature_def_key"))
    p.add_argument("--no-elide", action="store_true", help="print every weight")
    p.add_argument("-o", "--output")
    p.set_defaults(run=_cmd_import)

    p = sub.add_parser("opt", help="run a pass pipeline on IR text (like mlir-opt)")
    p.add_argument("input", nargs="?", help="IR file (default: stdin)")
    p.add_argument("-p", "--pass-pipeline", help="e.g. 'tf-shape-inference,tf-legalize,tf-cluster,tf-dce'")
    p.add_argument("--list-passes", action="store_true")
    p.add_argument("--print-ir-before", help="comma-separated pass names")
    p.add_argument("--print-ir-after", help="comma-separated pass names")
    p.add_argument("--print-ir-after-all", action="store_true")
    p.add_argument("--print-ir-after-change", action="store_true")
    p.add_argument("--dump-dir")
    p.add_argument("--svg-after", help="comma-separated pass names (or all): draw the partition after them into --dump-dir")
    p.add_argument("--timing", action="store_true", help="print a per-pass timing report")
    p.add_argument("--no-verify", action="store_true")
    p.add_argument("--reproducer-dir")
    p.add_argument("--no-elide", action="store_true", help="print every weight in the output text")
    p.add_argument("--payloads", metavar="DIR",
                   help="folder of the input's stored weights (default: payloads/ beside the input file)")
    p.add_argument("--allow-elided", action="store_true",
                   help="accept constants printed __elided__ (their values are unknown to every pass)")
    p.add_argument("--split-input-file", action="store_true",
                   help="run each piece of the input between '// -----' lines on its own; outputs joined by the same line")
    p.add_argument("--verify-diagnostics", action="store_true",
                   help="a piece holding '// expected-error {{text}}' must fail with that text; the others must succeed")
    p.add_argument("-o", "--output")
    p.set_defaults(run=_cmd_opt)

    p = sub.add_parser("diff", help="what changed between two IR dumps, op by op (matched by node name); exit 1 if any")
    p.add_argument("a")
    p.add_argument("b")
    p.set_defaults(run=_cmd_diff)

    p = sub.add_parser("relift", help="build the SavedModel from a workdir compiled elsewhere")
    p.add_argument("compiler_workdir")
    p.add_argument("new_model_dir")
    p.set_defaults(run=_cmd_relift)

    from nir.examples import BUILDERS

    p = sub.add_parser("example", help="write an example SavedModel (random weights, no download)")
    p.add_argument("name", choices=sorted(BUILDERS))
    p.add_argument("model_dir")
    p.set_defaults(run=_cmd_example)

    p = sub.add_parser("inline", help="replace NeuronOps by their graphs (runs in stock TensorFlow)")
    p.add_argument("model_dir")
    p.add_argument("new_model_dir")
    p.set_defaults(run=_cmd_inline)
    return parser


def _print_stacks_on_sigusr1() -> None:
    """`kill -USR1 <pid>` prints every thread's Python stack to stderr, and nir goes on: what a
    compile that seems hung (a compiler that never returns, an interrupt not acted on) is doing."""
    if hasattr(signal, "SIGUSR1"):
        faulthandler.register(signal.SIGUSR1, all_threads=True)


def _unblock_interrupts() -> None:
    """A process inherits its parent's blocked signals: started from a thread that blocks SIGINT
    (some libraries' threads do), nir would never see Ctrl-C, and its compilers would run on.
    A blocked SIGINT is never meant for nir; an ignored one (a shell's background job) is, and
    stays ignored."""
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def main(argv: list[str] | None = None) -> int:
    from nir.errors import NirError

    if argv is None:  # run as a program, not called by a test or a script
        _print_stacks_on_sigusr1()
        _unblock_interrupts()
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose or args.command in ("compile", "compile-many", "relift") else logging.WARNING,
        format="%(levelname)s:%(name)s:%(message)s",
    )
    # The seed's report lines come through the "tensorflow" logger, printed as the original
    # printed them: INFO:tensorflow:Number of operations ...
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s:tensorflow:%(message)s"))
    tf_logger = logging.getLogger("tensorflow")
    tf_logger.handlers = [handler]
    tf_logger.propagate = False
    tf_logger.setLevel(logging.INFO if args.command in ("compile", "compile-many", "relift") else logging.WARNING)
    logging.captureWarnings(True)
    try:
        return args.run(args)
    except KeyboardInterrupt:
        sys.stderr.write("nir: interrupted; no output was written\n")
        return EXIT_INTERRUPTED
    except (NirError, ValueError, OSError) as err:
        sys.stderr.write(f"nir: error: {err}\n")
        if args.traceback or args.verbose:
            traceback.print_exception(err)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
