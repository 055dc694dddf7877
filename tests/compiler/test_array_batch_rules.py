"""The batching rules (vmap) of the array and matrix primitives: one batched call equals
a loop over examples, for every registry case, with each input batched or shared."""
import zlib

import numpy as np
import pytest

import runtime
from compiler import Graph
from compiler import primitives as P
from compiler.primitives import scans

NAMES = sorted(n for n, p in P.PRIMITIVES.items()
               if p.batch in (scans.batch_leading, scans.batch_axis))


def _examples(case, rng, size):
    per = [case.arrays(rng) for _ in range(size)]
    return [np.stack([ex[k] for ex in per]) for k in range(len(case.shapes))]


@pytest.mark.parametrize("name", NAMES)
def test_batch_rule_matches_a_loop(name):
    prim = P.PRIMITIVES[name]
    for i, case in enumerate(prim.cases):
        rng = np.random.default_rng(zlib.crc32(f"{name}/{i}".encode()))
        stacked = _examples(case, rng, 3)
        n_in = len(stacked)
        for batched in [(True,) * n_in] + [tuple(j == k for j in range(n_in))
                                          for k in range(n_in) if n_in > 1]:
            ins = [s if b else s[0] for s, b in zip(stacked, batched)]
            nodes = [P.input(shape=a.shape, dtype=a.dtype) for a in ins]
            node = prim(*[P.input(shape=s[0].shape, dtype=s.dtype) for s in stacked],
                        **case.attrs)
            out = prim.batch(node, 3, nodes, list(batched))
            with np.errstate(all="ignore"):
                got = runtime.evaluate(Graph(nodes, [out]), ins, "interpret")[0]
                want = np.stack([prim.impl(*[s[e] if b else s[0] for s, b in
                                             zip(stacked, batched)], **case.attrs)
                                 for e in range(3)])
            np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12, equal_nan=True,
                                       err_msg=f"{name} case {i} batched {batched}")
