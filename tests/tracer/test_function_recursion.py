"""A tt.function may call itself while it is being traced (another signature)."""
import threading

import numpy as np

import tracer as tt


def test_function_calling_itself_while_tracing_does_not_deadlock():
    @tt.function
    def total(x):
        if x.shape[0] > 1:                     # a shorter signature, traced inside
            return tt.reduce_sum(x) + total(x[1:])
        return tt.reduce_sum(x)

    result = {}

    def run():
        result["value"] = total(tt.constant(np.array([1.0, 2.0, 3.0], np.float32)))

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(timeout=120)
    assert not worker.is_alive(), "tracing a recursive tt.function deadlocked"
    assert float(result["value"]) == 6.0 + 5.0 + 3.0
    assert total.cache_info().size == 3       # lengths 3, 2 and 1
    assert float(total(tt.constant(np.array([4.0, 5.0], np.float32)))) == 9.0 + 5.0
