"""runtime: runs graphs (NumPy tier, native tier) and remembers compiled code.

Entry points: ``config``, ``stats``, ``executable(graph)``, ``cache_stats()``.
"""
from runtime.config import config, stats
from runtime.executor import Executable, cache, evaluate, executable
from runtime.interpreter import NanError, Program
from runtime.background import wait as wait_for_compiles
from runtime import memory
from runtime import omp

memory.tune()          # freed arrays stay in the process for the next call
omp.tune()             # idle OpenMP threads sleep: spinning costs far more on busy cores


# execution tiers the test fixtures run through
TIERS = ("interpret", "compiled")


def cache_stats():
    return stats.snapshot()
