"""Random numbers that compile: a pure function of an integer seed tensor.

Inside ``tt.function`` and the transforms, every draw (``tt.random.*`` and
``tt.nn.dropout``) reads and advances a counter Variable: ``DRAWS``, or for a draw with an
op ``seed`` the trace's own counter of that seed. Counters are state of the compiled
function, so each call draws new numbers without retracing, and the numbers are
``stateless_uniform`` of (counter, base): the base is fixed at trace time by the op's
``seed`` or, without one, drawn from ``tt.random``'s global generator (so
``tt.random.set_seed`` before tracing makes it reproducible), and ``tt.random.set_seed``
also moves every counter to a start given by its seed, so re-seeding replays the same
sequence (TensorFlow's global and op seeds). Draws carry no gradient.
"""
import math
import threading
import weakref

import numpy as np

from compiler import primitives as P
from tracer import array_ops, dtypes, ops, shape_ops
from tracer.creation import _shape_arg
from tracer.engine import as_tensor, bind, make
from tracer.errors import TracingError
from tracer.state import STATE
from tracer.tensor import check_traceable
from tracer.variable import Variable

# the position in the stream of traced draws; every traced draw adds one
DRAWS = Variable(np.int64(0), trainable=False, name="random/draws")
# calls of compiled functions that draw run one at a time (tracer.function's Entry holds
# it): threads drawing at once would otherwise read the same counter
DRAWS._update_lock = threading.RLock()
_STRIDE = 1_000_003          # counters apart: a draw's seed is counter * _STRIDE + base
# op-seeded traced draws count on their own: one counter Variable per trace and op seed
# (TensorFlow's per-op kernel counters), made at the first such draw of the trace, starting
# where the last set_seed put every counter
_OP_COUNTERS = weakref.WeakSet()
_START = [0]
_TRUNCATED_CANDIDATES = 8    # normals drawn per truncated one: all 8 beyond 2 std: p ~ 2e-11


def stateless_uniform(shape, seed, dtype=dtypes.float32):
    """Uniform [0, 1) numbers of ``shape`` determined by the scalar integer ``seed`` (a
    tensor, so inside ``tt.function`` each call may pass a new one without retracing)."""
    s = as_tensor(seed, "stateless_uniform")
    if s.dtype.kind not in "iu" or s.shape != ():
        raise TypeError(f"stateless_uniform: seed must be a scalar integer tensor, got "
                        f"shape {s.shape} dtype {s.dtype}")
    if s.dtype != dtypes.int64:
        s = ops.cast(s, dtypes.int64)
    d = dtypes.as_dtype(dtype, "stateless_uniform")
    return bind(P.stateless_uniform, s, shape=tuple(int(n) for n in shape), dtype=d.str)


def seed_start(seed):
    """Where ``DRAWS`` starts after ``tt.random.set_seed(seed)`` (None: anywhere)."""
    return int(np.random.SeedSequence(seed).generate_state(1, np.uint32)[0])


def traced_uniform(shape, dtype, seed, op, rng):
    """Uniform [0, 1) numbers of one traced draw: the next in the stream of ``seed`` (an
    int op seed, or None for a base drawn from the global generator ``rng``). An op-seeded
    draw counts on its trace's counter of that seed, so its sequence does not depend on
    other draws, and draws with the same op seed in one traced body (a function, or one
    control-flow body) read it once: each call gives them the same numbers, new at every
    call. As TensorFlow, where each op of a ``tf.function`` has its own counter starting
    from its seeds (``foo`` with two ``uniform([1], seed=1)`` gives (A1, A1), then (A2,
    A2)). Called eagerly (op-seeded draws only), the counter is the op's own, so an eager
    op gives the numbers the same op gives traced, call by call (TensorFlow: the same
    kernel and seeds). After ``set_seed``, an unseeded traced draw takes the next op seed
    of its trace (0, 1, ... per traced function), so every function draws the same
    sequence (TensorFlow: "tf.function acts like a re-run of a program")."""
    if seed is None and random._global_seed is not None and \
            hasattr(STATE.trace, "auto_seeds"):
        seed = STATE.trace.auto_seeds
        STATE.trace.auto_seeds += 1
    if seed is None:
        base = int(rng.integers(1 << 32))
        return stateless_uniform(shape, ops.add(ops.multiply(_next_draw(op), _STRIDE),
                                                base), dtype)
    base = int(np.random.SeedSequence(int(seed)).generate_state(1, np.uint32)[0])
    seeded = getattr(STATE.trace, "seeded_draws", None)
    if STATE.trace is None:             # eager: the op's own counter (TF's kernel counter)
        draw = random._eager_draw(op, int(seed))
    elif seeded is None:                # a custom gradient's grad_fn: the shared counter
        draw = _next_draw(op)
    else:
        draw = seeded.get(int(seed))
        if draw is None:
            draw = seeded[int(seed)] = _next_draw(op, _op_counter(int(seed)))
    return stateless_uniform(shape, ops.add(ops.multiply(draw, _STRIDE), base), dtype)


