"""Seed 002 (gradient tape basics: persistence, nesting, indentation), cell by cell.

Adapted as tests/tracer/test_seeds.py explains: only the import, and the cells whose
stored text is garbled (noted at the test). Printed output is compared with the seed's.
"""
import tracer as tt

ERROR_TEXT = "GradientTape.gradient can only be called once on non-persistent tapes."


def printed(*lines):
    return "".join(line + "\n" for line in lines)


def matrix(rows, dtype="float32"):
    """The seed's multi-line layout of a 2x2 tensor."""
    body = "\n ".join(rows)
    return f"tt.Tensor(\n[{body}], shape=(2, 2), dtype={dtype})"


# -- seed 002: gradient tape basics (persistence, nesting, indentation) -----------------------

def test_seed002_cell_2_basics(tt_backend, capsys):
    # Define a 2x2 array of 1's
    x = tt.ones((2, 2))
    with tt.GradientTape() as t:
        # Record the actions performed on tensor x with 'watch'
        t.watch(x)
        # Define y as the sum of the elements in x
        y = tt.reduce_sum(x)
        # Let z be the square of y
        z = tt.square(y)
    # Get the derivative of z wrt the original input tensor x
    dz_dx = t.gradient(z, x)
    # Print our result
    print(dz_dx)
    assert capsys.readouterr().out == printed(matrix(["[8. 8.]", "[8. 8.]"]))


def seed002_cell_3(persistent):
    x = tt.constant(3.0)
    with tt.GradientTape(persistent=persistent) as t:
        t.watch(x)
        # y = x^2
        y = x * x
        # z = y^2
        z = y * y
    # Compute dz/dx. 4 * x^3 at x = 3 --> 108.0
    dz_dx = t.gradient(z, x)
    print(dz_dx)
    return x, y, t


def test_seed002_cell_3_tape_used_once(tt_backend, capsys):
    seed002_cell_3(persistent=False)
    assert capsys.readouterr().out == printed("tt.Tensor(108.0, shape=(), dtype=float32)")


def test_seed002_cell_4_expired_tape_message(tt_backend, capsys):
    x, y, t = seed002_cell_3(persistent=False)
    capsys.readouterr()
    # If you try to compute dy/dx after the gradient tape has expired:
    try:
        dy_dx = t.gradient(y, x)  # 6.0
        print(dy_dx)
    except RuntimeError as e:
        print("The error message you get is:")
        print(e)
    assert capsys.readouterr().out == printed("The error message you get is:", ERROR_TEXT)


def test_seed002_cell_5_persistent_tape(tt_backend, capsys):
    seed002_cell_3(persistent=True)
    assert capsys.readouterr().out == printed("tt.Tensor(108.0, shape=(), dtype=float32)")


def test_seed002_cells_6_7_reuse_persistent_tape(tt_backend, capsys):
    x, y, t = seed002_cell_3(persistent=True)
    capsys.readouterr()
    # You can still compute dy/dx because of the persistent flag.
    dy_dx = t.gradient(y, x)  # 6.0
    print(dy_dx)
    # Drop the reference to the tape
    del t
    assert capsys.readouterr().out == printed("tt.Tensor(6.0, shape=(), dtype=float32)")


SECOND_ORDER = printed("tt.Tensor(3.0, shape=(), dtype=float32)",
                       "tt.Tensor(6.0, shape=(), dtype=float32)")
EXPIRED = printed("tt.Tensor(3.0, shape=(), dtype=float32)", "None")


def test_seed002_cell_8_first_gradient_inside_outer_block(tt_backend, capsys):
    x = tt.Variable(1.0)
    with tt.GradientTape() as tape_2:
        with tt.GradientTape() as tape_1:
            y = x * x * x

            # The first gradient calculation should occur at least
            # within the outer with block
            dy_dx = tape_1.gradient(y, x)
            d2y_dx2 = tape_2.gradient(dy_dx, x)

        print(dy_dx)
        print(d2y_dx2)
    assert capsys.readouterr().out == SECOND_ORDER
    # the heading's case: the first gradient in the outer block only
    with tt.GradientTape() as tape_2:
        with tt.GradientTape() as tape_1:
            y = x * x * x
        dy_dx = tape_1.gradient(y, x)
        d2y_dx2 = tape_2.gradient(dy_dx, x)
    print(dy_dx)
    print(d2y_dx2)
    assert capsys.readouterr().out == SECOND_ORDER


