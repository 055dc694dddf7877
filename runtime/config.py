"""Global settings (``tt.config``) and cache statistics (``tt.cache_stats()``)."""
import os
import threading

from compiler import blas

_DEFAULTS = {
    "debug_nans": False,
    "jit_threshold": 2,
    "cache_dir": None,
    "parallel_threshold": 1 << 20,
    "log_compiles": False,
    "compile_in_background": True,
    "cache_size": 256,
    "blas_single_thread_below": 1 << 28,
    "blas_single_thread": "when_busy",
    "vm_threshold": 64,
}


def _default_cache_dir():
    env = os.environ.get("TRACER_CACHE_DIR")
    if env:
        return _absolute(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return _absolute(os.path.join(base, "tapejit"))


def _absolute(path):
    """``~`` expanded and made absolute (a relative cache_dir would follow the cwd)."""
    return os.path.abspath(os.path.expanduser(os.fspath(path)))


class Config:
    """Settings as attributes; ``update(name=value, ...)`` sets several at once.

    Unknown names raise ``AttributeError`` listing the valid ones.
    """

    def __init__(self):
        object.__setattr__(self, "_values", dict(_DEFAULTS, cache_dir=_default_cache_dir()))

    def __getattr__(self, name):
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(f"tt.config has no setting {name!r}; valid settings are "
                                 f"{', '.join(sorted(self._values))}") from None

    def __setattr__(self, name, value):
        if name not in self._values:
            raise AttributeError(f"tt.config has no setting {name!r}; valid settings are "
                                 f"{', '.join(sorted(self._values))}")
        if name in ("jit_threshold", "parallel_threshold", "cache_size",
                    "blas_single_thread_below", "vm_threshold") and \
                (not isinstance(value, int) or isinstance(value, bool) or value < 0):
            raise ValueError(f"tt.config.{name} must be a non-negative int, got {value!r}")
        if name == "blas_single_thread" and value not in blas.HOLDS:
            raise ValueError(f"tt.config.blas_single_thread must be one of "
                             f"{', '.join(map(repr, blas.HOLDS))}, got {value!r}")
        if name == "cache_size" and value < 1:
            raise ValueError(f"tt.config.cache_size must be at least 1, got {value!r}")
        if name in ("debug_nans", "log_compiles", "compile_in_background"):
            value = bool(value)
        if name == "cache_dir" and value is not None:
            value = _absolute(value)
        self._values[name] = value
        if name == "blas_single_thread_below":
            blas.small_product = value
        if name == "blas_single_thread":
            blas.hold = value

    def update(self, **settings):
        for k, v in settings.items():
            setattr(self, k, v)

    def __repr__(self):
        return "tt.config(" + ", ".join(f"{k}={v!r}" for k, v in sorted(self._values.items())) + ")"


def _setting(name):
    # each setting is a data descriptor of the class: attribute reads and writes behave
    # as for ordinary attributes (pytest's monkeypatch saves and restores the value
    # through it), while ``__setattr__`` keeps the validation in one place
    def get(self):
        return self._values[name]

    def put(self, value):
        Config.__setattr__(self, name, value)
    return property(get, put, doc=f"tt.config.{name}")


for _name in _DEFAULTS:
    setattr(Config, _name, _setting(_name))
Config.cache_dir = _setting("cache_dir")

config = Config()


class Stats:
    """Counters shared by every cache; thread-safe increments."""

    def __init__(self):
        self._lock = threading.Lock()
        self.counts = {"hits": 0, "misses": 0, "compiles": 0, "compile_seconds": 0.0,
                       "disk_hits": 0, "disk_entries": 0}

    def add(self, name, amount=1):
        with self._lock:
            self.counts[name] = self.counts.get(name, 0) + amount

    def snapshot(self):
        with self._lock:
            return dict(self.counts)


stats = Stats()
