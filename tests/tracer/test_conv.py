"""tt.nn.conv1d/conv2d/max_pool2d/avg_pool2d against direct NumPy loops (TensorFlow's
SAME/VALID arithmetic), finite differences in both tiers, and gradients that are
convolutions."""
import numpy as np
import pytest

import tracer as tt
from compiler import autodiff
from compiler import primitives as P
from compiler.ir import toposort
from tracer.conv import padding_amounts

RNG = np.random.default_rng(5)


def r(*shape):
    return RNG.uniform(-1, 1, shape)


def direct_conv(x, w, strides, pads, dilations):
    """The definition: out[n,i,j,o] = sum x_pad[n, i*s + a*d, j*s + b*d, c] w[a,b,c,o]."""
    x = np.pad(x, ((0, 0), pads[0], pads[1], (0, 0)))
    kh, kw, _, o = w.shape
    oh = (x.shape[1] - (kh - 1) * dilations[0] - 1) // strides[0] + 1
    ow = (x.shape[2] - (kw - 1) * dilations[1] - 1) // strides[1] + 1
    out = np.zeros((x.shape[0], oh, ow, o))
    for i in range(oh):
        for j in range(ow):
            for a in range(kh):
                for b in range(kw):
                    out[:, i, j] += x[:, i * strides[0] + a * dilations[0],
                                      j * strides[1] + b * dilations[1]] @ w[a, b]
    return out


def direct_pool(x, k, s, pads, reduce):
    """Pooling over real elements only (padding marked NaN and ignored)."""
    x = np.pad(x, ((0, 0), pads[0], pads[1], (0, 0)), constant_values=np.nan)
    oh = (x.shape[1] - k[0]) // s[0] + 1
    ow = (x.shape[2] - k[1]) // s[1] + 1
    out = np.zeros((x.shape[0], oh, ow, x.shape[3]))
    for i in range(oh):
        for j in range(ow):
            out[:, i, j] = reduce(x[:, i * s[0]:i * s[0] + k[0], j * s[1]:j * s[1] + k[1]],
                                  axis=(1, 2))
    return out


CONVS = [((2, 7, 6, 3), (3, 2, 3, 4), 1, "SAME", 1), ((2, 7, 6, 3), (3, 3, 3, 2), 2, "SAME", 1),
         ((1, 8, 8, 2), (3, 3, 2, 2), 1, "SAME", 2), ((2, 7, 6, 3), (3, 2, 3, 4), 2, "VALID", 1),
         ((1, 9, 7, 1), (2, 3, 1, 3), [1, 3, 2, 1], "VALID", [1, 2]),
         ((1, 5, 5, 2), (3, 3, 2, 1), 1, [[0, 0], [2, 1], [0, 3], [0, 0]], 1)]


@pytest.mark.parametrize("xs,ws,strides,padding,dil", CONVS, ids=str)
def test_conv2d_matches_direct_loops(xs, ws, strides, padding, dil, tt_backend):
    x, w = r(*xs), r(*ws)
    y = tt.nn.conv2d(x, w, strides, padding, dilations=dil)
    s = tt.conv._spatial(strides, "t", "s")
    d = tt.conv._spatial(dil, "t", "d")
    pads = padding_amounts(padding, xs[1:3], ws[:2], s, d, "t")
    np.testing.assert_allclose(y.numpy(), direct_conv(x, w, s, pads, d), rtol=1e-12,
                               atol=1e-12)
    tt.testing.check_gradients(lambda a, b: tt.nn.conv2d(a, b, strides, padding,
                                                         dilations=dil), [x, w],
                               order=2 if tt_backend == "interpret" else 1)


