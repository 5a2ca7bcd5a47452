"""Backtest and session metrics, defined once so the CLI, the TUI and the tests agree.

Definitions (also in README.md, "Metrics"):

- ``net_pnl`` = Σ trade pnl (net of fees and funding); ``gross_pnl`` = Σ gross; ``fees`` and
  ``funding`` are the sums the venue charged (funding signed as the trades carry it).
- A win is a trade with pnl > 0, a loss pnl < 0; a break-even trade (pnl == 0) counts in
  ``trades`` only (``is_win``/``is_loss``: the one rule, used by the report too).
- ``profit_factor`` = Σ winning pnl / |Σ losing pnl|; **None when there are no losing trades**
  (undefined, and JSON has no infinity); the table shows "n/a (no losing trades)".
- ``expectancy`` = net pnl / trades ($ per trade); ``expectancy_r`` = mean R multiple over the
  trades whose risk amount is known (None if none is).
- ``max_drawdown`` / ``max_drawdown_pct``: largest peak-to-trough fall of the equity samples,
  the running peak starting at the initial balance; the two maxima are taken independently.
  ``drawdowns`` is the one drawdown computation: metrics, Monte Carlo, plot and report use it.
- ``cagr_pct``: ``(final / initial) ** (365 days / period) - 1`` in percent, the period from
  the first to the last timestamp of the run; None for a period under one day or a wiped-out
  account. ``calmar`` = ``cagr_pct / max_drawdown_pct``; None when either is missing or 0.
- ``sharpe`` / ``sortino``: from DAILY returns. Equity is resampled at 00:00 UTC (last sample
  of each UTC day, days without a sample carry the previous value); the first day's return is
  against the initial balance. Risk-free rate 0. Annualised with √365 because crypto trades
  every day of the year (not √252). Sharpe = mean / sample std (ddof 1); Sortino = mean /
  downside deviation √(Σ min(r, 0)² / N). None with fewer than two daily returns, or when the
  denominator is 0.
- ``exposure_pct`` = bars in which a position existed at any moment / total bars × 100,
  counted at the fills that open and close positions (engine/exposure.py): a trade opened
  and closed inside one bar counts that bar.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any, TextIO

from tapedesk.engine.events import RoundTrip
from tapedesk.engine.trade_log import TradeColumns

DAY_MS = 86_400_000
ANNUALISATION_DAYS = 365


@dataclass(frozen=True, slots=True)
class Metrics:
    initial_balance: float
    final_equity: float
    return_pct: float
    net_pnl: float
    gross_pnl: float
    fees: float
    funding: float
    trades: int
    wins: int
    losses: int
    win_rate: float | None  # percent
    profit_factor: float | None
    expectancy: float | None  # $ per trade
    expectancy_r: float | None
    avg_win: float | None
    avg_loss: float | None  # negative
    max_drawdown: float
    max_drawdown_pct: float
    sharpe: float | None
    sortino: float | None
    daily_returns: int
    exposure_pct: float
    bars_in_position: int
    total_bars: int
    start_ts: int | None
    end_ts: int | None
    cagr_pct: float | None = None
    calmar: float | None = None
    fills: int | None = None  # venue fills (a backtest counts them; round trips ≠ fills / 2)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: floats rounded for reading, start/end also as ISO UTC text."""
        out: dict[str, Any] = {}
        for key, value in asdict(self).items():
            out[key] = round(value, 6) if isinstance(value, float) else value
        out["start"] = _iso(self.start_ts)
        out["end"] = _iso(self.end_ts)
        out["annualisation"] = "daily returns at 00:00 UTC, x sqrt(365), risk-free 0"
        return out


