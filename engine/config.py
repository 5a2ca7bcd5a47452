"""Desk configuration: a TOML file validated by pydantic.

Every field has the desk rulebook's default, so an empty file (or none) is a valid config.
Errors name the field path and what is allowed (``risk.max_leverage: must be between 1
and 125, got 200``) because a trader editing a file at 3 a.m. needs exactly that.
"""

from __future__ import annotations

import sys
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator
from tapedesk.engine.api.config import ApiConfig
from tapedesk.engine.config_section import ConfigError, _key, name_sections, problem
from tapedesk.engine.config_section import Section as _Section
from tapedesk.engine.config_section import SettingError as SettingError
from tapedesk.engine.market_data.archive import MarketDataConfig
from tapedesk.engine.notify_config import NotifyConfig, TelegramConfig
from tapedesk.engine.paths import config_dir, data_dir  # noqa: F401  (re-exported)


class RiskConfig(_Section):
    """The desk's risk rulebook (DESIGN.md). Percentages are in percent (0.3 = 0.3 %)."""

    risk_per_trade_pct: float = Field(0.3, gt=0, le=5)
    max_trades_per_day: int = Field(10, ge=0, le=1000)
    max_losing_trades_per_day: int = Field(4, ge=0, le=1000)
    daily_loss_cap: Decimal = Field(Decimal(100), gt=0)
    daily_profit_lock: Decimal = Field(Decimal(75), gt=0)
    max_leverage: int = Field(5, ge=1, le=125)
    margin_type: Literal["isolated"] = "isolated"
    min_stop_pct: float = Field(0.15, gt=0, lt=100)
    max_stop_pct: float = Field(0.35, gt=0, lt=100)
    stale_after_s: float = Field(10.0, gt=0, le=3600)
    day_roll_hour_utc: int = Field(0, ge=0, le=23)
    #: Open quantity without an acknowledged stop on the exchange for longer than this is
    #: closed reduce-only at market (engine clock seconds).
    unprotected_grace_s: float = Field(10.0, gt=0, le=600)

    @model_validator(mode="after")
    def _band(self) -> RiskConfig:
        if self.min_stop_pct >= self.max_stop_pct:
            raise ValueError(
                f"min_stop_pct ({self.min_stop_pct}) must be below max_stop_pct ({self.max_stop_pct})"
            )
        return self


class PaperConfig(_Section):
    """How the paper venue simulates the exchange (fees in basis points: 5 = 0.05 %)."""

    initial_balance: Decimal = Field(Decimal(10_000), gt=0)
    maker_fee_bps: float = Field(2.0, ge=0, le=100)
    taker_fee_bps: float = Field(5.0, ge=0, le=100)
    slippage_bps: float = Field(1.0, ge=0, le=1000)
    latency_ms: int = Field(50, ge=0, le=60_000)
    # Applied every 8 h when the data has no mark-price/funding events, so funding is never
    # silently zero. 1 bp per 8 h is Binance's baseline rate; 0 turns it off (and says so).
    assumed_funding_bps_8h: float = Field(1.0, ge=-100, le=100)
    fill_at: Literal["auto", "close", "next-open", "quote"] = "auto"


def _symbol(v: str) -> str:
    """A symbol is short alphanumeric text (BTCUSDT); upper-cased."""
    if not 2 <= len(v) <= 40 or not v.isalnum():
        raise ValueError(f"{v[:40]!r} is not a symbol (letters and digits, e.g. BTCUSDT)")
    return v.upper()


class StrategyConfig(_Section):
    """One ``[[strategies]]`` entry. Whether ``name`` exists and ``params`` fit it is checked
    when the desk is built (``assembly.build_strategies``: user plugins must be loaded first),
    by the same check ``--param`` gets."""

    name: str = Field(min_length=1, max_length=100)
    enabled: bool = True
    symbols: list[str] | None = None
    params: dict[str, Any] = Field(default_factory=dict)

    @field_validator("symbols")
    @classmethod
    def _upper(cls, v: list[str] | None) -> list[str] | None:
        return None if v is None else [_symbol(s) for s in v]


