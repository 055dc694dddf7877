"""Code generation: Numba-ready Python source for loop kernels, and a plain-Python driver.

Emits text only (runtime compiles it). A kernel is a module with one ``@njit`` function
``kernel`` specialised to concrete shapes and dtypes: literal loop bounds, contiguous
same-shape operands flattened to one loop, ``prange`` above the parallel threshold.

Numerics: no fast-math flags, so every operation is IEEE as in NumPy (NaN, Inf, signed
zero; no contraction into fma, no reciprocal or approximate functions). Float sums and
products accumulate through ``acc_add``/``acc_mul`` (runtime.vecmath): ``reassoc`` on the
accumulating instruction alone, which is what lets the loop vectorise.
``error_model='numpy'``: division by zero gives inf/NaN (integers: 0) instead of raising.
"""
import hashlib
import math
import re

import numpy as np

from compiler.fusion import (LOOP_REDUCTIONS, inlinable, is_sink, is_view, moves,
                             view_chain, view_root)
from compiler import lanes
from compiler.primitives.elementwise import NEAR

_HEADER = ("import math\nimport numpy as np\nfrom numba import njit, prange\n"
           "from runtime.vecmath import *\n")
_CTOR = {"f4": "np.float32", "f8": "np.float64", "i4": "np.int32", "i8": "np.int64",
         "b1": "np.bool_"}
_ACC = {"add": "{a} += {v}", "mul": "{a} *= {v}", "max": "{a} = max_nan({a}, {v})",
        "min": "{a} = min_nan({a}, {v})"}
_REASSOC = {"add": "acc_add", "mul": "acc_mul"}


# kernels of fewer elements run sin/cos by their full kernels alone: the near-argument
# loop (``KernelWriter._near_first``) is a second copy of the loop to compile (~1-3 s for
# a gradient kernel) for at most ~12 ns per element per run (float64 sin + cos: 25 us a
# call at this size). Shape templates keep sizes on one side of it (runtime.templates).
NEAR_MIN_SIZE = 2048


def ctor(dtype):
    return _CTOR[np.dtype(dtype).str[1:]]


def constant(value, dtype):
    """Source for a typed scalar constant (float literals alone would be float64)."""
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        return repr(bool(value))
    if dtype.kind == "f":
        return f"{ctor(dtype)}(float('{float(value)!r}'))"
    return f"{ctor(dtype)}({int(value)})"


def _python_scalar(value, dtype):
    """A literal's value as the Python scalar a driver passes for it."""
    kind = np.dtype(dtype).kind
    return bool(value) if kind == "b" else float(value) if kind == "f" else int(value)


def scalar_source(v):
    """Source for a Python int, bool or float passed to a kernel (``np`` in scope)."""
    if isinstance(v, float) and (v != v or v in (float("inf"), float("-inf"))):
        return "np.nan" if v != v else "np.inf" if v > 0 else "-np.inf"
    return repr(v)


def identity(op, dtype):
    dtype = np.dtype(dtype)
    if op in ("add", "mul"):
        return 0 if op == "add" else 1
    big = np.inf if dtype.kind == "f" else np.iinfo(dtype).max
    return -big - (dtype.kind != "f") if op == "max" else big


def scalar_expr(node, args):
    """The node's lowering applied to argument sources."""
    low = node.prim.lowering
    if low is None:
        raise NotImplementedError(f"{node.prim.name}: no scalar lowering")
    return low.source(args, node.inputs[-1].dtype)


