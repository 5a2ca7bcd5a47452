"""Attack: `tapedesk close` whose order never reaches the book (503 -1007 before the exchange
applied it, twice). The position is still open, so the desk must send the close again — the
same reduce-only market close, never a second one that lands — until flat; never short."""

from __future__ import annotations

import pytest

from tests.attacks_desk._venue import covered, rows
from tests.local_exchange import LocalExchange
from tests.local_exchange.desk import KEY, SECRET, Desk, Heartbeat, desk_keyring, write_config
from tests.local_exchange.request_log import ORDER

__all__ = ["desk_keyring"]
pytestmark = pytest.mark.keyring


def _closing(p: dict[str, str]) -> bool:
    return p.get("type") == "MARKET" and p.get("reduceOnly", "").lower() == "true"


async def test_a_close_that_never_reached_the_book_is_sent_again(tmp_path, desk_keyring):
    ex = LocalExchange(api_key=KEY, api_secret=SECRET)
    await ex.start()
    desk = Desk(tmp_path, write_config(tmp_path, ex), desk_keyring)
    try:
        await desk.start()
        await desk.wait_for(lambda: ex.private_connected() >= 1, 30, "user stream")
        with Heartbeat(ex):
            await ex.set_price("BTCUSDT", "60007")
            await desk.wait_for(lambda: covered(ex), 20, "entry, stop and target")
            ex.inject(path=ORDER, method="POST", status=503, code=-1007, times=2,
                      msg="Timeout waiting for response from backend server. Send status "
                          "unknown; execution status unknown.", when=_closing)
            said = await desk.acli("close", "BTCUSDT")
            assert said.returncode == 0, said
            await desk.wait_for(lambda: ex.account.positions["BTCUSDT"].amount == 0, 20,
                                "the close re-sent until flat")
            await desk.wait_for(lambda: rows(desk, "SELECT reason FROM trades"), 10, "trade")
            assert ex.account.positions["BTCUSDT"].amount == 0
            # The trade is journaled at the closing fill; the stop and target left on the
            # book are cancelled after it, and their end is journaled when the venue says so.
            await desk.wait_for(lambda: desk.journal_open_orders() == [], 10,
                                "the stop and target cancelled and journaled")
        closes = [r for r in ex.requests.posts(ORDER) if _closing(r.params)]
        assert len(ex.requests.rejected(-1007)) == 2
        assert [r.status for r in closes if r.code == 0] == [200], closes
        assert rows(desk, "SELECT reason FROM trades") == [("manual",)]
        assert desk.journal_open_orders() == []
    finally:
        await desk.stop()
        await ex.stop()
