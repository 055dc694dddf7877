"""Gradients through vmapped control flow with a per-example predicate: every branch (or
loop step) runs on the whole batch, but an example's gradient comes only from the branch
it takes, so a NaN or infinite derivative where a branch is not taken (sqrt or log of a
negative) never reaches it (JAX's values), to second order, in both tiers."""
import warnings

import numpy as np

import tracer as tt

X = np.array([[-1.0, 0.0, -2.0], [2.0, 3.0, 0.0], [-1.0, -3.0, 4.0], [4.0, 0.5, 1.0]])
RNG_W = np.random.default_rng(3).normal(size=(3, 3))


def _per_row(r):
    return tt.cond(r[0] > 0, lambda: tt.sqrt(r), lambda: r * r)


def _loss(x):
    return tt.reduce_sum(tt.vmap(_per_row)(x))


def _expected():
    """First and second derivatives of each element's taken branch."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        taken = X[:, :1] > 0
        return (np.where(taken, 0.5 / np.sqrt(X), 2.0 * X),
                np.where(taken, -0.25 * X ** -1.5, 2.0))


def test_grad_of_vmapped_cond_sees_only_the_taken_branch(tt_backend):
    first, second = _expected()
    x = tt.constant(X)
    np.testing.assert_allclose(np.asarray(tt.grad(_loss)(x)), first, rtol=1e-12)
    # 1 / sqrt(0) is inf in the taken branch, as JAX; the untaken rows are finite
    hess_diag = tt.grad(lambda x: tt.reduce_sum(tt.grad(_loss)(x)))(x)
    np.testing.assert_allclose(np.asarray(hess_diag), second, rtol=1e-12)


def test_grad_of_vmapped_switch_sees_only_the_taken_branch(tt_backend):
    x = np.array([[-1.0, 0.0], [2.0, -3.0], [0.5, 0.0], [-4.0, 1.0]])
    index = np.array([0, 1, 2, 5], np.int32)          # clamped: the last row takes r * r
    branches = [tt.sqrt, tt.log, lambda r: r * r]

    def loss(x, i):
        return tt.reduce_sum(tt.vmap(lambda r, k: tt.switch(k, branches, r))(x, i))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = np.stack([0.5 / np.sqrt(x[0]), 1.0 / x[1], 2.0 * x[2], 2.0 * x[3]])
    got = tt.grad(loss)(tt.constant(x), tt.constant(index))
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-12)   # nan, inf in row 0


def _until_small(x, s):
    # a finished example's extra steps take sqrt of a negative (value and derivative NaN)
    return tt.while_loop(lambda a, b: a > 1.0, lambda a, b: (tt.sqrt(a) - 2.0 * b, b),
                         (x, s))[0]


def test_grad_of_vmapped_while_loop_ignores_the_steps_after_an_example_stops(tt_backend):
    x = np.array([16.0, 100.0, 1e4, 0.5, -1.0, 2.0])   # 2, 2, 3, 0, 0 and 1 steps
    s = np.ones_like(x)
    gx, gs = tt.grad(lambda x, s: tt.reduce_sum(tt.vmap(_until_small)(x, s)),
                     argnums=(0, 1))(tt.constant(x), tt.constant(s))
    # the reference: the gradient of one example at a time (its own loop, no masking)
    one = tt.grad(_until_small, argnums=(0, 1))
    want = np.array([[float(g) for g in one(tt.constant(a), tt.constant(1.0, tt.float64))]
                     for a in x])
    assert np.isfinite(want).all()
    np.testing.assert_allclose(np.asarray(gx), want[:, 0], rtol=1e-12)
    np.testing.assert_allclose(np.asarray(gs), want[:, 1], rtol=1e-12)
    second = tt.grad(lambda x: tt.reduce_sum(tt.grad(
        lambda x: tt.reduce_sum(tt.vmap(_until_small, in_axes=(0, None))(x, 1.0)))(x)))
    # JAX's values (forward over forward mode, one example at a time)
    want2 = [-0.002762135864009951, -7.181553246425872e-05, -4.110484585144944e-09, 0.0,
             0.0, -0.08838834764831842]
    np.testing.assert_allclose(np.asarray(second(tt.constant(x))), want2, rtol=1e-6)


def test_lowered_code_does_not_copy_the_masked_operands():
    # the masks are select(taken, x, stop_gradient(x)): x in value, so the native code
    # (never differentiated) computes x, while the optimised graph keeps them for the
    # traces and tapes that differentiate it
    from compiler import pipeline
    w = tt.constant(RNG_W)
    f = tt.vmap(lambda r: tt.cond(r[0] > 0, lambda: tt.sqrt(tt.matmul(w, r[:, None])),
                                  lambda: r[:, None] * 2.0))
    f(tt.constant(X))
    graph = next(iter(f._entries.values())).graph

    def masks(g):
        return sum(n.prim.name == "select" and n.inputs[2].prim.name == "stop_gradient"
                   for n in g.nodes)

    assert masks(graph) >= 2
    assert masks(pipeline.lower(graph, 1 << 30).graph) == 0