class KernelWriter:
    """Builds the source of one kernel; ``args`` are the external nodes it reads."""

    def __init__(self, kernel, parallel_threshold, dest=(), donors=()):
        self.k = kernel
        # stored position -> d<k>: outputs written into buffers the caller passes
        # (compiler.donation), d<k> holding node donors[k]'s value on entry: loads of it
        # read d<k> itself (the store's own array, so the loop still vectorises), and
        # stores follow every load of the element
        self.dest = {pos: d for d, (pos, _) in enumerate(dest)}
        self.donors = {id(x): d for d, x in enumerate(donors)}
        self.late = []
        self.shape = kernel.shape
        self.size = int(math.prod(self.shape))
        # extents (n<d>, and nf for the flat size) and literal values (c<k>) are
        # parameters, never written into the source: the source, hence the compiled
        # kernel, then serves every shape and constant it was written for
        self.members = {id(m): j for j, m in enumerate(kernel.members)}
        self.args, self.arg_ids, self.consts, self.loads = [], {}, {}, {}
        self.const_values = []          # literal values, passed as c<k> like the extents
        self.literal = False            # reading a value written into the source
        self.pre, self.body = [], []
        self.near = {}                  # body line -> its sin/cos for small arguments
        self.lanes = {}                 # body line -> exact lines of a lane max/min step
        self.closes = {}                # depth -> lines flagging rows for the exact rerun
        self.hoisted = {}               # depth -> lines loading index-array elements
        # scatter_add sinks: (member position, node); ns<j> passes the scattered size
        self.sinks = [(j, m) for j, m in enumerate(kernel.members) if is_sink(m)]
        self.flat = self._can_flatten()
        reds = kernel.reductions
        self.parallel = self._can_parallel(parallel_threshold, reds)

    def _can_flatten(self):
        if self.sinks:                  # a sink stores at its index axes' positions
            return False
        for r in self.k.reductions:
            if r.shape != ():
                return False
        if len(self.shape) <= 1:
            return len(self.shape) == 1
        for m in self.k.members:
            srcs = [m] if is_view(m) else m.inputs
            for x in srcs:
                if not self._is_view(x) or (id(x) in self.members and x is not m):
                    continue
                if any(moves(v) for v in view_chain(x, self.k.bound)):
                    return False
                root = view_root(x, self.k.bound)
                if root.shape != () and root.size != self.size:
                    return False
                if root.shape != () and any(v.prim.view.broadcasts and
                                            v.shape != v.inputs[0].shape
                                            for v in view_chain(x, self.k.bound)):
                    return False
        return True

    def _can_parallel(self, threshold, reds):
        if self.size < max(threshold, 2) or not self.shape or self.sinks:
            return False                # a sink adds the updates of an index in order
        if self.flat:
            return all(LOOP_REDUCTIONS[r.prim.name] in ("add", "mul") for r in reds)
        return all(self._suffix_depth(r) >= 1 for r in reds)

    def _suffix_depth(self, r):
        axes = r.params["axes"]
        d = len(self.shape) - len(axes)
        return d if tuple(axes) == tuple(range(d, len(self.shape))) else -1

    # -- operands --------------------------------------------------------------------------

    def _is_view(self, x):
        return is_view(x) and id(x) not in self.k.bound

    def _arg(self, node):
        j = self.arg_ids.get(id(node))
        if j is None:
            j = self.arg_ids[id(node)] = len(self.args)
            self.args.append(node)
        return f"a{j}"

    def _const(self, node):
        p = node.params
        text = constant(p["value"], p["dtype"])
        if self.literal:                # a pow exponent: its value shapes the code
            return text
        name = self.consts.get(text)
        if name is None:
            k = len(self.consts)
            name = self.consts[text] = f"K{k}"
            self.const_values.append(_python_scalar(p["value"], p["dtype"]))
            conv = "" if np.dtype(p["dtype"]).kind == "b" else ctor(p["dtype"])
            self.pre.insert(k, f"    K{k} = {conv}(c{k})")
        return name

    def read(self, x, idx):
        """Source reading node x (external or a member) at index sources ``idx``."""
        if id(x) in self.members and not self._is_view(x):
            return f"v{self.members[id(x)]}"
        return self._read_chain(x, idx)

    def _read_chain(self, x, idx):
        chain = list(view_chain(x, self.k.bound))
        if any(moves(v) for v in chain):
            return self._read_mapped(chain, idx)
        while self._is_view(x):
            idx = idx if self.flat else x.prim.view.index(x, idx)[0]
            x = x.inputs[0]
        if x.prim.name == "literal" and id(x) not in self.members:
            return self._const(x)
        if id(x) in self.members:
            return f"v{self.members[id(x)]}"
        return self._load(x, idx)

    def _read_mapped(self, chain, idx):
        """Read through views that move elements: explicit indices, conditions for pads.
        The root is never a member (fusion stores what index views read)."""
        conds = []
        for v in chain:
            view = v.prim.view
            idx, c = view.index(v, idx, self._element) if view.operands else \
                view.index(v, idx)
            conds += c
        root = chain[-1].inputs[0]
        val = self._read_root(root, idx)
        if not conds:
            return val
        return f"({val} if {' and '.join(conds)} else {constant(0, root.dtype)})"

    def _read_root(self, root, idx):
        if root.prim.name == "literal" and id(root) not in self.k.inputs:
            return self._const(root)
        if inlinable(root, self.k.inputs):
            return self._inline(root, idx)
        if root.shape == ():
            return self._load(root, [])
        return f"{self._arg(root)}[{', '.join(idx)}]"

    def _element(self, node, at):
        """A local holding array ``node`` (read whole, e.g. a gather's indices) at index
        sources ``at``, loaded once in the outermost loop where its indices are known
        (the row loop of a gather: the inner loop over the row then vectorises, as
        LLVM cannot tell that stores leave the index array alone)."""
        src = f"{self._arg(node)}[{', '.join(at) if at else '()'}]"
        key = ("element", src)
        name = self.loads.get(key)
        if name is None:
            name = self.loads[key] = f"g{sum(k[0] == 'element' for k in self.loads)}"
            # i<d> is known inside loop d; the flat loop's i inside its one loop
            depth = max((int(d or 0) + 1 for d in re.findall(r"\bi(\d*)\b", src)),
                        default=0)
            self.hoisted.setdefault(depth, []).append(f"{name} = {src}")
        return name

    def _inline(self, node, idx):
        """node's expression at ``idx``, recomputed from inputs (bounded by ``inlinable``)."""
        args = []
        for y in node.inputs:
            chain = list(view_chain(y, self.k.inputs))
            args.append(self._read_mapped(chain, idx) if chain else self._read_root(y, idx))
        return f"{ctor(node.dtype)}({scalar_expr(node, args)})"

    def _load(self, x, idx):
        if id(x) in self.donors:                # flat: the element this loop writes
            return f"d{self.donors[id(x)]}f[i]"
        a = self._arg(x)
        if x.shape == ():
            key = (a, "sc")
            if key not in self.loads:
                self.loads[key] = f"s{len(self.loads)}"
                self.pre.append(f"    {self.loads[key]} = sc({a})")
            return self.loads[key]
        if self.flat and x.size == 1 and self.size != 1:
            key = (a, "one")
            if key not in self.loads:
                self.loads[key] = f"s{len(self.loads)}"
                self.pre.append(f"    {self.loads[key]} = np.ascontiguousarray({a})"
                                f".reshape(1)[0]")
            return self.loads[key]
        if self.flat:
            key = (a, "flat")
            if key not in self.loads:
                self.loads[key] = f"f{len(self.loads)}"
                self.pre.append(f"    {self.loads[key]} = np.ascontiguousarray({a})"
                                f".reshape(nf)")
            return f"{self.loads[key]}[i]"
        return f"{a}[{', '.join(idx)}]"

    # -- extents -------------------------------------------------------------------------

    def extent_names(self):
        """The kernel's extent parameters, after its array arguments."""
        return ([f"n{d}" for d in range(len(self.shape))] + (["nf"] if self.flat else []) +
                [f"ns{j}" for j, _ in self.sinks] +
                [f"c{k}" for k in range(len(self.const_values))])

    def extents(self):
        """Values for ``extent_names`` at this kernel's shape."""
        return list(self.shape) + ([self.size] if self.flat else []) + \
            [m.params["size"] for _, m in self.sinks] + self.const_values

    def _dims(self, axes):
        names = [f"n{d}" for d in axes]
        return f"({', '.join(names)}{',' if len(names) == 1 else ''})"

    def _kept(self, r):
        """Shape source of reduction ``r``'s output (the kernel's unreduced axes)."""
        axes = r.params["axes"]
        return self._dims([d for d in range(len(self.shape)) if d not in axes])

    # -- body ----------------------------------------------------------------------------

    def source(self, cache=True):
        """The kernel module's source; ``self.args`` is filled as a side effect."""
        nd = len(self.shape)
        idx = ["i"] if self.flat else [f"i{d}" for d in range(nd)]
        outs, inits, accs = [], [], {}
        for j, m in enumerate(self.k.members):
            self._member(j, m, idx, outs, inits, accs)
        self.body += self.late
        near = (self.near and self.size >= NEAR_MIN_SIZE and not self.dest and
                not self.parallel)
        fast = bool(self.lanes) and not near and not self.dest
        exact = {d: [a for a in acc if a[2] is not None] for d, acc in accs.items()}
        if self.lanes and not fast:     # lane steps only where nothing else runs twice
            self.body, accs, self.closes = lanes.exact_body(self.body, self.lanes), exact, {}
        loops = self._loops(accs, self.body)
        if near:
            loops = self._near_first(accs, inits, loops)
        if fast:
            body, self.closes = lanes.exact_body(self.body, self.lanes), {}
            loops = lanes.with_fallback(loops, self._loops(exact, body), inits,
                                        None if self.flat or not self.shape else "n0")
        opts = f"error_model='numpy', cache={cache!r}"
        if self.parallel:
            opts += ", parallel=True"
        names = ", ".join([f"a{j}" for j in range(len(self.args))] +
                          [f"d{d}" for d in range(len(self.dest))] + self.extent_names())
        ret = ", ".join(outs) + ("," if len(outs) == 1 else "")
        lines = [_HEADER + (lanes.IMPORT if fast else ""), "", f"@njit({opts})",
                 f"def kernel({names}):"]
        lines += [f"    d{d}f = d{d}.reshape(nf)" for d in range(len(self.dest))]
        lines += self.pre + inits + loops + [f"    return ({ret})", ""]
        return "\n".join(lines)

    def _member(self, j, m, idx, outs, inits, accs):
        v = f"v{j}"
        stored = any(m is s for s in self.k.stored)
        if m.prim.name in LOOP_REDUCTIONS:
            self._reduction(j, m, idx, outs, inits, accs)
            return
        if is_sink(m):
            self._scatter(j, m, idx, outs, inits)
            return
        if self._is_view(m):
            self.body.append(f"{v} = {self._read_chain(m, idx)}")
        else:
            args = [self.read(x, idx) for x in m.inputs[:1]]
            # pow's literal exponent stays in the source: LLVM turns pow(x, 2.0) into
            # x * x (exact) only when it sees the value
            self.literal = m.prim.name == "pow"
            args += [self.read(x, idx) for x in m.inputs[1:]]
            self.literal = False
            self.body.append(f"{v} = {ctor(m.dtype)}({scalar_expr(m, args)})")
            self._near(m, v, args)
        if not stored:
            return
        if not self.shape:
            outs.append(v)
            return
        outs.append(f"o{j}")
        d = self.dest.get(next(p for p, s in enumerate(self.k.stored) if s is m)) \
            if self.dest else None
        if d is not None:                       # a flat loop, storing after its loads
            inits += [f"    o{j} = d{d}", f"    o{j}f = d{d}f"]
            self.late.append(f"o{j}f[i] = {v}")
            return
        inits.append(f"    o{j} = np.empty({self._dims(range(len(self.shape)))}, "
                     f"{ctor(m.dtype)})")
        if self.flat:
            inits.append(f"    o{j}f = o{j}.reshape(nf)")
            self.body.append(f"o{j}f[i] = {v}")
        else:
            self.body.append(f"o{j}[{', '.join(idx)}] = {v}")

    def _reduction(self, j, r, idx, outs, inits, accs):
        op = LOOP_REDUCTIONS[r.prim.name]
        val = self.read(r.inputs[0], idx)
        init = constant(identity(op, r.dtype), r.dtype)
        depth = 0 if self.flat else self._suffix_depth(r)
        if depth >= 0:
            acc = f"r{j}"
            wide = self._wide(op, r.dtype, depth)
            if wide:                    # see _wide: a float64 accumulator, rounded once
                init, val = constant(0, np.float64), f"np.float64({val})"
            accs.setdefault(depth, []).append((acc, init, r, idx[:depth]))
            if lanes.applies(op, r.dtype, depth, self.parallel):
                self._lane_step(op, j, acc, val, depth, idx, accs)
            else:
                self.body.append(self._accumulate(op, r.dtype, acc, val, depth))
            outs.append((f"np.float32({acc})" if wide else acc) if r.shape == () else f"o{j}")
            if r.shape != ():
                inits.append(f"    o{j} = np.empty({self._kept(r)}, {ctor(r.dtype)})")
            return
        axes = r.params["axes"]
        oidx = ", ".join(i for d, i in enumerate(idx) if d not in axes)
        inits.append(f"    o{j} = np.full({self._kept(r)}, {init}, {ctor(r.dtype)})")
        self.body.append(self._accumulate(op, r.dtype, f"o{j}[{oidx}]", val))
        outs.append(f"o{j}")

    def _scatter(self, j, m, idx, outs, inits):
        """scatter_add as a sink: each update added to zeros at its index, in the loop's
        (row-major) order, so the updates of one index add first to last as in
        ``np.add.at`` (the loop is never parallel)."""
        upd, ind = m.inputs
        axis, k = m.params["axis"], ind.ndim
        dims = [f"n{d}" for d in range(axis)] + [f"ns{j}"] + \
            [f"n{d}" for d in range(axis + k, len(self.shape))]
        shape = f"({', '.join(dims)}{',' if len(dims) == 1 else ''})"
        inits.append(f"    o{j} = np.zeros({shape}, {ctor(m.dtype)})")
        at = idx[:axis] + [self._element(ind, idx[axis:axis + k])] + idx[axis + k:]
        self.body.append(f"o{j}[{', '.join(at)}] += {self.read(upd, idx)}")
        outs.append(f"o{j}")

    def _lane_step(self, op, j, acc, val, depth, idx, accs):
        """A float max/min row accumulated in vector lanes (compiler.lanes)."""
        fast, exact = lanes.body(op, j, acc, val)
        start = len(self.body)
        self.body += fast
        self.lanes.update({start: exact, **{start + k: [] for k in range(1, len(fast))}})
        accs[depth] += [(z, "False", None, idx[:depth]) for z in lanes.flags(j)]
        self.closes.setdefault(depth, []).append(
            lanes.close(j, acc, depth, idx[0] if idx else None))

    def _wide(self, op, dtype, depth):
        """Whether a float32 sum accumulates in float64: a parallel loop's own reduction
        (depth 0), which Numba's prange adds one element at a time over a thread's whole
        share (4e6 elements in float32 put reduce_variance off by 1e-3; NumPy sums
        pairwise). A row's sum opened inside the prange loop (depth >= 1) is the
        sequential kernel's reassociable float32 sum (``_accumulate``), bit for bit: in
        float64 lanes it cost twice as much (logsumexp's exp-and-sum kernel, 1024x1024,
        one thread: 1.4 ms against 0.7-0.9 ms)."""
        return self.parallel and op == "add" and np.dtype(dtype) == np.float32 and depth == 0

    def _accumulate(self, op, dtype, acc, val, depth=0):
        # float sums/products: reassoc on the accumulating instruction only (vectorises);
        # a parallel loop's own reduction (depth 0) keeps the `+=` form, which is what
        # Numba's prange reduces over. Accumulators opened inside the prange loop (a row's
        # sum, depth >= 1) are ordinary serial loops: reassociable, so the row's whole
        # body vectorises (softmax's exp-and-sum: 4x faster than one element at a time)
        if op in _REASSOC and np.dtype(dtype).kind == "f" and \
                (not self.parallel or depth >= 1):
            return f"{acc} = {_REASSOC[op]}({acc}, {val})"
        return _ACC[op].format(a=acc, v=val)

    def _near(self, m, v, args):
        """For sin/cos: the line computing ``v`` by the kernel that serves arguments below
        a bound (``NEAR``), and a line flagging an argument that does not."""
        near = NEAR.get(m.prim.name, {}).get(np.dtype(m.dtype))
        if near is not None:
            fn, bound = near
            self.near[len(self.body) - 1] = (
                f"{v} = {ctor(m.dtype)}({fn}({args[0]}))",
                f"far = far | (abs({args[0]}) >= {constant(bound, m.dtype)})")

    def _near_first(self, accs, inits, loops):
        """The loops with sin/cos by their kernels for arguments below a bound, flagging
        any that is not (an OR reduction, so the loop still vectorises); only then
        everything again, outputs and accumulators afresh, with the full kernels (their
        large-argument reduction costs ~3/4 of a float64 sin + cos). The inputs are intact
        for the second pass: no output is written into an input's buffer here."""
        body = []
        for j, line in enumerate(self.body):
            body += list(self.near.get(j, (line,)))
        return (["    far = False"] + self._loops(accs, body) + ["    if far:"] +
                ["    " + line for line in inits + loops])

    def _loops(self, accs, body):
        """Loop nest around ``body``, with accumulators opened and stored at their depth."""
        nd = len(self.shape)
        rng = "prange" if self.parallel else "range"
        bounds = ["nf"] if self.flat else [f"n{d}" for d in range(nd)]
        names = ["i"] if self.flat else [f"i{d}" for d in range(nd)]
        lines = []
        for d, (n, b) in enumerate(zip(names, bounds)):
            pad = "    " * (d + 1)
            lines += [f"{pad}{a} = {init}" for a, init, _, _ in accs.get(d, [])]
            lines += [pad + s for s in self.hoisted.get(d, [])]
            lines.append(f"{pad}for {n} in {rng if d == 0 else 'range'}({b}):")
        depth = len(bounds)
        pad = "    " * (depth + 1)
        lines += [f"{pad}{a} = {init}" for a, init, _, _ in accs.get(depth, [])]
        lines += [pad + s for s in self.hoisted.get(depth, [])]
        lines += [pad + s for s in body]
        for a, _, r, oidx in accs.get(depth, []) if depth else []:
            if r is not None:
                lines.append(f"{pad}o{a[1:]}[{', '.join(oidx)}] = {a}")
        for d in range(depth - 1, -1, -1):
            pad = "    " * (d + 1)
            for a, _, r, oidx in accs.get(d, []):
                if r is not None and r.shape != ():
                    lines.append(f"{pad}o{a[1:]}[{', '.join(oidx)}] = {a}")
            lines += [pad + c for c in self.closes.get(d, [])]
        return lines