class BinanceConfig(_Section):
    """Where python-binance points. URL overrides serve testnet, demo-trading and the local
    exchange. ``demo`` (before it was renamed ``demo_trading``) is still read, with a warning."""

    testnet: bool = False
    demo_trading: bool = False
    rest_url: str | None = None
    ws_url: str | None = None
    recv_window_ms: int = Field(5000, ge=1, le=60_000)

    @model_validator(mode="before")
    @classmethod
    def _old_demo_key(cls, data: Any) -> Any:
        if isinstance(data, dict) and "demo" in data:
            if "demo_trading" in data:
                raise ValueError("demo and demo_trading both set: keep demo_trading only")
            data = {**data, "demo_trading": data["demo"]}
            del data["demo"]
        return data

    @model_validator(mode="after")
    def _one_env(self) -> BinanceConfig:
        if self.testnet and self.demo_trading:
            raise ValueError("choose testnet or demo_trading, not both")
        return self


class UIConfig(_Section):
    theme: str = "tapedesk-dark"
    bell: bool = True
    fps: int = Field(15, ge=1, le=60)
    #: ``[ui.keymap]``: Textual binding id → key string (``emergency_stop = "f12"``). The ids
    #: belong to the desk (tapedesk.tui.keymap checks them before the desk opens).
    keymap: dict[str, str] = Field(default_factory=dict)


class JournalConfig(_Section):
    """How long the desk keeps retrying an unwritable journal (entries stopped meanwhile)
    before it stops with a summary of what is and is not on disk."""

    give_up_after_s: float = Field(600.0, gt=0, le=86_400)


class DeskConfig(_Section):
    symbols: list[str] = Field(default_factory=lambda: ["BTCUSDT"], min_length=1)
    risk: RiskConfig = Field(default_factory=RiskConfig.model_construct)
    paper: PaperConfig = Field(default_factory=PaperConfig.model_construct)
    strategies: list[StrategyConfig] = Field(
        default_factory=lambda: [StrategyConfig.model_construct(name="ema_cross")]
    )
    binance: BinanceConfig = Field(default_factory=BinanceConfig.model_construct)
    ui: UIConfig = Field(default_factory=UIConfig.model_construct)
    journal: JournalConfig = Field(default_factory=JournalConfig.model_construct)
    notify: NotifyConfig = Field(default_factory=NotifyConfig.model_construct)
    telegram: TelegramConfig = Field(default_factory=TelegramConfig.model_construct)
    market_data: MarketDataConfig = Field(default_factory=MarketDataConfig.model_construct)
    api: ApiConfig = Field(default_factory=ApiConfig.model_construct)

    @field_validator("symbols")
    @classmethod
    def _upper(cls, v: list[str]) -> list[str]:
        return [_symbol(s) for s in v]

    @field_validator("strategies")
    @classmethod
    def _unique(cls, v: list[StrategyConfig]) -> list[StrategyConfig]:
        names = [sc.name for sc in v]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"strategy {twice[0]!r} is listed more than once")
        return v


name_sections(DeskConfig)  # a refused assignment names its section (config_section)


def format_validation_error(exc: ValidationError, source: str = "config") -> str:
    """One line per problem: ``<source>: risk.max_leverage: <what is wrong>``
    (list items as ``strategies[0].name``; long values shortened)."""
    return "\n".join(f"{source}: {problem(err)}" for err in exc.errors())


def build_models() -> None:
    """Finish every config model's deferred build now, on this thread. The sections are
    ``defer_build`` so a backtest without a config file builds no schema; but pydantic's
    first-use build is not thread-safe (two threads assigning a setting to a section used
    for the first time leave its class refusing every assignment), and a desk runs for days
    with worker threads. So a desk calls this at start (~60 ms), before any thread exists."""
    seen: list[type[BaseModel]] = []

    def build(model: type[BaseModel]) -> None:
        if model in seen:
            return
        seen.append(model)
        model.model_rebuild()
        for f in model.model_fields.values():
            for t in (f.annotation, *get_args(f.annotation)):
                if isinstance(t, type) and issubclass(t, BaseModel):
                    build(t)

    build(DeskConfig)


def load_config(path: Path | None = None) -> DeskConfig:
    """Load and validate; with no path, the XDG config file if it exists, else defaults."""
    if path is None:
        default = config_dir() / "config.toml"
        if not default.exists():
            return DeskConfig.model_construct()
        path = default
    import tomllib  # here: most backtests have no config file

    try:
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, not a config file") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (bad byte at offset {exc.start})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except (OSError, RecursionError) as exc:
        raise ConfigError(f"{path}: cannot read: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        config = DeskConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, _key(path))) from None
    binance = raw.get("binance")
    if isinstance(binance, dict) and "demo" in binance:
        print(f"tapedesk: warning: {_key(path)}: binance.demo is deprecated, write "
              "binance.demo_trading (Binance's demo-trading environment; `tapedesk demo` is "
              "the offline replay)", file=sys.stderr)
    return config
