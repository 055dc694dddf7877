"""The example scripts run and print what their seed tutorials print."""
import runpy
import sys
from pathlib import Path

import pytest

ERROR_TEXT = "GradientTape.gradient can only be called once on non-persistent tapes."
EXPIRED = "tt.Tensor(3.0, shape=(), dtype=float32)\nNone\n"


def printed(*lines):
    return "".join(line + "\n" for line in lines)


EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def run_example(name, *argv):
    saved = sys.argv
    sys.argv = [name, *argv]
    try:
        runpy.run_path(str(EXAMPLES / name), run_name="__main__")
    finally:
        sys.argv = saved


def test_example_persistent_tapes_prints_the_seed_output(capsys):
    run_example("persistent_tapes.py")
    assert capsys.readouterr().out == printed(
        "tt.Tensor(108.0, shape=(), dtype=float32)", "The error message you get is:",
        ERROR_TEXT, "tt.Tensor(108.0, shape=(), dtype=float32)",
        "tt.Tensor(6.0, shape=(), dtype=float32)")


@pytest.mark.parametrize("name", ["tape_basics.py", "nested_tapes.py", "control_flow.py"])
def test_example_runs_and_prints_seed_values(name, capsys):
    run_example(name)
    out = capsys.readouterr().out
    wanted = {"tape_basics.py": "tt.Tensor(\n[[8. 8.]\n [8. 8.]], shape=(2, 2), dtype=float32)",
              "nested_tapes.py": EXPIRED,
              "control_flow.py": "grad(x, 6) = tt.Tensor(12.0, shape=(), dtype=float32)"}
    assert wanted[name] in out


def test_example_plot_writes_png_when_matplotlib_is_installed(tmp_path, capsys):
    path = tmp_path / "plot.png"
    try:
        import matplotlib  # noqa: F401  (optional extra `plot`)
    except ImportError:
        with pytest.raises(SystemExit):
            run_example("plot_sin_derivatives.py", str(path))
        assert "pip install -e .[plot]" in capsys.readouterr().out
        return
    run_example("plot_sin_derivatives.py", str(path))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "third derivative: max |error|" in capsys.readouterr().out


def test_example_plot_without_matplotlib_explains_and_checks(monkeypatch, capsys):
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import now raises ImportError
    with pytest.raises(SystemExit) as info:
        run_example("plot_sin_derivatives.py")
    out = capsys.readouterr().out
    assert info.value.code == 0
    assert "third derivative: max |error|" in out and "pip install -e .[plot]" in out


@pytest.mark.slow
def test_convnet_example_trains_and_saves_its_loss_curves(tmp_path, capsys):
    pytest.importorskip("sklearn")
    pytest.importorskip("tqdm")
    pytest.importorskip("matplotlib")
    out = tmp_path / "loss.png"
    run_example("train_convnet.py", "--epochs", "2", "--out", str(out))
    text = capsys.readouterr().out
    acc = float(text.split("held-out accuracy: ")[1].split()[0])
    assert acc > 0.8, text
    assert "traced 1x" in text and out.stat().st_size > 1000


@pytest.mark.slow
def test_example_fit_ode_fits_and_traces_once(tmp_path, capsys):
    run_example("fit_ode.py", "30", str(tmp_path / "lv.png"))
    out = capsys.readouterr().out
    assert "traced once: True" in out
    losses = [float(line.split("loss ")[1].split()[0]) for line in out.splitlines()
              if line.startswith("step")]
    assert losses[-1] < losses[0]
