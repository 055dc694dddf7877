"""Flatten and rebuild nested lists, tuples and dicts (iteratively, no recursion limit)."""
import threading


def _is_leaf(x):
    return not isinstance(x, (list, tuple, dict))


def flatten(tree, op=None):
    """Leaves in order, and a function that rebuilds the structure from new leaves.
    ``op`` names the public operation in the error for a structure that contains itself."""
    if _is_leaf(tree):
        return [tree], _first
    leaves = []
    # build a template with leaf slots replaced by their index; ``open_`` holds the
    # containers on the current path, so a structure that contains itself is an error
    root = [None]
    stack = [(tree, root, 0)]
    open_ = set()
    while stack:
        node, parent, key = stack.pop()
        if parent is None:                  # leaving a container
            open_.discard(key)
        elif _is_leaf(node):
            parent[key] = len(leaves)
            leaves.append(node)
        else:
            if id(node) in open_:
                raise ValueError(f"{op or 'flatten'}: got a {type(node).__name__} that "
                                 f"contains itself; pass a structure without cycles")
            open_.add(id(node))
            stack.append((None, None, id(node)))
            if isinstance(node, dict):
                holder = dict.fromkeys(node)
                parent[key] = holder
                for k in reversed(list(node)):
                    stack.append((node[k], holder, k))
            else:
                holder = [None] * len(node)
                parent[key] = (type(node), holder)
                for i in reversed(range(len(node))):
                    stack.append((node[i], holder, i))
    template = root[0]

    def unflatten(new_leaves):
        return _rebuild(template, new_leaves)
    unflatten.template = template
    return leaves, unflatten


def _first(leaves):
    return leaves[0]


def _rebuild(template, leaves):
    if isinstance(template, int):
        return leaves[template]
    out_root = [None]
    stack = [(template, out_root, 0)]
    fixups = []
    while stack:
        t, parent, key = stack.pop()
        if isinstance(t, int):
            parent[key] = leaves[t]
        elif isinstance(t, dict):
            d = dict.fromkeys(t)
            parent[key] = d
            for k, v in t.items():
                stack.append((v, d, k))
        else:
            kind, items = t
            holder = [None] * len(items)
            fixups.append((parent, key, kind, holder))
            for i, v in enumerate(items):
                stack.append((v, holder, i))
    # sequences were filled in place; convert to their types innermost first
    for parent, key, kind, holder in reversed(fixups):
        parent[key] = holder if kind is list else _make_seq(kind, holder)
    return out_root[0]


def _make_seq(kind, items):
    if kind is tuple:
        return tuple(items)
    if hasattr(kind, "_fields"):
        return kind(*items)
    return kind(items)


_MAX_DEPTH = 40         # Python's parser limits nested brackets: deeper keeps _rebuild
_MAX_COMPILED = 512     # generated rebuilds kept: a structure traced again (another batch
_compiled = {}          # size) reuses its function instead of compiling the text again
_compiled_lock = threading.Lock()
_PLAIN_KEYS = frozenset([str, int, float, bool, type(None), type])


def compiled(unflatten):
    """``unflatten`` (from ``flatten``) as one generated Python expression over the
    leaves: for a structure rebuilt at every call (a compiled function's outputs), about
    five times faster than walking its template. Deep structures keep ``unflatten``."""
    template = getattr(unflatten, "template", None)
    if template is None or isinstance(template, int):
        return unflatten
    env, parts, stack = {}, [], [(template, 0, False)]
    # post-order over the template: ``parts`` holds finished sub-expressions
    while stack:
        t, depth, done = stack.pop()
        if depth > _MAX_DEPTH:
            return unflatten
        if isinstance(t, int):
            parts.append(f"L[{t}]")
            continue
        items = list(t.values()) if isinstance(t, dict) else t[1]
        if not done:
            stack.append((t, depth, True))
            stack.extend((v, depth + 1, False) for v in reversed(items))
            continue
        subs = parts[len(parts) - len(items):] if items else []
        del parts[len(parts) - len(items):]
        if isinstance(t, dict):
            names = []
            for k in t:
                names.append(f"K{len(env)}")
                env[names[-1]] = k
            parts.append("{" + ", ".join(f"{n}: {e}" for n, e in zip(names, subs)) + "}")
            continue
        kind = t[0]
        body = ", ".join(subs)
        if kind is list:
            parts.append(f"[{body}]")
        elif kind is tuple:
            parts.append(f"({body},)" if subs else "()")
        else:
            name = f"T{len(env)}"
            env[name] = kind
            parts.append(f"{name}({body})" if hasattr(kind, "_fields") else
                         f"{name}([{body}])")
    # dict keys enter the cache key with their types (1, 1.0 and True are equal keys),
    # and keys other than plain scalars with their repr too ((1, 2) equals (1.0, 2))
    key = (parts[0], tuple((type(v), v) if type(v) in _PLAIN_KEYS else
                           (type(v), v, repr(v)) for v in env.values()))
    try:
        fn = _compiled.get(key)
    except TypeError:                   # an unhashable namedtuple-like type: no caching
        key, fn = None, None
    if fn is None:
        fn = eval(f"lambda L: {parts[0]}", env)     # noqa: S307 (generated from a template)
        if key is not None:
            with _compiled_lock:
                while len(_compiled) >= _MAX_COMPILED:
                    _compiled.pop(next(iter(_compiled)))
                _compiled[key] = fn
    return fn
