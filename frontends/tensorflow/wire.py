"""Protobuf's wire format, the little of it nir reads and writes by hand: where a large field's
bytes sit in a serialized message (to view weights in place), and framing pieces serialized
separately into one message (to write a SavedModel a node at a time)."""

from __future__ import annotations

from collections.abc import Iterator

LENGTH_DELIMITED = 2


def varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def framed(number: int, payload: bytes) -> bytes:
    """A length-delimited field: tag, length, payload."""
    return varint(number << 3 | LENGTH_DELIMITED) + varint(len(payload)) + payload


def read_varint(buffer: bytes, position: int) -> tuple[int, int]:
    result, shift = 0, 0
    while True:
        byte = buffer[position]
        position += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, position
        shift += 7


def field_end(buffer: bytes, position: int, wire: int) -> tuple[int, int]:
    """(payload start, end) of a field whose tag has been read."""
    if wire == 0:
        _, end = read_varint(buffer, position)
        return position, end
    if wire == 1:
        return position, position + 8
    if wire == 5:
        return position, position + 4
    if wire == LENGTH_DELIMITED:
        length, start = read_varint(buffer, position)
        return start, start + length
    raise ValueError(f"unexpected protobuf wire type {wire}")


def fields(buffer: bytes, start: int, end: int, every_wire_type: bool = False) -> Iterator[tuple[int | None, tuple[int, int]]]:
    """(field number, (start, end)) of each length-delimited field in buffer[start:end]. With
    `every_wire_type`, the other fields come too, as (None, (tag start, end)): their bytes
    whole, tag included, for copying as they are."""
    position = start
    while position < end:
        tag_start = position
        tag, position = read_varint(buffer, position)
        payload_start, payload_end = field_end(buffer, position, tag & 7)
        position = payload_end
        if tag & 7 == LENGTH_DELIMITED:
            yield tag >> 3, (payload_start, payload_end)
        elif every_wire_type:
            yield None, (tag_start, payload_end)


def varint_field(buffer: bytes, start: int, end: int, number: int) -> int:
    """The value of varint field `number` in buffer[start:end] (0, protobuf's default, if absent)."""
    position = start
    while position < end:
        tag, position = read_varint(buffer, position)
        if tag & 7 == 0:
            value, position = read_varint(buffer, position)
            if tag >> 3 == number:
                return value
        else:
            _, position = field_end(buffer, position, tag & 7)
    return 0


class Frame:
    """A length-delimited field whose payload is pieces (bytes, or Frames nested in it) written
    one after another, never joined: a message holding a large bytes field is framed around it
    instead of serialized whole."""

    def __init__(self, number: int, parts: list):
        self.number, self.parts = number, parts

    def payload_size(self) -> int:
        return sum(len(p) if isinstance(p, (bytes, memoryview)) else p.size() for p in self.parts)

    def size(self) -> int:
        payload = self.payload_size()
        return len(varint(self.number << 3 | LENGTH_DELIMITED)) + len(varint(payload)) + payload

    def pieces(self) -> Iterator[bytes]:
        yield varint(self.number << 3 | LENGTH_DELIMITED) + varint(self.payload_size())
        for part in self.parts:
            if isinstance(part, (bytes, memoryview)):
                yield part
            else:
                yield from part.pieces()