def _op_counter(seed):
    """The draw counter of op seed ``seed`` in the active trace (made at its first draw:
    state of the traced function from then on, as ``tracing.variable_creation`` makes)."""
    counters = STATE.trace.op_counters
    counter = counters.get(seed)
    if counter is None:
        STATE.creating_variables += 1
        try:
            counter = Variable(np.int64(_START[0]), trainable=False,
                               name=f"random/seed_{seed}_draws")
        finally:
            STATE.creating_variables -= 1
        counter._update_lock = DRAWS._update_lock
        with DRAWS._update_lock:        # set_seed may be moving the counters in a thread
            _OP_COUNTERS.add(counter)
        counters[seed] = counter
    return counter


def _next_draw(op, counter=DRAWS):
    """The counter's value for a new traced draw, advancing it."""
    draw = counter.value()
    try:
        counter.assign_add(1)
    except TracingError:              # compiled functions without state: say what works
        raise TracingError(
            f"{op}: numbers drawn at trace time would repeat on every call, and this "
            f"trace cannot update the draw counter; draw inside tt.function or eagerly, or "
            f"pass the numbers in as an argument (tt.nn.dropout also takes seed= an integer "
            f"tensor argument)") from None
    return draw


def uniform(shape, minval, maxval, d, seed, rng):
    """Traced ``tt.random.uniform``: floats in [minval, maxval), ints in [minval, maxval)."""
    if d.kind in "iu":
        u = traced_uniform(shape, dtypes.float64, seed, "random.uniform", rng)
        span = float(maxval) - float(minval)
        return ops.cast(ops.floor(ops.add(ops.multiply(u, span), float(minval))), d)
    u = traced_uniform(shape, d, seed, "random.uniform", rng)
    return ops.add(ops.multiply(u, maxval - minval), ops.cast(minval, d))


def _standard_normals(shape, n, d, seed, op, rng):
    """``n`` independent standard normal tensors of ``shape`` (Box-Muller, in pairs)."""
    pairs = (n + 1) // 2
    u = traced_uniform((2, pairs) + tuple(shape), d, seed, op, rng)
    radius = ops.sqrt(ops.multiply(-2.0, ops.log1p(ops.negative(u[0]))))   # 1 - u in (0, 1]
    angle = ops.multiply(u[1], 2.0 * math.pi)
    out = []
    for k in range(pairs):
        out += [ops.multiply(radius[k], ops.cos(angle[k])),
                ops.multiply(radius[k], ops.sin(angle[k]))]
    return out[:n]


def normal(shape, mean, stddev, d, seed, rng):
    """Traced ``tt.random.normal``."""
    z = _standard_normals(shape, 1, d, seed, "random.normal", rng)[0]
    return ops.add(ops.multiply(z, stddev), ops.cast(mean, d))


