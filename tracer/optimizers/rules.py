"""The update rules, one implementation each, written with tensor ops so they run eagerly,
on tapes and inside ``tt.function`` alike. The Keras-style classes and the functional
(optax-style) forms both call these; where the two libraries place a constant
differently (Adam's epsilon, SGD's learning rate inside or outside the momentum), the
rule takes that as a parameter instead of being written twice.
"""
from tracer import ops


def momentum_trace(x, trace, momentum, nesterov):
    """(direction, new trace): ``trace' = momentum * trace + x`` and the direction is
    ``trace'``, or ``x + momentum * trace'`` with Nesterov momentum.

    Keras feeds ``x = -lr * g`` (its velocity holds learning-rate-scaled steps); optax feeds
    ``x = g`` and scales the direction afterwards; RMSprop feeds its increment."""
    new = ops.add(ops.multiply(trace, momentum), x)
    if nesterov:
        return ops.add(ops.multiply(new, momentum), x), new
    return new, new


def ema(x, avg, decay):
    """``avg + (x - avg) * (1 - decay)``: an exponential moving average step."""
    return ops.add(avg, ops.multiply(ops.subtract(x, avg), 1 - decay))


def decayed_average(x, avg, rho):
    """``rho * avg + (1 - rho) * x`` (RMSprop's mean square)."""
    return ops.add(ops.multiply(rho, avg), ops.multiply(1 - rho, x))


def adam_moments(g, m, v, beta_1, beta_2):
    """The new first and second moment estimates."""
    return ema(g, m, beta_1), ema(ops.square(g), v, beta_2)


def adam_step(m, v, step, lr, beta_1, beta_2, epsilon, epsilon_hat):
    """The amount to subtract from the parameter at 1-based ``step`` (a tensor of the
    parameter's dtype). ``epsilon_hat`` (Keras): the bias corrections fold into the step size
    and epsilon is added to sqrt(v) uncorrected; otherwise (optax) epsilon is added to the
    bias-corrected sqrt(v)."""
    b1_power = ops.pow(beta_1, step)        # Python floats: they take the step's dtype
    b2_power = ops.pow(beta_2, step)
    if epsilon_hat:
        alpha = ops.divide(ops.multiply(lr, ops.sqrt(ops.subtract(1, b2_power))),
                           ops.subtract(1, b1_power))
        return ops.divide(ops.multiply(m, alpha), ops.add(ops.sqrt(v), epsilon))
    m_hat = ops.divide(m, ops.subtract(1, b1_power))
    v_hat = ops.divide(v, ops.subtract(1, b2_power))
    return ops.multiply(ops.divide(m_hat, ops.add(ops.sqrt(v_hat), epsilon)), lr)


def rms_increment(g, avg_square, lr, epsilon):
    """``lr * g / sqrt(avg_square + epsilon)`` (RMSprop and Adagrad)."""
    return ops.divide(ops.multiply(lr, g), ops.sqrt(ops.add(avg_square, epsilon)))


def weight_decay(param, lr, decay):
    """``param - param * decay * lr`` (decoupled weight decay, as AdamW)."""
    return ops.subtract(param, ops.multiply(ops.multiply(param, decay), lr))
