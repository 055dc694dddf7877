"""The block VM: loop kernels as instructions for one precompiled native interpreter.

Compiling a kernel costs about 20 ms per fused operation (Numba's typing and lowering,
then LLVM), so a graph of 10^4 distinct operations would take many minutes. The block
VM is compiled once per float dtype (from this registry, and cached on disk like a
kernel); a kernel it can run becomes a few integer rows instead of machine code:

- registers are rows of ``BLOCK`` values; a kernel runs block by block over its flat
  extent, each instruction over one block (operands in cache, no Python per operation);
- ``LOADV``/``LOADS``/``CONST`` fill a register from a buffer (per element / its single
  element) or a literal; ``STORE`` writes a register to a buffer; ``RED_*`` fold a
  register into an accumulator, written to its buffer when the kernel ends;
- every elementwise primitive with a ``Scalar`` lowering is one opcode per operand
  kinds (the VM's float dtype or bool, kept as 0/1 in float registers); its body is the
  lowering's own source, so values are those of the compiled kernel bit for bit
  (sums and products accumulate per block, so they may round differently).

A ``Segment`` is a run of consecutive VM kernels, executed by one native call: buffers
that do not leave it live in one arena, placed by liveness. This module writes text and
integer tables only (``compiler.vmsource`` writes the VM's own source); ``runtime.vm``
compiles the VM and runs segments.
"""
import itertools

import numpy as np

from compiler.codegen import KernelWriter
from compiler.fusion import LOOP_REDUCTIONS, Kernel, is_view, moves, view_chain
from compiler.vmsource import (BOOL, CONST, DTYPES, LOADS, LOADV, REDUCE, STORE,
                               table, vm_source)

__all__ = ["vm_source", "table", "vm_dtype", "segments", "encode", "Segment", "Program"]


# -- kernels as instructions ------------------------------------------------------------


def vm_dtype(kernel, parallel_threshold):
    """The float dtype of the VM that can run ``kernel`` (bool when it has no floats:
    any VM can), or None: a flat loop (or a scalar) that is not parallel, over one float
    dtype and bool, whose operations all have opcodes and whose operands are literals or
    buffers of its extent or of one element."""
    if kernel.shape != ():
        w = KernelWriter(kernel, parallel_threshold)
        if not w.flat or w.parallel:
            return None
    size = int(np.prod(kernel.shape, dtype=np.int64))
    floats, members = set(), {id(m) for m in kernel.members}
    for m in kernel.members:
        if is_view(m) and id(m) not in kernel.bound:
            # read (or stored) as it is: an alias of a buffer the kernel can load
            root = _root(m, kernel.bound)
            if root is None or (id(root) not in members and not _loadable(root, size)):
                return None
            continue
        for x in (m,) + tuple(m.inputs):
            if x.dtype.kind == "f":
                floats.add(x.dtype)
            elif x.dtype != BOOL:
                return None
        if m.prim.name in LOOP_REDUCTIONS:
            if m.shape != ():
                return None
        elif (m.prim.name, _kinds(m.inputs), _kind(m)) not in table():
            return None
        for x in m.inputs:
            root = _root(x, kernel.bound)
            if root is None or (id(root) not in members and not _loadable(root, size)):
                return None
    if not floats:
        return BOOL                    # joins any VM (bool is 0/1 in float registers)
    if len(floats) != 1 or next(iter(floats)) not in DTYPES:
        return None
    return next(iter(floats))


def _kind(x):
    return "b" if x.dtype == BOOL else "f"


def _kinds(xs):
    return "".join(_kind(x) for x in xs)


def _root(x, bound):
    """The node a flat loop reads for ``x`` (through views that only alias), or None."""
    for v in view_chain(x, bound):
        if moves(v):
            return None
    while is_view(x) and id(x) not in bound:
        x = x.inputs[0]
    return x


def _literal(x, inputs):
    return (x.prim.name == "literal" and id(x) not in inputs and
            np.ndim(x.params["value"]) == 0)


def _loadable(root, size):
    """A literal scalar (a constant), or a buffer of the kernel's size or of one element."""
    if root.prim.name == "literal":
        return np.ndim(root.params["value"]) == 0
    return root.size in (size, 1)


class Program:
    """A segment's instructions and buffer table, ready for ``runtime.vm``.

    ``code``/``consts`` feed the VM; ``addrs`` holds -(offset + 1) for arena buffers and
    0 where the caller puts an address: ``inputs[k]`` is the slot of the segment's k-th
    argument, ``outputs[k]`` that of its k-th result (node ``stored[k]``)."""

    def __init__(self, dtype, code, consts, sizes, addrs, arena, nregs, nacc, inputs,
                 outputs, results, listing):
        self.dtype, self.code, self.consts = dtype, code, consts
        self.sizes, self.addrs, self.arena = sizes, addrs, arena
        self.nregs, self.nacc = nregs, nacc
        self.inputs, self.outputs = inputs, outputs
        self.results = results          # (shape, dtype) of each result
        self.listing = listing

    @property
    def source(self):
        """The instructions as text (for ``explain``)."""
        return self.listing


