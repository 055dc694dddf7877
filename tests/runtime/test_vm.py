"""The block VM (compiler.vm, runtime.vm): every opcode against the interpreter and the
compiled kernels, segments of many kernels at block edges and empty extents, and the
policy that sends a graph there (tt.config.vm_threshold)."""
from collections import OrderedDict

import numpy as np
import pytest

import runtime
import tracer as tt
from compiler import Graph, pipeline, vm
from compiler import primitives as P
from runtime.config import config
from runtime.native import NativeProgram

GRID = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -1.0, 0.5, -2.5, 1e-300, 3.0,
                 -7.25, 2.0, 0.75])


def _on_vm(graph):
    """The graph's native program with every kernel the VM can run on the VM."""
    lowered = pipeline.on_vm(pipeline.lower(graph, config.parallel_threshold),
                             lambda ks: True, config.parallel_threshold)
    return NativeProgram(graph, lowered)


def _graph(fn, *args):
    """The graph ``tt.function(fn)`` traces for these arguments."""
    f = tt.function(fn)
    key, _ = f._signature(args, {})
    return f._entry(key, args, {}).graph


@pytest.fixture
def settings():
    """Set tt.config values for one test."""
    saved = dict(object.__getattribute__(config, "_values"))
    yield config
    config.update(vm_threshold=saved["vm_threshold"], jit_threshold=saved["jit_threshold"])


def _segments(program):
    return [st for st in program.lowered.steps if isinstance(st, vm.Segment)]


def _every_opcode(dtype):
    """One graph applying every opcode of the table to grid operands; its inputs."""
    x, y = (g.reshape(-1).astype(dtype) for g in np.meshgrid(GRID, GRID, indexing="ij"))
    values = {"f": (x, y), "b": (x > 0, y < 0)}
    inputs, arrays, outputs = [], [], []
    for (name, kinds, out), _ in vm.table().items():
        nodes = []
        for k, kind in enumerate(kinds):
            a = values[kind][k % 2]
            arrays.append(a)
            inputs.append(P.input(shape=a.shape, dtype=a.dtype))
            nodes.append(inputs[-1])
        attrs = {"dtype": np.dtype(bool) if out == "b" else np.dtype(dtype)} \
            if name == "cast" else {}
        outputs.append(P.PRIMITIVES[name](*nodes, **attrs))
    for red in ("reduce_sum", "reduce_prod", "reduce_max", "reduce_min"):
        for a in (x[3:9], x):              # without and with NaN
            arrays.append(a)
            inputs.append(P.input(shape=a.shape, dtype=a.dtype))
            outputs.append(P.PRIMITIVES[red](inputs[-1], axes=(0,)))
    return Graph(inputs, outputs), arrays


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.slow
def test_vm_runs_every_opcode_as_the_compiled_kernels_and_the_interpreter(dtype):
    graph, arrays = _every_opcode(dtype)
    program = _on_vm(graph)
    assert _segments(program) and not any(isinstance(st, pipeline.fusion.Kernel)
                                          for st in program.lowered.steps)
    with np.errstate(all="ignore"):
        got = program.run(*arrays)
        want = runtime.evaluate(graph, arrays, "interpret")
    rtol = 1e-12 if dtype == "float64" else 4e-6
    for g, w, o in zip(got, want, graph.outputs):
        g, w = np.asarray(g), np.asarray(w)
        what = f"{o.prim.name} {[str(x.dtype) for x in o.inputs]}"
        assert g.dtype == w.dtype and g.shape == w.shape, what
        if w.dtype.kind != "f":
            np.testing.assert_array_equal(g, w, err_msg=what)
        else:
            np.testing.assert_allclose(g, w, rtol=rtol, atol=rtol, equal_nan=True,
                                       err_msg=what)


def test_vm_elementwise_values_are_the_kernels_bit_for_bit():
    # the VM's opcodes are the lowerings' own source: the same machine operations. One
    # chain of operations fuses into one kernel, so the reference costs one compile.
    def chain(x, y):
        t = x
        for op in (tt.sin, tt.cos, tt.tanh, tt.exp, tt.sigmoid, tt.softplus, tt.erf,
                   tt.atan, tt.expm1, tt.sinh):
            t = op(t) * y + x
        t = tt.sqrt(tt.abs(t)) + tt.log1p(tt.abs(t)) - tt.maximum(t, y) / (1.5 + y * y)
        return tt.where(t > y, t ** 3.0, tt.floor(t) - tt.minimum(x, t) ** y)
    x, y = (g.reshape(-1) for g in np.meshgrid(GRID, GRID, indexing="ij"))
    graph = _graph(chain, tt.constant(x), tt.constant(y))
    with np.errstate(all="ignore"):
        on_vm = np.asarray(_on_vm(graph).run(x, y)[0])
        compiled = np.asarray(runtime.evaluate(graph, [x, y], "compiled")[0])
    assert np.array_equal(on_vm, compiled, equal_nan=True)
    assert np.array_equal(np.signbit(on_vm), np.signbit(compiled))


def _chain(x, y, s):
    """Many kernels: reductions between elementwise runs, a scalar operand, a mask."""
    v = [x, y]
    for k in range(12):
        a, b = v[-1], v[-2]
        if k % 4 == 0:
            v.append(a - tt.reduce_mean(a))
        elif k % 4 == 1:
            v.append(tt.where(a > b, tt.tanh(a) * s, tt.exp(-b * b)))
        elif k % 4 == 2:
            v.append(tt.maximum(a, b * 0.5) + tt.sqrt(a * a + 1.0))
        else:
            v.append(tt.sin(a) / (1.0 + tt.abs(b)) + tt.reduce_sum(b * b) * 0.01)
    return tt.reduce_sum(v[-1]) + tt.reduce_sum(v[-3] * v[-2]), v[-1], v[-2] > 0


