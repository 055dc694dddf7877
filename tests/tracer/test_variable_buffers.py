"""Variables updated inside tt.function keep their buffer: compiled code writes the new
values where the old ones were (both tiers), while everything a caller was handed keeps
its value and nothing returned aliases a Variable."""
import numpy as np
import pytest

import tracer as tt
from compiler import pipeline

OPTIMIZERS = {
    "sgd_momentum": lambda: tt.optimizers.SGD(0.1, momentum=0.9),
    "adam": lambda: tt.optimizers.Adam(0.05),
    "adamw": lambda: tt.optimizers.AdamW(0.05),
    "rmsprop": lambda: tt.optimizers.RMSprop(0.05, momentum=0.5),
    "adagrad": lambda: tt.optimizers.Adagrad(0.1),
}


def _address(v):
    """Where the Variable's own buffer lives (internal)."""
    return v._tensor._value.ctypes.data


def _model(seed):
    rng = np.random.default_rng(seed)
    x = tt.constant(rng.standard_normal((8, 4)))
    w, b = tt.Variable(rng.standard_normal((4, 3))), tt.Variable(np.zeros(3))

    def loss_fn():
        return tt.reduce_mean(tt.square(tt.tanh(x @ w) + b - 0.5))
    return w, b, loss_fn


def _train(make_opt, compiled, steps=4):
    w, b, loss_fn = _model(0)
    opt = make_opt()

    def step():
        with tt.GradientTape() as tape:
            loss = loss_fn()
        opt.apply_gradients(zip(tape.gradient(loss, [w, b]), [w, b]))
        return loss
    run = tt.function(step) if compiled else step
    losses = [float(run())]                 # the first call creates the slots
    state = [w, b, opt.iterations] + [s for v in (w, b) for s in opt.slots(v).values()]
    held = [_address(v) for v in state]
    losses += [float(run()) for _ in range(steps - 1)]
    return losses, state, held


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_compiled_optimizer_step_updates_in_place(tt_backend, name):
    losses, state, held = _train(OPTIMIZERS[name], compiled=True)
    assert [_address(v) for v in state] == held
    eager_losses, eager_state, _ = _train(OPTIMIZERS[name], compiled=False)
    np.testing.assert_allclose(losses, eager_losses, rtol=1e-13)
    for v, e in zip(state, eager_state):
        np.testing.assert_allclose(v.numpy(), e.numpy(), rtol=1e-12, atol=1e-15)
    assert int(state[2].numpy()) == 4


def test_assign_and_assign_add_in_place_and_snapshots(tt_backend):
    v = tt.Variable(np.arange(6.0).reshape(2, 3))
    c = tt.Variable(np.zeros((), np.int64))

    @tt.function
    def bump(x):
        v.assign_add(x)
        c.assign_add(1)
        return v.read_value() * 1.0            # read after the update: the new value

    before = v.numpy()                         # a snapshot, taken before any call
    out1 = bump(tt.ones((2, 3), tt.float64))
    held = _address(v), _address(c)
    out2 = bump(tt.ones((2, 3), tt.float64))
    seen = v.numpy()
    out3 = bump(tt.ones((2, 3), tt.float64))   # copy on write: seen keeps its value
    out4 = bump(tt.ones((2, 3), tt.float64))
    base = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(before, base)
    for k, out in enumerate([out1, out2, out3, out4], 1):
        np.testing.assert_array_equal(out.numpy(), base + k)
    np.testing.assert_array_equal(seen, base + 2)
    assert _address(c) == held[1] and int(c.numpy()) == 4
    assert not seen.flags.writeable
    held = _address(v)
    bump(tt.ones((2, 3), tt.float64))
    assert _address(v) == held                 # nothing handed out since the last call
    v.assign(np.full((2, 3), 7.0))             # eager assign writes in place too
    assert _address(v) == held
    np.testing.assert_array_equal(v.numpy(), np.full((2, 3), 7.0))


def test_returned_old_and_new_values_are_not_clobbered(tt_backend):
    v = tt.Variable(np.array([1.0, 2.0, 3.0]))

    @tt.function
    def swap(x):
        old = v.read_value()                   # returned as read: the old value
        v.assign(old * 2.0 + x)
        new = v.read_value()
        return old, new, v.read_value() + 0.0, new * 1.0

    results = [swap(tt.constant(np.full(3, float(k)))) for k in range(3)]
    held = _address(v)
    results.append(swap(tt.constant(np.zeros(3))))
    assert _address(v) == held
    expect, value = [], np.array([1.0, 2.0, 3.0])
    for k in [0, 1, 2, 0]:
        new = value * 2.0 + k
        expect.append((value, new))
        value = new
    for (old, new, again, twice), (o, n) in zip(results, expect):
        np.testing.assert_array_equal(old.numpy(), o)
        np.testing.assert_array_equal(new.numpy(), n)
        np.testing.assert_array_equal(again.numpy(), n)
        np.testing.assert_array_equal(twice.numpy(), n)
    np.testing.assert_array_equal(v.numpy(), value)


