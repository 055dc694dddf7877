"""The regions pass: optimise region bodies, hoist loop-invariant work, share forward scans.

``simplify_regions`` (a pipeline pass) rebuilds every region node with ``optimize``d bodies;
a scan's work on captured values only is computed once outside its loop (transposes,
products summed over the steps); a scan whose outputs are a prefix of another scan's on the
same operands (the forward pass and the one that stores residuals for the gradient) reads
from that one; and a scan computes only the outputs something reads, and the carries they
need. Bodies, ``close`` and the reference evaluator are ``compiler.regions``.
"""
from compiler.ir import Graph, toposort
from compiler.regions import TUPLE, Body, constant_ids, instantiate, is_region, leaves_like, \
    region_node


def simplify_regions(graph, optimize):
    """Region nodes with ``optimize``d bodies, a scan body's loop-invariant work computed
    once outside the loop, and a scan whose outputs are a prefix of another scan's on the
    same operands (the forward pass and the one that stores residuals for the gradient)
    read from that one."""
    if not any(n.dtype.kind == "V" for n in graph.nodes):
        return graph
    bound = {id(n) for n in graph.inputs}
    new, hoisted = {}, {}
    for n in graph.nodes:
        if id(n) in bound:
            new[id(n)] = n
            continue
        ins = [new[id(x)] for x in n.inputs]
        m = n if all(a is b for a, b in zip(ins, n.inputs)) else n.rebuild(ins)
        if m.dtype == TUPLE:
            m = _simplify_region(m, optimize, hoisted)
        new[id(n)] = m
    outs = [new[id(o)] for o in graph.outputs]
    outs = _prune_scans(_forward_xs(_sum_products(_share_scans(outs, bound), bound), bound),
                        bound)
    if all(a is b for a, b in zip(outs, graph.outputs)):
        return graph
    return Graph(graph.inputs, outs)


def _simplify_region(node, optimize, hoisted):
    attrs = dict(node.attrs)
    for k, v in node.attrs:
        if isinstance(v, Body):
            attrs[k] = Body(optimize(v.graph))
        elif isinstance(v, tuple) and v and isinstance(v[0], Body):
            attrs[k] = tuple(Body(optimize(b.graph)) for b in v)
    inputs = list(node.inputs)
    if node.prim.name == "scan":
        inputs, attrs = _hoist_scan(inputs, attrs)
        inputs, attrs = _hoist_products(inputs, attrs, hoisted)
    return region_node(node.prim, inputs, attrs)


def _hoist_scan(inputs, attrs):
    """Move the body's work on captured values only (e.g. transpose(W) in a gradient) out
    of the loop: it is computed once and enters the body as one more captured value."""
    body, nc = attrs["body"].graph, attrs["n_consts"]
    consts = {id(n) for n in body.inputs[:nc]}
    order = body.nodes
    const = constant_ids(order, {id(n) for n in body.inputs})
    inv = set(consts)
    for n in order:
        if n.inputs and id(n) not in const and all(id(x) in inv or id(x) in const
                                                   for x in n.inputs):
            inv.add(id(n))
    readers = [n for n in order if id(n) not in inv and n.inputs]
    frontier, seen = [], set()
    for x in [x for n in readers for x in n.inputs] + list(body.outputs):
        if id(x) in inv and id(x) not in consts and id(x) not in seen:
            seen.add(id(x))
            frontier.append(x)
    if not frontier:
        return inputs, attrs
    outer = instantiate(Graph(body.inputs[:nc], frontier), inputs[:nc])
    leaves = leaves_like(frontier)
    mapping = {id(a): b for a, b in zip(frontier, leaves)}
    rebuilt = _substitute(body, mapping)
    attrs["body"] = Body(Graph(body.inputs[:nc] + leaves + body.inputs[nc:], rebuilt))
    attrs["n_consts"] = nc + len(frontier)
    return inputs[:nc] + outer + inputs[nc:], attrs


