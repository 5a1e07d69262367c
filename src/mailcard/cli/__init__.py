"""The ``mailcard`` command line (Typer). Each command group lives in its own module with a ``register(app)``."""
