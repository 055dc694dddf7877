"""Testing helpers: gradient checks against finite differences, tensor-aware allclose."""