def _step_maps(body, nc, nk):
    """ids of a scan body's nodes computed from its per-step slices (and captured values)
    but from no carry: the same for a step whichever steps ran before it."""
    ins = body.inputs
    carried = {id(n) for n in ins[nc:nc + nk]}
    maps = {id(n) for n in ins[nc + nk:]}
    for n in body.nodes:
        if not n.inputs or id(n) in maps or id(n) in carried:
            continue
        if is_region(n) or n.prim.name == "tuple_get" or \
                any(id(x) in carried for x in n.inputs):
            carried.add(id(n))
        elif any(id(x) in maps for x in n.inputs):
            maps.add(id(n))
    return maps - {id(n) for n in ins}


def _hoist_products(inputs, attrs, hoisted):
    """Compute a scan body's matrix products that read per-step slices but no carry (an
    RNN step's x_t @ U) for every step at once before the loop, batched over the steps:
    one large product instead of ``length`` small ones. The body reads each step's product
    as one more per-step slice. ``hoisted`` memoises the batched nodes by the products and
    operands, so the forward scan and its copy storing gradient residuals stay equal (and
    are shared)."""
    body, nc, nk = attrs["body"].graph, attrs["n_consts"], attrs["n_carry"]
    ins = body.inputs
    if attrs["length"] < 2 or len(ins) == nc + nk:
        return inputs, attrs
    maps = _step_maps(body, nc, nk)
    readers = [x for n in body.nodes if n.inputs and id(n) not in maps for x in n.inputs]
    frontier, seen = [], set()
    for x in readers + list(body.outputs):
        if id(x) in maps and x.prim.name == "matmul" and id(x) not in seen:
            seen.add(id(x))
            frontier.append(x)
    if not frontier:
        return inputs, attrs
    frontier.sort(key=lambda n: n.serial)
    key = (tuple(map(id, frontier)), tuple(map(id, ins)), tuple(map(id, inputs)))
    stacked = hoisted.get(key)
    if stacked is None:
        from compiler import batching
        xs_leaves = leaves_like(ins[nc + nk:])
        per_step = instantiate(Graph(list(ins[:nc]) + list(ins[nc + nk:]), frontier),
                               list(inputs[:nc]) + xs_leaves)
        stacked = hoisted[key] = batching.batch(
            per_step, {id(a): b for a, b in zip(xs_leaves, inputs[nc + nk:])},
            attrs["length"])[0]
    leaves = leaves_like(frontier)
    rebuilt = _substitute(body, {id(a): b for a, b in zip(frontier, leaves)})
    attrs["body"] = Body(Graph(list(ins) + leaves, rebuilt))
    return list(inputs) + stacked, attrs


def _summed_product(body, nc, k):
    """(p, q) when carry ``k`` of a scan body only adds one product ``p_t^T @ q_t`` of
    2-D per-step values each step (a gradient's dW += h^T @ dz), else None."""
    c, out = body.inputs[nc + k], body.outputs[k]
    if out.prim.name != "add" or sum(x is c for x in out.inputs) != 1 or \
            sum(o is out or o is c for o in body.outputs) != 1:
        return None
    if sum(x is c or x is out for n in body.nodes for x in n.inputs) != 1:
        return None                     # the carry or its update is read elsewhere
    v = out.inputs[1] if out.inputs[0] is c else out.inputs[0]
    if v.prim.name != "matmul" or v.shape != c.shape or len(v.shape) != 2:
        return None
    a, q = v.inputs
    if a.prim.name != "transpose" or a.params["perm"] != (1, 0) or len(q.shape) != 2:
        return None
    return a.inputs[0], q


