"""Runs the FileCheck tests in tests/filecheck/: each file's `// RUN:` line, as lit would."""

from __future__ import annotations

import glob
import os
import re
import shlex
import subprocess
import sys

import pytest

HERE = os.path.join(os.path.dirname(__file__), "filecheck")
FILES = sorted(glob.glob(os.path.join(HERE, "*.mlir")))


def run_lines(path: str) -> list[str]:
    with open(path) as f:
        return [line.split("RUN:", 1)[1].strip() for line in f if line.startswith("// RUN:")]


@pytest.mark.parametrize("path", FILES, ids=[os.path.basename(f) for f in FILES])
def test_filecheck(path):
    lines = run_lines(path)
    assert lines, f"{path} has no RUN line"
    nir = f"{shlex.quote(sys.executable)} -m nir.cli"
    for line in lines:
        command = re.sub(r"(^|\|\s*)nir\b", lambda m: m.group(1) + nir, line)
        command = re.sub(
            r"(\|\s*)filecheck\b", lambda m: m.group(1) + f"{shlex.quote(sys.executable)} -m filecheck", command
        )
        command = command.replace("%s", shlex.quote(path))
        result = subprocess.run(["bash", "-o", "pipefail", "-c", command], capture_output=True, text=True)
        assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
