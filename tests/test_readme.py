"""README.md stays true: its set-up commands, the CI script and its tape example."""
import os
import re
import runpy
import stat
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def setup_commands():
    """The command lines of the README's first code block (its very top)."""
    title, rest = README.split("\n\n", 1)
    assert title.startswith("# ") and rest.startswith("```bash\n"), \
        "the README must open with its set-up commands, right under the title"
    block = re.match(r"```bash\n(.*?)```", rest, re.S)
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_readme_opens_with_exactly_two_setup_commands():
    first, second = setup_commands()
    assert first.startswith("pip install -e . && python examples/")
    assert second == "pip install -e '.[test]' && python -m pytest -q -n auto"


def test_readme_main_example_exists():
    script = setup_commands()[0].split("python ", 1)[1]
    assert (ROOT / script).is_file()


def test_ci_runs_the_readme_test_command_verbatim_in_a_fresh_venv():
    ci = ROOT / ".ci" / "run"
    text = ci.read_text()
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert lines[0] == "set -euo pipefail"
    assert "python3 -m venv .venv-ci" in lines and "source .venv-ci/bin/activate" in lines
    assert lines[-1] == setup_commands()[1]
    assert os.stat(ci).st_mode & stat.S_IXUSR, ".ci/run must be executable"


def test_readme_tape_sketch_runs_and_prints_what_it_says(tmp_path, capsys):
    code = re.findall(r"```python\n(.*?)```", README, re.S)[0]
    script = tmp_path / "sketch.py"
    script.write_text(code)
    runpy.run_path(str(script))
    out = capsys.readouterr().out
    assert out == ("tt.Tensor(27.0, shape=(), dtype=float32)\n"
                   "tt.Tensor(18.0, shape=(), dtype=float32)\n"
                   "tt.Tensor([2. 4.], shape=(2,), dtype=float32)\n"
                   "[tt.Tensor(5.0, shape=(), dtype=float32), "
                   "tt.Tensor(2.0, shape=(), dtype=float32)]\n")


def test_readme_compiled_sketch_runs(capsys):
    tape_code, compiled_code = re.findall(r"```python\n(.*?)```", README, re.S)[:2]
    scope = {}
    exec(compile(tape_code + compiled_code, "README.md", "exec"), scope)
    capsys.readouterr()
    tt, np = scope["tt"], __import__("numpy")
    w, x = tt.constant(np.full((3, 2), 0.1, np.float32)), tt.ones((4, 3))
    assert scope["predict"](w, x).shape == (4, 2)
    assert scope["grad_loss"](w, x, tt.zeros((4, 2))).shape == (3, 2)
    assert abs(float(scope["grad2"](1.0)) + np.sin(1.0)) < 1e-6