def truncated_normal(shape, mean, stddev, d, seed, rng):
    """Traced ``tt.random.truncated_normal``: per element the first of several normal
    candidates within 2 of 0 (TensorFlow's redraws; all beyond has probability ~2e-11,
    and then the last candidate is clipped to [-2, 2])."""
    zs = _standard_normals(shape, _TRUNCATED_CANDIDATES, d, seed, "random.truncated_normal",
                           rng)
    z = ops.clip_by_value(zs[-1], -2.0, 2.0)
    for cand in reversed(zs[:-1]):
        z = ops.where(ops.less_equal(ops.abs(cand), 2.0), cand, z)
    return ops.add(ops.multiply(z, stddev), ops.cast(mean, d))


def shuffle(x, seed, rng):
    """Traced ``tt.random.shuffle``: the rows of ``x`` in the order of sorted uniforms."""
    u = traced_uniform((x.shape[0],), dtypes.float64, seed, "random.shuffle", rng)
    return shape_ops.gather(x, array_ops.argsort(u))


def categorical(x, num_samples, d, seed, rng):
    """Traced ``tt.random.categorical``: the Gumbel-max draw argmax(logits + Gumbel) per
    sample."""
    u = traced_uniform((x.shape[0], int(num_samples), x.shape[1]), x.dtype, seed,
                       "random.categorical", rng)
    gumbel = ops.negative(ops.log(ops.negative(ops.log(u))))      # u = 0 gives -inf
    scores = ops.add(shape_ops.expand_dims(x, 1), gumbel)
    return ops.cast(ops.argmax(scores, axis=2), d)


# -- tt.random ------------------------------------------------------------------------------

def _counted(seed):
    """Whether a draw comes from the counter-based stream: traced, or with an op seed."""
    return STATE.trace is not None or seed is not None


def _normal_args(op, shape, dtype, stddev):
    """(dtype, shape) of a normal sampler ``op``, checked (``stddev`` must be >= 0)."""
    d, shape = dtypes.as_dtype(dtype, op), _shape_arg(shape, op)
    if d.kind != "f":
        raise TypeError(f"{op}: dtype {d}; valid dtypes are float32, float64")
    if not stddev >= 0:
        raise ValueError(f"{op}: stddev is {stddev}; it must be >= 0")
    return d, shape


