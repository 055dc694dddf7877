"""Suite-wide settings: compiles happen synchronously, so every test is deterministic
(tests of background compilation turn it on themselves)."""
import pytest

import runtime


@pytest.fixture(autouse=True, scope="session")
def _synchronous_compiles():
    saved = runtime.config.compile_in_background
    runtime.config.compile_in_background = False
    yield
    runtime.wait_for_compiles()
    runtime.config.compile_in_background = saved


@pytest.fixture
def debug_nans():
    """tt.config.debug_nans on for one test."""
    saved = runtime.config.debug_nans
    runtime.config.debug_nans = True
    try:
        yield
    finally:
        runtime.config.debug_nans = saved