def _iso(ts: int | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def daily_returns(equity: Sequence[tuple[int, float]], initial_balance: float) -> list[float]:
    """Day-over-day returns of the last equity sample of each UTC day (gaps forward-filled)."""
    if not equity:
        return []
    closes: dict[int, float] = {}
    for ts, value in equity:
        closes[ts // DAY_MS] = value
    first, last = min(closes), max(closes)
    prev = initial_balance
    out: list[float] = []
    for day in range(first, last + 1):
        value = closes.get(day, prev)
        out.append(value / prev - 1.0 if prev else 0.0)
        prev = value
    return out


def _sharpe_sortino(returns: list[float]) -> tuple[float | None, float | None]:
    n = len(returns)
    if n < 2:
        return None, None
    mean = sum(returns) / n
    var = sum((r - mean) ** 2 for r in returns) / (n - 1)
    down = math.sqrt(sum(min(r, 0.0) ** 2 for r in returns) / n)
    scale = math.sqrt(ANNUALISATION_DAYS)
    sharpe = mean / math.sqrt(var) * scale if var > 0 else None
    sortino = mean / down * scale if down > 0 else None
    return sharpe, sortino


def is_win(pnl: float) -> bool:
    return pnl > 0


def is_loss(pnl: float) -> bool:
    """A loss is pnl < 0: a break-even trade is neither a win nor a loss, everywhere."""
    return pnl < 0


def drawdowns(values: Iterable[float], peak: float = -math.inf) -> Iterator[tuple[float, float]]:
    """(money, percent) below the running peak at each equity value; ``peak`` starts it
    (the initial balance, so a fall below the start counts). Percent is of the peak, 0 while
    the peak is not positive. The only drawdown computation in the code base."""
    for value in values:
        if value > peak:
            peak = value
        dd = peak - value
        yield dd, (dd / peak * 100.0 if peak > 0 else 0.0)


def max_drawdown(values: Iterable[float], peak: float = -math.inf) -> tuple[float, float]:
    """The worst (money, percent) of ``drawdowns``; the two maxima are taken independently."""
    worst = worst_pct = 0.0
    for dd, pct in drawdowns(values, peak):
        if dd > worst:
            worst = dd
        if pct > worst_pct:
            worst_pct = pct
    return worst, worst_pct


def cagr_calmar(
    initial: float, final: float, start_ts: int | None, end_ts: int | None, dd_pct: float
) -> tuple[float | None, float | None]:
    if start_ts is None or end_ts is None or end_ts - start_ts < DAY_MS:
        return None, None
    if initial <= 0 or final <= 0:
        return None, None
    years = (end_ts - start_ts) / DAY_MS / ANNUALISATION_DAYS
    try:
        cagr = ((final / initial) ** (1.0 / years) - 1.0) * 100.0
    except OverflowError:
        return None, None
    return cagr, (cagr / dd_pct if dd_pct > 0 else None)


def compute_metrics(
    trades: Sequence[RoundTrip] | TradeColumns,
    equity: Sequence[tuple[int, float]],
    initial_balance: float,
    bars_in_position: int,
    total_bars: int,
    period: tuple[int, int] | None = None,
) -> Metrics:
    """Every metric of a run from its closed trades and its (ts_ms, equity) samples.

    ``period``: the run's first and last event time. Without it the period is guessed from
    the samples and trades, which start at the first trade or day roll, not at the data."""
    columns = isinstance(trades, TradeColumns)
    if columns:  # a backtest's compact log (or one strategy's part): its number columns
        pnls, gross_pnl, fees, funding = trades.pnl, trades.gross, trades.fees, trades.funding
        rs = [r for r in trades.r if r == r]  # NaN: no R multiple
    else:
        pnls = [float(t.pnl) for t in trades]
        gross_pnl = [float(t.gross_pnl) for t in trades]
        fees = [float(t.fees) for t in trades]
        funding = [float(t.funding) for t in trades]
        rs = [r for r in (t.r_multiple for t in trades) if r is not None]
    # Sums and counts without a list of each (a run may hold ~300,000 trades); the same
    # additions in the same order as summing such lists. map/filter call the rules from C:
    # no generator frame resumed per trade.
    wins = sum(map(is_win, pnls))
    losses = sum(map(is_loss, pnls))
    n = len(pnls)
    net = sum(pnls)
    gross_win = sum(filter(is_win, pnls))
    gross_loss = sum(filter(is_loss, pnls))
    final = equity[-1][1] if equity else initial_balance + net
    dd, dd_pct = max_drawdown(map(_second, equity), initial_balance)
    rets = daily_returns(equity, initial_balance)
    sharpe, sortino = _sharpe_sortino(rets)
    if period is not None:
        start_ts, end_ts = period
    else:
        stamps = [ts for ts, _ in equity]
        if columns:
            stamps += [*trades.entry_ts, *trades.exit_ts]
        else:
            stamps += [t.entry_ts for t in trades] + [t.exit_ts for t in trades]
        start_ts, end_ts = (min(stamps), max(stamps)) if stamps else (None, None)
    cagr, calmar = cagr_calmar(initial_balance, final, start_ts, end_ts, dd_pct)
    return Metrics(
        initial_balance=float(initial_balance),
        final_equity=float(final),
        return_pct=(final / initial_balance - 1.0) * 100.0 if initial_balance else 0.0,
        net_pnl=net,
        gross_pnl=sum(gross_pnl),
        fees=sum(fees),
        funding=sum(funding),
        trades=n,
        wins=wins,
        losses=losses,
        win_rate=wins / n * 100.0 if n else None,
        profit_factor=gross_win / -gross_loss if losses else None,
        expectancy=net / n if n else None,
        expectancy_r=sum(rs) / len(rs) if rs else None,
        avg_win=gross_win / wins if wins else None,
        avg_loss=gross_loss / losses if losses else None,
        max_drawdown=dd,
        max_drawdown_pct=dd_pct,
        sharpe=sharpe,
        sortino=sortino,
        daily_returns=len(rets),
        exposure_pct=bars_in_position / total_bars * 100.0 if total_bars else 0.0,
        bars_in_position=bars_in_position,
        total_bars=total_bars,
        start_ts=start_ts,
        end_ts=end_ts,
        cagr_pct=cagr,
        calmar=calmar,
    )


_second = itemgetter(1)  # an equity sample's value


def _num(value: float | None, fmt: str = "{:,.2f}", none: str = "n/a") -> str:
    return none if value is None else fmt.format(value)


def format_table(metrics: Metrics, labels: list[str] | None = None) -> str:
    """The metrics as an aligned two-column table, with run labels (e.g. "fixed qty 0.01 (risk
    sizing bypassed)") printed above it so a reader cannot miss how the run was made."""
    m = metrics
    pf = _num(m.profit_factor, "{:.2f}", "n/a (no losing trades)" if m.wins else "n/a")
    rows = [
        ("period", f"{_iso(m.start_ts) or 'n/a'} → {_iso(m.end_ts) or 'n/a'}"),
        ("initial balance", _num(m.initial_balance)),
        ("final equity", f"{_num(m.final_equity)} ({m.return_pct:+.2f} %)"),
        ("net pnl", _num(m.net_pnl, "{:+,.2f}")),
        ("gross pnl", _num(m.gross_pnl, "{:+,.2f}")),
        ("fees", _num(m.fees)),
        ("funding", _num(m.funding, "{:+,.2f}")),
        ("trades", f"{m.trades:,} ({m.wins:,} won, {m.losses:,} lost"
         + (f"; {m.fills:,} fills)" if m.fills is not None else ")")),
        ("win rate", _num(m.win_rate, "{:.1f} %")),
        ("profit factor", pf),
        ("expectancy", _num(m.expectancy, "{:+,.2f} / trade")
         + (f" ({m.expectancy_r:+.2f} R)" if m.expectancy_r is not None else "")),
        ("avg win / loss", f"{_num(m.avg_win, '{:+,.2f}')} / {_num(m.avg_loss, '{:+,.2f}')}"),
        ("max drawdown", f"{_num(m.max_drawdown)} ({m.max_drawdown_pct:.2f} %)"),
        ("CAGR / Calmar", f"{_num(m.cagr_pct, '{:+,.2f} %')} / {_num(m.calmar)}"),
        ("sharpe (daily, √365)", _num(m.sharpe)),
        ("sortino (daily, √365)", _num(m.sortino)),
        ("exposure", f"{m.exposure_pct:.1f} % of {m.total_bars:,} bars" if m.total_bars
         else "n/a (counted in bars; the data has none)"),
    ]
    width = max(len(k) for k, _ in rows)
    lines = [f"* {label}" for label in (labels or [])]
    lines += [f"{k.ljust(width)}  {v}" for k, v in rows]
    return "\n".join(lines)


def format_strategy_table(per: dict[str, Metrics], skipped: dict[str, str] | None = None) -> str:
    """Strategies side by side, one row each (like freqtrade's strategy summary), then the
    ones that could not run on the data with the reason. Money in the quote asset (USDT)."""
    head = ("strategy", "trades", "avg P&L", "tot P&L", "tot %", "win draw loss", "win %",
            "max DD %", "CAGR %", "Calmar", "exposure %")
    rows = [head]
    for name, m in per.items():
        draws = m.trades - m.wins - m.losses
        rows.append((
            name, f"{m.trades:,}", _num(m.expectancy, "{:+,.2f}"), _num(m.net_pnl, "{:+,.2f}"),
            f"{m.net_pnl / m.initial_balance * 100:+.2f}" if m.initial_balance else "n/a",
            f"{m.wins:,} {draws:,} {m.losses:,}", _num(m.win_rate, "{:.1f}"),
            f"{m.max_drawdown_pct:.2f}", _num(m.cagr_pct, "{:+,.2f}"), _num(m.calmar),
            f"{m.exposure_pct:.1f}" if m.total_bars else "n/a",
        ))
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in
                       enumerate(zip(r, widths, strict=True))) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    for name, why in (skipped or {}).items():
        lines.append(f"{name}: skipped, {why}")
    return "\n".join(lines)


class ProgressBar:
    """A one-line text progress bar for long backtests, redrawn at most ``1/min_interval``
    times a second so printing never costs the run anything noticeable.

    ``update(done)`` is cheap enough to call every bar: it only looks at the clock every
    ``total/1000`` steps. Drawn only on a terminal unless ``enabled`` says otherwise.
    """

    def __init__(
        self,
        total: int,
        stream: TextIO | None = None,
        min_interval: float = 0.1,
        width: int = 30,
        enabled: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
        unit: str = "",
    ) -> None:
        self.unit = unit  # "bytes": done/total shown in MiB, the rate in MiB/s
        self.total = max(total, 1)
        self.stream = stream if stream is not None else sys.stderr
        self.min_interval = min_interval
        self.width = width
        self.enabled = enabled if enabled is not None else bool(
            getattr(self.stream, "isatty", lambda: False)()
        )
        self._clock = clock
        self._step = max(self.total // 1000, 1)
        self._next_check = 0
        self._last_draw = -math.inf
        self._start = clock()
        self.draws = 0

    def update(self, done: int) -> None:
        if done < self._next_check or not self.enabled:
            return
        self._next_check = done + self._step
        now = self._clock()
        if now - self._last_draw < self.min_interval and done < self.total:
            return
        self._last_draw = now
        self._draw(done, now)

    def _draw(self, done: int, now: float) -> None:
        frac = min(done / self.total, 1.0)
        filled = int(frac * self.width)
        elapsed = now - self._start
        rate = done / elapsed if elapsed > 0 else 0.0
        bar = "#" * filled + "-" * (self.width - filled)
        if self.unit == "bytes":
            mib = 1 << 20
            text = f"{done / mib:,.1f}/{self.total / mib:,.1f} MiB {rate / mib:,.1f} MiB/s"
        else:
            text = f"{done:,}/{self.total:,} {rate:,.0f}/s"
        self.stream.write(f"\r[{bar}] {frac * 100:5.1f} % {text}")
        self.stream.flush()
        self.draws += 1

    def close(self) -> None:
        """Draw the final state and end the line."""
        if self.enabled:
            self._draw(self.total, self._clock())
            self.stream.write("\n")
            self.stream.flush()