class _Random:
    """``tt.random``: seeded samplers (TensorFlow 2's global and op seeds). Eager calls
    without ``seed`` draw with NumPy from the global generator that ``set_seed`` resets.
    Inside ``tt.function`` and the transforms each call draws new numbers from the
    counter-based generator (above), and so do eager calls with an int ``seed``, on that
    op's own counter: it moves on at every call (TensorFlow's per-kernel counter) until
    ``set_seed`` restarts it, and an op gives the same numbers eagerly and traced, call by
    call (TensorFlow: the same kernel and seeds)."""

    def __init__(self):
        self._rng = np.random.default_rng()
        self._global_seed = None
        self._op_draws = {}         # (op, seed) -> its next eager draw, until set_seed
        self._lock = threading.Lock()

    def _eager_draw(self, op, seed):
        """The counter value of an eager draw of ``op`` with op seed ``seed``, advancing it:
        each (op, seed) counts from where ``set_seed`` put every traced counter."""
        with self._lock:
            draw = self._op_draws.get((op, seed), int(_START[0]))
            self._op_draws[(op, seed)] = draw + 1
        return np.int64(draw)

    def uniform(self, shape, minval=0, maxval=None, dtype=dtypes.float32, seed=None,
                name=None):
        """Uniform numbers in [minval, maxval): maxval defaults to 1 for floats and must be
        given for integer dtypes (TensorFlow)."""
        d = dtypes.as_dtype(dtype, "random.uniform")
        shape = _shape_arg(shape, "random.uniform")
        if d.kind not in "fiu":
            raise TypeError(f"random.uniform: dtype {d}; valid dtypes are float32, float64, "
                            f"int32, int64")
        if maxval is None:
            if d.kind in "iu":
                raise ValueError(f"random.uniform: maxval must be given for integer dtype "
                                 f"{d} (the numbers are in [minval, maxval))")
            maxval = 1
        if d.kind in "iu":
            if not minval < maxval:
                raise ValueError(f"random.uniform: minval ({minval}) must be < maxval "
                                 f"({maxval}) for integer dtype {d} (maxval is excluded)")
            if _counted(seed):
                return uniform(shape, minval, maxval, d, seed, self._rng)
            return make(self._rng.integers(minval, maxval, shape).astype(d))
        if not minval <= maxval:
            raise ValueError(f"random.uniform: minval ({minval}) must be <= maxval "
                             f"({maxval})")
        if _counted(seed):
            return uniform(shape, minval, maxval, d, seed, self._rng)
        return make(np.asarray(self._rng.uniform(minval, maxval, shape)).astype(d))

    def normal(self, shape, mean=0, stddev=1, dtype=dtypes.float32, seed=None, name=None):
        d, shape = _normal_args("random.normal", shape, dtype, stddev)
        if _counted(seed):
            return normal(shape, mean, stddev, d, seed, self._rng)
        return make(np.asarray(self._rng.normal(mean, stddev, shape)).astype(d))

    def truncated_normal(self, shape, mean=0.0, stddev=1.0, dtype=dtypes.float32, seed=None,
                         name=None):
        """Normal numbers, those more than 2 ``stddev`` from ``mean`` redrawn (as TF)."""
        d, shape = _normal_args("random.truncated_normal", shape, dtype, stddev)
        if _counted(seed):
            return truncated_normal(shape, mean, stddev, d, seed, self._rng)
        g = self._rng
        z = g.standard_normal(shape)
        out = np.abs(z) > 2
        while out.any():  # each round keeps ~95% of the redrawn values
            z[out] = g.standard_normal(int(out.sum()))
            out = np.abs(z) > 2
        return make(np.asarray(mean + stddev * z).astype(d))

    def shuffle(self, value, seed=None, name=None):
        """``value`` with its rows (axis 0) in a random order (a gather, so differentiable)."""
        x = as_tensor(value, "random.shuffle")
        if x.ndim == 0:
            raise ValueError("random.shuffle: value is a scalar; it needs rank >= 1")
        if _counted(seed):
            return shuffle(x, seed, self._rng)
        return shape_ops.gather(x, make(self._rng.permutation(x.shape[0])))

    def categorical(self, logits, num_samples, dtype=None, seed=None, name=None):
        """Class indices drawn per row of the (batch, classes) ``logits`` with
        probabilities softmax(logits): shape (batch, num_samples), int64 by default."""
        x = as_tensor(logits, "random.categorical")
        d = dtypes.as_dtype(dtypes.int64 if dtype is None else dtype, "random.categorical")
        if x.ndim != 2 or x.dtype.kind != "f" or d.kind not in "iu":
            raise ValueError(f"random.categorical: logits have shape {x.shape} dtype "
                             f"{x.dtype}, dtype {d}; logits must be a 2-D float tensor "
                             f"(batch, classes) and dtype int32 or int64")
        if _counted(seed):
            return categorical(x, num_samples, d, seed, self._rng)
        check_traceable(x, "random.categorical (samples are drawn eagerly)")
        v = np.asarray(x._value, np.float64)
        p = np.exp(v - np.max(v, axis=1, keepdims=True))
        cdf = np.cumsum(p, axis=1)
        u = self._rng.random((v.shape[0], int(num_samples))) * cdf[:, -1:]
        idx = np.stack([np.searchsorted(c, r, side="right") for c, r in zip(cdf, u)]) \
            if v.shape[0] else np.zeros((0, int(num_samples)), np.int64)
        return make(np.minimum(idx, v.shape[1] - 1).astype(d))

    def set_seed(self, seed):
        """Reset the global generator: unseeded eager draws, op-seeded eager draws (each
        op's sequence restarts) and the stream of traced draws (``tt.function``) all replay
        from ``seed`` (None: unpredictably, and op-seeded draws as before any set_seed)."""
        self._rng = np.random.default_rng(seed)
        self._global_seed = seed
        self._op_draws = {}
        with DRAWS._update_lock:
            _START[0] = np.int64(seed_start(seed))
            for counter in [DRAWS, *_OP_COUNTERS]:
                counter.assign(_START[0])


random = _Random()
