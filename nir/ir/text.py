"""Module <-> MLIR text: what dumps, reproducers and FileCheck tests read and write."""

from __future__ import annotations

import io

from xdsl.dialects.builtin import ModuleOp
from xdsl.parser import Parser
from xdsl.printer import Printer
from xdsl.utils.exceptions import ParseError

from nir.errors import NirInputError
from nir.ir.context import make_context
from nir.ir.tf_attrs import elide_payloads_above

DEFAULT_ELIDE_ABOVE = 1024


class IRSyntaxError(NirInputError):
    """IR text that does not parse; the message carries the line and column."""


def print_module(module: ModuleOp, elide_above: int | None = DEFAULT_ELIDE_ABOVE) -> str:
    """MLIR text of `module`; constant payloads over `elide_above` bytes print `__elided__`
    (None prints every byte, so the text parses back bit-exact)."""
    out = io.StringIO()
    with elide_payloads_above(elide_above):
        Printer(stream=out).print_op(module)
    out.write("\n")
    return out.getvalue()


def parse_module(text: str, source_name: str = "<string>", verify: bool = True) -> ModuleOp:
    """Parse MLIR text made by `print_module` (or by hand) into a module, and verify it."""
    parser = None
    try:
        parser = Parser(make_context(), text, name=source_name)  # lexes the first token
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
    if verify:
        try:
            parsed.verify()
        except Exception as err:  # noqa: BLE001 - same reason: any verifier may object
            raise IRSyntaxError(f"{source_name}: the IR parses but does not verify: {err}") from None
    return parsed
