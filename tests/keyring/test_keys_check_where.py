"""`tapedesk keys check --testnet` asks the testnet, not production.

The keys' own flag (`keys check --testnet`) chose which keys were read, but the endpoints were
taken from the top-level flags only, so testnet keys were checked against fapi.binance.com
(always "Binance does not know this API key"). Driven through the desk's own `main`, with the
verifier's endpoints captured: no network is touched.
"""

from __future__ import annotations

import pytest
from tapedesk.engine import cli
from tapedesk.engine.binance import live


@pytest.mark.parametrize(("argv", "where"), [
    (["keys", "check", "--testnet"], "testnet"),
    (["--testnet", "keys", "check"], "testnet"),
    (["keys", "check", "--demo-trading"], "demo-trading"),
    (["keys", "check"], "production"),
    (["keys", "check", "--live"], "production"),
])
def test_keys_are_checked_where_they_belong(argv, where, tmp_path, monkeypatch):
    monkeypatch.setenv("TAPEDESK_HOME", str(tmp_path))
    seen = {}

    def capture(endpoints, recv_window_ms=5000):
        seen["endpoints"] = endpoints
        return None

    def fake_run(action, **kwargs):
        seen.update(kwargs)
        return 0

    monkeypatch.setattr(live, "keys_verifier", capture)
    monkeypatch.setattr("tapedesk.engine.keys_cli.run_keys_command", fake_run)

    assert cli.main(argv) == 0
    assert seen["endpoints"].name == where
    assert seen["environment"] == ("live" if where == "production" else where)
