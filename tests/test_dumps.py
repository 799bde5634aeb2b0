"""Dumps re-run exactly: the IR after pass k, parsed back and run through passes k+1..n, gives
the same text as the run that dumped it, byte for byte. Big constants print as `stored "<key>"`
and their bytes go to the dump directory's payloads/ folder, which the parser reads back."""

from __future__ import annotations

import subprocess
import sys

import pytest

from nir.errors import NirInputError
from nir.ir import parse_module, print_module
from nir.ir.text import IRSyntaxError
from nir.passmanager import PassManager
from nir.passmanager.registry import pass_spec_string
from nir.pipeline import default_pipeline

MODELS = ["two_io", "transformer", "control_flow", "lstm", "cumsum_cut"]


def dumped_run(module, passes, folder):
    PassManager(passes, dump_dir=str(folder)).run(module)
    return sorted(folder.glob("*.mlir"))


@pytest.mark.parametrize("name", MODELS)
def test_rerunning_the_rest_of_the_pipeline_from_any_dump_gives_the_same_text(imported, tmp_path, name):
    module, _ = imported(name)
    passes = list(PassManager.parse(default_pipeline()).passes)
    dumps = dumped_run(module.clone(), passes, tmp_path / "run")
    assert len(dumps) == len(passes) + 1
    for k, dump in enumerate(dumps[:-1]):
        again = parse_module(dump.read_text(), str(dump), payloads=str(tmp_path / "run" / "payloads"))
        reruns = dumped_run(again, passes[k:], tmp_path / f"from-{k}")
        for original, rerun in zip(dumps[k:], reruns):
            assert rerun.read_text() == original.read_text(), f"re-running from {dump.name}: {rerun.name} differs"


def test_dumps_hold_every_weight_beside_them_and_nir_opt_reruns_them(imported, tmp_path):
    module, _ = imported("two_io")
    passes = list(PassManager.parse(default_pipeline()).passes)
    dumps = dumped_run(module.clone(), passes, tmp_path / "run")
    text = dumps[3].read_text()
    assert "__elided__" not in text and 'stored "' in text  # the embedding table is over 1 KiB
    rest = ",".join(pass_spec_string(p) for p in passes[3:])
    out = tmp_path / "out" / "final.mlir"
    out.parent.mkdir()
    subprocess.run([sys.executable, "-m", "nir.cli", "opt", str(dumps[3]), "-p", rest, "-o", str(out)], check=True)
    assert out.read_text() == dumps[-1].read_text()
    assert sorted(p.name for p in (out.parent / "payloads").iterdir())  # the output's own weights beside it


def test_a_stored_payload_without_its_folder_is_a_clear_error(imported, tmp_path):
    module, _ = imported("two_io")
    text = print_module(module, payloads=str(tmp_path / "payloads"))
    with pytest.raises(IRSyntaxError, match="is stored in the payloads folder beside the dump"):
        parse_module(text)
    with pytest.raises(IRSyntaxError, match="is not in .*elsewhere"):
        parse_module(text, payloads=str(tmp_path / "elsewhere"))
    assert parse_module(text, payloads=str(tmp_path / "payloads")).is_structurally_equivalent(module)


def test_nir_opt_refuses_elided_constants_unless_allowed(imported, tmp_path):
    from nir.cli import main

    module, _ = imported("two_io")
    path = tmp_path / "elided.mlir"
    path.write_text(print_module(module))
    assert "__elided__" in path.read_text()
    assert main(["opt", str(path), "-p", "tf-dce", "-o", str(tmp_path / "out.mlir")]) == 1
    assert main(["opt", str(path), "-p", "tf-dce", "--allow-elided", "-o", str(tmp_path / "out.mlir")]) == 0
    from nir.cli import refuse_elided_constants

    with pytest.raises(NirInputError, match=r"constant '[^']+' is printed __elided__, so its value is lost"):
        refuse_elided_constants(parse_module(path.read_text()), str(path))


def test_nir_explain_reads_a_dump_as_its_pass_left_it(imported, tmp_path, capsys):
    from nir.cli import main

    module, _ = imported("two_io")
    passes = list(PassManager.parse(default_pipeline()).passes)
    dumps = dumped_run(module.clone(), passes, tmp_path / "run")
    after_cluster = next(d for d in dumps if d.name.endswith("tf-cluster.mlir"))
    assert main(["explain", str(after_cluster), "--json"]) == 0
    import json

    report = json.loads(capsys.readouterr().out)
    assert report["clusters"] and report["clusters"][0]["ops"] > 0


