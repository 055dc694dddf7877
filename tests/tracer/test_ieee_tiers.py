"""The compiled tier agrees with the interpreter where a stored forward value meets a
recomputed one (issue: a compiled tape gradient recomputed tanh(v2) one ulp away from the
value reduce_min had seen, so the tie mask matched nothing and the gradient was NaN)."""
import numpy as np

import tracer as tt


def test_ieee_tie_mask_sees_the_stored_value_in_compiled_tape_gradients(tt_backend):
    # reduced from a random-graph differential test: the compiled tape gradient recomputed
    # tanh(v2) one ulp away from the value reduce_min had seen, so the tie mask matched
    # nothing and the gradient was NaN
    v1 = tt.constant([[-0.9158, -2.3790, -1.0809, 0.9413]])
    v2 = tt.constant([-0.5992, -0.6904, 0.2260, -0.1898])

    def loss(v1, v2):
        v9 = tt.where(tt.nn.softmax(v2, axis=0) + v2 > 0.0, tt.reduce_min(tt.tanh(v2)),
                      v1 - v2)
        return 2.0 * tt.reduce_max(v2) + tt.reduce_sum(v9 * [[0.5, 1.0, -1.0, 2.0]])
    for _ in range(2):
        with tt.GradientTape() as tape:
            tape.watch([v1, v2])
            y = loss(v1, v2)
        g = tape.gradient(y, v2).numpy()
        np.testing.assert_allclose(g, [-0.5, -0.35789, 2.0, 0.0], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(tt.grad(loss, argnums=1)(v1, v2).numpy(),
                               [-0.5, -0.35789, 2.0, 0.0], rtol=1e-4, atol=1e-6)
