"""``tt.optimizers``: Keras 3 optimizer classes (``SGD``, ``Adam``, ``AdamW``, ``RMSprop``,
``Adagrad``) updating Variables, and optax-style functional optimizers (``sgd``, ``adam``,
``apply_updates``) over pytrees; both forms share the rules in ``rules``."""
from tracer.optimizers.functional import (AdamState, GradientTransformation, SgdState, adam,
                                          apply_updates, sgd)
from tracer.optimizers.keras import SGD, Adagrad, Adam, AdamW, Optimizer, RMSprop

__all__ = ["SGD", "Adagrad", "Adam", "AdamState", "AdamW", "GradientTransformation",
           "Optimizer", "RMSprop", "SgdState", "adam", "apply_updates", "sgd"]
