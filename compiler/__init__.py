"""compiler: graphs in, graphs and Numba source out. Pure: no state, no compiling.

Layers point one way (tracer -> runtime -> compiler); this package imports neither.
"""
from compiler import autodiff, ir, pipeline, primitives, rewrites
from compiler.ir import Graph, Node, format_graph, toposort
