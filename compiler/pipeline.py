"""The whole compile pipeline: graph -> optimised graph -> kernels + driver source.

Every stage is a plain function listed with one line on what it does. ``optimize`` is
used by every graph (the interpreter tier runs its result); ``lower`` turns an optimised
graph into the Numba source the native tier compiles. ``runtime`` only compiles, caches
and runs what ``lower`` returns, and ``tt.function.explain`` prints that same ``Lowered``.
"""
import functools
from dataclasses import dataclass

from compiler import codegen, donation, driver, fusion, region_pass, rewrites, sums, vm
from compiler import primitives as P
from compiler.ir import Graph

PASSES = [
    # control flow: every pass applied inside region bodies, loop-invariant work hoisted
    # out of scan bodies, a forward scan shared with the one storing gradient residuals
    ("regions", lambda graph: region_pass.simplify_regions(graph, optimize)),
    # CSE, constant folding and IEEE-safe identities in one hash-consing walk; DCE falls
    # out of rebuilding only what the outputs reach. One walk reaches a fixed point: rules
    # run on each node until none fires and later nodes only ever see canonical inputs
    # (tests/compiler/test_rewrites.py checks that a second walk changes nothing).
    ("simplify", rewrites.rewrite),
    # a sum of many products transpose(a_t) @ b_t (a shared weight's gradient) as one
    # product of the operands stacked by rows
    ("sums", sums.merge),
]

LOWERING = [
    ("checked indices", "gathers and scatter_adds read their indices through checked_index "
                        "(bounds checked, made non-negative, by the driver), so loops read "
                        "gathers as views (x[idx[i], j]) instead of a gathered copy and "
                        "add scatter_add updates in place (_with_checked_indices)"),
    ("rematerialize", "recompute cheap elementwise producers inside loops instead of "
                      "storing them (fusion.rematerialize)"),
    ("partition", "split the graph into loop-nest kernels and NumPy calls, in run order "
                  "(fusion.partition)"),
    ("kernels", "one Numba module source per kernel, extents and literal values passed "
                "at run time so it serves every shape (codegen.kernel_code)"),
    ("donate", "outputs the caller lets overwrite an input's buffer: the kernel storing "
               "one writes it there when no later step reads the old value "
               "(donation.plan)"),
    ("driver", "straight-line Python calling kernels K<j> and calls C<j> in order "
               "(driver.driver_source)"),
    ("vm", "optional (on_vm): runs of kernels that would otherwise compile become block-VM "
           "segments, instructions for one precompiled interpreter (compiler.vm)"),
]


def optimize(graph):
    """The graph after every pass in ``PASSES``."""
    for _name, fn in PASSES:
        graph = fn(graph)
    return graph


@dataclass(frozen=True)
class KernelSource:
    """One kernel's module source (its ``kernel`` function), the nodes it reads and the
    extents and literal values passed after them."""
    kernel: fusion.Kernel
    source: str                 # without cache=: runtime attaches its own disk cache
    args: tuple
    extents: tuple
    parallel_threshold: int
    dest: tuple = ()            # (stored position, input index): written into d<k>

    @property
    def extent_names(self):
        """The names of ``extents`` in the kernel's signature: ``n<d>`` (extents), ``nf``
        (the flat size), ``c<k>`` (literal values)."""
        head = self.source[self.source.index("def kernel(") + 11:]
        params = [p.strip() for p in head[:head.index(")")].split(",")]
        return [p for p in params if p and p[0] in "nc"]

    @functools.cached_property
    def key(self):
        """Content hash: kernels with equal source are one compiled function (computed
        once: every run of a program built from a shape template looks it up)."""
        return codegen.source_key(self.source)


@dataclass(frozen=True)
class Lowered:
    """What the native tier runs: the graph it lowered, its steps (``fusion.Kernel`` and
    ``fusion.Call``), the kernel sources in step order and the driver source, with the
    values of its globals (``driver.Driver``: extents ``e<j>_<k>``, literals ``L<i>``)."""
    graph: object
    steps: list
    kernels: list
    driver: str
    driver_values: dict
    driver_literals: dict

    @property
    def calls(self):
        return [st for st in self.steps if isinstance(st, fusion.Call)]

    def source(self):
        """Every kernel module and the driver, as one text."""
        return "\n\n".join([k.source for k in self.kernels] + [self.driver])


def prepare(graph):
    """The graph ``lower`` partitions: gradient masks dropped, gather indices checked,
    cheap inputs rematerialised (``runtime.templates`` instantiates the same)."""
    return fusion.rematerialize(_with_checked_indices(_without_gradient_masks(graph)))


def lower(graph, parallel_threshold):
    """The stages of ``LOWERING`` applied to an optimised graph."""
    graph = prepare(graph)
    steps = fusion.partition(graph)
    kernels = []
    for st in steps:
        if isinstance(st, fusion.Kernel):
            source, args, extents = codegen.kernel_code(st, parallel_threshold, cache=False)
            kernels.append(KernelSource(st, source, tuple(args), tuple(extents),
                                        parallel_threshold))
    if graph.donate:
        kernels = _donating(graph, steps, kernels, parallel_threshold)
    drv = driver.driver_source(graph, steps, [list(k.args) for k in kernels],
                               [list(k.extents) for k in kernels],
                               [k.dest for k in kernels])
    return Lowered(graph, steps, kernels, drv.source, drv.values, drv.literals)


