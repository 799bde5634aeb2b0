"""Module <-> MLIR text: what dumps, reproducers and FileCheck tests read and write."""

from __future__ import annotations

import io
from collections import Counter

from xdsl.dialects.builtin import ModuleOp, StringAttr
from xdsl.parser import Parser
from xdsl.printer import Printer
from xdsl.utils.exceptions import ParseError

from nir.errors import NirInputError
from nir.ir.context import make_context
from nir.ir.tf_attrs import elide_payloads_above
from nir.ir.tf_dialect import NODE_NAME, TFNodeOp, is_named_by_its_values, naming_value, node_name_of_hint

DEFAULT_ELIDE_ABOVE = 1024


class IRSyntaxError(NirInputError):
    """IR text that does not parse; the message carries the line and column."""


def print_module(module: ModuleOp, elide_above: int | None = DEFAULT_ELIDE_ABOVE) -> str:
    """MLIR text of `module`; constant payloads over `elide_above` bytes print `__elided__`
    (None prints every byte, so the text parses back bit-exact).

    A TF op whose first value prints under its node name (`block/conv` as `%block.conv`) leaves
    the `node_name` property out: one name per op, which `parse_module` reads back."""
    out = io.StringIO()
    unnamed = ops_named_by_their_values(module)
    try:
        for op in unnamed:
            del op.properties[NODE_NAME]
        with elide_payloads_above(elide_above):
            Printer(stream=out).print_op(module)
    finally:
        for op, properties in unnamed.items():  # in their order, so later dumps print them alike
            op.properties.clear()
            op.properties.update(properties)
    out.write("\n")
    return out.getvalue()


def ops_named_by_their_values(module: ModuleOp) -> dict[TFNodeOp, dict]:
    """The TF ops whose node name the text can leave out, with their properties: their first
    value prints as exactly its name hint because no other value of the module has that hint."""
    uses = Counter()
    for op in module.walk():
        for region in op.regions:
            for block in region.blocks:
                uses.update(arg.name_hint for arg in block.args)
        uses.update(result.name_hint for result in op.results)
    named = {}
    for op in module.walk():
        if isinstance(op, TFNodeOp) and is_named_by_its_values(op):
            hint = naming_value(op).name_hint
            if uses[hint] == sum(1 for r in op.results if r.name_hint == hint):
                named[op] = dict(op.properties)
    return named


class _SpellingParser(Parser):
    """xDSL's parser, remembering each op's result names as written: xDSL keeps a value's name
    without a trailing `_<digits>` (its own uniquing suffix), and Keras ends most node names
    that way (`block/act_1`), so the name hint alone would give the op another node's name."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.spelled: list[str] = []  # the first result's name of each op with results, in text order

    def _parse_op_result_list(self):
        results = super()._parse_op_result_list()
        if results:
            self.spelled.append(results[0][0].text[1:])
        return results


def name_ops_by_their_values(module: ModuleOp, source_name: str, spelled: list[str] | None = None) -> None:
    """Give each TF op written without `node_name` the name its first value spells (as written,
    when `spelled` has the parser's record: the first result name of each op with results,
    in text order, which is the walk's order)."""
    written = {}
    if spelled is not None:
        with_results = [op for op in module.walk() if op.results]
        if len(with_results) == len(spelled):
            written = dict(zip(with_results, spelled))
    for op in module.walk():
        if isinstance(op, TFNodeOp) and NODE_NAME not in op.properties:
            hint = written.get(op)
            if hint is None or hint.isdigit():  # `%0` is anonymous, as in MLIR
                hint = naming_value(op).name_hint
            if hint is None:
                raise IRSyntaxError(f"{source_name}: a {op.name} has neither a node_name property nor a named "
                                    "first result to take its name from")
            op.properties[NODE_NAME] = StringAttr(node_name_of_hint(hint))


def parse_module(text: str, source_name: str = "<string>", verify: bool = True) -> ModuleOp:
    """Parse MLIR text made by `print_module` (or by hand) into a module, and verify it."""
    parser = None
    try:
        parser = _SpellingParser(make_context(), text, name=source_name)  # lexes the first token
        parsed = parser.parse_module()
    except ParseError as err:
        raise IRSyntaxError(f"{source_name}: invalid IR:\n{err}") from None
    except Exception as err:  # noqa: BLE001 - untrusted text: xDSL raises many kinds here
        # Attribute constructors and verifiers run while parsing (an i64 out of range, a
        # parameter list of the wrong length); report them where the parser stopped.
        message = f"{type(err).__name__}: {err}"
        if parser is not None:
            message = parser._current_token.span.print_with_context(message)  # noqa: SLF001
        raise IRSyntaxError(f"{source_name}: invalid IR:\n{message}") from None
    name_ops_by_their_values(parsed, source_name, parser.spelled)
    if verify:
        try:
            parsed.verify()
        except Exception as err:  # noqa: BLE001 - same reason: any verifier may object
            raise IRSyntaxError(f"{source_name}: the IR parses but does not verify: {err}") from None
    return parsed
