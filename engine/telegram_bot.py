"""The phone bot: ``/status``, ``/trades``, ``/pnl`` and ``/halt`` over Telegram, for the
chats in ``[telegram] allowed_chat_ids`` only (issue #12).

Long polling (python-telegram-bot's Updater): the desk opens no port. The bot can stop the
desk and never start it: there is no command that resumes, unpauses or opens a trade, and
every other text (or any chat not on the list) is refused and logged, by chat id and
command word only. ``/halt`` is exactly the desk's ctrl+x and `tapedesk halt`: the engine's
emergency stop, then the venue asked whether it is flat (``control.halt_and_verify``); the
reply says what was verified, in the same words as `tapedesk halt`.

The token lives in the keyring (``tapedesk notify telegram-token``). python-telegram-bot puts
it in request URLs (httpx logs those) and in ``InvalidToken``'s text, so every library logger
is scrubbed of it while the bot runs and a failed start is re-raised without it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from decimal import Decimal
from typing import Any

from tapedesk.engine import explanations as say
from tapedesk.engine.desk_log import redact
from tapedesk.engine.keys import scrub
from tapedesk.engine.notify_config import TelegramConfig

log = logging.getLogger("tapedesk.telegram")
#: Seconds closing the bot may take in all (stop polling, stop, shut down).
CLOSE_BUDGET_S = 5.0
REFUSED = ("Refused: I answer /status, /trades, /pnl and /halt only. I never resume the desk "
           "or open a trade: do that at the desk.")
NOT_ALLOWED = "Not allowed."
POLL_TIMEOUT_S = 10
ASIDE_MAX = 20


class TelegramBot:
    def __init__(self, engine: Any, cfg: TelegramConfig, token: str | None = None) -> None:
        self.engine = engine
        self.cfg = cfg
        self.allowed = frozenset(cfg.allowed_chat_ids)
        self._token = token
        self._app: Any = None
        self._guard: Any = None
        self.refused = 0
        self._aside: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        from tapedesk.engine.notify_secrets import guard_logs, load_bot_token

        if self._token is None:
            self._token = await asyncio.to_thread(load_bot_token)
        if not self._token:
            raise RuntimeError("no Telegram bot token in the keyring: store it with "
                               "`tapedesk notify telegram-token`")
        from telegram.ext import ApplicationBuilder, MessageHandler, filters

        self._guard = guard_logs([self._token])  # after the import: its loggers exist now
        app = None
        try:
            app = (ApplicationBuilder().token(self._token).base_url(self.cfg.api_url)
                   .get_updates_read_timeout(POLL_TIMEOUT_S + 5).build())
            guard_logs((), self._guard)  # and the loggers the build created
            # New messages only: an edited old "/halt" is not a new command.
            app.add_handler(MessageHandler(filters.UpdateType.MESSAGE, self._on_message))
            app.add_error_handler(self._on_error)
            await app.initialize()
            await app.start()
            await app.updater.start_polling(poll_interval=0.0, timeout=POLL_TIMEOUT_S,
                                            allowed_updates=["message"],
                                            drop_pending_updates=True)
        except Exception as exc:
            if app is not None:  # close the HTTP clients it may have opened
                with contextlib.suppress(Exception):
                    await app.shutdown()
            # InvalidToken's text holds the token itself: say what failed without it.
            raise RuntimeError(scrub(f"Telegram bot did not start ({type(exc).__name__}: "
                                     f"{exc})", [self._token])) from None
        self._app = app
        log.info("Telegram bot polling; it answers %d allowed chat(s)", len(self.allowed))

    async def close(self) -> None:
        for task in list(self._aside):
            task.cancel()
        app, self._app = self._app, None
        if app is not None:
            # One budget for the three steps: a dead Bot API must not hold the desk's exit
            # (10 s each held it up to 30 s).
            deadline = asyncio.get_running_loop().time() + CLOSE_BUDGET_S
            for step in (app.updater.stop, app.stop, app.shutdown):
                left = max(0.1, deadline - asyncio.get_running_loop().time())
                try:
                    await asyncio.wait_for(step(), left)
                except Exception:
                    log.warning("Telegram bot: %s did not finish cleanly", step.__name__)
        if self._guard is not None:
            from tapedesk.engine.notify_secrets import unguard_logs

            unguard_logs(self._guard)

    async def _on_error(self, _update: object, context: Any) -> None:
        log.warning("Telegram bot: a handler failed (%s)", type(context.error).__name__)

    async def _on_message(self, update: Any, context: Any) -> None:
        chat, msg = update.effective_chat, update.effective_message
        if chat is None or msg is None:
            return
        text = (msg.text or "").strip()
        head = text.split()[0] if text.startswith("/") else ""
        word, _, addressee = head.lower()[:96].partition("@")
        word = word[:32]
        if addressee and addressee != (context.bot.username or "").lower():
            return  # "/halt@other_bot" in a group is another bot's command, not ours
        if chat.id not in self.allowed:
            self.refused += 1
            log.warning("Telegram bot: refused %s from chat %s (not in "
                        "telegram.allowed_chat_ids)", word or "a message", chat.id)
            self._reply_aside(msg, NOT_ALLOWED)
            return
        answer = {"/status": self.status, "/trades": self.trades, "/pnl": self.pnl,
                  "/halt": self.halt}.get(word)
        if answer is None:
            self.refused += 1
            log.warning("Telegram bot: refused %s from allowed chat %s", word or "a message",
                        chat.id)
            await _reply(msg, REFUSED)
            return
        log.info("Telegram bot: %s from chat %s", word, chat.id)
        # The answer (the halt itself) starts first: it never waits for, nor depends on,
        # Telegram accepting the acknowledgement (flood control answers 429).
        job = asyncio.ensure_future(answer())
        if word == "/halt":
            await _reply(msg, "Emergency stop: cancelling every order and closing every "
                              "position; I reply once the venue has been asked…")
        await _reply(msg, await job)

    def _reply_aside(self, msg: Any, text: str) -> None:
        """A stranger's refusal is sent beside the update queue (at most ``ASIDE_MAX`` at
        once, the rest unanswered): a stranger's flood never delays the owner's /halt."""
        if len(self._aside) >= ASIDE_MAX:
            return
        task = asyncio.create_task(_reply(msg, text, logging.DEBUG))
        self._aside.add(task)
        task.add_done_callback(self._aside.discard)

    # -- the answers ------------------------------------------------------------------------

    async def status(self) -> str:
        s = self.engine.snapshot()
        lines = [f"{s.stake} desk: {s.state}" + (f" (day locked: {s.day.lock_reason})"
                                                  if s.day.locked else ""),
                 f"balance {say.money(s.balance)}, equity {say.money(s.equity)} "
                 f"(unrealised {say.signed_money(s.unrealized_pnl)})",
                 f"market data: {s.feed_status}"]
        for p in s.positions.values():
            stop = say.price(p.stop_loss) if p.stop_loss else "NONE"
            target = say.price(p.take_profit) if p.take_profit else "none"
            lines.append(f"{p.side} {p.qty} {p.symbol} @ {say.price(p.entry_price)}, stop "
                         f"{stop}, target {target}")
        if not s.positions:
            lines.append("flat")
        for sym in s.unprotected:
            lines.append(f"UNPROTECTED {sym}: no stop on the exchange")
        if s.journal_error:
            lines.append(f"JOURNAL ERROR: {s.journal_error}")
        return "\n".join(lines)

    async def trades(self) -> str:
        trips = await self.engine.recent_trades(10)
        if not trips:
            return "No closed trades yet."
        return "Last closed trades (newest first):\n" + "\n".join(say.round_trip(t)
                                                                   for t in trips)

    async def pnl(self) -> str:
        s = self.engine.snapshot()
        d = s.day
        start = Decimal(self.engine.initial_balance)
        return (f"Day {d.day}: realised {say.signed_money(d.realized_pnl)} after fees "
                f"{say.money(d.fees)}; {d.trades} trade(s), {d.losses} loss(es)\n"
                f"unrealised {say.signed_money(s.unrealized_pnl)}\n"
                f"equity {say.money(s.equity)} ({say.signed_money(s.equity - start)} since "
                f"the start at {say.money(start)})")

    async def halt(self) -> str:
        from tapedesk.engine.control import halt_and_verify
        from tapedesk.engine.desk_commands import _halt_words

        answer = await halt_and_verify(self.engine)
        line, _flat = _halt_words(answer)
        return redact(f"Desk: {line}")


async def _reply(msg: Any, text: str, level: int = logging.WARNING) -> None:
    """Send a reply; Telegram refusing it (flood control, a network error) is logged."""
    try:
        await msg.reply_text(text)
    except Exception as exc:
        log.log(level, "Telegram bot: a reply was not sent (%s)", type(exc).__name__)


def telegram_bot(engine: Any) -> TelegramBot | None:
    """Factory for engine.companions: None unless ``[telegram] enabled``."""
    cfg: TelegramConfig = engine.config.telegram
    return TelegramBot(engine, cfg) if cfg.enabled else None
