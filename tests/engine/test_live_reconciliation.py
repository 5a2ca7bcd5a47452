"""A live start compares the exchange with the journal and will not trade until each
difference is answered (adopt / flatten / ignore)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from tapedesk.engine.config import DeskConfig
from tapedesk.engine.engine import Engine
from tapedesk.engine.events import OrderRole, OrderType, Position, Side
from tapedesk.engine.journal import Journal
from tapedesk.engine.paper_venue import PaperVenue
from tapedesk.engine.strategy import create


class ExchangeLikeVenue(PaperVenue):
    """A paper venue that presents itself as a real exchange (not simulated)."""

    simulated = False
    name = "exchange"

    async def close_position(self, position: Position) -> None:
        from tapedesk.engine.events import OrderIntent

        self.submit(OrderIntent("rc-1", position.symbol, position.side.opposite.order_side,
                                OrderType.MARKET, position.qty, OrderRole.FLATTEN, 0,
                                reduce_only=True))

    async def cancel_async(self, symbol: str, client_id: str) -> None:
        self.cancel(symbol, client_id)


def _venue_holding_a_position() -> ExchangeLikeVenue:
    venue = ExchangeLikeVenue(Decimal(10_000))
    venue.last_price["BTCUSDT"] = 40_000.0
    venue.book.positions["BTCUSDT"] = Position("BTCUSDT", Side.LONG, Decimal("0.100"),
                                               Decimal("40000"), 2, 0)
    return venue


def _engine(tmp_path: Path, venue: PaperVenue) -> Engine:
    return Engine(config=DeskConfig(), venue=venue, strategies=[create("ema_cross")],
                  journal=Journal(tmp_path / "live.db"), mode="live")


async def test_unknown_exchange_position_blocks_trading_until_adopted(tmp_path: Path) -> None:
    eng = _engine(tmp_path, _venue_holding_a_position())
    await eng.start()
    assert eng.reconciliation.blocked
    assert eng.snapshot().extra["gate"].startswith("reconciliation: 1 difference")
    key = eng.reconciliation.pending[0].key
    assert "BTCUSDT" in eng.reconciliation.describe()
    text = await eng.resolve_difference(key, "adopt")
    assert "adopted" in text and "no stop-loss" in text
    assert eng.snapshot().extra["gate"] == ""
    assert eng.book.positions["BTCUSDT"].qty == Decimal("0.100")
    await eng.stop()


async def test_flatten_answer_closes_the_exchange_position(tmp_path: Path) -> None:
    venue = _venue_holding_a_position()
    eng = _engine(tmp_path, venue)
    await eng.start()
    await eng.resolve_difference(eng.reconciliation.pending[0].key, "flatten")
    assert await venue.fetch_positions() == {}
    assert not eng.reconciliation.blocked
    await eng.stop()


async def test_agreeing_books_start_unblocked(tmp_path: Path) -> None:
    eng = _engine(tmp_path, ExchangeLikeVenue(Decimal(10_000)))
    await eng.start()
    assert not eng.reconciliation.blocked
    assert "agree" in eng.reconciliation.describe()
    await eng.stop()
