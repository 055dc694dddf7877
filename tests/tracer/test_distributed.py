"""tt.distributed.value_and_grad on a LocalCluster with 2 worker processes."""
import logging
import os
import pickle
import runpy
import signal
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import tracer as tt

distributed = pytest.importorskip("distributed")
da = pytest.importorskip("dask.array")

ROWS, FEATURES, CHUNK = 400, 4, 100
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def loss(p, X, y):
    """Logistic loss summed over the chunk's rows."""
    z = tt.tensordot(X, p["w"], 1) + p["b"]
    return tt.reduce_sum(tt.softplus(z) - y * z)


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=":0", silence_logs=logging.ERROR)
    client = distributed.Client(cluster)
    # the workers run this checkout's tracer, not another installed copy
    assert set(client.run(lambda: tt.__file__).values()) == {tt.__file__}
    yield client
    client.close()
    cluster.close()


@pytest.fixture(scope="module")
def arrays():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(ROWS, FEATURES))
    y = (rng.random(ROWS) < 0.5).astype(np.float64)
    return X, y


def dask_data(client, X, y, rows):
    return (da.from_array(X[:rows], chunks=(CHUNK, -1)).persist(),
            da.from_array(y[:rows], chunks=CHUNK).persist())


def params():
    return {"w": tt.constant(np.linspace(-0.5, 0.5, FEATURES)),
            "b": tt.constant(0.1, dtype=tt.float64)}


def assert_close(got, want, rtol=1e-6):
    got_leaves, want_leaves = tt.nest.flatten(got)[0], tt.nest.flatten(want)[0]
    assert len(got_leaves) == len(want_leaves)
    for a, b in zip(got_leaves, want_leaves):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=rtol)


