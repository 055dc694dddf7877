"""Shared literal nodes for Python scalars recorded on a tape (tracer.literals)."""
import math
import threading

import numpy as np

import runtime
import tracer as tt
from tracer import literals

F64 = np.dtype("float64")


def test_same_scalar_same_node_per_shape():
    a = literals.filled(0.5, F64, (3,))
    assert literals.filled(0.5, F64, (3,)) is a
    assert literals.filled(0.5, F64, ()) is a.inputs[0]
    assert literals.filled(0.5, F64, (4,)) is not a
    assert literals.filled(0.5, np.dtype("float32"), (3,)) is not a
    # an int and a float of equal value are distinct keys, each a float literal
    one_i, one_f = literals.filled(1, F64, ()), literals.filled(1.0, F64, ())
    assert one_i is not one_f and one_i.params["value"] == one_f.params["value"] == 1.0


def test_negative_zero_and_nans_stay_distinct():
    pos, neg = literals.filled(0.0, F64, (2,)), literals.filled(-0.0, F64, (2,))
    assert pos is not neg
    assert math.copysign(1.0, neg.inputs[0].params["value"]) == -1.0
    nan = float("nan")
    other_nan = -nan                      # another bit pattern
    assert literals.filled(nan, F64, ()) is literals.filled(float("nan"), F64, ())
    assert literals.filled(other_nan, F64, ()) is not literals.filled(nan, F64, ())


def test_negative_zero_results_on_a_tape():
    x = tt.Variable(np.array([1.0, -2.0]))
    with tt.GradientTape() as tape:
        a = x * 0.0
        b = x * -0.0
        y = tt.reduce_sum(a - b)
    np.testing.assert_array_equal(np.signbit(a.numpy()), [False, True])
    np.testing.assert_array_equal(np.signbit(b.numpy()), [True, False])
    np.testing.assert_array_equal(tape.gradient(y, x).numpy(), [0.0, 0.0])


def test_cache_is_bounded():
    for k in range(literals._MAX + 10):
        literals.filled(float(k), F64, ())
    assert len(literals._NODES) <= literals._MAX


def _chain_gradient(i):
    """The gradient of a 40-step chain with Python-scalar literals, recorded on a tape."""
    x = tt.Variable(np.linspace(-1.0, 1.0, 8) + i)
    with tt.GradientTape() as tape:
        y = x
        for k in range(40):
            y = tt.sin(y) * 0.5 + y * float(k % 3)
        s = tt.reduce_sum(y)
    return tape.gradient(s, x).numpy()


def test_threads_recording_with_shared_literals(monkeypatch):
    # the interpreter runs the gradients: this is about recording, not compiling
    monkeypatch.setattr(runtime.config, "jit_threshold", 1 << 30)
    results, errors = {}, []

    def work(i):
        try:
            results[i] = _chain_gradient(i)
        except Exception as e:      # reported below
            errors.append(e)
    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for i in range(4):
        np.testing.assert_array_equal(results[i], _chain_gradient(i))
