"""Exceptions raised by the front end."""


class TracingError(Exception):
    """A traced (symbolic) tensor's value was needed by Python code inside tt.function."""
