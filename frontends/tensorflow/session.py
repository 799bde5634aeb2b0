"""A TF1 Session as nir's frontend takes it: saved as `tf.compat.v1.saved_model.simple_save`
would, with feeds keyed by tensor name."""

from __future__ import annotations

from collections.abc import Mapping

import tensorflow as tf
from tensorflow.python.util import deprecation

from nir.errors import NirInputError


def feed_by_name(feed: Mapping | None, option: str) -> dict | None:
    """A Session's feed keys (tensors or their names) as tensor names, which compile takes."""
    if feed is None:
        return None
    if not isinstance(feed, Mapping):
        raise NirInputError(f"{option} must be a dict keyed by tensor or tensor name, got {type(feed).__name__}")
    return {getattr(key, "name", key): value for key, value in feed.items()}


def save_session(sess, path: str, inputs: Mapping, outputs: Mapping) -> None:
    """What `tf.compat.v1.saved_model.simple_save` writes of `sess`, with the signature `inputs`
    and `outputs` (key -> tensor)."""
    with sess.graph.as_default(), deprecation.silence():
        tf.compat.v1.saved_model.simple_save(sess, path, dict(inputs), dict(outputs))
