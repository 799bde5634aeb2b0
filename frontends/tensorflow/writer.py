"""GraphDef + one signature -> SavedModel directory, written atomically.

TensorFlow's own v1 `SavedModelBuilder` writes the files (the graph is frozen, so there are
no variables to save); nir only makes the write all-or-nothing: everything goes to a fresh
temporary directory beside the target, which is renamed into place once complete.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator

from nir.errors import NirInputError


def check_new_model_dir(new_model_dir: str, model_dir: str | None = None) -> str:
    """Refuse targets that exist, sit inside the input, or cannot be created."""
    target = os.path.abspath(new_model_dir)
    if os.path.lexists(target):
        raise NirInputError(
            f"new_model_dir '{new_model_dir}' already exists; remove it or choose another path "
            "(nir never overwrites a directory)"
        )
    if model_dir is not None:
        source = os.path.realpath(model_dir)
        real_target = os.path.join(os.path.realpath(os.path.dirname(target)), os.path.basename(target))
        if real_target == source or real_target.startswith(source + os.sep):
            raise NirInputError(
                f"new_model_dir '{new_model_dir}' is inside model_dir '{model_dir}'; write the "
                "compiled model somewhere else so the input stays untouched"
            )
    parent = os.path.dirname(target)
    if not os.path.isdir(parent):
        raise NirInputError(
            f"the parent of new_model_dir '{new_model_dir}' does not exist; create '{parent}' first"
        )
    if not os.access(parent, os.W_OK | os.X_OK):
        raise NirInputError(
            f"cannot write into '{parent}' (permission denied); choose a writable new_model_dir"
        )
    return target


@contextlib.contextmanager
def atomic_directory(target: str) -> Iterator[str]:
    """Yield a path to fill; on success it becomes `target`, on any error nothing remains."""
    parent = os.path.dirname(os.path.abspath(target))
    staging = tempfile.mkdtemp(prefix="." + os.path.basename(target) + ".nir-tmp-", dir=parent)
    try:
        inner = os.path.join(staging, "out")
        yield inner
        os.rename(inner, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def signature_def_of(graph, signature):
    import tensorflow as tf

    def tensor_info(spec):
        return tf.compat.v1.saved_model.utils.build_tensor_info(graph.get_tensor_by_name(spec.tensor_name))

    return tf.compat.v1.saved_model.signature_def_utils.build_signature_def(
        inputs={s.key: tensor_info(s) for s in signature.inputs},
        outputs={s.key: tensor_info(s) for s in signature.outputs},
        method_name=signature.method_name,
    )


def write_saved_model_contents(export_dir: str, graph_def, signature) -> None:
    """Write the SavedModel into `export_dir` (which must not exist)."""
    import tensorflow as tf

    graph = tf.Graph()
    with graph.as_default():
        tf.graph_util.import_graph_def(graph_def, name="")
        with tf.compat.v1.Session(graph=graph) as session:
            builder = tf.compat.v1.saved_model.Builder(export_dir)
            builder.add_meta_graph_and_variables(
                session,
                list(signature.tags),
                signature_def_map={signature.key: signature_def_of(graph, signature)},
                strip_default_attrs=False,
                clear_devices=False,
            )
            builder.save()


def write_saved_model(new_model_dir: str, graph_def, signature, model_dir: str | None = None) -> None:
    target = check_new_model_dir(new_model_dir, model_dir)
    with atomic_directory(target) as staging:
        write_saved_model_contents(staging, graph_def, signature)
