"""``tt.checkpoint_policies``: which intermediates of a ``tt.checkpoint`` function the
backward pass keeps from the forward pass instead of recomputing them (JAX's names).

A policy is called once per operation of the traced function that depends on its
arguments, as ``policy(prim, *avals, **params)``: ``prim`` the primitive (``prim.name``:
``"matmul"``, ``"sin"``, ...), ``avals`` one ``ShapeDtype`` per operand (``.shape``,
``.dtype``, ``.ndim``), ``params`` the operation's attributes. A true result saves that
operation's value; its gradient then still flows to its operands, which are recomputed
only if the operation's gradient rule reads them.
"""
from collections import namedtuple


class ShapeDtype(namedtuple("ShapeDtype", ["shape", "dtype"])):
    """The shape and dtype of one operand, as a policy sees it."""
    __slots__ = ()

    @property
    def ndim(self):
        return len(self.shape)


def everything_saveable(prim, *avals, **params):
    """Save every intermediate (the backward pass recomputes nothing)."""
    return True


def nothing_saveable(prim, *avals, **params):
    """Save nothing (the default of ``tt.checkpoint``: recompute every intermediate)."""
    return False


def dots_saveable(prim, *avals, **params):
    """Save the results of matrix products (``matmul``, and so ``@``, ``tensordot``,
    ``einsum`` contractions); recompute the rest."""
    return prim.name == "matmul"


checkpoint_dots = dots_saveable


def dots_with_no_batch_dims_saveable(prim, *avals, **params):
    """Save the results of unbatched (2-D) matrix products only."""
    return prim.name == "matmul" and all(a.ndim == 2 for a in avals)
