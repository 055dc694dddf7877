"""``tt.distributed``: data-parallel gradients on Dask (``dask.distributed``).

``value_and_grad(fn)(params, *data)`` sums ``fn(params, *chunks)`` and its gradient over
the row chunks of Dask arrays, on the workers that hold the chunks.

Invariants:
- One step is one Dask graph: one task per row chunk, carrying the compiled
  ``tt.value_and_grad(fn)`` and the parameters (or, above 1 MiB, a key holding them,
  sent once per worker), restricted to the workers holding the chunk (so persisted data
  does not move; other workers only if those are gone), and a tree of sums
  (``split_every`` partials per node) computed on the workers; only the final
  (value, gradient) comes back.
- The per-chunk function pickles by token (``tracer.serialize``): each worker process
  rebuilds it once and keeps it, so each chunk signature (the ragged last chunk is a
  second one) is traced and compiled once per worker and reused by every later step.
- Dask owns fault tolerance: a task lost with its worker is rerun elsewhere and lost
  chunks are recomputed from their graph; the sums are a fixed tree, so the result
  does not depend on which worker ran what.
"""
import importlib
import uuid

import numpy as np

from tracer import nest, serialize, transforms
from tracer.convert import convert_to_tensor
from tracer.recording import make
from tracer.tensor import Tensor
from tracer.variable import Variable

_INSTALL = "pip install 'tapejit[distributed]'"
_INLINE_BYTES = 1 << 20     # smaller parameters travel inside each chunk's task


def value_and_grad(fn, argnums=0, split_every=8):
    """Data-parallel ``tt.value_and_grad`` over Dask arrays chunked along axis 0.

    ``fn(params, *chunks)`` must return a scalar that is a sum over the chunk's rows. The
    result ``g(params, *data, client=None)`` returns ``(value, grad)``: the sums over all
    chunks, ``grad`` shaped like ``params`` (a tensor or a pytree of them). ``client`` is
    a ``dask.distributed.Client`` (default: the current one).

    >>> g = tt.distributed.value_and_grad(loss)
    >>> value, grad = g(w, X, y)        # X, y: dask arrays with the same row chunks
    """
    return DistributedValueAndGrad(fn, argnums, split_every)


class DistributedValueAndGrad:
    """What ``tt.distributed.value_and_grad`` returns (picklable, like the transforms)."""

    def __init__(self, fn, argnums=0, split_every=8):
        if not callable(fn):
            raise TypeError(f"tt.distributed.value_and_grad: expected a callable, got "
                            f"{type(fn).__name__}")
        if argnums not in (0, (0,)):
            raise ValueError(f"tt.distributed.value_and_grad: argnums must be 0 (the "
                             f"parameters; the other arguments are data chunks), got "
                             f"{argnums!r}; pass several parameters as one pytree")
        if not isinstance(split_every, int) or split_every < 2:
            raise ValueError(f"tt.distributed.value_and_grad: split_every must be an int "
                             f">= 2, got {split_every!r}")
        self._local = transforms.value_and_grad(fn, argnums)
        self._tuple = isinstance(argnums, tuple)
        self._split_every = split_every
        self._recipe = (value_and_grad, (fn, argnums, split_every), {})
        name = getattr(fn, "__name__", type(fn).__name__)
        self.__name__ = self.__qualname__ = f"distributed.value_and_grad({name})"
        self.__wrapped__ = fn

    def __call__(self, params, *data, client=None):
        client = _client(client, self.__name__)
        flat, rebuild = _params(params, self.__name__)
        future = client.compute(self._graph(flat, rebuild, data, client),
                                optimize_graph=False)
        value, grads = future.result()
        g = rebuild([make(np.asarray(x)) for x in grads])
        return make(np.asarray(value)), ((g,) if self._tuple else g)

    def _graph(self, flat, rebuild, data, client):
        """The Dask graph of one step, as one ``Delayed`` of (value, flat gradients)."""
        dask = _optional("dask")
        blocks = _row_blocks(data, self.__name__)
        homes = _homes(client, data)
        step = uuid.uuid4().hex[:12]
        fn, p = self._local, rebuild(flat)
        if sum(x.nbytes for x in flat) > _INLINE_BYTES:     # sent once per worker
            p = dask.delayed(p, traverse=False, name=f"tt-params-{step}")
        part = dask.delayed(_chunk_partial, pure=True)
        parts = []
        for i, chunks in enumerate(zip(*blocks)):
            # run where the chunk lives (elsewhere only if those workers are gone)
            with dask.annotate(**({"workers": homes[i], "allow_other_workers": True}
                                  if homes[i] else {})):
                parts.append(part(fn, p, *chunks, dask_key_name=f"tt-partial-{step}-{i}"))
        add, level = dask.delayed(_add_partials, pure=True), 0
        while len(parts) > 1:
            k, level = self._split_every, level + 1
            parts = [add(*parts[i:i + k], dask_key_name=f"tt-sum-{step}-{level}-{i // k}")
                     for i in range(0, len(parts), k)]
        return parts[0]

    def cache_info(self, client=None):
        """Per worker address: the ``CacheInfo`` (hits, misses = signatures traced, size)
        of the per-chunk compiled function there, or None where it never ran."""
        client = _client(client, self.__name__)
        return client.run(_worker_cache_info, serialize.token(self._local))

    def __reduce__(self):
        return serialize.reduce_recipe(self, self._recipe)

    def __repr__(self):
        return f"<tt.{self.__name__}>"


