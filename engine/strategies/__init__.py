"""Built-in strategies; importing this package registers them."""

from engine.strategies import ema_cross  # noqa: F401