def kernel_source(kernel, parallel_threshold, cache=True):
    """(source, args): the kernel's module source and the external nodes it reads, in
    call order. Its return values are ``kernel.stored``, in order."""
    source, args, _ = kernel_code(kernel, parallel_threshold, cache)
    return source, args


def kernel_code(kernel, parallel_threshold, cache=True, dest=(), donors=()):
    """(source, args, extents): as ``kernel_source``, plus the integer extents a caller
    passes after the arrays. Extents are never literals in the source, so kernels of the
    same structure at other shapes (same rank and layout) have the same source. ``dest``:
    (stored position, input index) pairs (``compiler.donation.plan``) whose values the
    kernel writes into arrays ``d<k>`` passed after the arrays it reads, which hold the
    values of nodes ``donors[k]`` on entry (the kernel reads those there).
    Only for flat kernels (``is_flat``)."""
    w = KernelWriter(kernel, parallel_threshold, dest, donors)
    return w.source(cache), w.args, w.extents()


def is_flat(kernel, parallel_threshold):
    """Whether the kernel is one flat loop over contiguous same-shape operands."""
    return KernelWriter(kernel, parallel_threshold).flat


def source_key(source):
    """Stable name of a generated source (its content hash)."""
    return hashlib.sha256(source.encode()).hexdigest()[:24]