def _fold_sums(scan):
    """``scan`` with its carries that sum one product per step (``_summed_product``)
    turned into stacked outputs of the product's operands, summed after the loop as one
    product of the steps stacked into rows: per old output index, the node giving it.
    None when no carry qualifies."""
    from compiler import primitives as P
    p = scan.params
    body, nc, nk, length = p["body"].graph, p["n_consts"], p["n_carry"], p["length"]
    folds = {k: f for k in range(nk) for f in [_summed_product(body, nc, k)] if f}
    if not folds:
        return None
    keep = [k for k in range(nk) if k not in folds]
    extra = [x for k in sorted(folds) for x in folds[k]]
    ins, outs = body.inputs, body.outputs
    attrs = dict(scan.attrs)
    attrs["body"] = Body(Graph([ins[i] for i in range(len(ins)) if i - nc not in folds],
                               [outs[k] for k in keep] + list(outs[nk:]) + extra))
    attrs["n_carry"] = len(keep)
    attrs["out_types"] = tuple(p["out_types"][k] for k in keep) + \
        tuple(p["out_types"][nk:]) + tuple(((length,) + tuple(x.shape), x.dtype.str)
                                           for x in extra)
    new = region_node(scan.prim, [x for i, x in enumerate(scan.inputs) if i - nc not in folds],
                      attrs)
    get = [P.tuple_get(new, index=i) for i in range(len(attrs["out_types"]))]
    res = [None] * len(p["out_types"])
    for i, k in enumerate(keep):
        res[k] = get[i]
    for j in range(nk, len(p["out_types"])):
        res[j] = get[len(keep) + j - nk]
    first = len(keep) + len(p["out_types"]) - nk
    for i, k in enumerate(sorted(folds)):
        a, q = get[first + 2 * i], get[first + 2 * i + 1]
        rows = length * a.shape[1]
        a2 = P.reshape(a, shape=(rows, a.shape[2]))
        q2 = P.reshape(q, shape=(rows, q.shape[2]))
        total = P.matmul(P.transpose(a2, perm=(1, 0)), q2)
        init = scan.inputs[nc + k]
        res[k] = P.add(init, total) if body.outputs[k].inputs[0] is ins[nc + k] else \
            P.add(total, init)
    return res


def _sum_products(outputs, bound):
    """Scans whose carries sum one matrix product per step compute that sum after the
    loop as one product (``_fold_sums``): a gradient's reverse scan then makes one large
    product for dW instead of one small product per step."""
    order = toposort(outputs, stop=lambda n: id(n) in bound)
    if not any(n.prim.name == "scan" for n in order):
        return outputs
    new, folded = {}, {}
    for n in order:
        if n.prim.name == "tuple_get" and id(n.inputs[0]) in folded:
            new[id(n)] = folded[id(n.inputs[0])][n.params["index"]]
            continue
        ins = [new.get(id(x), x) for x in n.inputs]
        m = n if all(a is b for a, b in zip(ins, n.inputs)) else n.rebuild(ins)
        if m.prim.name == "scan" and m.params["length"] >= 2:
            res = _fold_sums(m)
            if res is not None:
                folded[id(n)] = res
        new[id(n)] = m
    if not folded:
        return outputs
    return [new.get(id(o), o) for o in outputs]


def _forward_xs(outputs, bound):
    """A scan's stacked output that is one of its per-step slices returned as it is (a
    product hoisted out of the loop and stored for the gradient) is that operand."""
    order = toposort(outputs, stop=lambda n: id(n) in bound)
    new = {}
    for n in order:
        if n.prim.name == "tuple_get" and n.inputs[0].prim.name == "scan":
            scan = new.get(id(n.inputs[0]), n.inputs[0])
            p = scan.params
            body, k, first = p["body"].graph, n.params["index"], p["n_consts"] + p["n_carry"]
            if k >= p["n_carry"]:
                where = [i for i in range(first, len(body.inputs))
                         if body.inputs[i] is body.outputs[k]]
                if where:
                    new[id(n)] = scan.inputs[where[0]]
                    continue
        ins = [new.get(id(x), x) for x in n.inputs]
        if any(a is not b for a, b in zip(ins, n.inputs)):
            new[id(n)] = n.rebuild(ins)
    if not new:
        return outputs
    return [new.get(id(o), o) for o in outputs]


def _substitute(graph, mapping):
    """graph's outputs with the nodes in ``mapping`` (id -> node) replaced."""
    new = dict(mapping)
    for n in graph.nodes:
        if id(n) in new:
            continue
        ins = [new.get(id(x), x) for x in n.inputs]
        new[id(n)] = n if all(a is b for a, b in zip(ins, n.inputs)) else n.rebuild(ins)
    return [new.get(id(o), o) for o in graph.outputs]


def _scan_family(n):
    p = n.params
    return (tuple(id(x) for x in n.inputs), p["length"], p["reverse"], p["n_consts"],
            p["n_carry"])


def _is_prefix(a, b):
    """Scan ``a`` computes the first outputs of scan ``b`` (same operands)."""
    ga, gb = a.params["body"].graph, b.params["body"].graph
    k = len(ga.outputs)
    if len(gb.outputs) <= k or a.params["out_types"] != b.params["out_types"][:k]:
        return False
    return Graph(gb.inputs, gb.outputs[:k]).key == ga.key


