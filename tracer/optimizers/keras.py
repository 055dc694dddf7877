"""Keras 3 optimizers: ``SGD``, ``Adam``, ``AdamW``, ``RMSprop``, ``Adagrad``.

Each step: gradients that are None are skipped; slot Variables (zeros, or Adagrad's
initial accumulator) are created the first time a Variable is updated, in its shape and
dtype; the learning rate (a float, or a callable of the step count, 0 on the first step)
is read once (a number is kept in a float32 Variable, so assigning ``learning_rate``
reaches compiled steps too); the gradients are clipped (``clipnorm``, ``global_clipnorm``
or ``clipvalue``, at most one of them); the weights decay (``weight_decay``, AdamW's by
default); every Variable is updated by its rule; then ``iterations`` (an int64 Variable)
grows by one. Hyperparameters are cast to each
Variable's dtype as Keras does (its learning rate is stored as float32 first).

Inside ``tt.function`` the same code traces into one compiled step: reads of Variables
are graph inputs, assignments become in-place updates, and slots created during the first
trace become state of the function.
"""
import contextlib
import re

import numpy as np

from tracer import norms, ops
from tracer.argvars import ArgumentVariable
from tracer.creation import convert_to_tensor, fill, zeros
from tracer.optimizers import rules
from tracer.variable import Variable


try:
    from tracer.tracing import variable_creation as _slot_creation
except ImportError:                   # no stateful tracing yet: slots are made eagerly only
    _slot_creation = contextlib.nullcontext


