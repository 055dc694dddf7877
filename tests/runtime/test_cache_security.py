"""The disk cache runs only what this library wrote: planted bytecode and pickles never
execute, unsafe directories are refused, damaged files are rebuilt, and every write stays
under ``tt.config.cache_dir``."""
import glob
import importlib.util
import os
import pickle
import py_compile
import stat
import subprocess
import sys

import numpy as np
import pytest

import runtime
from compiler import Graph
from compiler import primitives as P
from runtime import diskcache

F64 = np.dtype("float64")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class _Plant:
    """A pickle that creates ``marker`` when it is unpickled."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _graph(n):
    x = P.input(shape=(n,), dtype=F64)
    return Graph([x], [P.exp(P.mul(x, P.full(2.0, (n,), F64)))]), np.linspace(-1, 1, n)


def _forget():
    runtime.cache.clear()
    runtime.native.clear()


def _run(g, a):
    got = runtime.evaluate(g, [a], "compiled")[0]
    np.testing.assert_allclose(got, np.exp(2 * a))


def _files(d, pattern):
    return sorted(glob.glob(os.path.join(d, pattern)))


def test_cache_directory_is_private_and_files_0600(tt_fresh_cache):
    _run(*_graph(5))
    assert stat.S_IMODE(os.stat(tt_fresh_cache).st_mode) == 0o700
    names = os.listdir(tt_fresh_cache)
    assert any(n.endswith(".nbi") for n in names) and any(n.endswith(".nbc") for n in names)
    for n in names:
        assert stat.S_IMODE(os.stat(os.path.join(tt_fresh_cache, n)).st_mode) == 0o600, n


def test_cache_planted_bytecode_never_runs(tt_fresh_cache, tmp_path):
    g, a = _graph(6)
    _run(g, a)
    (src,) = _files(tt_fresh_cache, "k_*.py")
    marker = tmp_path / "bytecode-ran"
    with open(src) as f:
        text = f.read()
    evil = f"open({str(marker)!r}, 'w').close()\n" + text
    evil_path = tmp_path / "evil.py"
    evil_path.write_text(evil + "#" * max(0, len(text) - len(evil)))
    st = os.stat(src)
    os.utime(evil_path, ns=(st.st_atime_ns, st.st_mtime_ns))
    # a .pyc that Python's importer would accept for the real source file
    py_compile.compile(str(evil_path), cfile=importlib.util.cache_from_source(src))
    _forget()
    _run(g, a)
    assert not marker.exists()
    with open(src, "w") as f:             # the source itself replaced
        f.write(evil)
    _forget()
    _run(g, a)
    assert not marker.exists()


@pytest.mark.parametrize("suffix", [".nbi", ".nbc"])
def test_cache_planted_pickle_never_runs(tt_fresh_cache, tmp_path, suffix):
    g, a = _graph(7)
    _run(g, a)
    marker = tmp_path / "pickle-ran"
    for path in _files(tt_fresh_cache, "*" + suffix):
        with open(path, "wb") as f:
            pickle.dump(_Plant(str(marker)), f)
    _forget()
    before = runtime.cache_stats()
    with pytest.warns(diskcache.CacheWarning, match="damaged or foreign"):
        _run(g, a)
    after = runtime.cache_stats()
    assert not marker.exists()
    assert after["compiles"] == before["compiles"] + 1
    assert after["disk_hits"] == before["disk_hits"]


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty"])
@pytest.mark.parametrize("suffix", [".nbi", ".nbc"])
def test_cache_damaged_numba_files_are_rebuilt(tt_fresh_cache, damage, suffix):
    g, a = _graph(8)
    _run(g, a)
    for path in _files(tt_fresh_cache, "*" + suffix):
        with open(path, "rb") as f:
            data = f.read()
        new = {"garbage": os.urandom(len(data)), "truncated": data[:len(data) // 2],
               "empty": b""}[damage]
        with open(path, "wb") as f:
            f.write(new)
    _forget()
    before = runtime.cache_stats()
    with pytest.warns(diskcache.CacheWarning, match="damaged or foreign"):
        _run(g, a)
    mid = runtime.cache_stats()
    assert mid["compiles"] == before["compiles"] + 1
    assert mid["disk_hits"] == before["disk_hits"]
    _forget()                                  # rebuilt: the next process-like start loads
    _run(g, a)
    after = runtime.cache_stats()
    assert after["compiles"] == mid["compiles"] and after["disk_hits"] == mid["disk_hits"] + 1


def _refused(cache_dir, match):
    _forget()
    diskcache._warned_dirs.discard(cache_dir)
    diskcache._keys.pop(cache_dir, None)
    before = set(os.listdir(cache_dir))
    with pytest.warns(diskcache.CacheWarning, match=match) as caught:
        _run(*_graph(9))
        _run(*_graph(10))
    assert sum(issubclass(w.category, diskcache.CacheWarning) for w in caught) == 1
    assert set(os.listdir(cache_dir)) == before       # nothing written, nothing read


def test_cache_refuses_group_or_world_writable_directory(tt_fresh_cache):
    os.makedirs(tt_fresh_cache, exist_ok=True)
    for mode in (0o770, 0o777):
        os.chmod(tt_fresh_cache, mode)
        _refused(tt_fresh_cache, "writable by group or others")


def test_cache_refuses_directory_owned_by_someone_else(tt_fresh_cache, monkeypatch):
    os.makedirs(tt_fresh_cache, exist_ok=True)
    monkeypatch.setattr(diskcache, "_uid", lambda: os.getuid() + 1)
    _refused(tt_fresh_cache, "owned by uid")


def test_cache_existing_private_directory_is_tightened(tt_fresh_cache):
    os.makedirs(tt_fresh_cache, mode=0o755, exist_ok=True)
    os.chmod(tt_fresh_cache, 0o755)
    _run(*_graph(11))
    assert stat.S_IMODE(os.stat(tt_fresh_cache).st_mode) == 0o700


def test_cache_dir_is_absolute_with_user_expanded(monkeypatch, tmp_path):
    saved = runtime.config.cache_dir
    monkeypatch.setenv("HOME", str(tmp_path))
    try:
        runtime.config.cache_dir = "~/tj"
        assert runtime.config.cache_dir == str(tmp_path / "tj")
        monkeypatch.chdir(tmp_path)
        runtime.config.cache_dir = "rel"
        assert runtime.config.cache_dir == str(tmp_path / "rel")
    finally:
        runtime.config.cache_dir = saved
    monkeypatch.setenv("TRACER_CACHE_DIR", "~/envcache")
    from runtime.config import _default_cache_dir
    assert _default_cache_dir() == str(tmp_path / "envcache")


_SCRIPT = """
import numpy as np, runtime
from compiler import Graph, primitives as P
x = P.input(shape=(7,), dtype=np.dtype("float32"))
g = Graph([x], [P.reduce_sum(P.tanh(P.sin(x)), axes=(0,)), P.exp(x)])
runtime.evaluate(g, [np.linspace(0, 1, 7).astype(np.float32)], "compiled")
"""


def test_cache_writes_nothing_outside_cache_dir(tmp_path):
    home, cache = tmp_path / "home", tmp_path / "cache"
    home.mkdir()
    env = dict(os.environ, TRACER_CACHE_DIR=str(cache), HOME=str(home), PYTHONPATH=ROOT,
               PYTHONDONTWRITEBYTECODE="1")
    env.pop("NUMBA_CACHE_DIR", None)
    env.pop("XDG_CACHE_HOME", None)
    before = set(glob.glob(os.path.join(ROOT, "**", "*.nb[ic]"), recursive=True))
    subprocess.run([sys.executable, "-c", _SCRIPT], env=env, check=True, cwd=str(tmp_path))
    assert os.listdir(home) == []
    assert set(glob.glob(os.path.join(ROOT, "**", "*.nb[ic]"), recursive=True)) == before
    assert any(n.endswith(".nbc") for n in os.listdir(cache))