def _donating(graph, steps, kernels, parallel_threshold):
    """``kernels`` with those that store a donated output written again to store it in
    the input's buffer (``donation.plan``)."""
    flat = [codegen.is_flat(ks.kernel, parallel_threshold) for ks in kernels]
    dests = donation.plan(graph, steps, [ks.args for ks in kernels], flat)
    out = list(kernels)
    for k, dest in dests.items():
        ks = kernels[k]
        donors = tuple(graph.inputs[j] for _, j in dest)
        source, args, extents = codegen.kernel_code(ks.kernel, parallel_threshold,
                                                    cache=False, dest=dest, donors=donors)
        out[k] = KernelSource(ks.kernel, source, tuple(args), tuple(extents),
                              parallel_threshold, dest)
    return out


def on_vm(lowered, use, parallel_threshold):
    """``lowered`` with each run of consecutive kernels that ``use(kernel_source)`` picks
    and the block VM can run replaced by one VM segment (``vm.Program`` in ``kernels``,
    ``vm.Segment`` in ``steps``); the driver is written again."""
    sources = {id(ks.kernel): ks for ks in lowered.kernels}
    last, outputs = {}, {id(o) for o in lowered.graph.outputs}
    for i, st in enumerate(lowered.steps):
        reads = st.node.inputs if isinstance(st, fusion.Call) else sources[id(st)].args
        for x in reads:
            last[id(x)] = i

    def pick(k):
        return vm.vm_dtype(k, parallel_threshold) if use(sources[id(k)]) else None

    def needed_after(nodes, end):
        return [m for m in nodes if last.get(id(m), -1) >= end or id(m) in outputs]
    steps = vm.segments(lowered.steps, pick, needed_after)
    kernels, args, extents, dests = [], [], [], []
    for st in steps:
        if isinstance(st, vm.Segment):
            st.keys = [sources[id(k)].key for k in st.kernels]
            kernels.append(vm.encode(st))
            args.append(list(st.args))
            extents.append([])
            dests.append(())
        elif not isinstance(st, fusion.Call):
            ks = sources[id(st)]
            kernels.append(ks)
            args.append(list(ks.args))
            extents.append(list(ks.extents))
            dests.append(ks.dest)
    drv = driver.driver_source(lowered.graph, steps, args, extents, dests)
    return Lowered(lowered.graph, steps, kernels, drv.source, drv.values, drv.literals)


def _gradient_mask(n):
    # select(c, x, stop_gradient(x)): x in value, differentiable only where c holds (the
    # operands of a vmapped branch or loop step, compiler.primitives.region_batch)
    return n.prim.name == "select" and n.inputs[2].prim.name == "stop_gradient" and \
        n.inputs[2].inputs[0] is n.inputs[1]


def _unmask(n):
    return n.inputs[1] if _gradient_mask(n) else None


def _without_gradient_masks(graph):
    """``graph`` computing ``x`` for each gradient mask: lowered code only runs, it is never
    differentiated (the optimised graph, which tapes and enclosing traces differentiate,
    keeps them), so the mask's copy (of a captured weight per example, at every step of
    a vmapped while_loop) is not made."""
    if not any(_gradient_mask(n) for n in graph.nodes):
        return graph
    out = rewrites.rewrite(graph, rules=[_unmask])
    return Graph(out.inputs, out.outputs, out.nodes, donate=graph.donate)


def _with_checked_indices(graph):
    """``graph`` with every gather and scatter_add reading its indices through
    ``checked_index``: loops read a gather as a view (``x[idx[i], j]``, no gathered copy)
    and add a scatter_add's updates in place (``fusion.is_sink``) only at indices known
    to be in range and non-negative; the check raises the IndexError the op's NumPy
    implementation does. A scatter_add of the indices a gather reads along an axis of
    the same size (the gather's gradient) shares the gather's check: one pass over the
    indices, and the gather's error, which it raised first before too."""
    ops = [n for n in graph.nodes if n.prim.name in ("gather", "scatter_add")]
    if not ops:
        return graph
    gathered = {}                       # (indices, size) -> a gather's axis
    for n in ops:
        if n.prim.name == "gather":
            gathered.setdefault((id(n.inputs[1]), n.inputs[0].shape[n.params["axis"]]),
                                n.params["axis"])

    def checked(n):
        name = n.prim.name
        if name not in ("gather", "scatter_add") or n.inputs[1].prim.name == "checked_index":
            return None
        x, idx = n.inputs
        axis = n.params["axis"]
        size = x.shape[axis] if name == "gather" else n.params["size"]
        at, op = (gathered[id(idx), size], "gather") if (id(idx), size) in gathered else \
            (axis, name)
        return n.prim(x, P.checked_index(idx, axis=at, size=size, op=op), **n.params)

    out = rewrites.rewrite(graph, rules=[checked])
    return Graph(out.inputs, out.outputs, out.nodes, donate=graph.donate)