class Optimizer:
    """Base class: slots, learning rate, ``apply``/``apply_gradients`` and ``iterations``."""

    _slot_names = ()

    def __init__(self, learning_rate, name, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None):
        if not callable(learning_rate):
            learning_rate = _valid_rate(learning_rate, name)
        self._learning_rate = learning_rate
        # a constant rate lives in a float32 Variable (Keras stores it so): compiled steps
        # read it at each call, so assigning ``learning_rate`` needs no retrace
        self._rate = None if callable(learning_rate) else Variable(
            np.float32(learning_rate), trainable=False, name=f"{name}/learning_rate")
        self.name = name
        self.iterations = Variable(np.int64(0), trainable=False, name=f"{name}/iterations")
        self._slots = {}            # id(variable) -> (variable, {slot name: Variable})
        self.weight_decay = _non_negative(name, "weight_decay", weight_decay)
        clips = {"clipnorm": clipnorm, "clipvalue": clipvalue,
                 "global_clipnorm": global_clipnorm}
        if sum(c is not None for c in clips.values()) > 1:
            raise ValueError(f"{name}: only one of `clipnorm`, `clipvalue` and "
                             f"`global_clipnorm` can be set; got " +
                             ", ".join(f"{k}={v!r}" for k, v in clips.items()))
        self.clipnorm, self.clipvalue, self.global_clipnorm = (
            _non_negative(name, k, v) for k, v in clips.items())
        self._decay_excluded = set()        # ids of Variables that do not decay
        self._decay_pattern = None          # or a regex searched in Variable names
        self._decay_factors = {}            # id(variable) -> (variable, factor Variable)

    @property
    def learning_rate(self):
        """The learning rate for the next step (a float32 tensor, or the callable's value).
        Assigning a number sets it (as in Keras), also for compiled steps already traced;
        a rate given as a callable of the step stays that callable."""
        return convert_to_tensor(self._current_rate())

    @learning_rate.setter
    def learning_rate(self, value):
        if self._rate is None or callable(value):
            made = "a callable of the step" if self._rate is None else "a number"
            raise TypeError(f"{self.name}: learning_rate can be set to a number when the "
                            f"optimizer was made with a number; it was made with {made} and "
                            f"got {type(value).__name__}. Make a new optimizer to change a "
                            f"schedule")
        self._rate.assign(np.float32(_valid_rate(value, self.name)))

    def _current_rate(self):
        if self._rate is None:
            return convert_to_tensor(self._learning_rate(self.iterations.value()))
        return self._rate.value()

    @property
    def variables(self):
        """The optimizer's own Variables, as Keras lists them: ``iterations``, the learning
        rate (when a number), then the slots, by slot name and in the order the Variables
        were first updated."""
        out = [self.iterations] + ([self._rate] if self._rate is not None else [])
        for n in self._slot_names:
            out += [made[n] for _, made in self._slots.values() if n in made]
        return out

    def build(self, var_list):
        """Create the slots of ``var_list`` now (they are otherwise made on each Variable's
        first update)."""
        variables = list(var_list)
        for v in variables:
            if not isinstance(v, Variable) or isinstance(v, ArgumentVariable):
                raise TypeError(f"{self.name}.build: expected tt.Variable objects, got "
                                f"{type(v).__name__}")
        self._ensure_slots(variables)

    def exclude_from_weight_decay(self, var_list=None, var_names=None):
        """Exempt from ``weight_decay`` the Variables of ``var_list`` and those whose name
        contains a match of one of the regular expressions ``var_names``. Configure it
        before the first step."""
        if self._slots or int(self.iterations.numpy()):
            raise ValueError(f"{self.name}.exclude_from_weight_decay: configure it before "
                             f"the optimizer's first step")
        self._decay_excluded = {id(v) for v in (var_list or ())}
        names = sorted(set(var_names or ()))
        self._decay_pattern = re.compile("|".join(names)) if names else None

    def slots(self, variable):
        """This optimizer's slot Variables for ``variable`` (a dict; empty before its first
        update)."""
        entry = self._slots.get(id(variable))
        return dict(entry[1]) if entry else {}

    def _slot_initial(self, name, variable):
        return zeros(variable.shape, variable.dtype)

    def _ensure_slots(self, variables):
        missing = [v for v in variables if id(v) not in self._slots]
        if not missing:
            return
        with _slot_creation():
            for v in missing:
                made = {n: Variable(self._slot_initial(n, v), trainable=False,
                                    name=f"{self.name}/{_bare(v.name)}/{n}")
                        for n in self._slot_names if self._wants_slot(n)}
                self._slots[id(v)] = (v, made)

    def _wants_slot(self, name):
        return True

    def _slots_of(self, v):
        """``v``'s slot Variables by name (made on its first update). For a Variable passed
        as an argument of a traced function: stand-ins bound, at each call, to the slots
        of the Variable actually passed (made then if it has none yet)."""
        if isinstance(v, ArgumentVariable):
            return {n: v.derive((id(self), n), lambda real, n=n: self._slots_of(real)[n],
                                v.shape, v.dtype, name=f"{self.name}/{_bare(v.name)}/{n}")
                    for n in self._slot_names if self._wants_slot(n)}
        self._ensure_slots([v])
        return self._slots[id(v)][1]

    def apply_gradients(self, grads_and_vars):
        """Apply ``(gradient, variable)`` pairs (None gradients are skipped); returns
        ``iterations``."""
        pairs = list(grads_and_vars)
        return self.apply([g for g, _ in pairs], [v for _, v in pairs])

    def apply(self, grads, trainable_variables):
        """One step: update each Variable from its gradient (None gradients are skipped)."""
        grads, variables = list(grads), list(trainable_variables)
        if len(grads) != len(variables):
            raise ValueError(f"{self.name}.apply: got {len(grads)} gradients for "
                             f"{len(variables)} variables; they must pair up")
        pairs = [(g, v) for g, v in zip(grads, variables) if g is not None]
        for _, v in pairs:
            if not isinstance(v, Variable):
                raise TypeError(f"{self.name}.apply: expected tt.Variable to update, got "
                                f"{type(v).__name__}")
        if not pairs:
            return self.iterations
        grads = self._clip([self._gradient(g, v) for g, v in pairs])
        variables = [v for _, v in pairs]
        self._ensure_slots([v for v in variables if not isinstance(v, ArgumentVariable)])
        slots = [self._slots_of(v) for v in variables]
        lr = self._current_rate()
        self._decay(variables, lr)
        for g, v, s in zip(grads, variables, slots):
            self._update(g, v, _in_dtype(lr, v.dtype), s)
        self.iterations.assign_add(1)
        return self.iterations

    def _gradient(self, g, v):
        g = convert_to_tensor(g) if not hasattr(g, "dtype") else g
        if tuple(g.shape) != tuple(v.shape):
            raise ValueError(f"{self.name}.apply: gradient of shape {tuple(g.shape)} for "
                             f"variable '{v.name}' of shape {v.shape}; shapes must match")
        if v.dtype.kind != "f":
            raise TypeError(f"{self.name}.apply: variable '{v.name}' has dtype {v.dtype}; "
                            f"only float variables can be trained")
        return ops.cast(g, v.dtype)

    def _clip(self, grads):
        """Keras's gradient clipping: each gradient to norm ``clipnorm``, all of them to
        global norm ``global_clipnorm``, or each entry into [-clipvalue, clipvalue]."""
        if self.clipnorm:
            return [norms.clip_by_norm(g, self.clipnorm) for g in grads]
        if self.global_clipnorm:
            return norms.clip_by_global_norm(grads, self.global_clipnorm)[0]
        if self.clipvalue:
            return [ops.clip_by_value(g, -self.clipvalue, self.clipvalue) for g in grads]
        return grads

    def _decay(self, variables, lr):
        """Decoupled weight decay, ``w -= w * weight_decay * lr``, before the update."""
        if not self.weight_decay:
            return
        for v in variables:
            if isinstance(v, ArgumentVariable):
                # which Variable is passed is known per call: its factor (weight_decay, or
                # 0 when excluded) is state bound at each call
                factor = v.derive((id(self), "weight_decay"), self._decay_factor, (), v.dtype,
                                  name=f"{self.name}/{_bare(v.name)}/weight_decay").value()
            elif self._decays(v):
                factor = self.weight_decay
            else:
                continue
            v.assign(rules.weight_decay(v.value(), _in_dtype(lr, v.dtype), factor))

    def _decays(self, v):
        return id(v) not in self._decay_excluded and not (
            self._decay_pattern is not None and self._decay_pattern.search(v.name or ""))

    def _decay_factor(self, v):
        hit = self._decay_factors.get(id(v))
        if hit is None:
            with _slot_creation():
                hit = (v, Variable(np.asarray(self.weight_decay if self._decays(v) else 0.0,
                                              v.dtype), trainable=False,
                                   name=f"{self.name}/{_bare(v.name)}/weight_decay"))
            self._decay_factors[id(v)] = hit
        return hit[1]

    def _update(self, g, v, lr, slots):
        raise NotImplementedError

    def _step(self, dtype):
        """The 1-based step number of the update being made, in ``dtype``."""
        return ops.cast(ops.add(self.iterations.value(), 1), dtype)

    def __repr__(self):
        return f"<tt.optimizers.{type(self).__name__} '{self.name}'>"


