"""Variables updated inside control-flow bodies follow TensorFlow's resource semantics, as
outside them: every read of a Variable (in any iteration, in any branch) is a source of
its gradient, and an update carries no gradient to the value assigned, so a read after an
update (in the same iteration, or the next one) never differentiates through it. Eager,
traced (``tt.function`` in both tiers, ``tt.grad``) and nested regions agree."""

import numpy as np
import pytest

import tracer as tt
from state_orders import second_order, taped

STEPS = 3


def _step(u, x, acc):
    acc = acc + tt.sin(u) * x        # a read (after the previous iteration's update)
    u.assign(u * x)                  # an update: no gradient to u * x
    return acc + u * u               # a read after the update


def _while(u, x):
    _, acc = tt.while_loop(lambda i, a: i < STEPS, lambda i, a: (i + 1, _step(u, x, a)),
                           (tt.constant(0), tt.constant(0.0)))
    return acc


def _scan(u, x):
    acc, _ = tt.scan(lambda a, _: (_step(u, x, a), a), tt.constant(0.0), length=STEPS)
    return acc


def _fori(u, x):
    return tt.fori_loop(0, STEPS, lambda i, a: _step(u, x, a), tt.constant(0.0))


def _python(u, x):
    acc = tt.constant(0.0)
    for _ in range(STEPS):
        acc = _step(u, x, acc)
    return acc


def _loop_reference(u0, x):
    """TensorFlow's values: u_k = u0 x^k; d/dv sums x cos(u_k) + 2 u_(k+1) over the reads,
    d/dx only sin(u_k) (the reads are sources, the updates carry nothing)."""
    u = u0 * x ** np.arange(STEPS + 1)
    z = np.sum(np.sin(u[:-1]) * x + u[1:] ** 2)
    return [z, np.sum(x * np.cos(u[:-1]) + 2 * u[1:]), np.sum(np.sin(u[:-1])), u[-1]]


def _cond(u, x):
    def update():
        u.assign(u * x)
        return u * u + x             # a read after the update in the branch
    return tt.cond(x > 0, update, lambda: u + x) + u * x


def _switch(u, x):
    def update():
        u.assign(u * x)
        return u * u + x
    index = tt.cast(x < 0, "int32")  # traced: both branches are traced
    return tt.switch(index, [update, lambda: u + x]) + u * x


def _branch_reference(u0, x):
    u = u0 * x                       # the branch taken updates u; three reads follow
    return [u * u + x + u * x, 2 * u + x, 1 + u, u]


def _taped(fn):
    return taped(fn, 0.9, 1.1)


CASES = [(_while, _loop_reference), (_scan, _loop_reference), (_fori, _loop_reference),
         (_python, _loop_reference), (_cond, _branch_reference),
         (_switch, _branch_reference)]


@pytest.mark.parametrize("body,reference", CASES, ids=lambda c: getattr(c, "__name__", ""))
def test_reads_after_updates_in_bodies_are_sources(tt_backend, body, reference):
    want = reference(0.9, 1.1)
    np.testing.assert_allclose(_taped(body), want, rtol=1e-5)
    f = tt.function(body)
    for _ in range(2):               # traced, then the cached entry
        np.testing.assert_allclose(_taped(f), want, rtol=1e-5)
    assert f.trace_count == 1


def test_grad_of_a_function_whose_loop_updates_a_variable(tt_backend):
    u = tt.Variable(0.9)

    def f(x):
        u.assign(0.9)
        return _scan(u, x)

    want = _loop_reference(0.9, 1.1)[2]
    np.testing.assert_allclose(float(tt.grad(f)(tt.constant(1.1))), want, rtol=1e-5)
    np.testing.assert_allclose(float(tt.function(tt.grad(f))(tt.constant(1.1))), want,
                               rtol=1e-5)
    np.testing.assert_allclose(float(u.numpy()), 0.9 * 1.1 ** STEPS, rtol=1e-6)


def test_tape_inside_a_function_around_a_loop_that_updates():
    def inner(u, x):
        with tt.GradientTape() as t:
            t.watch(x)
            z = _while(u, x)
        return t.gradient(z, [u, x])

    want = _loop_reference(0.9, 1.1)[1:3]
    np.testing.assert_allclose([float(g) for g in inner(tt.Variable(0.9), tt.constant(1.1))],
                               want, rtol=1e-5)
    got = tt.function(inner)(tt.Variable(0.9), tt.constant(1.1))
    np.testing.assert_allclose([float(g) for g in got], want, rtol=1e-5)


def test_second_order_through_a_loop_update_matches_eager():
    want = second_order(_fori, 0.9, 1.1)
    u = _loop_reference(0.9, 1.1)
    np.testing.assert_allclose(want[0], u[1], rtol=1e-5)
    np.testing.assert_allclose(second_order(tt.function(_fori), 0.9, 1.1), want, rtol=1e-5)


def _nested(u, x):
    def outer_step(acc, _):
        inner = tt.cond(acc < 100.0, lambda: _step(u, x, acc), lambda: acc)
        return inner + u, ()         # a read of the carry updated in the branch
    acc, _ = tt.scan(outer_step, tt.constant(0.0), length=2)
    return acc


def _updated_before(u, x):
    u.assign(u * x * 2.0)            # before the loop; the body only reads
    acc, _ = tt.scan(lambda a, _: (a + u * x, ()), tt.constant(0.0), length=STEPS)
    return acc + u


def test_nested_regions_and_updates_before_a_region(tt_backend):
    u1 = 0.9 * 1.1
    # _nested: cond inside scan; reads u0 then u1 (x, 2 u1) in step 1, then reads + 1 each
    u2 = u1 * 1.1
    z = np.sin(0.9) * 1.1 + u1 ** 2 + u1 + np.sin(u1) * 1.1 + u2 ** 2 + u2
    gu = 1.1 * np.cos(0.9) + 2 * u1 + 1 + 1.1 * np.cos(u1) + 2 * u2 + 1
    np.testing.assert_allclose(_taped(_nested)[:3], [z, gu, np.sin(0.9) + np.sin(u1)],
                               rtol=1e-5)
    np.testing.assert_allclose(_taped(tt.function(_nested)), _taped(_nested), rtol=1e-5)
    w = 0.9 * 1.1 * 2.0
    want = [STEPS * w * 1.1 + w, STEPS * 1.1 + 1, STEPS * w, w]
    np.testing.assert_allclose(_taped(_updated_before), want, rtol=1e-5)
    np.testing.assert_allclose(_taped(tt.function(_updated_before)), want, rtol=1e-5)
