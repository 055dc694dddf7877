"""runtime: runs graphs (NumPy tier, native tier) and remembers compiled code.

Entry points: ``config``, ``stats``, ``executable(graph)``, ``cache_stats()``.
"""
from runtime.config import config, stats
from runtime.executor import Executable, cache, evaluate, executable
from runtime.interpreter import NanError, Program


# execution tiers the test fixtures run through; the native backend adds "compiled"
TIERS = ("interpret",)


def cache_stats():
    return stats.snapshot()
