"""Output donation: a kernel writes an output into the buffer of an input the caller gave up.

A graph's ``donate`` pairs (output index, input index) say that the caller owns each such
input's array exclusively, passes it C-contiguous and writable, and no longer needs its
old value once the call returns (``tt.function`` does this for the Variables it updates,
so an optimizer step rewrites parameters and slots where they are). The native tier then
lets the loop kernel that computes the output store it straight into that buffer instead
of a new array, when that is sound:

- the output is stored by a *flat* kernel (one loop over contiguous same-shape operands,
  so every element it reads from the buffer is the element it writes, and the kernel
  stores after all its loads of that element) of the buffer's shape and dtype;
- the output is no other output (the caller receives the buffer once);
- no array that may alias the input is read by a later step or returned: aliases are the
  input itself and every call result computed from an alias (a NumPy call may return a
  view), and the kernel reads no alias but the input itself.

Otherwise the output is a fresh array as usual. Either way no other output shares memory
with a donated input (``driver`` copies an output that may alias one).
"""
from compiler import fusion


def aliases(graph, steps):
    """Per donated input index: the ids of the nodes whose arrays may share its buffer."""
    out = {}
    for _, j in graph.donate:
        held = {id(graph.inputs[j])}
        for st in steps:
            if isinstance(st, fusion.Call) and any(id(x) in held for x in st.node.inputs):
                held.add(id(st.node))
        out[j] = held
    return out


def plan(graph, steps, kernel_args, flat):
    """{kernel index: ((stored position, input index), ...)}: the outputs each kernel
    stores into a donated buffer. ``kernel_args[k]`` are the nodes kernel k reads and
    ``flat[k]`` whether it is one flat loop (``codegen.KernelWriter.flat``)."""
    if not graph.donate:
        return {}
    held = aliases(graph, steps)
    reads, where, k = [], {}, 0            # reads[s]: ids a step reads; where: member -> k
    for s, st in enumerate(steps):
        if isinstance(st, fusion.Call):
            reads.append({id(x) for x in st.node.inputs})
            continue
        reads.append({id(x) for x in kernel_args[k]})
        for pos, m in enumerate(st.stored):
            where[id(m)] = (s, k, pos)
        k += 1
    counts = {}
    for o in graph.outputs:
        counts[id(o)] = counts.get(id(o), 0) + 1
    result = {}
    for i, j in graph.donate:
        m, x = graph.outputs[i], graph.inputs[j]
        hit = where.get(id(m))
        if hit is None or counts[id(m)] != 1 or m.shape == () or m.shape != x.shape or \
                m.dtype != x.dtype:
            continue
        s, k, pos = hit
        alias = held[j]
        if not flat[k] or (reads[s] & alias) - {id(x)}:
            continue
        if any(reads[t] & alias for t in range(s + 1, len(steps))) or \
                any(id(o) in alias for o in graph.outputs):
            continue
        result.setdefault(k, []).append((pos, j))
    return {k: tuple(v) for k, v in result.items()}