class Segment:
    """Consecutive kernels the VM runs in one call: ``args`` are the nodes it reads from
    outside, ``stored`` those it returns (read by later steps or graph outputs)."""

    def __init__(self, kernels, dtype, args, stored):
        self.kernels, self.dtype = kernels, dtype
        self.args, self.stored = args, stored
        self.keys = []                  # the kernels' source keys (set by the pipeline)

    def __repr__(self):
        return f"Segment({len(self.kernels)} kernels, {self.dtype})"


def segments(steps, on_vm, needed_after):
    """``steps`` with each run of consecutive kernels for which ``on_vm(kernel)`` gives
    a dtype (the same one) replaced by a ``Segment``. ``needed_after(nodes, i)``: which
    of ``nodes`` a step from index ``i`` on, or a graph output, reads."""
    out, run, run_dtype = [], [], None

    def close(end):
        if run:
            out.append(_segment(run, run_dtype, needed_after, end))
            run.clear()
    for i, st in enumerate(steps):
        dt = on_vm(st) if isinstance(st, Kernel) else None
        if dt == BOOL:
            dt = run_dtype if run else DTYPES[0]
        if dt is None or (run and dt != run_dtype):
            close(i)
        if dt is None:
            out.append(st)
        else:
            run.append(st)
            run_dtype = dt
    close(len(steps))
    return out


def _segment(kernels, dtype, needed_after, end):
    made, args, seen = set(), [], set()
    for k in kernels:
        members = {id(m) for m in k.members}
        for m in k.members:
            for x in m.inputs:
                root = _root(x, k.bound)
                if (id(root) in members or id(root) in made or id(root) in seen or
                        _literal(root, k.inputs)):
                    continue
                seen.add(id(root))
                args.append(root)
        made.update(id(m) for m in k.stored)
    stored = [m for k in kernels for m in k.stored]
    return Segment(list(kernels), dtype, args, needed_after(stored, end))


def encode(seg):
    """The ``Program`` of a ``Segment``: buffers placed, registers allocated."""
    slots = _Slots(seg)
    consts, const_index, rows = [], {}, []
    names = itertools.count()
    for i, k in enumerate(seg.kernels):
        slots.before(i)
        n = int(np.prod(k.shape, dtype=np.int64))
        body = _KernelCode(k, n, slots, consts, const_index, seg.dtype, names).rows()
        rows.append(([-1, n, len(body), 0, 0], (), ()))
        rows += body
        slots.after(i)
    code, nregs = _allocate(rows)
    nacc = max([r[1] + 1 for r in code if min(REDUCE.values()) <= r[0] <= max(
        REDUCE.values())] + [0])
    listing = _listing(code, consts, slots)
    return Program(seg.dtype, np.array(code, np.int64).reshape(-1, 5),
                   np.array(consts, seg.dtype), np.array(slots.sizes, np.int64),
                   np.array(slots.addrs, np.int64), slots.top, nregs, nacc,
                   slots.inputs, slots.outputs, [(m.shape, m.dtype) for m in seg.stored],
                   listing)


class _Slots:
    """Buffers of a segment: caller-given (arguments and results) and arena buffers,
    placed at offsets reused once their last reader has run."""

    def __init__(self, seg):
        self.index, self.sizes, self.addrs = {}, [], []
        self.inputs = [self._new(x, 0) for x in seg.args]
        self.outputs = [self._new(x, 0) for x in seg.stored]
        last = {}
        for i, k in enumerate(seg.kernels):
            for m in k.members:
                for x in m.inputs:
                    last[id(_root(x, k.bound))] = i
        self.seg, self.last, self.free, self.top, self.dying = seg, last, {}, 0, {}

    def _new(self, node, addr):
        self.index[id(node)] = len(self.sizes)
        self.sizes.append(max(node.size, 1))
        self.addrs.append(addr)
        return len(self.sizes) - 1

    def before(self, i):
        """Place kernel i's arena buffers (on space freed by earlier kernels if it fits)."""
        for m in self.seg.kernels[i].stored:
            if id(m) in self.index:
                continue
            size = max(m.size, 1)
            spare = self.free.get(size)
            if spare:
                offset = spare.pop()
            else:
                offset, self.top = self.top, self.top + size
            self._new(m, -(offset + 1))
            self.dying.setdefault(max(self.last.get(id(m), i), i), []).append((offset, size))

    def after(self, i):
        """Free the arena buffers whose last reader is kernel i."""
        for offset, size in self.dying.pop(i, ()):
            self.free.setdefault(size, []).append(offset)

    def slot(self, node):
        return self.index[id(node)]


