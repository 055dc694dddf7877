"""conv2d's NumPy implementation multiplies its im2col columns a block at a time: by
images, by output rows of one image, or (few output pixels, a long contraction) by filter
rows. Every blocking gives the direct sum's values."""
import numpy as np
import pytest

from compiler.primitives import nn

RNG = np.random.default_rng(11)


def direct(x, w, strides, padding, dilations):
    x = np.pad(x, ((0, 0), padding[0], padding[1], (0, 0)))
    win = nn.windows(x, w.shape[:2], strides, dilations)
    return np.einsum("nhwabc,abco->nhwo", win, w)


CASES = [((5, 20, 24, 3), (3, 3, 3, 4), (1, 1), ((1, 1), (1, 1)), (1, 1)),    # images
         ((2, 40, 41, 2), (3, 2, 2, 3), (1, 1), ((1, 1), (0, 1)), (1, 1)),    # rows of one
         ((3, 70, 40, 2), (3, 2, 2, 3), (2, 1), ((1, 0), (2, 1)), (1, 2)),    # strided
         ((4, 34, 34, 3), (32, 32, 3, 5), (1, 1), ((0, 0), (0, 0)), (1, 1)),  # filter rows
         ((2, 12, 9, 70), (11, 8, 70, 2), (1, 1), ((0, 0), (0, 0)), (1, 1))]


@pytest.mark.parametrize("xs,ws,strides,padding,dilations", CASES, ids=str)
def test_blocked_products_equal_the_direct_sum(xs, ws, strides, padding, dilations):
    x, w = RNG.normal(size=xs), RNG.normal(size=ws)
    got = nn._conv_impl(x, w, strides=strides, padding=padding, dilations=dilations)
    want = direct(x, w, strides, padding, dilations)
    assert got.shape == want.shape and got.dtype == want.dtype
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12 * np.abs(want).max())
    f32 = nn._conv_impl(x.astype(np.float32), w.astype(np.float32), strides=strides,
                        padding=padding, dilations=dilations)
    assert f32.dtype == np.float32
    np.testing.assert_allclose(f32, want, rtol=1e-4, atol=1e-5 * np.abs(want).max())
