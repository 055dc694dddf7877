"""Native regions: control-flow nodes run their bodies' compiled code.

A region node is a step of its graph's driver; its bodies are graphs compiled like any
other (fused kernels, cached by structure and shape), once, whatever the trip count.
A scan or while_loop whose body only has kernels and matrix products becomes one ``@njit``
function (``compiler.loopgen``): the loop and the calls of the body's kernels are all
native. Other bodies (nested regions, gathers, ...) run from a Python loop here: per
iteration one call of the body's driver. Either way stacked outputs (a scan's ys) are
allocated once and carries pass from one iteration to the next without copies.
"""
import time
import warnings

import numpy as np

from compiler import blas, loopgen, pipeline
from runtime.config import stats
from runtime.executor import CompileWarning, executable


def _parts(graph):
    """A body lowered for the loop: (graph, steps, kernel functions, kernel args, kernel
    extents, kernel sources)."""
    from runtime.config import config
    from runtime.native import kernel_function
    low = pipeline.lower(graph, config.parallel_threshold)
    return (low.graph, low.steps, [kernel_function(k) for k in low.kernels],
            [k.args for k in low.kernels], [k.extents for k in low.kernels],
            [k.source for k in low.kernels])


def _with_sources(call, kernel_sources):
    """``call`` (a native loop) showing its body kernels before its own source."""
    if getattr(call, "source", None):
        call.source = "\n\n".join(list(kernel_sources) + [call.source])
    return call


def _typed_arg(v, spec):
    shape, dtype = spec
    return np.asarray(v, dtype)[()] if shape == () else np.ascontiguousarray(v)


def _load(function_source, env):
    """The compiled loop function. Its kernels are imported from their disk cache modules,
    so the loop is disk-cached too (a new process loads its machine code); kernels held in
    memory only make an in-memory loop."""
    from runtime import diskcache
    from runtime.config import config
    modules = {name: getattr(getattr(fn, "py_func", None), "__module__", "")
               for name, fn in env.items()}
    if config.cache_dir and all(m.startswith("tapejit_k_") for m in modules.values()):
        prelude = "".join(f"from {m} import kernel as {name}\n"
                          for name, m in sorted(modules.items()))
        source = loopgen.module(function_source, prelude, cache=False)
        try:
            return diskcache.load_kernel(source, config.cache_dir)[0], source
        except ImportError:
            pass
    source = loopgen.module(function_source)
    namespace = dict(env)
    exec(compile(source, "<tapejit loop>", "exec"), namespace)
    return namespace["kernel"], source


def _native(node, function_source, env, fallback):
    """Run the generated loop; on any failure to compile it, warn once and use the
    Python loop from then on."""
    specs = [(tuple(x.shape), x.dtype) for x in node.inputs]
    fn, source = _load(function_source, env)
    state = {"first": True}
    if _small_products(node):       # np.dot in the loop: one BLAS thread while it runs
        fn = _single_threaded(fn)

    def run(*ins):
        args = [_typed_arg(v, s) for v, s in zip(ins, specs)]
        if not state["first"]:
            return fn(*args)
        t0 = time.perf_counter()
        try:
            out = fn(*args)
            blas.refresh()          # compiling np.dot may have loaded another BLAS
        except Exception as e:        # the Python loop always works: degrade to it
            warnings.warn(f"tapejit: the {node.prim.name} loop could not be compiled as one "
                          f"native loop ({type(e).__name__}: {str(e)[:2000]}); its body runs "
                          f"from Python", CompileWarning, stacklevel=2)
            state["run"] = fallback
            return fallback(*ins)
        stats.add("compiles")
        stats.add("compile_seconds", time.perf_counter() - t0)
        state["first"] = False
        return out

    def call(*ins):
        return state["run"](*ins) if "run" in state else run(*ins)
    call.source = source            # for inspection (tt.function.explain)
    return call


def _small_products(node):
    """Whether the region's bodies have matrix products, all of them small."""
    sizes = [blas.is_small(n.inputs[0].shape, n.inputs[1].shape)
             for b in ("body", "cond", "body_vjp") if b in node.params
             for n in node.params[b].graph.nodes if n.prim.name == "matmul"]
    return bool(sizes) and all(sizes)


