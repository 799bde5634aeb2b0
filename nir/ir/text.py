"""Module <-> MLIR text: what dumps, reproducers and FileCheck tests read and write."""

from __future__ import annotations

import io
import os
from collections import Counter

from xdsl.dialects.builtin import ModuleOp, StringAttr, UnknownLoc
from xdsl.ir import Operation, SSAValue
from xdsl.parser import Parser
from xdsl.printer import Printer
from xdsl.utils.exceptions import ParseError

from nir.errors import NirInputError
from nir.ir.context import make_context
from nir.ir.tf_attrs import PayloadStore, elide_payloads_above, reading_payloads_from
from nir.ir.tf_dialect import NODE_NAME, TFNodeOp, name_hint, naming_value, node_name_of_hint

DEFAULT_ELIDE_ABOVE = 1024
PAYLOADS_FOLDER = "payloads"  # beside the dumps that print `stored` constants


def payloads_beside(path: str) -> str:
    """The payloads folder of a dump file (or of a dump directory)."""
    folder = path if os.path.isdir(path) else os.path.dirname(os.path.abspath(path))
    return os.path.join(folder, PAYLOADS_FOLDER)


def stored_payloads_of(path: str) -> str | None:
    """The payloads folder beside a dump to read, if there is one."""
    folder = payloads_beside(path)
    return folder if os.path.isdir(folder) else None


class IRSyntaxError(NirInputError):
    """IR text that does not parse; the message carries the line and column."""


def print_module(module: ModuleOp, elide_above: int | None = DEFAULT_ELIDE_ABOVE, payloads: str | None = None) -> str:
    """MLIR text of `module`; constant payloads over `elide_above` bytes print `__elided__`, or,
    with a `payloads` folder, `stored "<key>"` with their bytes in that folder: either way the
    text stays readable, and with the folder it parses back bit-exact, as with
    `elide_above=None`, which prints every byte.

    A TF op whose first value prints under its node name (`block/conv` as `%block.conv`) leaves
    the `node_name` property out: one name per op, which `parse_module` reads back."""
    out = io.StringIO()
    names = value_names(module)
    unnamed = ops_named_by_their_values(module, names)
    try:
        for op in unnamed:
            del op.properties[NODE_NAME]
        with elide_payloads_above(elide_above, PayloadStore(payloads) if payloads else None):
            _NodeNamePrinter(names, stream=out).print_op(module)
    finally:
        for op, properties in unnamed.items():  # in their order, so later dumps print them alike
            op.properties.clear()
            op.properties.update(properties)
    out.write("\n")
    return out.getvalue()


def value_names(module: ModuleOp) -> dict[SSAValue, str]:
    """The SSA name each TF op's values print with, spelled from its node name exactly: `%conv_1`
    for node `conv_1` (xDSL's own names drop a trailing `_<digits>` and renumber the rest, so
    deleting one op renamed every later `..._N` value). Its other results are `%<name>_<i>`
    and its control token `%<name>_c`, unless a node's own name is spelled so: those take `$`
    instead, which no node name holds."""
    firsts: dict[SSAValue, str] = {}
    rest: list[tuple[SSAValue, str, str]] = []
    for op in module.walk():
        if not isinstance(op, TFNodeOp):
            continue
        spelled = name_hint(op.node_name)
        firsts[op.results[0]] = spelled
        for index, result in enumerate(op.results[1:], start=1):
            suffix = "c" if index == len(op.results) - 1 else str(index)
            rest.append((result, spelled, suffix))
    taken = set(firsts.values())
    names = dict(firsts)
    for value, spelled, suffix in rest:
        name = f"{spelled}_{suffix}"
        names[value] = name if name not in taken else f"{spelled}${suffix}"
    return names


class _NodeNamePrinter(Printer):
    """xDSL's printer, with values named by `value_names`: each takes its name unless the
    scope already has it; any other value is named from its hint and never takes a name a
    node's value wants, so a value's name does not depend on which ops come before it."""

    def __init__(self, names: dict[SSAValue, str], **kwargs):
        super().__init__(**kwargs)
        self._wanted = names
        self._claimed = frozenset(names.values())

    def print_op(self, op: Operation) -> None:
        super().print_op(op)
        # A location the input gave (`loc("model.py":12:3)`) is kept, as mlir-opt keeps it;
        # ops without one print none, not `loc(unknown)`.
        if isinstance(op, TFNodeOp) and not isinstance(op.location, UnknownLoc):
            self.print_string(" ")
            self.print_attribute(op.location)

    def print_ssa_value(self, value: SSAValue) -> str:
        name = self._ssa_values.get(value)
        if name is None:
            name = self._fresh_name(value)
            self._ssa_values[value] = name
        self.print_string(f"%{name}")
        return name

    def _fresh_name(self, value: SSAValue) -> str:
        # The scope's name table is xDSL's (copied into each isolated region); it holds the
        # names taken here, and under "\0<base>" the next suffix to try for that base.
        scope = self.ssa_names
        wanted = self._wanted.get(value)
        if wanted is not None and wanted not in scope:
            scope[wanted] = 1
            return wanted
        base = wanted or value.name_hint
        if base is None:
            name = self._get_new_valid_name_id()
            scope[name] = 1
            return name
        index = scope.get("\0" + base, 0)
        while True:
            name = base if index == 0 else f"{base}_{index}"
            index += 1
            if name not in scope and (name not in self._claimed or name == wanted):
                break
        scope["\0" + base] = index
        scope[name] = 1
        return name


def ops_named_by_their_values(module: ModuleOp, names: dict[SSAValue, str]) -> dict[TFNodeOp, dict]:
    """The TF ops whose node name the text can leave out, with their properties: their first
    value prints as exactly the node's name spelled as an SSA name, which no other value of the
    module wants, and which spells the node name back."""
    wanted = Counter(names.values())
    named = {}
    for op in module.walk():
        if isinstance(op, TFNodeOp) and NODE_NAME in op.properties:
            spelled = names.get(op.results[0])
            if spelled is not None and wanted[spelled] == 1 and "." not in op.node_name \
                    and node_name_of_hint(spelled) == op.node_name:
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
            # First, where ops made in process have it: a later dump that prints it keeps its place.
            rest = dict(op.properties)
            op.properties.clear()
            op.properties[NODE_NAME] = StringAttr(node_name_of_hint(hint))
            op.properties.update(rest)


def parse_module(text: str, source_name: str = "<string>", verify: bool = True, payloads: str | None = None) -> ModuleOp:
    """Parse MLIR text made by `print_module` (or by hand) into a module, and verify it.
    `payloads`: the folder the text's `stored` constants are in (a dump's `payloads/`)."""
    parser = None
    try:
        parser = _SpellingParser(make_context(), text, name=source_name)  # lexes the first token
        with reading_payloads_from(PayloadStore(payloads) if payloads else None):
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
