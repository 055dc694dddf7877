"""Graphs that donate inputs (``Graph.donate``) at the runtime level: the native tier's
first run, if it fails, leaves the donated arrays as they were for the interpreter."""
import warnings

import numpy as np

import tracer as tt
from runtime import native
from runtime.executor import CompileWarning, Executable


def _donating_graph():
    v = tt.Variable(np.zeros(5))

    @tt.function
    def f(x):
        v.assign(v * 2.0 + x)
        return tt.reduce_sum(v)
    f(tt.constant(np.ones(5)))
    graph = next(iter(f._entries.values())).graph
    assert graph.donate == ((1, 1),)
    return graph


def test_failed_first_native_run_keeps_donated_inputs(monkeypatch):
    graph = _donating_graph()

    def fail_after_running(self, args):
        self.run(*args)                     # writes the donated array, then "fails"
        raise RuntimeError("compile failed late")
    monkeypatch.setattr(native.NativeProgram, "first_run", fail_after_running)
    ex = Executable(graph, compile=True)
    monkeypatch.setattr(ex, "_instant", lambda: False)
    buf, x = np.arange(5.0), np.ones(5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CompileWarning)
        total, new = ex(x, buf)
    np.testing.assert_array_equal(new, np.arange(5.0) * 2.0 + 1.0)
    assert new is buf                       # the interpreter writes into the donated array
    assert float(total) == float(np.sum(np.arange(5.0) * 2.0 + 1.0))


def test_native_run_writes_into_the_donated_array():
    ex = Executable(_donating_graph(), compile=True)
    buf = np.arange(5.0)
    ex(np.ones(5), buf)                     # the first run compiles (on copies)
    total, new = ex(np.ones(5), buf)
    assert new is buf
    np.testing.assert_array_equal(buf, (np.arange(5.0) * 2.0 + 1.0) * 2.0 + 1.0)
    assert float(total) == float(buf.sum())
