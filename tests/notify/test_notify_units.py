"""The pieces on their own: config refusals, the digest's folding, the bucket, secret parts,
and the reconnect-storm and UNPROTECTED derivations (driven by hand: a replay has neither)."""

from __future__ import annotations

import logging

import pytest
from tapedesk.engine.config import ConfigError, DeskConfig, load_config
from tapedesk.engine.notify_config import NotifyConfig, TelegramConfig
from tapedesk.engine.notify_digest import Digest, Note, TokenBucket
from tapedesk.engine.notify_secrets import ScrubSecrets, check_bot_token, secret_parts


def test_the_config_holds_names_never_urls(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[notify]\nurls = ["ok", "tgram://123456:SECRETSECRETSECRET/99"]\n')
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert "notify.urls[1]: is not a name" in str(err.value)
    assert "SECRET" not in str(err.value)
    assert DeskConfig().notify.urls == [] and not DeskConfig().telegram.enabled


def test_telegram_needs_chat_ids_and_an_http_url():
    with pytest.raises(ValueError, match="allowed_chat_ids"):
        TelegramConfig(enabled=True)
    with pytest.raises(ValueError, match="http"):
        TelegramConfig(api_url="ftp://x")
    with pytest.raises(ValueError, match="not a Telegram bot token") as err:
        check_bot_token("123:short")
    assert "short" not in str(err.value)


def test_the_digest_folds_and_the_bucket_limits():
    now = [0.0]
    d = Digest(clock=lambda: now[0])
    for i in range(37):
        now[0] = i * 1.5
        d.add(Note("fill", "BTCUSDT", f"Entry filled #{i}"))
    assert d.due(60) == 60 and not d.urgent
    d.add(Note("halt", "", "Desk HALTED."))
    assert d.due(60) == 0
    title, body, notes = d.take()
    assert notes == 38 and not d
    assert body.splitlines()[0] == "Desk HALTED."
    assert "37 fills on BTCUSDT in 54 s; last 3:" in body and "#36" in body and "#33" not in body
    assert title.startswith("Tapedesk: halt, 37 fills")
    b = TokenBucket(2, 60, clock=lambda: now[0])
    b.take()
    b.take()
    assert b.wait_s() == pytest.approx(1.0)
    now[0] += 0.5
    assert b.wait_s() == pytest.approx(0.5)


def test_secret_parts_cover_what_a_url_carries():
    parts = secret_parts("tgram://123456789:AAHtokenTOKENtoken/-1001234?format=text")
    assert "123456789:AAHtokenTOKENtoken" in parts and "AAHtokenTOKENtoken" in parts
    rec = logging.LogRecord("apprise", logging.WARNING, "", 0, "posting to %s failed", (
        "https://api.telegram.org/bot123456789:AAHtokenTOKENtoken/sendMessage",), None)
    ScrubSecrets(parts).filter(rec)
    assert "AAHtoken" not in rec.getMessage() and "***" in rec.getMessage()


class _Supervisor:
    def __init__(self) -> None:
        self.restarts: list[str] = []


def test_a_reconnect_storm_is_told_once_per_storm():
    from types import SimpleNamespace

    from tapedesk.engine.notifier import Notifier

    market, user = _Supervisor(), _Supervisor()
    engine = SimpleNamespace(feed=SimpleNamespace(inner=SimpleNamespace(supervisors=[market])),
                             venue=SimpleNamespace(user_stream=user), orders=None)
    n = Notifier(engine, [], NotifyConfig(urls=["x"], storm_reconnects=3, storm_window_s=60))
    told: list[Note] = []
    n.note = told.append  # type: ignore[method-assign]
    market.restarts += ["no message for 30.1 s", "connect failed: refused"]
    n.check_reconnects(0)
    assert told == []
    user.restarts.append("connect failed: https://x/ws/abcdefghijklmnopqrstuvwxyz123456")
    n.check_reconnects(1)
    n.check_reconnects(2)
    assert len(told) == 1 and "3 stream reconnects in the last 60 s" in told[0].text
    assert "abcdefghijklmnop" not in told[0].text  # a listenKey in a URL is masked
    n.check_reconnects(100)  # the window emptied: the storm is over
    market.restarts += ["a", "b", "c"]
    n.check_reconnects(101)
    assert len(told) == 2


def test_unprotected_is_told_after_its_delay_once_per_episode():
    from types import SimpleNamespace

    from tapedesk.engine.notifier import Notifier

    current: set[str] = set()
    engine = SimpleNamespace(orders=SimpleNamespace(unprotected=lambda: tuple(current)),
                             position=lambda sym: None, feed=None, venue=None)
    n = Notifier(engine, [], NotifyConfig(urls=["x"], unprotected_after_s=3))
    told: list[Note] = []
    n.note = told.append  # type: ignore[method-assign]
    current.add("BTCUSDT")  # every entry is briefly unprotected: not worth a message
    n.check_unprotected(0)
    current.clear()
    n.check_unprotected(1)
    current.add("BTCUSDT")
    n.check_unprotected(2)
    n.check_unprotected(4.9)
    assert told == []
    n.check_unprotected(5.0)
    n.check_unprotected(9.0)
    assert [t.kind for t in told] == ["unprotected"] and "for 3 s" in told[0].text
