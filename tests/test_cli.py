"""`nir explain`, `nir import`, `nir example` and `nir opt --list-passes`, as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from nir.ir import parse_module


def nir(*args, **kwargs):
    return subprocess.run([sys.executable, "-m", "nir.cli", *args], capture_output=True, text=True, **kwargs)


def _last_layer_norm_variance(model_dir: str) -> str:
    """The node name of the transformer's second LayerNorm variance op. Looked up, not written
    down: Keras numbers layer names per process, so they depend on what the session built first."""
    from nir.ir import TFNodeOp
    from nir.ir.module import entry_function
    from nir.pipeline import import_saved_model

    module, _ = import_saved_model(model_dir)
    ops = [op for op in entry_function(module).body.block.ops if isinstance(op, TFNodeOp)]
    return [op.node_name for op in ops if op.tf_type == "SquaredDifference"][-1]


def test_explain_reports_cpu_ops_with_reasons_and_clusters(zoo):
    result = nir("explain", zoo["transformer"], "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    reasons = {(row["op_type"], row["reason"]): row["count"] for row in report["cpu"]}
    assert reasons == {("IdentityN", "graph input or output stand-in"): 1}
    assert report["cuts"] == []
    assert len(report["clusters"]) == 1
    assert all(c["ops"] >= 2 and c["inputs"] and c["outputs"] for c in report["clusters"])
    table = nir("explain", zoo["transformer"])
    assert "Ops left on CPU:" in table.stdout and "IdentityN" in table.stdout and "Clusters (1)" in table.stdout
    assert "between clusters" not in table.stdout


def test_explain_lists_the_cpu_ops_that_cut_the_graph_first(zoo):
    cut = _last_layer_norm_variance(zoo["transformer"])
    result = nir("explain", zoo["transformer"], "--no-fuse-ops", cut, "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["cuts"] == [{"node": cut, "op_type": "SquaredDifference", "reason": "listed in no_fuse_ops"}]
    assert len(report["clusters"]) == 2
    rows = {row["op_type"]: row for row in report["cpu"]}
    assert rows["SquaredDifference"]["nodes"] == [cut]
    table = nir("explain", zoo["transformer"], "--no-fuse-ops", cut, "--nodes").stdout
    lines = table.splitlines()
    assert lines[0].startswith("CPU ops between clusters (1;") and cut in lines[1]
    assert f"      {cut}" in lines  # --nodes: every CPU op by name under its row


def test_import_prints_parseable_ir(zoo):
    result = nir("import", zoo["tf1_two_signatures"], "--signature-def-key", "logits")
    assert result.returncode == 0, result.stderr
    module = parse_module(result.stdout)
    assert '"tf.MatMul"' in result.stdout and 'tf.output_key = "logits"' in result.stdout
    module.verify()


def test_list_passes_shows_summaries_and_options():
    result = nir("opt", "--list-passes")
    assert result.returncode == 0
    assert "cluster: " in result.stdout and "minimum-segment-size: 'int' = 2" in result.stdout


def test_example_refuses_an_existing_directory(tmp_path):
    result = nir("example", "two_io", str(tmp_path))
    assert result.returncode == 1 and "already exists" in result.stderr


def test_opt_with_dce_never_imports_tensorflow(imported, tmp_path):
    """Parsing a dump (constant literals included) and removing dead ops need no TensorFlow:
    a researcher's `nir opt` starts in under a second, not after TensorFlow's seconds."""
    from nir.ir import print_module

    module, _ = imported("two_io")
    dump = tmp_path / "two_io.mlir"
    dump.write_text(print_module(module, payloads=str(tmp_path / "payloads")))  # as --dump-dir writes it
    check = (
        "import sys, nir.cli\n"
        "code = nir.cli.main(['opt', sys.argv[1], '-p', 'tf-dce', '-o', sys.argv[2]])\n"
        "assert code == 0, code\n"
        "print(sorted(m for m in sys.modules if m == 'tensorflow' or m.startswith('tensorflow.')))\n"
    )
    run = subprocess.run([sys.executable, "-c", check, str(dump), str(tmp_path / "out.mlir")],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[]", f"nir opt imported TensorFlow: {run.stdout[:300]}"
    assert parse_module((tmp_path / "out.mlir").read_text(), payloads=str(tmp_path / "payloads"))


def test_opt_split_input_file_verify_diagnostics_and_traceback(tmp_path):
    """Each piece runs on its own; --verify-diagnostics holds pieces to their expected-error;
    an error is one line unless --traceback asks for Python's traceback."""
    piece = ('builtin.module attributes {{tf.signature = "{n}", tf.tags = ["serve"]}} {{\n'
             '  func.func @{n}(%x: tensor<2xf32> {{tf.input_key = "x", tf.node_name = "x"}}) -> (tensor<2xf32> {{tf.output_key = "y"}}) {{\n'
             '    %r, %r_c = "tf.Relu"(%x) <{{node_name = "relu"}}> {attrs}: (tensor<2xf32>) -> (tensor<2xf32>, !tf.control)\n'
             "    func.return %r : tensor<2xf32>\n  }}\n}}\n")
    good, bad = piece.format(n="good", attrs="{T = f32} "), piece.format(n="bad", attrs="")
    path = tmp_path / "pieces.mlir"
    def expecting(text: str) -> str:  # the comment goes on the line above the op it is about
        return bad.replace("    %r, %r_c", f"    // expected-error {{{{{text}}}}}\n    %r, %r_c")

    path.write_text(good + "// -----\n" + expecting("[required-attr] node 'relu'"))
    ok = nir("opt", str(path), "-p", "tf-dce", "--split-input-file", "--verify-diagnostics")
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.count("builtin.module") == 1 and "@good" in ok.stdout
    path.write_text(good + "// -----\n" + expecting("[dtype]"))
    wrong = nir("opt", str(path), "-p", "tf-dce", "--split-input-file", "--verify-diagnostics")
    assert wrong.returncode == 1 and "expected error '[dtype]' not produced" in wrong.stderr
    path.write_text(bad)
    plain = nir("opt", str(path), "-p", "tf-dce")
    assert plain.returncode == 1 and "Traceback" not in plain.stderr
    assert "the input IR is invalid, before any pass ran: [required-attr] node 'relu'" in plain.stderr
    traced = nir("--traceback", "opt", str(path), "-p", "tf-dce")
    assert traced.returncode == 1 and "Traceback (most recent call last)" in traced.stderr and "TFVerifyError" in traced.stderr