def test_reads_before_and_after_assign_add(tt_backend):
    v = tt.Variable(np.array([[1.0, 2.0], [3.0, 4.0]]))

    @tt.function
    def f():
        before = v * 3.0                       # fused with the update: reads the old v
        v.assign_add(v * 10.0)
        return before, v + 1.0, tt.reduce_sum(v)

    for _ in range(3):
        old = v.numpy().copy()
        before, after, total = f()
        np.testing.assert_array_equal(before.numpy(), old * 3.0)
        np.testing.assert_array_equal(after.numpy(), old * 11.0 + 1.0)
        assert float(total) == float(np.sum(old * 11.0))
        np.testing.assert_array_equal(v.numpy(), old * 11.0)


def test_update_reading_the_variable_transposed_or_reduced(tt_backend):
    m0 = np.arange(9.0).reshape(3, 3)
    v, u, t = tt.Variable(m0), tt.Variable(m0 + 1.0), tt.Variable(m0 - 4.0)

    @tt.function
    def f():
        v.assign(v + tt.transpose(v) * 2.0)    # reads v at another index than it writes
        u.assign(u - tt.reduce_sum(u, axis=0) + tt.reduce_max(u))
        old = tt.reduce_sum(t * t)             # in the loop that writes t
        t.assign(tt.transpose(t) * 0.5 - t)    # a transposed read in the loop itself
        return tt.reduce_sum(v), old

    ev, eu, et = m0.copy(), m0 + 1.0, m0 - 4.0
    for _ in range(3):
        total, old = f()
        np.testing.assert_allclose(float(old), (et * et).sum(), rtol=1e-13)
        ev = ev + ev.T * 2.0
        eu = eu - eu.sum(axis=0) + eu.max()
        et = et.T * 0.5 - et
        np.testing.assert_array_equal(v.numpy(), ev)
        np.testing.assert_array_equal(u.numpy(), eu)
        np.testing.assert_array_equal(t.numpy(), et)
        assert float(total) == ev.sum()


def test_variable_passed_as_argument_and_under_a_tape(tt_backend):
    v = tt.Variable(np.ones(2))
    ident = tt.function(lambda a: a)
    out = ident(v)                             # may be v's buffer: v must not write it

    @tt.function
    def triple(scale):
        v.assign(v * scale)
        return tt.reduce_sum(v * v)

    triple(tt.constant(3.0))
    np.testing.assert_array_equal(out.numpy(), [1.0, 1.0])
    s = tt.constant(2.0)
    with tt.GradientTape() as tape:
        tape.watch(s)
        y = triple(s)                          # recorded: the tape keeps its inputs
    g = tape.gradient(y, s)
    np.testing.assert_allclose(float(y), 72.0)
    # the update carries no gradient to the value assigned (TensorFlow): the read of v
    # after it is a source of v's gradient only
    assert g is None
    np.testing.assert_array_equal(v.numpy(), [6.0, 6.0])
    triple(tt.constant(1.0))
    np.testing.assert_array_equal(v.numpy(), [6.0, 6.0])


def _kernels_writing_in_place(fn):
    entry = next(iter(fn._entries.values()))
    lowered = pipeline.lower(entry.graph, 1 << 30)
    return [ks.dest for ks in lowered.kernels if ks.dest]


def test_donation_plan():
    """The elementwise update is stored into the Variable's buffer; an update that reads
    it at other indices, or whose old value is returned, gets a new array."""
    a, b = tt.Variable(np.ones((3, 3))), tt.Variable(np.ones((3, 3)))

    @tt.function
    def flat():
        a.assign(a * 2.0 + 1.0)

    @tt.function
    def moved():
        b.assign(b + tt.transpose(b))

    @tt.function
    def returned():
        old = a.read_value()
        a.assign(old + 1.0)
        return old

    for f in (flat, moved, returned):
        f()
    assert _kernels_writing_in_place(flat) == [((0, 0),)]
    assert _kernels_writing_in_place(moved) == []
    assert _kernels_writing_in_place(returned) == []
