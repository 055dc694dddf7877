"""Vectorisable steps of float max/min reductions, for generated kernels that import them.

``acc_max(a, b)``/``acc_min(a, b)`` are LLVM's ``llvm.maximum``/``llvm.minimum``: NaN in
either operand gives NaN, otherwise the larger (smaller) value, with -0.0 below +0.0. LLVM
recognises a loop accumulating through them as a max (min) reduction and splits it into
vector lanes; the ``max_nan``/``min_nan`` select of runtime.vecmath does not vectorise
(NaN and the order of ties pin it to one element at a time: 0.7 ms against 0.1 ms for the
rows of a 1024x1024 float32 array). The two agree on every row except one whose extremum
is a zero and which holds zeros of both signs: there ``max_nan`` keeps the last zero in
order and ``acc_max`` the positive one; compiler.codegen flags such rows and recomputes
the kernel with ``max_nan``.

Generated kernels name this module in their source, and runtime.diskcache puts this
file's digest into the cache entry of every source that does.
"""
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic


def _extremum(name):
    def op(typingctx, a, b):
        if not isinstance(a, types.Float) or a != b:
            return None

        def codegen(context, builder, sig, args):
            t = args[0].type
            suffix = "f32" if isinstance(t, ir.FloatType) else "f64"
            fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(t, [t, t]),
                                                f"llvm.{name}.{suffix}")
            return builder.call(fn, args)
        return a(a, b), codegen
    return intrinsic(op)


acc_max = _extremum("maximum")
acc_min = _extremum("minimum")
