"""Every Python snippet of the README runs as written (in order, in one interpreter, as a
reader pasting them would), in a folder holding the models they name."""

from __future__ import annotations

import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FENCE = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def readme_snippets() -> list[str]:
    with open(os.path.join(ROOT, "README.md")) as f:
        return FENCE.findall(f.read())


def test_the_readme_has_its_snippets():
    snippets = readme_snippets()
    assert len(snippets) >= 4
    assert any("tfn.saved_model.compile(saved_model_path" in s for s in snippets)
    assert any("tfn.trace(model, example)" in s for s in snippets)


def test_every_python_snippet_of_the_readme_runs(zoo, tmp_path):
    os.symlink(zoo["resnet50"], tmp_path / "resnet50")  # the seed example's model; only read
    program = "\n\n".join(
        f"print('--- snippet {i}', flush=True)\n{snippet}" for i, snippet in enumerate(readme_snippets())
    )
    (tmp_path / "readme.py").write_text(program)
    result = subprocess.run(
        [sys.executable, "readme.py"], cwd=tmp_path, capture_output=True, text=True, timeout=900,
        env={**os.environ, "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")},
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    assert (tmp_path / "resnet50_neuron" / "saved_model.pb").is_file()
    assert (tmp_path / "model_neuron" / "saved_model.pb").is_file()
