"""tt.random inside tt.function and the transforms: every call draws new numbers from the
compiled counter-based generator (one trace), with the distributions, dtypes and shapes of
the eager samplers; tt.random.set_seed replays the sequence, an op seed makes its own
reproducible sequence, and the draws carry no gradient (both tiers)."""
import numpy as np

import tracer as tt

N = 10_000


def _draws(x):
    return (tt.random.uniform((N,), 2.0, 4.0),
            tt.random.normal((N,), 1.0, 2.0, dtype=tt.float64),
            tt.random.truncated_normal((N,), -1.0, 0.5),
            tt.random.uniform((N,), 0, 10, dtype=tt.int32),
            tt.random.categorical(tt.constant([[0.0, np.log(3.0)]]), N),
            tt.random.shuffle(x),
            tt.random.uniform((8,), seed=5))


def _numpy(outs):
    return [np.asarray(o) for o in outs]


def test_traced_draws_are_new_on_every_call_with_the_eager_distributions(tt_backend):
    f = tt.function(_draws)
    x = tt.constant(np.arange(16.0))
    a, b = _numpy(f(x)), _numpy(f(x))
    assert f.trace_count == 1
    assert [o.dtype for o in a] == [np.float32, np.float64, np.float32, np.int32, np.int64,
                                    np.float64, np.float32]
    assert [o.shape for o in a] == [(N,), (N,), (N,), (N,), (1, N), (16,), (8,)]
    for p, q in zip(a, b):
        assert (p != q).mean() > 0.3           # the seeded op (last) moves on too
    u, n, t, i, c, s, _ = a
    assert 2.0 <= u.min() and u.max() < 4.0 and abs(u.mean() - 3.0) < 0.03
    assert abs(u.var() - 1 / 3) < 0.02
    assert abs(n.mean() - 1.0) < 0.08 and abs(n.std() - 2.0) < 0.08
    # normal(-1, 0.5) without the values beyond 2 stddev: std 0.5 * 0.8796
    assert np.abs(t + 1.0).max() <= 1.0 and abs(t.mean() + 1.0) < 0.02
    assert abs(t.std() - 0.4398) < 0.02
    assert i.min() == 0 and i.max() == 9 and np.abs(np.bincount(i) / N - 0.1).max() < 0.02
    assert abs(c.mean() - 0.75) < 0.03          # class 1 with probability 3 / 4
    np.testing.assert_array_equal(np.sort(s), np.arange(16.0))


def test_set_seed_replays_the_traced_draws(tt_backend):
    x = tt.constant(np.arange(16.0))
    tt.random.set_seed(7)
    f = tt.function(_draws)
    first = [_numpy(f(x)), _numpy(f(x))]
    tt.random.set_seed(7)                      # the same function, re-seeded
    again = [_numpy(f(x)), _numpy(f(x))]
    tt.random.set_seed(7)                      # a new trace (as a new run of the program)
    g = tt.function(_draws)
    fresh = [_numpy(g(x)), _numpy(g(x))]
    for run in (again, fresh):
        for call, want in zip(run, first):
            for p, q in zip(call, want):
                np.testing.assert_array_equal(p, q)
    tt.random.set_seed(8)
    other = _numpy(f(x))
    assert (other[0] != first[0][0]).mean() > 0.9 and (other[-1] != first[0][-1]).all()
    assert f.trace_count == 1 and g.trace_count == 1


