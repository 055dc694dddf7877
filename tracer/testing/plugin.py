"""pytest plugin (``pytest11`` entry point ``tapejit``): fixtures for testing code that uses
tapejit.

- ``tt_backend``: runs the test once per execution tier (``"interpret"``, and
  ``"compiled"`` when the native backend is available), yielding the tier name; in the
  compiled tier eager gradients, ``tt.function`` and the transforms compile on first use,
  synchronously (``jit_threshold=0``, ``compile_in_background=False``); in the interpreted
  tier they all run on the NumPy interpreter.
- ``tt_fresh_cache``: a temporary, empty on-disk compile cache for the test (compiled
  kernels held in memory are forgotten too, so the test sees the disk cache alone).
"""
import pytest

import runtime
from runtime import native


@pytest.fixture(params=runtime.TIERS)
def tt_backend(request):
    tier = request.param
    saved = runtime.config.jit_threshold, runtime.config.compile_in_background
    runtime.config.update(jit_threshold=0 if tier == "compiled" else 1 << 30,
                          compile_in_background=False)
    try:
        yield tier
    finally:
        runtime.config.update(jit_threshold=saved[0], compile_in_background=saved[1])


@pytest.fixture
def tt_fresh_cache(tmp_path):
    runtime.wait_for_compiles()
    saved = runtime.config.cache_dir
    runtime.config.cache_dir = str(tmp_path / "tapejit-cache")
    runtime.cache.clear()
    native.clear()
    try:
        yield runtime.config.cache_dir
    finally:
        runtime.wait_for_compiles()
        runtime.config.cache_dir = saved
        runtime.cache.clear()
        native.clear()
