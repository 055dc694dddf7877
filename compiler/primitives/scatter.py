"""scatter_add's values in NumPy (its primitive is declared in ``structural``): the
updates of each index added to zeros in their order, bit for bit ``np.add.at``."""
import numpy as np

_SCATTER_PASSES = 16     # more repeats of one index than this: np.add.at's own loop


def scatter_indices(idx, axis, size):
    """scatter_add's indices flattened, negative ones counted from the end, as int64;
    ``IndexError`` for one out of range."""
    flat = np.asarray(idx).reshape(-1).astype(np.int64)
    flat = np.where(flat < 0, flat + size, flat)
    bad = (flat < 0) | (flat >= size)
    if bad.any():
        i = int(np.asarray(idx).reshape(-1)[np.argmax(bad)])
        raise IndexError(f"scatter_add: index {i} is out of bounds for axis {axis} with "
                         f"size {size}")
    return flat


def scatter_values(g, idx, *, axis, size):
    """Zeros of the output shape with each update slice added at its index, in the
    order of the updates (as ``np.add.at``). Updates are added in passes over indices
    that do not repeat within a pass (the first occurrence of each index, then the
    second, ...): ``np.add.at``'s per-index loop costs 20-30x more for rows of a
    thousand elements (an embedding's gradient)."""
    g, idx = np.asarray(g), np.asarray(idx)
    shape = g.shape[:axis] + (size,) + g.shape[axis + idx.ndim:]
    out = np.zeros(shape, g.dtype)
    flat = scatter_indices(idx, axis, size)
    if flat.size == 0:
        return out
    moved = np.moveaxis(out, axis, 0)
    # the index axes flattened to one of idx.size (not -1: other extents may be 0)
    upd = np.moveaxis(g.reshape(g.shape[:axis] + (flat.size,) + g.shape[axis + idx.ndim:]),
                      axis, 0)
    order = np.argsort(flat, kind="stable")
    ordered = flat[order]
    first = np.empty(ordered.size, bool)
    first[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=first[1:])
    starts = np.flatnonzero(first)
    # each update's rank among the updates of its index (0: the first one)
    rank = np.arange(ordered.size) - np.repeat(starts, np.diff(np.append(starts, ordered.size)))
    passes = int(rank.max()) + 1
    if passes > _SCATTER_PASSES:
        np.add.at(moved, flat, upd)
        return out
    for r in range(passes):     # added to the zeros: a -0.0 update gives +0.0, as add.at
        rows = order if passes == 1 else order[rank == r]
        moved[flat[rows]] += upd[rows]
    return out
