"""Attributes of the tf dialect: constant payloads, TF shapes and function references.

Constant payloads keep weights as raw little-endian bytes (a numpy view is made on demand),
never as Python lists: ResNet50's 100 MB of weights stay one bytes object each, and print
elided above a size so dumps stay readable.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from xdsl.dialects.builtin import (
    ArrayAttr,
    ComplexType,
    DictionaryAttr,
    SymbolRefAttr,
    TensorType,
)
from xdsl.ir import Attribute, Data, ParametrizedAttribute
from xdsl.irdl import irdl_attr_definition
from xdsl.parser import AttrParser
from xdsl.printer import Printer

from nir.ir.dtypes import numpy_dtype_of_ir_type

ELIDED_KEYWORD = "__elided__"
STORED_KEYWORD = "stored"
SPLAT_KEYWORD = "splat"
_MAX_LITERAL_ELEMENTS = 16

# Payloads above this many bytes print as __elided__ (or `stored`, with a store); None prints
# everything.
_elide_above: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "nir_elide_above", default=None
)


class PayloadStore:
    """A folder of constant payloads, one file per distinct payload, named by a hash of its
    bytes: a dump prints `stored "<key>"` where it would elide, and parsing it back reads the
    bytes, so a dump re-runs with every weight. Dumps of one pipeline share the folder, and a
    weight no pass changed is written once."""

    def __init__(self, directory: str):
        self.directory = directory

    @staticmethod
    def key_of(data: bytes) -> str:
        return hashlib.blake2b(data, digest_size=16).hexdigest()

    def put(self, data: bytes) -> str:
        key = self.key_of(data)
        path = os.path.join(self.directory, key)
        if not os.path.exists(path):
            os.makedirs(self.directory, exist_ok=True)
            staging = f"{path}.{os.getpid()}.tmp"
            with open(staging, "wb") as f:
                f.write(data)
            os.replace(staging, path)  # a reader never sees half a payload
        return key

    def get(self, key: str) -> bytes | None:
        path = os.path.join(self.directory, os.path.basename(key))
        if not os.path.isfile(path):
            return None
        with open(path, "rb") as f:
            return f.read()


_payload_store: contextvars.ContextVar[PayloadStore | None] = contextvars.ContextVar(
    "nir_payload_store", default=None
)


@contextlib.contextmanager
def elide_payloads_above(num_bytes: int | None, store: PayloadStore | None = None) -> Iterator[None]:
    """Inside this block, constant payloads larger than `num_bytes` print as `__elided__`, or
    as `stored "<key>"` with their bytes put in `store`."""
    token = _elide_above.set(num_bytes)
    store_token = _payload_store.set(store)
    try:
        yield
    finally:
        _elide_above.reset(token)
        _payload_store.reset(store_token)


@contextlib.contextmanager
def reading_payloads_from(store: PayloadStore | None) -> Iterator[None]:
    """Parse `stored` payloads from `store` inside this block."""
    token = _payload_store.set(store)
    try:
        yield
    finally:
        _payload_store.reset(token)


@dataclass(frozen=True)
class TensorPayload:
    """A constant's value: IR tensor type plus raw bytes (None once elided in text).

    `encoding` is "raw" for numeric tensors (numpy's `tobytes()` layout) and "proto" for
    tensors numpy cannot hold as flat bytes (strings, variants), stored as a serialized
    TensorProto so they round-trip exactly."""

    type: TensorType
    data: bytes | None
    encoding: str = "raw"

    @property
    def is_elided(self) -> bool:
        return self.data is None


@irdl_attr_definition
class TensorAttr(Data[TensorPayload]):
    """`#tf.tensor<tensor<2x3xf32>, "0x...">`: the value of a TF `tensor` attribute."""

    name = "tf.tensor"

    @staticmethod
    def from_numpy(array: np.ndarray, ir_type: TensorType) -> TensorAttr:
        return TensorAttr(TensorPayload(ir_type, _bytes_of(array)))

    @property
    def tensor_type(self) -> TensorType:
        return self.data.type

    def numpy(self) -> np.ndarray:
        """The payload as a read-only numpy array (a view of the bytes, no copy)."""
        payload = self.data
        if payload.data is None:
            raise ValueError("this constant was parsed from elided text and has no data")
        if payload.encoding == "proto":
            from tensorflow.core.framework import tensor_pb2
            from tensorflow.python.framework import tensor_util

            proto = tensor_pb2.TensorProto.FromString(payload.data)
            return tensor_util.MakeNdarray(proto)
        dtype = numpy_dtype_of_ir_type(payload.type.element_type)
        return np.frombuffer(payload.data, dtype=dtype).reshape(payload.type.get_shape())

    @property
    def num_bytes(self) -> int:
        return 0 if self.data.data is None else len(self.data.data)

    @classmethod
    def parse_parameter(cls, parser: AttrParser) -> TensorPayload:
        with parser.in_angle_brackets():
            tensor_type = parser.parse_type()
            if not isinstance(tensor_type, TensorType):
                parser.raise_error("expected a ranked tensor type for a tf.tensor")
            parser.parse_punctuation(",")
            encoding = "raw"
            if parser.parse_optional_keyword("proto") is not None:
                encoding = "proto"
            if parser.parse_optional_keyword(ELIDED_KEYWORD) is not None:
                return TensorPayload(tensor_type, None, encoding)
            if parser.parse_optional_keyword(STORED_KEYWORD) is not None:
                return TensorPayload(tensor_type, _stored_payload(parser), encoding)
            if parser.parse_optional_punctuation("[") is not None:
                data = _parse_literal_elements(parser, tensor_type)
                return TensorPayload(tensor_type, data, encoding)
            if parser.parse_optional_keyword(SPLAT_KEYWORD) is not None:
                return TensorPayload(tensor_type, _parse_splat(parser, tensor_type), encoding)
            text = parser.parse_str_literal("hex payload")
            if not text.startswith("0x"):
                parser.raise_error("tf.tensor payload must be a 0x-prefixed hex string")
            try:
                data = bytes.fromhex(text[2:])
            except ValueError:
                parser.raise_error("tf.tensor payload is not valid hex")
            return TensorPayload(tensor_type, data, encoding)

    def print_parameter(self, printer: Printer) -> None:
        payload = self.data
        with printer.in_angle_brackets():
            printer.print_attribute(payload.type)
            printer.print_string(", ")
            if payload.encoding == "proto":
                printer.print_string("proto ")
            limit = _elide_above.get()
            store = _payload_store.get()
            if payload.data is not None and limit is not None and len(payload.data) > limit and store is not None:
                printer.print_string(f'{STORED_KEYWORD} "{store.put(payload.data)}"')
            elif payload.data is None or (limit is not None and len(payload.data) > limit):
                printer.print_string(ELIDED_KEYWORD)
            elif (literal := _literal_elements(self)) is not None:
                printer.print_string(literal)
            else:
                printer.print_string('"0x' + payload.data.hex().upper() + '"')


def _bytes_of(array: np.ndarray) -> bytes:
    """The array's bytes: the `bytes` object it views when it views one whole and in order (a
    weight read from a checkpoint), else a copy."""
    base = array.base
    while isinstance(base, np.ndarray):
        base = base.base
    if isinstance(base, bytes) and array.flags.c_contiguous and array.nbytes == len(base):
        return base
    return np.ascontiguousarray(array).tobytes()


def _stored_payload(parser: AttrParser) -> bytes:
    key = parser.parse_str_literal("stored payload key")
    store = _payload_store.get()
    if store is None:
        parser.raise_error(f"payload '{key}' is stored in the payloads folder beside the dump it was printed "
                           "in; parse the dump from its own folder (or give that folder with --payloads)")
    data = store.get(key)
    if data is None:
        parser.raise_error(f"payload '{key}' is not in {store.directory}: the dump's payloads folder is "
                           "missing or from another run")
    if PayloadStore.key_of(data) != key:
        parser.raise_error(f"payload '{key}' in {store.directory} does not hash to its name: the file was changed")
    return data


def _literal_elements(attr: TensorAttr) -> str | None:
    """Small integer/float tensors print as `[1, -1]` so shape arithmetic is readable, and
    tensors of one repeated value as `splat 0.5` (biases and masks are often all zeros)."""
    payload = attr.data
    element_type = payload.type.element_type
    if payload.encoding != "raw" or isinstance(element_type, ComplexType):
        return None
    try:
        values = attr.numpy().reshape(-1)
    except ValueError:
        return None
    if values.dtype.kind not in "iubf" or (values.dtype.kind == "f" and not np.all(np.isfinite(values))):
        return None
    if values.size > 1 and payload.data == payload.data[: values.itemsize] * values.size:  # bit-exact
        return f"{SPLAT_KEYWORD} {_element_literal(values[0])}"
    if values.size > _MAX_LITERAL_ELEMENTS:
        return None
    return "[" + ", ".join(_element_literal(v) for v in values) + "]"


def _element_literal(value) -> str:
    return _float_literal(float(value)) if value.dtype.kind == "f" else str(int(value))


def _parse_splat(parser: AttrParser, tensor_type: TensorType) -> bytes:
    dtype = np.dtype(numpy_dtype_of_ir_type(tensor_type.element_type))
    value = _parse_number(parser)
    return np.full(math.prod(tensor_type.get_shape()), value, np.float64 if dtype.kind == "f" else object).astype(dtype).tobytes()


def _parse_literal_elements(parser: AttrParser, tensor_type: TensorType) -> bytes:
    dtype = np.dtype(numpy_dtype_of_ir_type(tensor_type.element_type))
    values: list[float | int] = []
    if parser.parse_optional_punctuation("]") is None:
        while True:
            values.append(_parse_number(parser))
            if parser.parse_optional_punctuation(",") is None:
                break
        parser.parse_punctuation("]")
    if len(values) != math.prod(tensor_type.get_shape()):
        parser.raise_error(
            f"tf.tensor literal has {len(values)} elements, its type needs "
            f"{math.prod(tensor_type.get_shape())}"
        )
    return np.array(values, dtype=np.float64 if dtype.kind == "f" else object).astype(
        dtype
    ).tobytes()


def _parse_number(parser: AttrParser) -> float | int:
    return parser.parse_number(context_msg=" in a tf.tensor literal")


def _float_literal(value: float) -> str:
    # MLIR's float token needs a '.', which repr() leaves out of '1e+38'.
    text = repr(value)
    if "." not in text:
        mantissa, _, exponent = text.partition("e")
        text = mantissa + ".0" + ("e" + exponent if exponent else "")
    return text


@irdl_attr_definition
class ShapeAttr(Data[tuple[int, ...] | None]):
    """`#tf.shape<[1, -1, 3]>` or `#tf.shape<unranked>`: a TF `shape` attribute (-1 = unknown)."""

    name = "tf.shape"

    @classmethod
    def parse_parameter(cls, parser: AttrParser) -> tuple[int, ...] | None:
        with parser.in_angle_brackets():
            if parser.parse_optional_keyword("unranked") is not None:
                return None
            dims = parser.parse_comma_separated_list(
                parser.Delimiter.SQUARE, lambda: parser.parse_integer(allow_boolean=False)
            )
            return tuple(dims)

    def print_parameter(self, printer: Printer) -> None:
        with printer.in_angle_brackets():
            if self.data is None:
                printer.print_string("unranked")
            else:
                printer.print_string("[" + ", ".join(str(d) for d in self.data) + "]")


@irdl_attr_definition
class FuncAttr(ParametrizedAttribute):
    """`#tf.func<@body, {T = f32}>`: a TF `func` attribute (a function name and its attrs)."""

    name = "tf.func"

    function: SymbolRefAttr
    attrs: DictionaryAttr

    def __init__(self, function: str | SymbolRefAttr, attrs: DictionaryAttr | None = None):
        if isinstance(function, str):
            function = SymbolRefAttr(function)
        super().__init__(function, attrs if attrs is not None else DictionaryAttr({}))

    @property
    def function_name(self) -> str:
        return self.function.root_reference.data


@irdl_attr_definition
class PlaceholderAttr(Data[str]):
    """`#tf.attr_placeholder<"T">`: an attr of a function body bound by its caller."""

    name = "tf.attr_placeholder"

    @classmethod
    def parse_parameter(cls, parser: AttrParser) -> str:
        with parser.in_angle_brackets():
            return parser.parse_str_literal()

    def print_parameter(self, printer: Printer) -> None:
        with printer.in_angle_brackets():
            printer.print_string_literal(self.data)


@irdl_attr_definition
class ListAttr(ParametrizedAttribute):
    """`#tf.list<[1, 2]>`: a TF `list(...)` attribute, kept apart from scalars so that an
    empty list and a one-element list round-trip to the same AttrValue."""

    name = "tf.list"

    items: ArrayAttr

    def __init__(self, items: ArrayAttr | list[Attribute]):
        super().__init__(items if isinstance(items, ArrayAttr) else ArrayAttr(items))
