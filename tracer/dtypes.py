"""dtypes are NumPy dtypes: ``tt.float32 is np.dtype('float32')``.

Python scalars default to float32 / int32 / bool (TensorFlow's defaults), not NumPy's
float64 / int64.
"""
import numpy as np

float32 = np.dtype("float32")
float64 = np.dtype("float64")
int32 = np.dtype("int32")
int64 = np.dtype("int64")
bool_ = np.dtype("bool")

SUPPORTED = (float32, float64, int32, int64, bool_)
_PY = {float: float32, int: int32, bool: bool_}


def as_dtype(dtype, op="dtype"):
    """A supported NumPy dtype from a tt/NumPy dtype, a string or ``float``/``int``/``bool``."""
    if dtype in _PY:
        return _PY[dtype]
    try:
        d = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{op}: {dtype!r} is not a dtype; valid dtypes are float32, float64, "
                        f"int32, int64, bool") from None
    if d not in SUPPORTED:
        raise TypeError(f"{op}: dtype {d} is not supported; valid dtypes are float32, "
                        f"float64, int32, int64, bool")
    return d


def python_default(value):
    """The dtype a bare Python scalar becomes."""
    return _PY[type(value)] if type(value) in _PY else None