@pytest.mark.parametrize("n", [0, 1, 7, 256, 257, 1000])
def test_vm_segments_agree_with_the_interpreter_across_block_edges(n):
    rng = np.random.default_rng(n)
    x, y = rng.normal(size=n), rng.normal(size=n)
    graph = _graph(_chain, tt.constant(x), tt.constant(y), tt.constant(1.5))
    args = [x, y, np.float64(1.5)]
    program = _on_vm(graph)
    assert _segments(program)
    with np.errstate(all="ignore"):
        got = program.run(*args)
        want = runtime.evaluate(graph, args, "interpret")
    for g, w in zip(got, want):
        g, w = np.asarray(g), np.asarray(w)
        assert g.dtype == w.dtype and g.shape == w.shape
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-12)


@pytest.mark.slow
def test_kernels_storing_shifted_views_stay_off_the_vm():
    """A kernel that stores a view whose index moves (x[1:] of a batched Hessian row) is
    not a flat loop the VM can load: it stays compiled, and the program agrees with the
    interpreter (it used to fail to encode and run interpreted)."""
    def f(x):
        return tt.reduce_sum(tt.sin(x) ** 2 * tt.exp(-x)) + tt.reduce_sum(tt.tanh(x[1:] * x[:-1]))
    def rows(x):                # the Hessian one reverse sweep per row
        return tt.stack([tt.grad(lambda x, k=k: tt.grad(f)(x)[k])(x) for k in range(9)])
    x = np.linspace(-1.0, 1.0, 9)
    graph = _graph(rows, tt.constant(x))
    program = _on_vm(graph)
    got = program.run(x)
    want = runtime.evaluate(graph, [x], "interpret")
    np.testing.assert_allclose(np.asarray(got[0]), np.asarray(want[0]), rtol=1e-13, atol=1e-13)


def test_vm_threshold_sends_graphs_with_many_new_kernels_to_the_vm(monkeypatch, settings):
    # kernels already compiled (or on disk) keep running compiled; the rest go to the VM
    # only when there are more than vm_threshold of them
    x = tt.constant(np.linspace(-2, 2, 50))
    graph = _graph(_chain, x, x, tt.constant(2.0))
    on_disk = set()
    monkeypatch.setattr("runtime.diskcache.on_disk", lambda source, d: source in on_disk)
    monkeypatch.setattr("runtime.native._kernels", OrderedDict())   # none compiled yet

    def segments(threshold):
        settings.vm_threshold = threshold
        return [st for st in NativeProgram(graph).lowered.steps
                if isinstance(st, vm.Segment)]
    assert segments(0)
    assert not segments(10_000)
    on_disk.update(ks.source for ks in pipeline.lower(graph, config.parallel_threshold).kernels)
    assert not segments(0)                    # nothing to compile: compiled kernels run


def test_vm_serves_compiled_gradients_of_a_large_function(settings):
    # a function whose gradient needs more new kernels than the threshold runs on the VM,
    # with the interpreter's values
    def f(x):
        return tt.reduce_sum(_chain(x, tt.cos(x), 0.5)[0] * x)
    x = tt.constant(np.linspace(-1.5, 1.5, 300))
    settings.jit_threshold = 10 ** 9
    want = tt.function(tt.grad(f))(x).numpy()
    settings.update(jit_threshold=1, vm_threshold=0)
    g = tt.function(tt.grad(f))
    got = g(x).numpy()
    exe = next(iter(g._entries.values())).exe
    assert exe.native is not None and any(
        isinstance(st, vm.Segment) for st in exe.native.lowered.steps)
    np.testing.assert_allclose(got, want, rtol=1e-11, atol=1e-12)


def test_a_long_running_program_on_the_vm_gets_its_kernels_compiled(monkeypatch, settings):
    # once the time spent on the VM reaches the compile estimate, the kernels compile and
    # take over, with the same values
    monkeypatch.setattr("runtime.executor.SECONDS_PER_KERNEL", 0.0)
    monkeypatch.setattr("runtime.native._with_vm", lambda low: pipeline.on_vm(
        low, lambda ks: True, config.parallel_threshold))     # even if compiled before
    settings.update(jit_threshold=1)
    # grids not symmetric about 0: there the chain's first mean is a sum of cancelling
    # terms whose sign (and so every later select) depends on the summation order
    x = tt.constant(np.linspace(-2, 2.5, 64))
    f = tt.function(lambda x: _chain(x, tt.sin(x), 0.25)[0])
    first = f(x).numpy()
    exe = next(iter(f._entries.values())).exe
    assert exe.native.vm_kernels > 0
    second = f(x).numpy()                 # on the VM; reaches the estimate: compiles
    assert exe.native.vm_kernels == 0 and not _segments(exe.native)
    third = f(x).numpy()
    np.testing.assert_allclose(second, first, rtol=1e-12)
    np.testing.assert_allclose(third, first, rtol=1e-12)
    # the compiled program is the template for other lengths: native at once, no VM
    y = tt.constant(np.linspace(-1, 1.5, 80))
    got = f(y).numpy()
    other = next(e.exe for e in f._entries.values() if e.exe is not exe)
    assert other.native is not None and other.native.vm_kernels == 0
    settings.jit_threshold = 10 ** 9
    want = tt.function(lambda x: _chain(x, tt.sin(x), 0.25)[0])(y).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-12)
