"""Built-in strategies; importing this package registers them."""

import importlib.util

from engine.strategies import (  # noqa: F401
    book_imbalance,
    grid,
    liquidity_sweep,
    mean_reversion,
)

# TEMPORARY until the lead's ema_cross.py lands; then a plain import again.
if importlib.util.find_spec("engine.strategies.ema_cross") is not None:
    from engine.strategies import ema_cross  # noqa: F401
