"""nir's own checkpoint reader (frontends/tensorflow/bundle.py) reads what TensorFlow's does,
bit for bit, and refuses what TensorFlow's would: a flipped byte, a truncated data file."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest
import tensorflow as tf
from test_errors import expect_error

from frontends.tensorflow import bundle
from frontends.tensorflow.bundle import BundleReader, CorruptCheckpoint, NotReadableHere
from frontends.tensorflow.checkpoint import CheckpointWeights

DTYPES = [np.float32, np.float64, np.float16, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16,
          np.uint32, np.uint64, np.bool_]
MANY = 400


@pytest.fixture(scope="module")
def many_dtypes(tmp_path_factory) -> str:
    """A checkpoint of every dtype nir reads itself, plus a string and a bfloat16 it leaves to
    TensorFlow, and enough variables to span several index blocks."""
    rng = np.random.default_rng(3)
    values = {}
    for i, dtype in enumerate(DTYPES):
        shape = (3, 5 + i)
        raw = rng.integers(0, 2, shape) if dtype is np.bool_ else rng.standard_normal(shape) * 50
        values[f"v/{np.dtype(dtype).name}"] = tf.Variable(raw.astype(dtype))
    for i in range(MANY):  # long names: more than one block of the index (about 256 KB each)
        values[f"many/{i:04d}/{'k' * 1000}"] = tf.Variable(np.full((i % 7 + 1,), i, np.float32))
    values["text"] = tf.Variable(["a", "bc"])
    values["brain"] = tf.Variable(tf.constant([1.5, -2.0], tf.bfloat16))
    checkpoint = tf.train.Checkpoint(**{k.replace("/", "_"): v for k, v in values.items()})
    prefix = str(tmp_path_factory.mktemp("bundle") / "ckpt")
    with tf.device("/cpu:0"):
        return checkpoint.write(prefix, options=tf.train.CheckpointOptions(experimental_io_device="/cpu:0"))


def test_every_variable_reads_as_tensorflow_reads_it(many_dtypes):
    reader = tf.train.load_checkpoint(many_dtypes)
    ours = BundleReader(many_dtypes)
    keys = reader.get_variable_to_shape_map()
    assert set(ours.entries) == set(keys)
    read_here = 0
    for key in keys:
        try:
            value = ours.read(key)
        except NotReadableHere:
            assert reader.get_variable_to_dtype_map()[key] in (tf.string, tf.bfloat16), key
            continue
        expected = reader.get_tensor(key)
        assert value.dtype == expected.dtype and value.shape == expected.shape, key
        np.testing.assert_array_equal(value, expected)
        read_here += 1
    assert read_here == len(DTYPES) + MANY


def test_the_weights_reader_falls_back_to_tensorflow_for_what_it_leaves(many_dtypes):
    weights = CheckpointWeights(many_dtypes)
    reader = tf.train.load_checkpoint(many_dtypes)
    for key in reader.get_variable_to_shape_map():
        if key.startswith(("text", "brain")):
            np.testing.assert_array_equal(weights(key), reader.get_tensor(key))


def test_the_index_spans_several_blocks(many_dtypes):
    """Else the test above would not show that blocks after the first are read."""
    with open(many_dtypes + ".index", "rb") as f:
        index = f.read()
    _, position = bundle._block_handle(index, len(index) - bundle._FOOTER_BYTES)
    index_handle, _ = bundle._block_handle(index, position)
    assert len(list(bundle._block_entries(bundle._read_block(index, index_handle)))) > 1


def _data_file(prefix: str) -> str:
    folder = os.path.dirname(prefix)
    return os.path.join(folder, next(f for f in os.listdir(folder) if f.startswith(os.path.basename(prefix) + ".data")))


def test_a_flipped_byte_is_caught_by_its_checksum(many_dtypes, tmp_path):
    prefix = str(tmp_path / "ckpt")
    for name in os.listdir(os.path.dirname(many_dtypes)):
        shutil.copy(os.path.join(os.path.dirname(many_dtypes), name), tmp_path / name)
    entry = BundleReader(prefix).entries["v_float32/.ATTRIBUTES/VARIABLE_VALUE"]
    with open(_data_file(prefix), "r+b") as f:
        f.seek(entry.offset + 7)
        byte = f.read(1)
        f.seek(entry.offset + 7)
        f.write(bytes([byte[0] ^ 0x10]))
    with pytest.raises(CorruptCheckpoint, match="checksum"):
        BundleReader(prefix).read("v_float32/.ATTRIBUTES/VARIABLE_VALUE")
    BundleReader(prefix).read("v_float64/.ATTRIBUTES/VARIABLE_VALUE")  # its neighbours are intact


def test_a_flipped_weight_byte_fails_the_compile_naming_the_variable(zoo, tmp_path):
    model = str(tmp_path / "model")
    shutil.copytree(zoo["two_io"], model)
    prefix = os.path.join(model, "variables", "variables")
    reader = BundleReader(prefix)
    key, entry = max(reader.entries.items(), key=lambda item: item[1].size)
    with open(_data_file(prefix), "r+b") as f:
        f.seek(entry.offset + entry.size // 2)
        byte = f.read(1)
        f.seek(entry.offset + entry.size // 2)
        f.write(bytes([byte[0] ^ 0x01]))
    expect_error(model, str(tmp_path / "out"), f"could not load variable '{key}'.*checksum")


def test_a_sliced_variable_nir_wrote_is_read_back_whole(tmp_path, monkeypatch):
    """nir's writer saves a variable over SAVE_BATCH_BYTES as slices (variables.py); the bundle
    reader leaves those to TensorFlow's, which assembles them."""
    from frontends.tensorflow import variables

    monkeypatch.setattr(variables, "SAVE_BATCH_BYTES", 1000)
    value = np.arange(40 * 30, dtype=np.float32).reshape(40, 30)
    vector = np.arange(1000, dtype=np.float32)  # a vector is cut too: an embedding's bias can be huge
    parts = variables.CheckpointParts(str(tmp_path))
    parts.save_arrays(["big", "long", "small"], [value, vector, np.ones(3, np.int64)])
    parts.finish()
    prefix = str(tmp_path / "variables")
    reader = BundleReader(prefix)
    assert set(reader.entries) == {"big", "long", "small"} and reader.num_shards > 6
    assert len(reader.entries["big"].slices) == 5 and len(reader.entries["long"].slices) == 4
    with pytest.raises(NotReadableHere):
        reader.read("big")
    weights = CheckpointWeights(prefix)
    np.testing.assert_array_equal(weights("big"), value)
    np.testing.assert_array_equal(weights("long"), vector)
    np.testing.assert_array_equal(weights("small"), np.ones(3, np.int64))


def _varint(n: int) -> bytes:
    out = b""
    while True:
        byte, n = n & 0x7F, n >> 7
        out += bytes([byte | (0x80 if n else 0)])
        if not n:
            return out


def test_a_block_rebuilds_each_key_from_the_prefix_it_shares():
    """A LevelDB block: entries (shared, fresh, value length, key suffix, value), then the
    restart offsets and their count; a block of no entries is its count alone."""
    import struct

    entries = [(0, b"layer/kernel", b"K"), (6, b"bias", b"BB"), (7, b"eta", b"")]
    body = b"".join(_varint(s) + _varint(len(k)) + _varint(len(v)) + k + v for s, k, v in entries)
    block = body + struct.pack("<I", 0) + struct.pack("<I", 1)
    assert list(bundle._block_entries(block)) == [(b"layer/kernel", b"K"), (b"layer/bias", b"BB"), (b"layer/beta", b"")]
    assert list(bundle._block_entries(struct.pack("<I", 0))) == []
    with pytest.raises(CorruptCheckpoint, match="a block of the index is truncated"):
        list(bundle._block_entries(b"\x00\x00\x00"))