# -- runs on the workers -------------------------------------------------------------------

def _chunk_partial(fn, params, *chunks):
    """(value, flat gradient leaves) of one chunk, as NumPy values."""
    value, grads = fn(params, *chunks)
    return np.asarray(value._value), [np.asarray(g._value) for g in nest.flatten(grads)[0]]


def _add_partials(*parts):
    value = parts[0][0]
    grads = list(parts[0][1])
    for v, gs in parts[1:]:
        value = value + v
        grads = [a + b for a, b in zip(grads, gs)]
    return value, grads


def _worker_cache_info(tok):
    fn = serialize._LIVE.get(tok)
    return None if fn is None else fn.cache_info()


# -- checks on the client ------------------------------------------------------------------

def _optional(module, name="distributed.value_and_grad"):
    """Dask, imported on first use (an optional dependency: the `distributed` extra)."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ImportError(f"tt.{name} needs Dask's distributed scheduler ({module} is "
                          f"missing): {_INSTALL}") from None


def _client(client, name):
    default_client = _optional("distributed", name).default_client
    if client is not None:
        return client
    try:
        return default_client()
    except ValueError:
        raise ValueError(f"tt.{name}: no Dask client; start one, e.g. "
                         f"Client(LocalCluster()) or Client('tcp://scheduler:8786'), or "
                         f"pass client=") from None


def _params(params, name):
    """Flat NumPy leaves of the parameters and the function rebuilding their structure."""
    leaves, rebuild = nest.flatten(params)
    out = []
    for i, x in enumerate(leaves):
        if isinstance(x, Variable):
            x = x._share()
        if type(x) is not Tensor:
            x = convert_to_tensor(x, op=name)
        if x._value is None:
            raise TypeError(f"tt.{name}: parameter leaf {i} is a traced tensor; call it "
                            f"eagerly, outside tt.function")
        out.append(x._value)
    return out, rebuild


def _row_blocks(data, name):
    """Per data argument, its row blocks as Delayed objects (checked to align)."""
    da = _optional("dask.array", name)
    if not data:
        raise TypeError(f"tt.{name}: no data given; call g(params, *data) with Dask arrays "
                        f"chunked along axis 0")
    for i, d in enumerate(data):
        if not isinstance(d, da.Array):
            raise TypeError(f"tt.{name}: data argument {i} is a {type(d).__name__}; expected "
                            f"a Dask array chunked along axis 0, e.g. "
                            f"dask.array.from_array(x, chunks=(rows, -1))")
        if d.ndim == 0:
            raise ValueError(f"tt.{name}: data argument {i} is 0-d; data must have rows")
        if any(np.isnan(c) for c in d.chunks[0]):
            raise ValueError(f"tt.{name}: data argument {i} has unknown chunk sizes; call "
                             f"x.compute_chunk_sizes() first")
        split = [ax for ax in range(1, d.ndim) if len(d.chunks[ax]) > 1]
        if split:
            raise ValueError(f"tt.{name}: data argument {i} (shape {d.shape}) is also "
                             f"chunked along axis {split[0]} {_short(d.chunks[split[0]])}; "
                             f"chunk it along axis 0 only: x.rechunk({{{split[0]}: -1}})")
    rows = data[0].chunks[0]
    for i, d in enumerate(data[1:], 1):
        if d.chunks[0] != rows:
            raise ValueError(f"tt.{name}: data arguments 0 and {i} have different row "
                             f"chunks: {_short(rows)} vs {_short(d.chunks[0])}; rechunk them "
                             f"alike, e.g. y = y.rechunk({{0: X.chunks[0]}})")
    return [d.to_delayed(optimize_graph=False).reshape(-1) for d in data]


def _homes(client, data):
    """Per row chunk, the workers holding all its blocks (or its largest block); empty
    where the data is not persisted on the cluster."""
    futures = client.futures_of(list(data))
    n = len(data[0].chunks[0])
    if not futures:
        return [()] * n
    where = client.who_has(futures)
    row_bytes = [d.dtype.itemsize * int(np.prod(d.shape[1:])) for d in data]
    order = sorted(range(len(data)), key=lambda j: -row_bytes[j])
    keys = [[_first_key(k) for k in d.__dask_keys__()] for d in data]
    homes = []
    for i in range(n):
        held = [set(where.get(keys[j][i], ())) for j in order]
        both = set.intersection(*held)
        homes.append(tuple(sorted(both or held[0])))
    return homes


def _first_key(nested):
    while isinstance(nested, list):     # one block along every axis but the first
        nested = nested[0]
    return nested


def _short(chunks):
    chunks = tuple(chunks)
    if len(chunks) <= 6:
        return str(chunks)
    return f"({', '.join(map(str, chunks[:3]))}, ..., {chunks[-1]}; {len(chunks)} chunks)"