def test_draws_under_grad_vmap_and_jvp_have_no_gradient(tt_backend):
    def loss(x):
        u = tt.random.uniform((4,), dtype=tt.float64)
        return tt.reduce_sum(x * u + tt.random.normal((4,), dtype=tt.float64)), u

    grad = tt.grad(loss, has_aux=True)
    x = tt.constant(np.arange(4.0))
    (g1, u1), (g2, u2) = grad(x), grad(x)
    np.testing.assert_array_equal(np.asarray(g1), np.asarray(u1))
    assert (np.asarray(u1) != np.asarray(u2)).all() and grad.trace_count == 1
    batched = tt.vmap(lambda r: r + tt.random.uniform((3,), dtype=tt.float64))
    out = np.asarray(batched(tt.constant(np.zeros((2, 3)))))
    assert out.shape == (2, 3) and ((0 <= out) & (out < 1)).all()
    _, tangent = tt.jvp(lambda x: x * tt.random.uniform((4,), dtype=tt.float64), (x,),
                        (tt.ones_like(x),))
    assert ((0 <= np.asarray(tangent)) & (np.asarray(tangent) < 1)).all()


def test_set_seed_replays_eager_draws_and_dropout_masks():
    x = tt.ones((64,))
    step = tt.function(lambda x: tt.nn.dropout(x, 0.5))

    def run():
        tt.random.set_seed(11)
        return [np.asarray(t) for t in (tt.random.normal((4,)), tt.nn.dropout(x, 0.5),
                                        step(x), step(x))]

    first, again = run(), run()
    for p, q in zip(first, again):
        np.testing.assert_array_equal(p, q)
    assert (first[2] != first[3]).any() and step.trace_count == 1


def test_same_op_seed_in_one_function_draws_the_same_numbers_per_call(tt_backend):
    """TensorFlow's rule (tf.random.set_seed's examples): each op of a tf.function has its
    own counter starting from its seeds, so two ``uniform([1], seed=1)`` in one function
    give (A1, A1), then (A2, A2), whatever else draws; unseeded ops differ; eagerly one
    op's calls give A1, A2; a seeded draw in a loop body moves on at every iteration."""
    def foo():
        return tt.random.uniform([5], seed=1), tt.random.uniform([5], seed=1)

    def bar():
        return tt.random.uniform([5]), tt.random.uniform([5])

    def loop():
        return tt.scan(lambda c, _: (c, tt.random.uniform([5], seed=2)), 0.0, length=3)[1]

    tt.random.set_seed(1234)
    f, g, h = tt.function(foo), tt.function(bar), tt.function(loop)
    (a1, b1), (a2, b2) = [np.asarray(t) for t in f()], [np.asarray(t) for t in f()]
    np.testing.assert_array_equal(a1, b1)
    np.testing.assert_array_equal(a2, b2)
    assert (a1 != a2).all()
    c, d = [np.asarray(t) for t in g()]
    assert (c != d).all()
    rows = np.asarray(h())
    assert (rows[0] != rows[1]).all() and (rows[1] != rows[2]).all()
    e1, e2 = np.asarray(foo()[0]), np.asarray(foo()[0])          # eager: one op's counter
    assert (e1 != e2).all()
    tt.random.set_seed(1234)                                      # replays all of them
    g(), h()                        # other draws first: a seeded op counts on its own
    np.testing.assert_array_equal(np.asarray(f()[1]), a1)
    np.testing.assert_array_equal(np.asarray(foo()[0]), e1)
    np.testing.assert_array_equal(np.asarray(tt.function(foo)()[0]), a1)   # a new trace
    assert f.trace_count == 1


def test_after_set_seed_every_function_draws_the_same_unseeded_sequence():
    # tf.random.set_seed's documented example: "tf.function acts like a re-run of a
    # program": f and g (two unseeded draws each) both print (A1, A2), then new numbers
    tt.random.set_seed(1234)
    f = tt.function(lambda: (tt.random.uniform([2]), tt.random.uniform([2])))
    g = tt.function(lambda: (tt.random.uniform([2]), tt.random.uniform([2])))
    fa, fb = (t.numpy() for t in f())
    ga, gb = (t.numpy() for t in g())
    np.testing.assert_array_equal(fa, ga)
    np.testing.assert_array_equal(fb, gb)
    assert not np.array_equal(fa, fb)
    assert not np.array_equal(f()[0].numpy(), fa)              # the next call moves on
    tt.random.set_seed(None)
