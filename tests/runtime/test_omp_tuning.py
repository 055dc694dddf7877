"""runtime.omp: idle OpenMP threads sleep unless the user chose otherwise."""
import os

from runtime import omp


def test_omp_wait_policy_defaults_to_passive_and_user_settings_win():
    env = {}
    assert omp.tune(env) and env == {"OMP_WAIT_POLICY": "PASSIVE"}
    env = {"OMP_WAIT_POLICY": "active"}
    assert not omp.tune(env) and env["OMP_WAIT_POLICY"] == "active"
    env = {"TRACER_OMP_TUNING": "0"}
    assert not omp.tune(env) and "OMP_WAIT_POLICY" not in env


def test_importing_runtime_set_the_policy_in_this_process():
    if os.environ.get("TRACER_OMP_TUNING") != "0":
        assert os.environ.get("OMP_WAIT_POLICY")