def _bare(name):
    """A Variable's name without TensorFlow's output index (``"w:0"`` -> ``"w"``)."""
    return name.rsplit(":", 1)[0] if name and ":" in name else name


def _valid_rate(value, name):
    value = float(value)
    if not np.isfinite(value) or value < 0:
        raise ValueError(f"{name}: learning_rate must be a non-negative finite number "
                         f"or a callable of the step, got {value!r}")
    return value


def _in_dtype(x, dtype):
    """A Python float stays weak (it takes the variable's dtype); tensors are cast."""
    return x if isinstance(x, float) else ops.cast(x, dtype)


def _non_negative(name, what, value):
    """None, or ``value`` as a float when it is a finite number >= 0."""
    if value is None:
        return None
    out = float(value)
    if not np.isfinite(out) or out < 0:
        raise ValueError(f"{name}: {what} must be None or a finite number >= 0, got {value!r}")
    return out


def _check_unit(name, what, value, upper_open=False):
    value = float(value)
    if not (0 <= value < 1 if upper_open else 0 <= value <= 1):
        raise ValueError(f"{name}: {what} must be in [0, 1{')' if upper_open else ']'}, "
                         f"got {value!r}")
    return value


class SGD(Optimizer):
    """Gradient descent with optional (Nesterov) momentum:
    ``m = momentum * m - lr * g; w += m`` (Nesterov: ``w += momentum * m - lr * g``)."""
    _slot_names = ("momentum",)

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, name="SGD"):
        super().__init__(learning_rate, name, weight_decay, clipnorm, clipvalue,
                         global_clipnorm)
        self.momentum = _check_unit(name, "momentum", momentum)
        self.nesterov = bool(nesterov)

    def _wants_slot(self, name):
        return self.momentum != 0

    def _update(self, g, v, lr, slots):
        if not slots:
            v.assign_sub(ops.multiply(g, lr))
            return
        m = slots["momentum"]
        step, trace = rules.momentum_trace(ops.negative(ops.multiply(g, lr)), m.value(),
                                           self.momentum, self.nesterov)
        m.assign(trace)
        v.assign_add(step)


