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


def test_compiled_rebuild_is_shared_by_equal_structures_only():
    # a structure traced again (another batch size) reuses the generated function; dict
    # keys that are equal but of other types (1, 1.0, True) must not share it
    def fast(tree):
        return nest.compiled(nest.flatten(tree)[1])
    assert fast({"a": [1, 2], "b": 3}) is fast({"a": [4, 5], "b": 6})
    assert fast([1, (2, 3)]) is fast([7, (8, 9)])
    for tree in ({1: 0, "k": [0]}, {1.0: 0, "k": [0]}, {True: 0, "k": [0]}):
        out = fast(tree)(["x", "y"])
        assert [type(k) for k in out] == [type(k) for k in tree]
        assert out == {list(tree)[0]: "x", "k": ["y"]}
    assert fast((1, [2])) is not fast([1, (2,)])
    out = fast({(1.0, 2): 0})(["x"])
    assert [type(a) for a in next(iter(out))] == [float, int]