def test_compile_flags_come_from_compile_options_with_help_and_defaults():
    """Every CompileOptions field is a flag of `nir compile` (or is declared Python-only), and
    every flag of compile, compile-many and explain says what it does; a field with a default
    shows it."""
    import argparse
    import dataclasses

    from nir.cli import CLI_OPTIONS, PYTHON_ONLY_OPTIONS, build_parser
    from nir.options import CompileOptions

    fields = {f.name: f for f in dataclasses.fields(CompileOptions)}
    assert set(CLI_OPTIONS) | PYTHON_ONLY_OPTIONS == set(fields)
    assert not set(CLI_OPTIONS) & PYTHON_ONLY_OPTIONS
    subparsers = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))  # noqa: SLF001
    for command in ("compile", "compile-many", "explain"):
        for action in subparsers.choices[command]._actions:  # noqa: SLF001
            if not action.option_strings or action.dest == "help":
                continue
            assert action.help, f"nir {command} {action.option_strings[0]} has no help"
            field = fields.get(action.dest)
            if field is not None and isinstance(field.default, (int, float, str)) and not isinstance(field.default, bool):
                assert f"(default: {field.default})" in action.help, (command, action.dest, action.help)
    compile_flags = {a.dest for a in subparsers.choices["compile"]._actions}  # noqa: SLF001
    assert set(CLI_OPTIONS) <= compile_flags


def test_a_flag_left_out_keeps_the_python_default():
    from nir.cli import _compile_options, build_parser

    args = build_parser().parse_args(["compile", "in", "out", "--target", "trainium", "--no-fuse-ops", "a,b", "--no-cache"])
    assert _compile_options(args) == {"target": "trainium", "no_fuse_ops": ["a", "b"], "compile_cache": False}


def test_opt_timing_counts_parse_verify_and_print(tmp_path):
    """`nir opt --timing` accounts for the whole run: parsing and printing (most of a run on a
    big dump) and verification, beside each pass."""
    path = os.path.join(os.path.dirname(__file__), "filecheck", "pipelines", "legalize_cluster_dce.mlir")
    result = subprocess.run([sys.executable, "-m", "nir.cli", "opt", path, "-p", "tf-legalize,tf-dce", "--timing",
                             "-o", os.devnull], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    names = [line.split()[-1] for line in result.stderr.splitlines() if "%" in line and "Total" not in line]
    assert names == ["(parse)", "tf-legalize", "tf-dce", "(verify)", "(print)"]


BAD_RELU = """builtin.module attributes {tf.signature = "main", tf.tags = ["serve"]} {
  func.func @main(%x: tensor<4xf32> {tf.input_key = "x", tf.node_name = "x"}) -> (tensor<4xf32> {tf.output_key = "y"}) {
    %ok, %ok_c = "tf.Tanh"(%x) {T = f32} : (tensor<4xf32>) -> (tensor<4xf32>, !tf.control)
    COMMENT
    %relu, %relu_c = "tf.Relu"(%ok) : (tensor<4xf32>) -> (tensor<4xf32>, !tf.control)
    func.return %relu : tensor<4xf32>
  }
}
"""


def test_opt_errors_name_file_and_line_and_expected_errors_are_anchored(tmp_path):
    """An invalid op is reported at its file:line; --verify-diagnostics accepts an expected
    error only on the line just above the op it is about."""
    def opt(comment: str, *extra):
        path = tmp_path / "bad.mlir"
        path.write_text(BAD_RELU.replace("COMMENT", comment))
        return path, subprocess.run([sys.executable, "-m", "nir.cli", "opt", str(path), *extra],
                                    capture_output=True, text=True)

    path, plain = opt("// nothing expected here")
    assert plain.returncode == 1
    assert f"nir: error: {path}:5: the input IR is invalid, before any pass ran: [required-attr] node 'relu'" in plain.stderr
    _, anchored = opt("// expected-error {{Relu needs attribute 'T'}}", "--verify-diagnostics")
    assert anchored.returncode == 0, anchored.stderr
    moved = BAD_RELU.replace("    COMMENT\n", "").replace(
        '    %ok, %ok_c', "    // expected-error {{Relu needs attribute 'T'}}\n    %ok, %ok_c")
    (tmp_path / "moved.mlir").write_text(moved)
    misplaced = subprocess.run([sys.executable, "-m", "nir.cli", "opt", str(tmp_path / "moved.mlir"), "--verify-diagnostics"],
                               capture_output=True, text=True)
    assert misplaced.returncode == 1
    assert "the expected error is not on the line above the op it is about" in misplaced.stderr