class _KernelCode:
    """One kernel's instructions over virtual registers (rows: (row, defs, uses))."""

    def __init__(self, k, n, slots, consts, const_index, dtype, names):
        self.k, self.n, self.slots = k, n, slots
        self.consts, self.const_index, self.dtype = consts, const_index, dtype
        self.reg, self.out, self.names = {}, [], names

    def _vreg(self):
        return ("v", next(self.names))

    def operand(self, x):
        root = _root(x, self.k.bound)
        r = self.reg.get(id(root))
        if r is not None:
            return r
        r = self.reg[id(root)] = self._vreg()
        if _literal(root, self.k.inputs):
            value = np.asarray(root.params["value"]).astype(self.dtype)[()]
            key = value.tobytes()
            if key not in self.const_index:
                self.const_index[key] = len(self.consts)
                self.consts.append(value)
            self.out.append(([CONST, r, self.const_index[key], 0, 0], (r,), ()))
            return r
        slot = self.slots.slot(root)
        op = LOADV if self.slots.sizes[slot] == self.n and self.n != 1 else LOADS
        self.out.append(([op, r, slot, 0, 0], (r,), ()))
        return r

    def rows(self):
        for m in self.k.members:
            stored = any(m is s for s in self.k.stored)
            if is_view(m) and id(m) not in self.k.bound:
                r = self.operand(m)
            elif m.prim.name in LOOP_REDUCTIONS:
                acc = sum(1 for row in self.out if row[0][0] in REDUCE.values())
                src = self.operand(m.inputs[0])
                slot = self.slots.slot(m) if stored else -1
                self.out.append(([REDUCE[LOOP_REDUCTIONS[m.prim.name]], acc, src, slot, 0],
                                 (), (src,)))
                continue
            else:
                srcs = [self.operand(x) for x in m.inputs]
                r = self.reg[id(m)] = self._vreg()
                op = table()[(m.prim.name, _kinds(m.inputs), _kind(m))]
                fields = (srcs + [0, 0, 0])[:3]
                self.out.append(([op, r] + fields, (r,), tuple(srcs)))
            if stored:
                self.out.append(([STORE, self.slots.slot(m), r, 0, 0], (), (r,)))
        return self.out


def _allocate(rows):
    """Rows with virtual registers replaced by physical ones (a register is reused once
    its value's last reader has run); returns (code, number of registers)."""
    last = {}
    for i, (_, _, uses) in enumerate(rows):
        for v in uses:
            last[v] = i
    phys, free, count, code = {}, [], 0, []
    for i, (row, defs, uses) in enumerate(rows):
        row = [phys.get(f, f) if isinstance(f, tuple) else f for f in row]
        for v in set(uses):
            if last[v] == i:
                free.append(phys[v])
        for v in defs:
            if free:
                phys[v] = free.pop()
            else:
                phys[v] = count
                count += 1
            row[row.index(v)] = phys[v]
            if v not in last:
                free.append(phys[v])
        code.append(row)
    return code, count


def _listing(code, consts, slots):
    """The segment's instructions as text: r<k> registers, b<k> buffers, a<k> sums."""
    sigs = {op: sig for sig, op in table().items()}
    folds = {v: k for k, v in REDUCE.items()}
    where = {s: f"argument {k}" for k, s in enumerate(slots.inputs)}
    where.update({s: f"result {k}" for k, s in enumerate(slots.outputs)})
    lines = [f"# block VM segment ({len(slots.sizes)} buffers, arena {slots.top} values): " +
             ", ".join(f"b{k} = {where.get(k, 'arena')} [{slots.sizes[k]}]"
                       for k in range(len(slots.sizes)))]
    for op, d, a, b, e in code:
        if op == -1:
            lines.append(f"kernel over {d} values, {a} instructions:")
        elif op == LOADV:
            lines.append(f"    r{d} = b{a}[i]")
        elif op == LOADS:
            lines.append(f"    r{d} = b{a}[0]")
        elif op == CONST:
            lines.append(f"    r{d} = {float(consts[a])!r}")
        elif op == STORE:
            lines.append(f"    b{d}[i] = r{a}")
        elif op in folds:
            lines.append(f"    a{d} = {folds[op]}(a{d}, r{a})" + (f"; b{b}[0] = a{d} at the end"
                                                                 if b >= 0 else ""))
        else:
            name, kinds, _ = sigs[op]
            args = ", ".join(f"r{r}" for r in (a, b, e)[:len(kinds)])
            lines.append(f"    r{d} = {name}({args})")
    return "\n".join(lines)
