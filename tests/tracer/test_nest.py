"""tracer.nest: flatten and rebuild, and the generated rebuild of compiled outputs."""
import collections

import pytest

from tracer import nest

Pair = collections.namedtuple("Pair", "a b")


class Items(list):
    pass


def _deep(levels):
    t = 1
    for _ in range(levels):
        t = (t,)
    return t


def _same(x, y):
    if type(x) is not type(y):
        return False
    if isinstance(x, dict):
        return list(x) == list(y) and all(_same(x[k], y[k]) for k in x)
    if isinstance(x, (list, tuple)):
        return len(x) == len(y) and all(_same(p, q) for p, q in zip(x, y))
    return x is y


@pytest.mark.parametrize("tree", [
    [1, (2, 3), {"a": 4, 5: [6, ()], (1, 2): Pair(7, {"z": 8})}], (), [], {}, ([],),
    Pair((), []), {"x": Items([1, 2])}, [{"a": 1}], (1,), _deep(60), 7])
def test_compiled_rebuild_equals_the_template_walk(tree):
    leaves, rebuild = nest.flatten(tree)
    fast = nest.compiled(rebuild)
    new = [object() for _ in leaves]
    assert _same(fast(new), rebuild(new))
    assert _same(fast(leaves), tree)