def test_deleting_one_op_of_resnet50_changes_only_its_line_and_its_readers(imported, tmp_path):
    """Keras names most nodes `..._N`; their values print as exactly that, so deleting an op
    leaves every other name alone: its own line goes, and each reader's line changes (at most
    3 lines for an op with one or two readers)."""
    import difflib
    import random

    from nir.ir.module import entry_function
    from nir.ir.tf_dialect import TFNodeOp

    module, _ = imported("resnet50")
    module = module.clone()
    PassManager.parse("tf-inline-calls,tf-batch-specialize{batch-size=1},tf-shape-inference").run(module)
    payloads = str(tmp_path / "payloads")
    before = print_module(module, payloads=payloads).splitlines()
    forwardable = [op for op in entry_function(module).walk() if isinstance(op, TFNodeOp) and op.data_operands
                   and len(op.data_results) == 1 and op.data_results[0].type == op.data_operands[0].type
                   and not op.control.uses]
    for op in random.Random(0).sample(forwardable, 5):
        readers = {use.operation for use in op.data_results[0].uses}
        op.data_results[0].replace_all_uses_with(op.data_operands[0])
        op.detach()
        op.erase()
        after = print_module(module, payloads=payloads).splitlines()
        changed = [d for d in difflib.unified_diff(before, after, lineterm="", n=0)
                   if d.startswith("-") and not d.startswith("---")]
        assert len(changed) == 1 + len(readers), (op.node_name, changed)
        if len(readers) <= 2:
            assert len(changed) <= 3
        before = after


DIFF_A = """
builtin.module attributes {tf.signature = "main", tf.tags = ["serve"]} {
  func.func @main(%x: tensor<2x4xf32> {tf.input_key = "x", tf.node_name = "x"}) -> (tensor<2x4xf32> {tf.output_key = "y"}) {
    %gone, %gone_c = "tf.Neg"(%x) {T = f32} : (tensor<2x4xf32>) -> (tensor<2x4xf32>, !tf.control)
    %act_1, %act_1_c = "tf.Relu"(%gone) {T = f32} : (tensor<2x4xf32>) -> (tensor<2x4xf32>, !tf.control)
    %same, %same_c = "tf.Tanh"(%act_1) {T = f32} : (tensor<2x4xf32>) -> (tensor<2x4xf32>, !tf.control)
    func.return %same : tensor<2x4xf32>
  }
}
"""


def test_nir_diff_matches_ops_by_node_name_and_says_what_changed(tmp_path, capsys):
    from nir.cli import main

    b = (DIFF_A.replace('    %gone, %gone_c = "tf.Neg"(%x) {T = f32} : (tensor<2x4xf32>) -> (tensor<2x4xf32>, !tf.control)\n', "")
         .replace('"tf.Relu"(%gone) {T = f32}', '"tf.Relu6"(%x) <{nir.target = "inferentia"}> {T = f32}')
         .replace('func.return %same', '%new, %new_c = "tf.Exp"(%same) {T = f32} : (tensor<2x4xf32>) -> (tensor<2x4xf32>, !tf.control)\n'
                  '    func.return %same'))
    (tmp_path / "a.mlir").write_text(DIFF_A)
    (tmp_path / "b.mlir").write_text(b)
    assert main(["diff", str(tmp_path / "a.mlir"), str(tmp_path / "b.mlir")]) == 1
    out = capsys.readouterr().out
    assert out == ("- @main: gone (Neg)\n"
                   "~ @main: act_1 (Relu6)\n"
                   "    op type Relu -> Relu6\n"
                   "    operands gone -> arg0\n"
                   '    property nir.target: (none) -> "inferentia"\n'
                   "+ @main: new (Exp)\n")
    assert main(["diff", str(tmp_path / "a.mlir"), str(tmp_path / "a.mlir")]) == 0
    assert capsys.readouterr().out == "no op differs\n"


def test_a_second_result_named_like_another_node_takes_a_dollar_and_reads_back():
    """`split` gives `%a, %a_1`, but a node is named `a_1` (Keras names nodes so): the node keeps
    its name, the second result prints `%a$1`, and the text reads back to itself."""
    text = (
        'builtin.module attributes {tf.signature = "main", tf.tags = ["serve"]} {\n'
        '  func.func @main(%x: tensor<4xf32> {tf.input_key = "x", tf.node_name = "x"}) -> (tensor<2xf32> {tf.output_key = "y"}) {\n'
        '    %n, %n_c = "tf.Const"() {dtype = i32, value = #tf.tensor<tensor<i32>, [0]>} : () -> (tensor<i32>, !tf.control)\n'
        '    %s:2, %s_c = "tf.Split"(%n, %x) <{node_name = "a"}> {T = f32, num_split = 2 : i64} : (tensor<i32>, tensor<4xf32>) -> (tensor<2xf32>, tensor<2xf32>, !tf.control)\n'
        '    %b, %b_c = "tf.Relu"(%s#1) <{node_name = "a_1"}> {T = f32} : (tensor<2xf32>) -> (tensor<2xf32>, !tf.control)\n'
        "    func.return %b : tensor<2xf32>\n  }\n}\n"
    )
    out = print_module(parse_module(text))
    assert '%a, %a$1, %a_c = "tf.Split"(%n, %x) {T = f32, num_split = 2 : i64}' in out
    assert '%a_1, %a_1_c = "tf.Relu"(%a$1) {T = f32}' in out
    assert print_module(parse_module(out)) == out
