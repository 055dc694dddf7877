"""On-disk kernel cache: generated sources under ``config.cache_dir``, compiled by Numba
with ``cache=True`` so a new process loads machine code instead of compiling.

Invariants:
- An entry is ``k_<hash>.py``, named by the hash of its source, the Numba version and the
  format version, and starts with a header holding the checksum of the body. It is
  written to a temporary file and renamed into place (atomic for concurrent processes)
  and never rewritten while valid: Numba keys its own cache on the file's timestamp.
- A truncated, garbled or stale entry is discarded and rebuilt with a warning; a cache
  directory that cannot be written degrades to compiling in memory, with a warning.
"""
import glob
import hashlib
import importlib.util
import os
import sys
import tempfile
import warnings

import numba

from runtime.config import stats

FORMAT = 2
_warned_dirs = set()


def _helpers_digest():
    # kernels inline runtime.vecmath, and Numba keys its cache on the kernel file alone:
    # the helpers' source must be part of every entry's name, or a changed helper would
    # keep running stale machine code
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "vecmath.py")
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()[:16]


HELPERS = _helpers_digest()


class CacheWarning(UserWarning):
    """A disk cache entry or directory could not be used; work continues without it."""


def entry_name(source):
    tag = f"{FORMAT}:{numba.__version__}:{sys.version_info[:2]}:{HELPERS}:{source}"
    return "k_" + hashlib.sha256(tag.encode()).hexdigest()[:24]


def _header(source):
    digest = hashlib.sha256(source.encode()).hexdigest()
    return (f"# tapejit kernel format={FORMAT} numba={numba.__version__} helpers={HELPERS} "
            f"sha256={digest}\n")


def load_kernel(source, cache_dir, memory_source):
    """The ``kernel`` function of ``source``, file-backed under ``cache_dir`` when possible;
    ``memory_source`` (the same code without ``cache=True``) is used when it is not."""
    if cache_dir:
        try:
            return _load_file(source, cache_dir)
        except OSError as e:
            if cache_dir not in _warned_dirs:
                _warned_dirs.add(cache_dir)
                warnings.warn(f"tapejit: compile cache directory {cache_dir!r} is not usable "
                              f"({e}); compiling in memory only", CacheWarning, stacklevel=3)
    return _exec_memory(memory_source)


def _exec_memory(source):
    namespace = {"__name__": "tapejit_kernel_memory"}
    exec(compile(source, "<tapejit kernel>", "exec"), namespace)
    return namespace["kernel"]


def _load_file(source, cache_dir):
    name = entry_name(source)
    path = os.path.join(cache_dir, name + ".py")
    expected = _header(source) + source
    if os.path.exists(path):
        if _read(path) == expected:
            fn = _import(name, path)
            if fn is not None:
                stats.add("disk_hits")
                return fn
        warnings.warn(f"tapejit: discarding damaged or stale compile cache entry {path}",
                      CacheWarning, stacklevel=4)
        _discard(path)
    os.makedirs(cache_dir, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=name, suffix=".tmp", dir=cache_dir)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(expected)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    stats.add("disk_entries")
    fn = _import(name, path)
    if fn is None:
        raise OSError(f"cannot import freshly written cache entry {path}")
    return fn


def _read(path):
    try:
        with open(path) as f:
            return f.read()
    except (OSError, UnicodeDecodeError):
        return None


def _import(name, path):
    modname = "tapejit_" + name
    module = sys.modules.get(modname)
    if module is None:
        try:
            spec = importlib.util.spec_from_file_location(modname, path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
        except Exception:              # a damaged entry must never be fatal
            return None
        sys.modules[modname] = module
    return getattr(module, "kernel", None)


def _discard(path):
    """Remove an entry and Numba's cache files for it."""
    stem = os.path.splitext(os.path.basename(path))[0]
    victims = [path] + glob.glob(os.path.join(os.path.dirname(path), "__pycache__",
                                              stem + ".*"))
    for p in victims:
        try:
            os.unlink(p)
        except OSError:
            pass
