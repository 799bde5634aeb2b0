"""Session-scoped fixtures: the model zoo is built once per test session, lazily."""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import sys
import tempfile

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# nir's cache (the tf2xla op table per TensorFlow version) goes to a folder of this session,
# never the user's own ~/.cache/nir.
os.environ["NIR_CACHE_DIR"] = tempfile.mkdtemp(prefix="nir-test-cache-")
atexit.register(shutil.rmtree, os.environ["NIR_CACHE_DIR"], True)
# Tests of failing, hanging and counted compiles need the compiler to run: the compile cache is
# off unless a test turns it on (tests/test_compile_cache.py does, with a folder of its own).
os.environ["NIR_COMPILE_CACHE"] = "off"
sys.path.insert(0, os.path.dirname(__file__))
# Every nir log record is formatted during the tests, debug ones too: pytest's log capture fails
# the test whose record does not format (arguments its message does not take, or lacks), a
# message a user would otherwise lose.
logging.getLogger("nir").setLevel(logging.DEBUG)

from logging_state import logging_restored  # noqa: E402
from stand_ins import write_launcher  # noqa: E402
from zoo import BUILDERS  # noqa: E402


class Zoo:
    def __init__(self, root: str):
        self.root = root

    def __getitem__(self, name: str) -> str:
        path = os.path.join(self.root, name)
        if not os.path.exists(path):
            # Built beside, then renamed: processes sharing NIR_TEST_ZOO never see half a model.
            building = tempfile.mkdtemp(prefix=f".{name}-", dir=self.root)
            BUILDERS[name](os.path.join(building, name))
            try:
                os.rename(os.path.join(building, name), path)
            except OSError:  # another process built it first
                pass
            shutil.rmtree(building, ignore_errors=True)
        return path


@pytest.fixture(scope="session")
def zoo(tmp_path_factory) -> Zoo:
    """The test models, built on first use. NIR_TEST_ZOO=<folder> keeps them there between
    sessions (the mutation benchmark runs a session per mutant); the folder is never cleaned."""
    kept = os.environ.get("NIR_TEST_ZOO")
    if kept:
        os.makedirs(kept, exist_ok=True)
        return Zoo(kept)
    return Zoo(str(tmp_path_factory.mktemp("zoo")))


@pytest.fixture(scope="session")
def fake_neuron_cc(tmp_path_factory) -> str:
    """The path of a `neuron-cc` that runs the stand-in; its folder can go on PATH."""
    return write_launcher(str(tmp_path_factory.mktemp("neuron-cc-bin")))


@pytest.fixture(scope="session")
def imported(zoo):
    """name -> (module text, LoadedModel), imported once per session."""
    from nir.pipeline import import_saved_model

    cache = {}

    def get(name: str, **kwargs):
        key = (name, tuple(sorted(kwargs.items())))
        if key not in cache:
            cache[key] = import_saved_model(zoo[name], **kwargs)
        return cache[key]

    return get


@pytest.fixture(autouse=True)
def _logging_as_it_was():
    """Each test starts with the logging the session started with, whatever the test before it
    ran in-process (nir's CLI, which configures logging as a program does)."""
    with logging_restored():
        yield
