"""TensorFlow's checkpoint files (a tensor bundle) read without TensorFlow: each numeric
variable straight from its data file into one `bytes` object.

TensorFlow's own reader (`py_checkpoint_reader`) hands back a tensor its CPU allocator made;
with oneDNN on (the x86 default) that allocator is a pool that keeps the memory of the largest
tensor read for the rest of the process, so importing a model with a 1 GB weight costs 1 GB
more, for ever. Reading here costs the variable's bytes once, and they leave with the IR.

The format, as tensorflow/core/util/tensor_bundle writes it: `<prefix>.index` is a table in
LevelDB's format (a footer naming an index block, whose entries name data blocks, whose
entries map each tensor name to a serialized BundleEntryProto; the empty name holds the
BundleHeaderProto), and `<prefix>.data-<shard>-of-<shards>` holds each tensor's bytes at the
entry's offset, little-endian, checked by a masked CRC32C. Anything else (compressed blocks, a
big-endian bundle, sliced or string variables) is left to TensorFlow's reader: `entries`
raises NotReadableHere.
"""

from __future__ import annotations

import struct

import numpy as np

from frontends.tensorflow.wire import read_varint

_TABLE_MAGIC = 0xDB4775248B80FB57
_FOOTER_BYTES = 48
_BLOCK_TRAILER_BYTES = 5  # compression type, masked CRC32C
_CRC_MASK_DELTA = 0xA282EAD8

# DataType enum -> numpy dtype, for the types stored as plain little-endian arrays.
_RAW_DTYPES = {
    1: np.float32, 2: np.float64, 3: np.int32, 4: np.uint8, 5: np.int16, 6: np.int8, 9: np.int64,
    10: np.bool_, 17: np.uint16, 19: np.float16, 22: np.uint32, 23: np.uint64,
}


class NotReadableHere(Exception):
    """A bundle or entry this reader leaves to TensorFlow's."""


class CorruptCheckpoint(Exception):
    """The bytes on disk disagree with their checksum or their entry."""


def _block_handle(buffer: bytes, position: int) -> tuple[tuple[int, int], int]:
    offset, position = read_varint(buffer, position)
    size, position = read_varint(buffer, position)
    return (offset, size), position


def unmasked_crc(masked: int) -> int:
    rotated = (masked - _CRC_MASK_DELTA) & 0xFFFFFFFF
    return ((rotated >> 17) | (rotated << 15)) & 0xFFFFFFFF


def _read_block(index: bytes, handle: tuple[int, int]) -> bytes:
    offset, size = handle
    if offset + size + _BLOCK_TRAILER_BYTES > len(index):
        raise CorruptCheckpoint("a block of the index runs past its end")
    if index[offset + size] != 0:
        raise NotReadableHere("the index has compressed blocks")
    return index[offset: offset + size]


def _block_entries(block: bytes):
    """(key, value) of each entry of a LevelDB block, keys rebuilt from their shared prefixes."""
    if len(block) < 4:
        raise CorruptCheckpoint("a block of the index is truncated")
    (restarts,) = struct.unpack_from("<I", block, len(block) - 4)
    end = len(block) - 4 - 4 * restarts
    position, key = 0, b""
    while position < end:
        shared, position = read_varint(block, position)
        fresh, position = read_varint(block, position)
        length, position = read_varint(block, position)
        key = key[:shared] + block[position: position + fresh]
        position += fresh
        yield key, block[position: position + length]
        position += length


def entries(prefix: str) -> tuple[int, dict[str, object]]:
    """(number of data shards, tensor name -> BundleEntryProto) of the bundle at `prefix`."""
    from tensorflow.core.protobuf import tensor_bundle_pb2

    with open(prefix + ".index", "rb") as f:
        index = f.read()
    if len(index) < _FOOTER_BYTES or struct.unpack_from("<Q", index, len(index) - 8)[0] != _TABLE_MAGIC:
        raise CorruptCheckpoint(f"'{prefix}.index' is not a checkpoint index (no table footer)")
    _, position = _block_handle(index, len(index) - _FOOTER_BYTES)  # metaindex: nothing of ours
    index_handle, _ = _block_handle(index, position)
    found = {}
    header = None
    for _, handle_bytes in _block_entries(_read_block(index, index_handle)):
        data_handle, _ = _block_handle(handle_bytes, 0)
        for key, value in _block_entries(_read_block(index, data_handle)):
            if key == b"":
                header = tensor_bundle_pb2.BundleHeaderProto.FromString(value)
            elif not key.startswith(b"\x00"):  # a slice of a sliced variable: encoded, not a name
                found[key.decode()] = tensor_bundle_pb2.BundleEntryProto.FromString(value)
    if header is None:
        raise CorruptCheckpoint(f"'{prefix}.index' has no bundle header")
    if header.endianness != tensor_bundle_pb2.BundleHeaderProto.LITTLE:
        raise NotReadableHere("the bundle is big-endian")
    return header.num_shards, found


class BundleReader:
    """Reads numeric variables of the bundle at `prefix` one at a time, each into one `bytes`
    object checked against its CRC32C. `read` raises NotReadableHere for a variable TensorFlow's
    reader must read (strings, slices, dtypes numpy lacks)."""

    def __init__(self, prefix: str):
        self.prefix = prefix
        self.num_shards, self.entries = entries(prefix)

    def _data_file(self, shard: int) -> str:
        return f"{self.prefix}.data-{shard:05d}-of-{self.num_shards:05d}"

    def read(self, key: str) -> np.ndarray:
        """The variable's value, a read-only array viewing the bytes read."""
        import google_crc32c

        entry = self.entries.get(key)
        if entry is None:
            raise KeyError(key)
        if entry.slices or entry.dtype not in _RAW_DTYPES:
            raise NotReadableHere(f"variable '{key}' is sliced or of a type stored otherwise")
        dtype = np.dtype(_RAW_DTYPES[entry.dtype])
        shape = tuple(d.size for d in entry.shape.dim)
        expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        if entry.size != expected:
            raise CorruptCheckpoint(f"variable '{key}' has {entry.size} bytes, its shape {list(shape)} needs {expected}")
        with open(self._data_file(entry.shard_id), "rb") as f:
            f.seek(entry.offset)
            data = f.read(entry.size)
        if len(data) != entry.size:
            raise CorruptCheckpoint(f"variable '{key}' runs past the end of {self._data_file(entry.shard_id)}")
        if google_crc32c.value(data) != unmasked_crc(entry.crc32c):
            raise CorruptCheckpoint(f"variable '{key}' does not match its checksum")
        return np.frombuffer(data, dtype=dtype).reshape(shape)
