"""A local Binance USDT-M exchange for tests: see server.py."""

from tests.local_exchange.behaviour import Behaviour
from tests.local_exchange.server import Fault, LocalExchange

__all__ = ["Behaviour", "Fault", "LocalExchange"]
