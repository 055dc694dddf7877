"""Per-thread tracer state and the two protocols the rest of ``tracer`` is written against.

``STATE.tapes`` lists the recorders active on this thread (innermost last); ``STATE.trace``
is the active trace context or None. Nothing here imports another tracer module.

Recording protocol (``GradientTape`` and the private tape of ``custom_gradient`` implement
it; ``tracer.recording`` is its only caller on the op path):

- ``recorder.active``: set of nodes the recorder differentiates through (watched or
  recorded); an op is recorded when one of its operand nodes is in it;
- ``recorder.values``: node -> eager value the recorder holds for it;
- ``recorder.record(node, value, args, new_nodes)``: ``node`` is the op's result with its
  eager ``value`` (None when traced); ``new_nodes`` are all nodes the op built, in order;
- ``recorder.watch_accessed``, ``recorder.watches(v)`` and ``recorder.watch_variable(v)``:
  reading a trainable Variable while an auto-watching recorder is active watches it, and
  so does reading any Variable the recorder already watches (each read is a source).

Trace-context protocol (``tracing.TraceContext`` implements it): while ``STATE.trace`` is
set, an op whose operands carry no values builds nodes only, and
- ``trace.capture(tensor) -> node``: an eager tensor used by a traced op becomes an input;
- ``trace.capture_variable(variable) -> Tensor``: a Variable's value bound at call time;
- ``trace.read_variable(variable) -> Tensor``: a Variable read while tracing (its latest
  assigned value in this trace, else ``capture_variable``);
- ``trace.assign_variable(variable, tensor)``: a Variable updated while tracing;
- ``trace.describe(node) -> str``: names the argument behind a node (for errors).

``STATE.creating_variables`` (> 0 inside ``tracing.variable_creation()``) lets Variables be
created while tracing (an optimizer's slots on a function's first trace).
"""
import threading


class _State(threading.local):
    def __init__(self):
        self.tapes = []        # recorders of this thread, innermost last
        self.trace = None      # the active trace context, if tracing
        self.creating_variables = 0
        self.op = None         # the public composite op running (tt.config.debug_nans)


STATE = _State()
