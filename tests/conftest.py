"""Suite-wide settings: compiles happen synchronously, so every test is deterministic
(tests of background compilation turn it on themselves); tests marked ``slow`` run first,
and pytest-xdist hands tests out a few at a time, so that with ``-n`` no worker is left
running long tests alone at the end of the run."""
import pytest

import runtime

# tests xdist sends a worker in one step (its default is a quarter of a worker's share, so
# a worker could be left with minutes of queued tests while the other sits idle)
SCHEDULE_CHUNK = 8


def pytest_configure(config):
    if getattr(config.option, "maxschedchunk", False) is None:     # xdist, not set by hand
        config.option.maxschedchunk = SCHEDULE_CHUNK


def pytest_collection_modifyitems(config, items):
    """Tests marked ``slow`` (long compiles) first: xdist's load scheduling follows the
    collection order, so they start early and the short tests fill in around them."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


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