class Adam(Optimizer):
    """Adam (Kingma and Ba) with Keras's epsilon-hat placement; ``amsgrad`` keeps the
    running maximum of the second moment."""
    _slot_names = ("momentum", "velocity", "velocity_hat")

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, name="adam"):
        super().__init__(learning_rate, name, weight_decay, clipnorm, clipvalue,
                         global_clipnorm)
        self.beta_1 = _check_unit(name, "beta_1", beta_1, True)
        self.beta_2 = _check_unit(name, "beta_2", beta_2, True)
        self.epsilon = float(epsilon)
        self.amsgrad = bool(amsgrad)

    def _wants_slot(self, name):
        return name != "velocity_hat" or self.amsgrad

    def _update(self, g, v, lr, slots):
        m, vel = slots["momentum"], slots["velocity"]
        new_m, new_v = rules.adam_moments(g, m.value(), vel.value(), self.beta_1, self.beta_2)
        m.assign(new_m)
        vel.assign(new_v)
        if self.amsgrad:
            v_hat = slots["velocity_hat"]
            new_v = ops.maximum(v_hat.value(), new_v)
            v_hat.assign(new_v)
        v.assign_sub(rules.adam_step(new_m, new_v, self._step(v.dtype), lr, self.beta_1,
                                     self.beta_2, self.epsilon, epsilon_hat=True))


class AdamW(Adam):
    """Adam with decoupled weight decay: ``w -= w * weight_decay * lr`` before each step."""

    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-7, amsgrad=False, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, name="adamw"):
        if weight_decay is None:
            raise ValueError(f"{name}: weight_decay must be a number for AdamW, got None")
        super().__init__(learning_rate, beta_1, beta_2, epsilon, amsgrad, weight_decay,
                         clipnorm, clipvalue, global_clipnorm, name)


class RMSprop(Optimizer):
    """RMSprop: ``s = rho * s + (1 - rho) * g^2; w -= lr * g / sqrt(s + epsilon)``, through
    a momentum accumulator when ``momentum > 0``."""
    _slot_names = ("velocity", "momentum", "average_gradient")

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7,
                 centered=False, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, name="rmsprop"):
        super().__init__(learning_rate, name, weight_decay, clipnorm, clipvalue,
                         global_clipnorm)
        self.rho = _check_unit(name, "rho", rho)
        self.momentum = _check_unit(name, "momentum", momentum)
        self.epsilon = float(epsilon)
        self.centered = bool(centered)

    def _wants_slot(self, name):
        return (name != "momentum" or self.momentum > 0) and (
            name != "average_gradient" or self.centered)

    def _update(self, g, v, lr, slots):
        vel = slots["velocity"]
        new_vel = rules.decayed_average(ops.square(g), vel.value(), self.rho)
        vel.assign(new_vel)
        if self.centered:
            # Keras: the mean square less the squared mean gradient (a variance estimate)
            avg = slots["average_gradient"]
            new_avg = rules.decayed_average(g, avg.value(), self.rho)
            avg.assign(new_avg)
            new_vel = ops.subtract(new_vel, ops.square(new_avg))
        inc = rules.rms_increment(g, new_vel, lr, self.epsilon)
        if self.momentum > 0:
            m = slots["momentum"]
            inc, trace = rules.momentum_trace(inc, m.value(), self.momentum, False)
            m.assign(trace)
        v.assign_sub(inc)


class Adagrad(Optimizer):
    """Adagrad: ``a += g^2; w -= lr * g / sqrt(a + epsilon)``, ``a`` starting at
    ``initial_accumulator_value``."""
    _slot_names = ("accumulator",)

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7,
                 weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, name="adagrad"):
        super().__init__(learning_rate, name, weight_decay, clipnorm, clipvalue,
                         global_clipnorm)
        self.initial_accumulator_value = float(initial_accumulator_value)
        if self.initial_accumulator_value < 0:
            raise ValueError(f"{name}: initial_accumulator_value must be >= 0")
        self.epsilon = float(epsilon)

    def _slot_initial(self, name, variable):
        return fill(variable.shape, np.asarray(self.initial_accumulator_value, variable.dtype))

    def _update(self, g, v, lr, slots):
        acc = slots["accumulator"]
        new_acc = ops.add(acc.value(), ops.square(g))
        acc.assign(new_acc)
        v.assign_sub(rules.rms_increment(g, new_acc, lr, self.epsilon))

