"""Built-in strategies; importing this package registers them."""

from tapedesk.engine.strategies import (  # noqa: F401
    book_imbalance,
    ema_cross,
    grid,
    liquidity_sweep,
    mean_reversion,
)
