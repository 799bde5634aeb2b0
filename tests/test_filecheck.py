"""Runs the FileCheck tests in tests/filecheck/: each file's `// RUN:` line, as lit would.

    dialects/    the tf and neuron dialects: printing, parsing and verifying
    transforms/  one file per pass (named after it, without its tf- prefix), and more for a
                 pass's larger parts (legalize_einsum.mlir)
    pipelines/   several passes together
"""

from __future__ import annotations

import contextlib
import glob
import io
import os
import shlex
import subprocess
import sys

import pytest
from logging_state import logging_restored

HERE = os.path.join(os.path.dirname(__file__), "filecheck")
LAYOUT = ("dialects", "transforms", "pipelines")
FILES = sorted(glob.glob(os.path.join(HERE, "*", "*.mlir")))


def run_lines(path: str) -> list[str]:
    with open(path) as f:
        return [line.split("RUN:", 1)[1].strip() for line in f if line.startswith("// RUN:")]


@pytest.mark.parametrize("path", FILES, ids=[os.path.relpath(f, HERE) for f in FILES])
def test_filecheck(path):
    lines = run_lines(path)
    assert lines, f"{path} has no RUN line"
    for line in lines:
        nir_part, filecheck_part = (part.strip() for part in line.split("|"))
        code, output, errors = run_nir_in_this_process(arguments_of(nir_part, "nir", path))
        assert code == 0, f"{line}\n{errors}"
        checked = subprocess.run([sys.executable, "-m", "filecheck", *arguments_of(filecheck_part, "filecheck", path)],
                                 input=output, capture_output=True, text=True)
        assert checked.returncode == 0, f"{line}\n{checked.stdout}\n{checked.stderr}"


def arguments_of(command: str, program: str, path: str) -> list[str]:
    words = shlex.split(command)
    assert words[0] == program, f"a RUN line is `nir ... | filecheck ...`, not {command!r}"
    return [path if word == "%s" else word for word in words[1:]]


def run_nir_in_this_process(argv: list[str]) -> tuple[int, str, str]:
    """`nir argv` run here rather than in a child, so coverage and mutation testing see the
    passes it runs (and no interpreter starts per RUN line). The CLI configures logging for a
    process of its own; that configuration is put back afterwards."""
    from nir import cli

    output, errors = io.StringIO(), io.StringIO()
    with logging_restored(), contextlib.redirect_stdout(output), contextlib.redirect_stderr(errors):
        code = cli.main(argv)
    return code, output.getvalue(), errors.getvalue()


def test_every_file_is_in_its_place():
    assert not glob.glob(os.path.join(HERE, "*.mlir")), "FileCheck files go in dialects/, transforms/ or pipelines/"
    assert sorted(os.listdir(HERE)) == sorted(LAYOUT)
    assert all(glob.glob(os.path.join(HERE, folder, "*.mlir")) for folder in LAYOUT)


def test_every_pass_has_its_own_file_of_three_cases_or_more():
    """One `transforms/<pass>.mlir` per built-in pass, run with --split-input-file, its cases
    separated by `// -----` and each opened by a CHECK-LABEL (MLIR's convention), or expecting
    an error (--verify-diagnostics)."""
    from nir.passmanager import available_passes

    builtin = [name for name, cls in available_passes().items() if cls.__module__.split(".")[0] in ("passes", "backends", "nir")]
    assert len(builtin) >= 10
    for name in builtin:
        path = os.path.join(HERE, "transforms", name.removeprefix("tf-").replace("-", "_") + ".mlir")
        assert os.path.exists(path), f"pass '{name}' has no FileCheck file {os.path.basename(path)}"
        text = open(path).read()
        assert all(name in line and "--split-input-file" in line for line in run_lines(path)), path
        cases = text.split("\n// -----\n")
        assert len(cases) >= 3, f"{path}: {len(cases)} case(s)"
        assert all("-LABEL:" in case or "expected-error" in case for case in cases), \
            f"{path}: a case with neither a CHECK-LABEL nor an expected-error"
