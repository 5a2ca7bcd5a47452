"""A live SHORT through the whole desk (``tapedesk --live run --headless`` against the local
exchange, keys in a real keyring). The order sides of the paths live trading runs come
from ``Side.order_side`` and ``Side.opposite.order_side`` (plain member attributes, once
tables), and every other live test goes long: here the entry must SELL,
the stop and the target BUY reduce-only on the right sides of the entry, and the trader's
``tapedesk close`` BUY reduce-only, with the trade journaled as a short."""

from __future__ import annotations

import sqlite3
from decimal import Decimal

import pytest

from tests.local_exchange import LocalExchange
from tests.local_exchange.desk import (
    KEY,
    SECRET,
    Desk,
    Heartbeat,
    desk_keyring,
    stop_and_target_cover,
    write_config,
)
from tests.local_exchange.request_log import ORDER

__all__ = ["desk_keyring"]
D = Decimal
pytestmark = pytest.mark.keyring

SHORT = '''
from tapedesk import Signal, Side, Strategy, register


@register("attack_short")
class AttackShort(Strategy):
    """Short on a quote whose bid ends in 3, when flat, once per such price."""

    def on_quote(self, quote):
        level = int(quote.bid)
        if level % 10 != 3 or level == getattr(self, "last_level", None):
            return None
        if self.ctx is not None and self.ctx.position(quote.symbol) is not None:
            return None
        self.last_level = level
        entry = quote.bid
        return Signal(self.name, quote.symbol, Side.SHORT, quote.ts, entry,
                      stop_loss=entry * 1.002, take_profit=entry * 0.996,
                      reasons=[f"attack test: bid {quote.bid} ends in 3"])
'''


def _rows(desk: Desk, sql: str) -> list[tuple]:
    with sqlite3.connect(f"file:{desk.data_dir / 'live.db'}?mode=ro", uri=True) as conn:
        return conn.execute(sql).fetchall()


def _covered_short(ex: LocalExchange) -> bool:
    size, stop, target = stop_and_target_cover(ex)
    return ex.account.positions["BTCUSDT"].amount < 0 and stop == size == target


async def test_a_live_short_sells_in_buys_its_stop_and_target_and_closes_with_a_buy(
        tmp_path, desk_keyring):
    ex = LocalExchange(api_key=KEY, api_secret=SECRET)
    await ex.start()
    cfg = write_config(tmp_path, ex)
    plugins = tmp_path / "xdg-config" / "tapedesk" / "strategies"
    (plugins / "attack_short.py").write_text(SHORT)
    cfg.write_text(cfg.read_text().replace('name = "attack_long"', 'name = "attack_short"'))
    desk = Desk(tmp_path, cfg, desk_keyring)
    try:
        await desk.start()
        await desk.wait_for(lambda: ex.private_connected() >= 1, 30, "user stream")
        with Heartbeat(ex):
            await ex.set_price("BTCUSDT", "60003")
            await desk.wait_for(lambda: _covered_short(ex), 20,
                                "short entry, stop and target")
            pos = ex.account.positions["BTCUSDT"]
            qty, entry = -pos.amount, pos.entry
            [entry_post] = [r for r in ex.requests.posts(ORDER)
                            if r.params.get("type") == "MARKET"]
            assert entry_post.params["side"] == "SELL" and not entry_post.reduces
            algos = {a.type: a for a in ex.account.open_algos("BTCUSDT")}
            stop, target = algos["STOP_MARKET"], algos["TAKE_PROFIT_MARKET"]
            assert (stop.side, target.side) == ("BUY", "BUY")
            assert stop.reduce_only and target.reduce_only and stop.qty == target.qty == qty
            assert target.trigger_price < entry < stop.trigger_price

            closed = await desk.acli("close", "BTCUSDT")
            assert closed.returncode == 0, closed
            assert f"reduce-only market BUY {qty} sent" in closed.stdout, closed.stdout
            [close] = [r for r in ex.requests.posts(ORDER)
                       if r.params.get("type") == "MARKET" and r.params.get("side") == "BUY"]
            assert close.reduces and D(close.params["quantity"]) == qty
            assert ex.account.positions["BTCUSDT"].amount == 0
            await desk.wait_for(lambda: not ex.account.open_algos("BTCUSDT"), 10,
                                "stop and target cancelled")
        await desk.wait_for(lambda: _rows(desk, "SELECT reason FROM trades"), 10,
                            "the trade in the journal")
        [(side, reason, trade_qty)] = _rows(desk, "SELECT side, reason, qty FROM trades")
        assert (side, reason, D(trade_qty)) == ("short", "manual", qty)
        desk.assert_no_secret()
    finally:
        await desk.stop()
        await ex.stop()