def test_conv2d_same_output_size_is_ceil_of_input_over_stride():
    for n, s in [(7, 2), (8, 2), (9, 3), (5, 4)]:
        y = tt.nn.conv2d(np.zeros((1, n, n, 1), np.float32), np.zeros((3, 3, 1, 1), np.float32),
                         s, "SAME")
        assert y.shape == (1, -(-n // s), -(-n // s), 1) and y.dtype == tt.float32


def test_conv2d_nchw_and_conv1d():
    x, w = r(2, 6, 5, 3), r(3, 3, 3, 2)
    nchw = tt.nn.conv2d(np.transpose(x, (0, 3, 1, 2)), w, 1, "SAME", data_format="NCHW")
    np.testing.assert_allclose(np.transpose(nchw.numpy(), (0, 2, 3, 1)),
                               tt.nn.conv2d(x, w, 1, "SAME").numpy(), rtol=1e-12)
    x1, w1 = r(2, 9, 3), r(3, 3, 4)
    y = tt.nn.conv1d(x1, w1, stride=2, padding="SAME")
    want = direct_conv(x1[:, None], w1[None], (1, 2), ((0, 0), (1, 1)), (1, 1))[:, 0]
    np.testing.assert_allclose(y.numpy(), want, rtol=1e-12)
    tt.testing.check_gradients(lambda a, b: tt.nn.conv1d(a, b, 1, "VALID", dilations=2),
                               [x1, w1])


def test_conv2d_errors_name_the_op_and_shapes():
    with pytest.raises(ValueError, match=r"nn.conv2d: input has 3 channels"):
        tt.nn.conv2d(np.zeros((1, 4, 4, 3)), np.zeros((2, 2, 2, 1)), 1, "SAME")
    with pytest.raises(ValueError, match="padding"):
        tt.nn.conv2d(np.zeros((1, 4, 4, 1)), np.zeros((2, 2, 1, 1)), 1, "FULL")
    with pytest.raises(ValueError, match="do not fit"):
        tt.nn.conv2d(np.zeros((1, 2, 2, 1)), np.zeros((3, 3, 1, 1)), 1, "VALID")
    with pytest.raises(ValueError, match="strides"):
        tt.nn.conv2d(np.zeros((1, 4, 4, 1)), np.zeros((2, 2, 1, 1)), [2, 1, 1, 1], "SAME")
    assert tt.nn.conv2d(np.ones((1, 3, 3, 1)), np.ones((1, 1, 1, 1)), 1, "SAME").shape == \
        (1, 3, 3, 1)


def test_conv2d_gradients_are_convolutions():
    x = P.input(shape=(2, 7, 7, 3), dtype=np.dtype("float32"))
    w = P.input(shape=(3, 3, 3, 4), dtype=np.dtype("float32"))
    y = P.conv2d(x, w, strides=(2, 2), padding=((1, 1), (1, 1)), dilations=(1, 1))
    g = P.input(shape=y.shape, dtype=y.dtype)
    gx, gw = autodiff.vjp([y], [g], [x, w])
    for grad in (gx, gw):
        names = {n.prim.name for n in toposort([grad])}
        assert "conv2d" in names and not names & {"matmul", "gather", "scatter_add"}
    assert (gx.shape, gw.shape) == (x.shape, w.shape)


POOLS = [((2, 6, 6, 3), 2, 2, "VALID"), ((2, 7, 5, 2), 3, 2, "SAME"),
         ((1, 5, 6, 1), [2, 3], [1, 2], "SAME"), ((1, 6, 6, 2), 3, 1, "VALID")]


@pytest.mark.parametrize("xs,k,s,padding", POOLS, ids=str)
def test_pools_match_direct_loops(xs, k, s, padding, tt_backend):
    x = r(*xs)
    kk, ss = tt.conv._spatial(k, "t", "k"), tt.conv._spatial(s, "t", "s")
    pads = padding_amounts(padding, xs[1:3], kk, ss, (1, 1), "t")
    np.testing.assert_allclose(tt.nn.max_pool2d(x, k, s, padding).numpy(),
                               direct_pool(x, kk, ss, pads, np.nanmax), rtol=1e-12)
    np.testing.assert_allclose(tt.nn.avg_pool2d(x, k, s, padding).numpy(),
                               direct_pool(x, kk, ss, pads, np.nanmean), rtol=1e-12)
    order = 2 if tt_backend == "interpret" else 1
    tt.testing.check_gradients(lambda a: tt.nn.max_pool2d(a, k, s, padding), [x], order=order)
    tt.testing.check_gradients(lambda a: tt.nn.avg_pool2d(a, k, s, padding), [x], order=order)


def test_pools_at_extremes_and_in_float32():
    x = np.array([-1e4, 1e4, 3.0, -2.0], np.float32).reshape(1, 2, 2, 1)
    xt = tt.constant(x)
    with tt.GradientTape(persistent=True) as tape:
        tape.watch(xt)
        mx = tt.nn.max_pool2d(xt, 2, 1, "SAME")
        av = tt.nn.avg_pool2d(xt, 2, 1, "SAME")
    assert mx.dtype == av.dtype == tt.float32
    np.testing.assert_allclose(mx.numpy()[0, :, :, 0], [[1e4, 1e4], [3.0, -2.0]])
    np.testing.assert_allclose(av.numpy()[0, 1, 1, 0], -2.0)
    for out in (mx, av):
        assert np.all(np.isfinite(tape.gradient(out, xt).numpy()))


def test_compiled_conv_net_step_matches_eager():
    x, w = r(4, 8, 8, 1).astype(np.float32), r(3, 3, 1, 4).astype(np.float32)

    def loss(w, x):
        h = tt.nn.relu(tt.nn.conv2d(x, w, 1, "SAME"))
        return tt.reduce_mean(tt.nn.max_pool2d(h, 2, 2, "VALID"))
    g = tt.grad(loss)
    with tt.GradientTape() as tape:
        wt = tt.constant(w)
        tape.watch(wt)
        val = loss(wt, x)
    np.testing.assert_allclose(g(w, x).numpy(), tape.gradient(val, wt).numpy(), rtol=1e-5,
                               atol=1e-7)


def test_max_pool_ties_send_the_gradient_to_the_first_maximum(tt_backend):
    # as TensorFlow, JAX and PyTorch: row-major first maximum of each window
    x = np.array([[1.0, 2.0, 2.0], [2.0, 0.0, 2.0], [1.0, 1.0, 1.0]]).reshape(1, 3, 3, 1)
    g = tt.grad(lambda a: tt.reduce_sum(tt.nn.max_pool2d(a, 2, 1, "VALID")))(x)
    np.testing.assert_array_equal(g.numpy()[0, :, :, 0], [[0, 2, 0], [1, 0, 1], [0, 0, 0]])


def test_max_pool_nan_inf_and_integers(tt_backend):
    # a window holding NaN gives NaN and sends the gradient to its first NaN (as
    # np.argmax picks it); -inf and +inf are ordinary values; integer inputs pool too
    x = np.array([[1.0, np.nan, 3.0, -np.inf], [np.nan, 0.0, np.inf, 2.0]])
    x = x.reshape(1, 2, 4, 1)
    f = tt.function(lambda a: tt.nn.max_pool2d(a, 2, 2, "VALID"))
    np.testing.assert_array_equal(f(x).numpy().ravel(), [np.nan, np.inf])
    g = tt.grad(lambda a: tt.reduce_sum(tt.nn.max_pool2d(a, 2, 2, "VALID")))(x)
    np.testing.assert_array_equal(g.numpy()[0, :, :, 0], [[0, 1, 0, 0], [0, 0, 1, 0]])
    xi = np.array([[5, -7, 1], [2, 9, 9], [4, 3, 8]], np.int32).reshape(1, 3, 3, 1)
    out = tt.function(lambda a: tt.nn.max_pool2d(a, 2, 1, "SAME"))(xi)
    assert out.dtype == tt.int32
    np.testing.assert_array_equal(out.numpy()[0, :, :, 0], [[9, 9, 9], [9, 9, 9], [4, 8, 8]])