def test_seed002_cell_9_first_gradient_inside_inner_block(tt_backend, capsys):
    x = tt.Variable(1.0)
    with tt.GradientTape() as tape_2:
        with tt.GradientTape() as tape_1:
            y = x * x * x

            # The first gradient calculation can also be within the inner with block
            dy_dx = tape_1.gradient(y, x)
            d2y_dx2 = tape_2.gradient(dy_dx, x)

        print(dy_dx)
        print(d2y_dx2)
    assert capsys.readouterr().out == SECOND_ORDER


def test_seed002_cell_10_first_gradient_outside_outer_block(tt_backend, capsys):
    # garbled in the seed (indentation lost): the prose puts the first gradient call
    # OUTSIDE the outer `with` block
    x = tt.Variable(1.0)
    with tt.GradientTape() as tape_2:
        with tt.GradientTape() as tape_1:
            y = x * x * x

    # The first gradient call is outside the outer with block
    # so the tape will expire after this
    dy_dx = tape_1.gradient(y, x)

    # The tape is now expired and the gradient output will be `None`
    d2y_dx2 = tape_2.gradient(dy_dx, x)

    print(dy_dx)
    print(d2y_dx2)
    assert capsys.readouterr().out == EXPIRED


def test_seed002_cell_11_persistent_does_not_help(tt_backend, capsys):
    # garbled in the seed (indentation lost), as cell 10
    x = tt.Variable(1.0)

    # Setting persistent=True still won't work
    with tt.GradientTape(persistent=True) as tape_2:
        # Setting persistent=True still won't work
        with tt.GradientTape(persistent=True) as tape_1:
            y = x * x * x

    # The first gradient call is outside the outer with block
    # so the tape will expire after this
    dy_dx = tape_1.gradient(y, x)

    # the output will be `None`
    d2y_dx2 = tape_2.gradient(dy_dx, x)

    print(dy_dx)
    print(d2y_dx2)
    assert capsys.readouterr().out == EXPIRED


def test_seed002_cell_12_second_gradient_as_indented_as_first(tt_backend, capsys):
    # garbled in the seed (the cell's code was split in two blocks): both gradient calls sit
    # in the inner block, "indented as much as the first calculation of dy_dx"
    x = tt.Variable(1.0)

    with tt.GradientTape() as tape_2:
        with tt.GradientTape() as tape_1:
            y = x * x * x

            dy_dx = tape_1.gradient(y, x)

            # this is acceptable
            d2y_dx2 = tape_2.gradient(dy_dx, x)

    print(dy_dx)
    print(d2y_dx2)
    assert capsys.readouterr().out == SECOND_ORDER


def seed002_cell_13_14():
    x = tt.Variable(1.0)

    with tt.GradientTape() as tape_2:
        with tt.GradientTape() as tape_1:
            y = x * x * x

            dy_dx = tape_1.gradient(y, x)

        # this is also acceptable
        d2y_dx2 = tape_2.gradient(dy_dx, x)

    print(dy_dx)
    print(d2y_dx2)


def test_seed002_cell_13_second_gradient_in_outer_block(tt_backend, capsys):
    seed002_cell_13_14()
    assert capsys.readouterr().out == SECOND_ORDER


def test_seed002_cell_14_repeated_cell_gives_same_result(tt_backend, capsys):
    # cell 14 repeats cell 13 verbatim; running it twice must not change anything
    seed002_cell_13_14()
    seed002_cell_13_14()
    assert capsys.readouterr().out == SECOND_ORDER * 2
