"""The optimisation pipeline: plain functions over graphs, applied in order."""
from compiler import rewrites

PASSES = [
    # CSE, constant folding and IEEE-safe identities in one hash-consing walk; DCE falls
    # out of rebuilding only what the outputs reach.
    ("simplify", rewrites.rewrite),
    # a second walk catches identities exposed by the first (e.g. folded fills)
    ("simplify-again", rewrites.rewrite),
]


def optimize(graph):
    for _name, fn in PASSES:
        graph = fn(graph)
    return graph