def _share_scans(outputs, bound):
    order = toposort(outputs, stop=lambda n: id(n) in bound)
    families = {}
    for n in order:
        if n.prim.name == "scan":
            families.setdefault(_scan_family(n), []).append(n)
    use = {}
    for group in families.values():
        for a in group:
            for b in group:
                if a is not b and _is_prefix(a, b):
                    use[id(a)] = b
    if not use:
        return outputs
    new = {}
    for n in order:
        if n.prim.name == "tuple_get" and id(n.inputs[0]) in use:
            new[id(n)] = n.rebuild([use[id(n.inputs[0])]])
            continue
        ins = [new.get(id(x), x) for x in n.inputs]
        new[id(n)] = n if all(a is b for a, b in zip(ins, n.inputs)) else n.rebuild(ins)
    return [new.get(id(o), o) for o in outputs]


def _used_outputs(order):
    used = {}
    for n in order:
        if n.prim.name == "tuple_get":
            used.setdefault(id(n.inputs[0]), set()).add(n.params["index"])
    return used


def _prune_scan(node, used):
    """The scan computing only the outputs in ``used`` (and the carries they need), with
    the operands its body no longer reads dropped; and the old -> new output index map.
    None when every output is used."""
    p = node.params
    body, nc, nk = p["body"].graph, p["n_consts"], p["n_carry"]
    outs, ins = body.outputs, body.inputs
    carries = {k for k in range(nk) if k in used}
    ys = [j for j in range(nk, len(outs)) if j in used]
    while True:
        needed = [outs[k] for k in sorted(carries)] + [outs[j] for j in ys]
        bound = {id(n) for n in ins}
        reach = {id(n) for n in toposort(needed, stop=lambda n: id(n) in bound)}
        more = {k for k in range(nk) if id(ins[nc + k]) in reach} - carries
        if not more:
            break
        carries |= more
    if len(carries) == nk and len(ys) == len(outs) - nk:
        return None
    keep = [i for i in range(len(ins))
            if (nc <= i < nc + nk and i - nc in carries) or
            (not nc <= i < nc + nk and id(ins[i]) in reach)]
    kept_carries = sorted(carries)
    index = {k: i for i, k in enumerate(kept_carries)}
    index.update({j: len(kept_carries) + i for i, j in enumerate(ys)})
    new_outs = [outs[k] for k in kept_carries] + [outs[j] for j in ys]
    attrs = dict(node.attrs)
    attrs["body"] = Body(Graph([ins[i] for i in keep], new_outs))
    attrs["n_consts"] = sum(1 for i in keep if i < nc)
    attrs["n_carry"] = len(kept_carries)
    attrs["out_types"] = tuple(p["out_types"][k] for k in kept_carries + ys)
    return region_node(node.prim, [node.inputs[i] for i in keep], attrs), index


def _prune_scans(outputs, bound):
    """Scans compute only what is read: a gradient's reverse scan drops the cotangents of
    operands nobody asked for (and the carries that only they needed)."""
    order = toposort(outputs, stop=lambda n: id(n) in bound)
    used = _used_outputs(order)
    pruned = {}
    for n in order:
        if n.prim.name == "scan" and id(n) in used:
            res = _prune_scan(n, used[id(n)])
            if res is not None:
                pruned[id(n)] = res
    if not pruned:
        return outputs
    new = {}
    for n in order:
        if id(n) in pruned:                 # operands first: order is topological
            scan = pruned[id(n)][0]
            ins = [new.get(id(x), x) for x in scan.inputs]
            new[id(n)] = scan if all(a is b for a, b in zip(ins, scan.inputs)) else \
                scan.rebuild(ins)
            continue
        if n.prim.name == "tuple_get" and id(n.inputs[0]) in pruned:
            index = pruned[id(n.inputs[0])][1]
            new[id(n)] = n.prim(new[id(n.inputs[0])], index=index[n.params["index"]])
            continue
        ins = [new.get(id(x), x) for x in n.inputs]
        new[id(n)] = n if all(a is b for a, b in zip(ins, n.inputs)) else n.rebuild(ins)
    return [new.get(id(o), o) for o in outputs]
