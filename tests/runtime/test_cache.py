"""The executable cache: tiering, the disk cache across processes, damaged entries,
unwritable cache directories, compile logging and debug_nans in the compiled tier."""
import glob
import os
import subprocess
import sys
import threading
import time
import warnings

import numpy as np
import pytest

import runtime
from compiler import Graph
from compiler import primitives as P
from runtime import compilelock, diskcache

F64 = np.dtype("float64")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

_SCRIPT = """
import numpy as np, runtime
from compiler import Graph, primitives as P
x = P.input(shape=(7,), dtype=np.dtype("float64"))
g = Graph([x], [P.reduce_sum(P.mul(P.cos(x), P.cos(x)), axes=(0,)), P.sin(x)])
out = runtime.evaluate(g, [np.linspace(0, 1, 7)], "compiled")
assert abs(out[0] - np.sum(np.cos(np.linspace(0, 1, 7)) ** 2)) < 1e-12
s = runtime.cache_stats()
print(s["compiles"], s["disk_hits"])
"""


def _graph(n=5):
    x = P.input(shape=(n,), dtype=F64)
    three = P.full(3.0, (n,), F64)
    return Graph([x], [P.exp(P.mul(x, three))]), np.linspace(-1, 1, n)


def _run_script(cache_dir):
    env = dict(os.environ, TRACER_CACHE_DIR=cache_dir, PYTHONPATH=ROOT)
    out = subprocess.run([sys.executable, "-c", _SCRIPT], env=env, capture_output=True,
                         text=True, check=True)
    return [int(v) for v in out.stdout.split()]


def test_cache_second_process_compiles_nothing(tmp_path):
    cache_dir = str(tmp_path / "cache")
    compiles, _ = _run_script(cache_dir)
    assert compiles >= 1
    compiles, disk_hits = _run_script(cache_dir)
    assert compiles == 0 and disk_hits >= 1


def test_cache_edited_source_file_is_rewritten_and_not_run(tt_fresh_cache):
    g, a = _graph(6)
    want = np.exp(3 * a)
    np.testing.assert_allclose(runtime.evaluate(g, [a], "compiled")[0], want)
    entries = glob.glob(os.path.join(tt_fresh_cache, "k_*.py"))
    assert len(entries) == 1
    with open(entries[0], "r+") as f:       # truncate mid-function
        text = f.read()
        f.seek(0)
        f.write(text[: len(text) // 2])
        f.truncate()
    runtime.cache.clear()
    runtime.native.clear()
    got = runtime.evaluate(g, [a], "compiled")[0]
    np.testing.assert_allclose(got, want)
    with open(entries[0]) as f:
        assert f.read() == text


def test_cache_unwritable_directory_degrades_to_memory(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    saved = runtime.config.cache_dir
    runtime.config.cache_dir = str(blocker / "cache")
    runtime.cache.clear()
    runtime.native.clear()
    try:
        g, a = _graph(7)
        with pytest.warns(diskcache.CacheWarning, match="not usable"):
            got = runtime.evaluate(g, [a], "compiled")[0]
        np.testing.assert_allclose(got, np.exp(3 * a))
    finally:
        runtime.config.cache_dir = saved
        runtime.cache.clear()
        runtime.native.clear()


def test_cache_jit_threshold_tiers_execution():
    g, a = _graph(8)
    saved = runtime.config.jit_threshold
    runtime.config.jit_threshold = 3
    try:
        ex = runtime.executable(g)
        for call in range(1, 5):
            np.testing.assert_allclose(ex(a)[0], np.exp(3 * a))
            assert (ex.native is not None) == (call >= 3), call
        runtime.config.jit_threshold = 0
        ex0 = runtime.executable(g, compile=None)
        assert ex0 is ex
        g2, a2 = _graph(9)
        ex2 = runtime.executable(g2)
        ex2(a2)
        assert ex2.native is not None
        ex3 = runtime.executable(_graph(10)[0], compile=False)
        ex3(np.zeros(10))
        assert ex3.native is None
    finally:
        runtime.config.jit_threshold = saved


def test_cache_log_compiles_prints_one_line(tt_fresh_cache, capsys):
    runtime.config.log_compiles = True
    try:
        g, a = _graph(11)
        runtime.evaluate(g, [a], "compiled")
    finally:
        runtime.config.log_compiles = False
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("tapejit:")]
    assert len(lines) == 1 and "1 kernels" in lines[0] and " s" in lines[0]
    assert runtime.cache_stats()["disk_entries"] >= 1


def test_cache_debug_nans_applies_to_compiled_executables():
    x = P.input(shape=(3,), dtype=F64)
    g = Graph([x], [P.log(x)])
    ex = runtime.executable(g, compile=True)
    with np.errstate(all="ignore"):
        assert np.isnan(ex(np.array([1.0, -1.0, 2.0]))[0][1])
    assert ex.native is not None
    runtime.config.debug_nans = True
    try:
        with pytest.raises(runtime.NanError, match="log"), np.errstate(all="ignore"):
            ex(np.array([1.0, -1.0, 2.0]))
    finally:
        runtime.config.debug_nans = False


def test_cache_compile_failure_falls_back_to_interpreter(monkeypatch):
    from runtime import native
    g, a = _graph(12)

    def broken(graph):
        raise RuntimeError("no native code today")
    monkeypatch.setattr(native, "NativeProgram", broken)
    ex = runtime.executable(g, compile=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        np.testing.assert_allclose(ex(a)[0], np.exp(3 * a))
    assert any("interpreted" in str(w.message) for w in caught)
    np.testing.assert_allclose(ex(a)[0], np.exp(3 * a))


def test_cache_unused_inputs_are_part_of_the_key():
    x = P.input(shape=(3,), dtype=F64)
    y = P.full(2.0, (3,), F64)
    g0, g1 = Graph([], [y]), Graph([x], [y])
    assert g0.key != g1.key
    np.testing.assert_allclose(runtime.evaluate(g0, [], "compiled")[0], [2.0] * 3)
    np.testing.assert_allclose(runtime.evaluate(g1, [np.zeros(3)], "compiled")[0], [2.0] * 3)


def test_cache_compile_lock_waits_for_its_holder_and_never_goes_stale(tmp_path):
    path = str(tmp_path / "k.lock")
    fd, waited = compilelock.acquire(path)
    assert fd is not None and not waited
    assert compilelock.acquire(path, timeout=0.05) == (None, True)    # held: gives up
    timer = threading.Timer(0.1, compilelock.release, (fd, path))
    timer.start()
    fd2, waited = compilelock.acquire(path, timeout=60)               # held until released
    timer.join()
    assert fd2 is not None and waited
    compilelock.release(fd2, path)
    assert not os.path.exists(path)
    open(path, "w").close()          # left behind by a holder that died: not a lock
    fd3, waited = compilelock.acquire(path, timeout=0)
    assert fd3 is not None and not waited
    compilelock.release(fd3, path)


def test_cache_compile_lock_is_let_go_when_a_compile_fails(tt_fresh_cache):
    source = "from numba import njit\n@njit\ndef kernel(x):\n    return x + not_defined\n"
    fn, modname = diskcache.load_kernel(source, tt_fresh_cache)
    try:
        with pytest.raises(Exception, match="not_defined"):
            fn(1.0)
        assert not glob.glob(os.path.join(tt_fresh_cache, "*.lock"))
        g, a = _graph(4)
        np.testing.assert_allclose(runtime.evaluate(g, [a], "compiled")[0], np.exp(3 * a))
        assert not glob.glob(os.path.join(tt_fresh_cache, "*.lock"))
    finally:
        diskcache.release(modname)
