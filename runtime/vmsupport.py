"""Native helpers of the block VM (``compiler.vm``): a buffer address as a typed pointer."""
from numba import types
from numba.extending import intrinsic


@intrinsic
def as_pointer(typingctx, address, like):
    """``address`` (an integer) as a pointer to ``like``'s element type."""
    if not isinstance(address, types.Integer) or not isinstance(like, types.Array):
        return None
    ptr = types.CPointer(like.dtype)

    def codegen(context, builder, sig, args):
        return builder.inttoptr(args[0], context.get_value_type(ptr))
    return ptr(address, like), codegen

