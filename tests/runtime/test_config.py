"""tt.config: settings read and written as attributes, validated, and restored by
pytest's monkeypatch (whose newer versions restore an instance's own attributes only
where no data descriptor stands in the way: every setting is one)."""
import pytest

import runtime
import tracer as tt


def test_config_rejects_unknown_names_and_invalid_values():
    with pytest.raises(AttributeError, match="valid settings are"):
        tt.config.jit_treshold = 3
    with pytest.raises(AttributeError, match="valid settings are"):
        tt.config.no_such_setting  # noqa: B018
    before = tt.config.vm_threshold
    for bad in (-1, 1.5, True, "64"):
        with pytest.raises(ValueError, match="non-negative int"):
            tt.config.vm_threshold = bad
    assert tt.config.vm_threshold == before


def test_monkeypatched_settings_are_restored_with_their_previous_values():
    saved = tt.config.jit_threshold, tt.config.vm_threshold
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(runtime.config, "jit_threshold", 1 << 30)
        mp.setattr(tt.config, "vm_threshold", 0)
        assert (tt.config.jit_threshold, runtime.config.vm_threshold) == (1 << 30, 0)
        assert tt.config is runtime.config
    assert (tt.config.jit_threshold, tt.config.vm_threshold) == saved
    assert "jit_threshold" not in vars(tt.config)      # nothing shadows the setting
