"""Writing float math kernels once, as Python code that emits LLVM IR.

A kernel body is an ordinary Python function of an ``Emitter`` and ``Value`` arguments:
arithmetic and comparisons on values emit the IEEE instruction (no fast-math flags), and
the emitter adds fused multiply-adds, rounding, selects and bit tricks. Values are
float64 unless a body converts them (``Emitter.f32``/``f64``); Python floats take the type
of the value they meet. ``intrinsic(body)`` makes the body a Numba intrinsic: a kernel
calling it is typed as one call and receives the instructions inline, where LLVM
vectorises them with the loop. (As Numba functions inlined at the IR level the same bodies
cost ~1 s of typing per kernel.)
"""
from llvmlite import ir
from numba import types
from numba.extending import intrinsic as _numba_intrinsic

F64 = ir.DoubleType()
F32 = ir.FloatType()
I64 = ir.IntType(64)
I32 = ir.IntType(32)


class Value:
    """An LLVM value under construction; Python floats mix in as constants."""
    __slots__ = ("em", "v")

    def __init__(self, em, v):
        self.em, self.v = em, v

    def _bin(self, op, other, swap=False):
        a, b = self.v, self.em.lift(other, self.v.type)
        return Value(self.em, getattr(self.em.b, op)(*((b, a) if swap else (a, b))))

    def __add__(self, o):
        return self._bin("fadd", o)

    def __radd__(self, o):
        return self._bin("fadd", o, True)

    def __sub__(self, o):
        return self._bin("fsub", o)

    def __rsub__(self, o):
        return self._bin("fsub", o, True)

    def __mul__(self, o):
        return self._bin("fmul", o)

    def __rmul__(self, o):
        return self._bin("fmul", o, True)

    def __truediv__(self, o):
        return self._bin("fdiv", o)

    def __rtruediv__(self, o):
        return self._bin("fdiv", o, True)

    def __neg__(self):
        return Value(self.em, self.em.b.fneg(self.v))

    def __abs__(self):
        return self.em.call("llvm.fabs", self)

    def _cmp(self, op, o):              # ordered: false when either side is NaN
        return Value(self.em, self.em.b.fcmp_ordered(op, self.v, self.em.lift(o, self.v.type)))

    def __lt__(self, o):
        return self._cmp("<", o)

    def __le__(self, o):
        return self._cmp("<=", o)

    def __gt__(self, o):
        return self._cmp(">", o)

    def __ge__(self, o):
        return self._cmp(">=", o)

    def __eq__(self, o):
        return self._cmp("==", o)

    __hash__ = None

    def __or__(self, o):                # of comparison results
        return Value(self.em, self.em.b.or_(self.v, o.v))

    def __and__(self, o):
        return Value(self.em, self.em.b.and_(self.v, o.v))


