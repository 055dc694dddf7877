"""Random numbers that compile: a pure function of an integer seed tensor."""
from compiler import primitives as P
from tracer import dtypes, ops
from tracer.engine import as_tensor, bind


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