def _single_threaded(fn):
    def run(*args):
        with blas.single_thread(loop=True):
            return fn(*args)
    return run


def _body(body):
    """A callable running ``body`` natively (compiled on its first call)."""
    return executable(body.graph, compile=True)


def _scan(node):
    python = _python_scan(node)
    graph, steps, fns, args, extents, sources = _parts(node.params["body"].graph)
    source = loopgen.scan_source(node, graph, steps, args, extents)
    if source is None:
        return python
    call = _native(node, source, {f"_k{j}": f for j, f in enumerate(fns)}, python)
    return _with_sources(call, sources)


def _python_scan(node):
    p = node.params
    nc, nk, length, types = p["n_consts"], p["n_carry"], p["length"], p["out_types"]
    steps = range(length - 1, -1, -1) if p["reverse"] else range(length)
    body = _body(p["body"])

    def scan(*ins):
        consts, carry, xs = list(ins[:nc]), list(ins[nc:nc + nk]), ins[nc + nk:]
        ys = [np.empty(s, d) for s, d in types[nk:]]
        for t in steps:
            outs = body(*consts, *carry, *[x[t] for x in xs])
            carry = outs[:nk]
            for y, v in zip(ys, outs[nk:]):
                y[t] = v
        return tuple(carry) + tuple(ys)
    return scan


def _cond(node):
    branches = [_body(b) for b in node.params["branches"]]
    last = len(branches) - 1

    def cond(index, *ops):
        return tuple(branches[min(max(int(index), 0), last)](*ops))
    return cond


def _while(node):
    python = _python_while(node)
    p = node.params
    cg, csteps, cfns, cargs, cext, csrc = _parts(p["cond"].graph)
    bg, bsteps, bfns, bargs, bext, bsrc = _parts(p["body"].graph)
    source = loopgen.while_source(node, cg, csteps, cargs, bg, bsteps, bargs, cext, bext)
    if source is None:
        return python
    env = {f"_k{j}": f for j, f in enumerate(bfns)}
    env.update({f"_q{j}": f for j, f in enumerate(cfns)})
    return _with_sources(_native(node, source, env, python), csrc + bsrc)


def _python_while(node):
    p = node.params
    nc, limit = p["n_consts"], p["max_iter"]
    test, body = _body(p["cond"]), _body(p["body"])

    def while_loop(*ins):
        consts, carry, i = list(ins[:nc]), list(ins[nc:]), 0
        while (limit < 0 or i < limit) and test(*consts, *carry)[0]:
            carry = body(*consts, *carry)
            i += 1
        return tuple(carry)
    return while_loop


def _while_grad(node):
    # per-iteration history: the carry each iteration starts from, pushed on a stack that
    # grows by one entry per iteration and is popped by the backward loop
    p = node.params
    nc, limit, types = p["n_consts"], p["max_iter"], p["out_types"]
    nk = len(p["body"].outputs)
    test, body, back = _body(p["cond"]), _body(p["body"]), _body(p["body_vjp"])

    def while_grad(*ins):
        consts, carry, g = list(ins[:nc]), list(ins[nc:nc + nk]), list(ins[nc + nk:])
        stack, i = [], 0
        while (limit < 0 or i < limit) and test(*consts, *carry)[0]:
            stack.append(carry)
            carry = body(*consts, *carry)
            i += 1
        nf = len(g)
        acc = [np.zeros(s, d) for s, d in types[nf:]]
        while stack:
            outs = back(*consts, *stack.pop(), *g)
            g = outs[:nf]
            acc = [a + v for a, v in zip(acc, outs[nf:])]
        return tuple(g) + tuple(np.asarray(a, d) for a, (_, d) in zip(acc, types[nf:]))
    return while_grad


RUNNERS = {"scan": _scan, "cond": _cond, "while_loop": _while, "while_grad": _while_grad}


def runner(node):
    """The native callable for a region node, or None for other nodes."""
    make = RUNNERS.get(node.prim.name)
    return make(node) if make is not None else None