class Emitter:
    """The operations a body uses beyond arithmetic, emitted into ``builder``."""

    def __init__(self, builder):
        self.b = builder

    def lift(self, x, ty=F64):
        """The LLVM value of ``x``: a Value's own, a Python number as a constant of ``ty``."""
        return x.v if isinstance(x, Value) else ir.Constant(ty, float(x))

    def call(self, name, *args):
        """The LLVM intrinsic ``name`` of the float type of the first Value among ``args``."""
        ty = next((a.v.type for a in args if isinstance(a, Value)), F64)
        fnty = ir.FunctionType(ty, [ty] * len(args))
        fn = self.b.module.declare_intrinsic(name, [ty], fnty)
        return Value(self, self.b.call(fn, [self.lift(a, ty) for a in args]))

    def f64(self, x):
        """float32 ``x`` widened to float64 (exact)."""
        return Value(self, self.b.fpext(self.lift(x, F32), F64))

    def f32(self, x):
        """float64 ``x`` rounded to float32."""
        return Value(self, self.b.fptrunc(self.lift(x), F32))

    def fma(self, a, b, c):
        """a * b + c with one rounding."""
        return self.call("llvm.fma", a, b, c)

    def poly(self, x, coefficients, horner=0):
        """c0 x**(n-1) + ... + c(n-1) (highest degree first): Estrin's scheme (pairs
        c + c' x, combined by x**2, x**4, ...; a short dependency chain, where Horner's
        rule is n - 1 fused multiply-adds in a row and loops calling these kernels are
        latency-bound), then the last ``horner`` coefficients by Horner's rule (for
        accuracy where they dominate)."""
        cs = list(coefficients)
        split = len(cs) - horner
        terms = [Value(self, self.lift(c, x.v.type)) for c in reversed(cs[:split])]
        power = x
        while len(terms) > 1:
            terms = [self.fma(power, terms[i + 1], terms[i]) if i + 1 < len(terms)
                     else terms[i] for i in range(0, len(terms), 2)]
            power = power * power
        p = terms[0]
        for c in cs[split:]:
            p = self.fma(x, p, c)
        return p

    def rint(self, x):
        """Round to the nearest integer, ties to even (np.rint)."""
        return self.call("llvm.rint", x)

    def floor(self, x):
        return self.call("llvm.floor", x)

    def copysign(self, x, y):
        return self.call("llvm.copysign", x, y)

    def sel(self, cond, a, b):
        """``a if cond else b`` without a branch."""
        ty = next((v.v.type for v in (a, b) if isinstance(v, Value)), F64)
        return Value(self, self.b.select(cond.v, self.lift(a, ty), self.lift(b, ty)))

    def pow2(self, n):
        """2**n for an integer-valued n in [-1022, 1023] ([-126, 127] for a float32 n),
        built in the exponent bits (adding 1.5 * 2**52, or 1.5 * 2**23, puts n in the low
        mantissa bits; no float->int conversion)."""
        b, ty = self.b, (n.v.type if isinstance(n, Value) else F64)
        it, shift, bias, magic = ((I64, 52, 1023, 0x4338000000000000) if ty == F64
                                  else (I32, 23, 127, 0x4B400000))
        t = b.bitcast(b.fadd(self.lift(n, ty), ir.Constant(ty, 1.5 * 2.0 ** shift)), it)
        m = b.add(t, ir.Constant(it, bias - magic))
        return Value(self, b.bitcast(b.shl(m, ir.Constant(it, shift)), ty))

    def split_sqrt2(self, x):
        """(m, k) with x = m * 2**k, m in [sqrt(2)/2, sqrt(2)) and k integer-valued, for a
        positive normal float64 x (other inputs give meaningless values, no poison)."""
        b = self.b
        bits = b.bitcast(self.lift(x), I64)
        k = b.ashr(b.sub(bits, ir.Constant(I64, 0x3FE6A09E667F3BCD)), ir.Constant(I64, 52))
        m = b.bitcast(b.sub(bits, b.shl(k, ir.Constant(I64, 52))), F64)
        # k as a float without an int->float conversion: k in the low bits of 1.5 * 2**52
        kf = b.bitcast(b.add(k, ir.Constant(I64, 0x4338000000000000)), F64)
        return Value(self, m), Value(self, b.fsub(kf, ir.Constant(F64, 6755399441055744.0)))

    def exponent_row(self, x, first, last):
        """x's biased exponent minus ``first``, clamped to [0, last - first], as an i64."""
        b = self.b
        e = b.and_(b.lshr(b.bitcast(self.lift(x), I64), ir.Constant(I64, 52)),
                   ir.Constant(I64, 0x7ff))
        row = b.sub(e, ir.Constant(I64, first))
        zero, top = ir.Constant(I64, 0), ir.Constant(I64, last - first)
        row = b.select(b.icmp_signed("<", row, zero), zero, row)
        return b.select(b.icmp_signed(">", row, top), top, row)

    def table(self, name, data, row, width):
        """``width`` consecutive doubles of the constant array ``data`` (a NumPy float64
        array, stored once per LLVM module under ``name``) from index ``row * width``."""
        b, mod = self.b, self.b.module
        try:
            gv = mod.get_global(name)
        except KeyError:
            raw = bytearray(data.astype("<f8").tobytes())
            gv = ir.GlobalVariable(mod, ir.ArrayType(ir.IntType(8), len(raw)), name)
            gv.global_constant, gv.linkage, gv.align = True, "internal", 16
            gv.initializer = ir.Constant(gv.value_type, raw)
        base = self._noalias_pointer(name, gv)
        start = b.mul(row, ir.Constant(I64, width))
        return [Value(self, b.load(b.gep(base, [b.add(start, ir.Constant(I64, k))])))
                for k in range(width)]

    def _noalias_pointer(self, name, gv):
        """``gv`` as a double pointer that alias analysis sees apart from every array: the
        result of a ``noalias`` call (made once, in the function's entry block) to a
        function that returns ``gv`` and is never inlined. Loads of the global itself at a
        data-dependent index may alias any store for LLVM, which then keeps a loop that
        writes an array scalar."""
        b, mod = self.b, self.b.module
        fname = name + "_ptr"
        try:
            fn = mod.get_global(fname)
        except KeyError:
            fn = ir.Function(mod, ir.FunctionType(F64.as_pointer(), []), fname)
            fn.linkage = "linkonce_odr"         # one copy however many modules define it;
            fn.attributes.add("noinline")       # not an exact definition, so no pass
            fn.return_value.add_attribute("noalias")    # replaces the call by its value
            fb = ir.IRBuilder(fn.append_basic_block())
            fb.ret(fb.bitcast(gv, F64.as_pointer()))
        with b.goto_entry_block():
            ptr = b.call(fn, [])
        return ptr


def intrinsic(body, index=None, dtype=types.float64):
    """A Numba intrinsic ``dtype`` -> ``dtype`` (float64 or float32) computing
    ``body(emitter, x)`` (its element ``index`` when the body returns a tuple)."""
    def typer(typingctx, x):
        if x != dtype:
            return None

        def codegen(context, builder, sig, args):
            em = Emitter(builder)
            out = body(em, Value(em, args[0]))
            return (out if index is None else out[index]).v
        return dtype(dtype), codegen
    typer.__name__ = body.__name__.lstrip("_") + ("" if index is None else str(index))
    return _numba_intrinsic(typer)