@pytest.mark.parametrize("rows", [ROWS, ROWS - CHUNK // 2], ids=["even", "ragged"])
def test_value_and_grad_equal_single_process_on_concatenated_data(client, arrays, rows):
    X, y = arrays
    dX, dy = dask_data(client, X, y, rows)
    value, grad = tt.distributed.value_and_grad(loss)(params(), dX, dy)
    want = tt.value_and_grad(loss)(params(), tt.constant(X[:rows]), tt.constant(y[:rows]))
    assert_close((value, grad), want)


def test_workers_compile_each_signature_once_and_reuse_it(client, arrays):
    X, y = arrays
    dX, dy = dask_data(client, X, y, ROWS - CHUNK // 2)     # chunks 100, 100, 100, 50
    g = tt.distributed.value_and_grad(loss, argnums=(0,))
    p = [tt.constant(np.zeros(FEATURES)), tt.constant(0.0, dtype=tt.float64)]
    step = lambda p: g({"w": p[0], "b": p[1]}, dX, dy)      # noqa: E731
    _, (grad,) = step(p)
    first = {a: i for a, i in g.cache_info(client).items() if i is not None}
    assert first and all(i.misses <= 2 and i.size == i.misses for i in first.values())
    for _ in range(2):
        _, (grad,) = step([p[0] - 0.01 * grad["w"], p[1] - 0.01 * grad["b"]])
    again = {a: i for a, i in g.cache_info(client).items() if i is not None}
    # each worker traces each chunk shape (100 or 50 rows) at most once, whichever chunks
    # the scheduler gave it (under load it may move a task off its chunk's worker)
    assert all(i.misses <= 2 and i.size == i.misses for i in again.values())
    assert all(again[a].misses >= i.misses for a, i in first.items())
    assert sum(i.hits + i.misses for i in again.values()) == 3 * 4


def test_each_chunk_is_computed_where_it_lives(client, arrays):
    X, y = arrays
    dX, dy = dask_data(client, X, y, ROWS)
    g = tt.distributed.value_and_grad(loss)
    g(params(), dX, dy)
    homes = client.who_has(client.futures_of(dX))
    with distributed.get_task_stream(client) as stream:
        g(params(), dX, dy)
    ran = {int(r["key"].rsplit("-", 1)[1]): r["worker"] for r in stream.data
           if str(r["key"]).startswith("tt-partial")}
    assert sorted(ran) == [0, 1, 2, 3]
    assert all(w in homes[(dX.name, i, 0)] for i, w in ran.items())


def test_the_example_trains_on_the_cluster(client):
    example = runpy.run_path(os.path.join(ROOT, "examples", "distributed_logistic.py"),
                             run_name="distributed_logistic")
    lines = []
    p, rates = example["train"](client, rows=2000, chunk=500, steps=3, log=lines.append)
    losses = [float(line.split("mean loss")[1].split()[0]) for line in lines[1:]]
    assert len(losses) == len(rates) == 3 and losses[2] < losses[0]
    assert p["w"].shape == (example["FEATURES"],) and p["w"].dtype == tt.float32


@pytest.mark.parametrize("inline", [True, False], ids=["params-in-tasks", "params-key"])
def test_training_trajectory_equals_the_local_one(client, arrays, inline, monkeypatch):
    if not inline:      # large parameters travel as one key, fetched once per worker
        monkeypatch.setattr(tt.distributed, "_INLINE_BYTES", 0)
    X, y = arrays
    dX, dy = dask_data(client, X, y, ROWS - CHUNK // 2)
    remote, local = tt.distributed.value_and_grad(loss), tt.value_and_grad(loss)
    Xt, yt = tt.constant(X[:ROWS - CHUNK // 2]), tt.constant(y[:ROWS - CHUNK // 2])
    p_remote = p_local = params()
    for _ in range(4):
        v_remote, g_remote = remote(p_remote, dX, dy)
        v_local, g_local = local(p_local, Xt, yt)
        np.testing.assert_allclose(v_remote.numpy(), v_local.numpy(), rtol=1e-6)
        p_remote = {k: p_remote[k] - 0.002 * g_remote[k] for k in p_remote}
        p_local = {k: p_local[k] - 0.002 * g_local[k] for k in p_local}
    assert_close(p_remote, p_local)


def test_distributed_function_pickles(client):
    g = tt.distributed.value_and_grad(loss, split_every=3)
    back = pickle.loads(pickle.dumps(g))
    assert back is g
    assert back._split_every == 3


def test_misaligned_or_wrongly_chunked_data_is_a_clear_error(client, arrays):
    X, y = arrays
    g = tt.distributed.value_and_grad(loss)
    dX = da.from_array(X, chunks=(CHUNK, -1))
    with pytest.raises(ValueError, match=r"different row chunks: \(100, 100, 100, 100\) vs "
                                         r"\(50, 50, 50, \.\.\., 50; 8 chunks\)"):
        g(params(), dX, da.from_array(y, chunks=50))
    with pytest.raises(ValueError, match=r"also chunked along axis 1.*rechunk\(\{1: -1\}\)"):
        g(params(), da.from_array(X, chunks=(CHUNK, 2)), da.from_array(y, chunks=CHUNK))
    with pytest.raises(TypeError, match="data argument 1 is a ndarray; expected a Dask"):
        g(params(), dX, y)
    with pytest.raises(ValueError, match="argnums must be 0"):
        tt.distributed.value_and_grad(loss, argnums=1)
    value, _ = g(params(), dX, da.from_array(y, chunks=CHUNK))    # still works afterwards
    assert np.isfinite(value.numpy())


@pytest.mark.slow
def test_a_worker_killed_mid_step_does_not_lose_the_step(client, arrays):
    X, y = arrays

    def slow_loss(p, X, y):
        time.sleep(1.0)         # runs while tracing: once per worker and chunk signature
        return loss(p, X, y)

    dX, dy = dask_data(client, X, y, ROWS)
    want = tt.value_and_grad(loss)(params(), tt.constant(X), tt.constant(y))
    pids = client.run(os.getpid)
    g = tt.distributed.value_and_grad(slow_loss)
    with ThreadPoolExecutor(1) as pool:
        step = pool.submit(g, params(), dX, dy, client=client)
        victim = _busy_worker(client, pids, step)
        os.kill(pids[victim], signal.SIGKILL)
        assert not step.done(), "the step finished before the worker was killed"
        value, grad = step.result(timeout=300)
    assert victim not in client.scheduler_info()["workers"]
    assert_close((value, grad), want)


def _busy_worker(client, pids, step):
    """A worker that is computing a chunk of the running step."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not step.done():
        for address, keys in client.processing().items():
            if address in pids and any(str(k).startswith("tt-partial") for k in keys):
                return address
        time.sleep(0.02)
    raise AssertionError("no worker was seen computing a chunk of the step")
