"""[ui.keymap] remaps, the help built from live bindings, the theme rule, and the strategy
screen switching on a strategy the config never loaded: real engine, real Pilot."""

from __future__ import annotations

import io
import re

import pytest
from rich.console import Console
from tapedesk.engine.assembly import build_replay_engine
from tapedesk.engine.config import ConfigError, DeskConfig, StrategyConfig, UIConfig
from tapedesk.tui.app import check_desk_config, desk_bindings, make_app
from tapedesk.tui.keymap import HELP_TEXT, help_key
from tapedesk.tui.screens import HelpScreen
from tapedesk.tui.strategy_screen import StrategyScreen
from textual.widgets import DataTable, Footer

from tests.tui.helpers import ready, screen_text, settle
from tests.tui.real_engine import live_like_engine, sample_cut


def demo_engine(home, **ui):
    engine = live_like_engine(home)
    engine.config = engine.config.model_copy(update={"ui": UIConfig(**ui)})
    return engine


def help_text(app) -> str:
    """The help screen's text as the terminal shows it (the SVG export drops blank runs)."""
    assert isinstance(app.screen, HelpScreen)
    console = Console(width=74, file=io.StringIO(), record=True)
    console.print(app.screen.body)
    return console.export_text()


def footer_text(app) -> str:
    footer = app.screen.query_one(Footer)
    return " ".join(str(item.render()) for item in footer.query("FooterKey"))


async def test_a_remapped_key_shows_in_footer_and_help_and_the_old_key_does_nothing(_temp_home):
    app = make_app(demo_engine(_temp_home, keymap={"pause": "f5", "emergency_stop": "f12"}))
    async with app.run_test(size=(140, 40)) as pilot:
        await ready(pilot)
        shown = footer_text(app)
        assert "f5" in shown and "Pause" in shown and "f12" in shown
        assert "p Pause" not in shown.replace("  ", " ")
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert "Pause / resume entries (f5)" in titles and "Emergency stop (f12)" in titles
        await pilot.press("p")  # the old key
        await settle(pilot)
        assert not app.last_snapshot.paused
        await pilot.press("f5")
        await settle(pilot)
        assert app.last_snapshot.paused
        await pilot.press("question_mark")
        await settle(pilot)
        text = help_text(app)
        assert re.search(r"^ *f5 pause / resume", text, re.M)
        assert re.search(r"^ *f12 EMERGENCY STOP", text, re.M)
        assert not re.search(r"^ *p pause", text, re.M)
        assert "Tapedesk keys" in screen_text(app)
        await pilot.press("f12")  # the remapped priority e-stop fires under the help modal
        await settle(pilot)
        assert app.last_snapshot.halted


async def test_help_lists_every_binding_of_the_desk(desk_engine):
    app = make_app(desk_engine)
    async with app.run_test(size=(120, 48)) as pilot:
        await ready(pilot)
        await pilot.press("question_mark")
        await settle(pilot)
        text = help_text(app)
        assert "Tapedesk keys" in screen_text(app)
        missing = []
        for b in desk_bindings():
            if b.system:
                continue
            key = b.key_display or ("?" if b.key == "question_mark" else b.key)
            described = HELP_TEXT.get(help_key(b.id)) if b.id else None
            if not re.search(rf"(?<!\S){re.escape(key)}(?!\S)", text):
                missing.append(key)
            elif b.id and (described is None or described[:30] not in text):
                missing.append(b.id)
        assert not missing, f"bindings missing from the help screen: {missing}"


def test_an_unknown_binding_id_is_one_config_line_naming_the_field_and_the_ids():
    cfg = DeskConfig(ui=UIConfig(keymap={"emergncy_stop": "f12"}))
    with pytest.raises(ConfigError) as err:
        check_desk_config(cfg)
    (line,) = str(err.value).splitlines()
    assert "ui.keymap.emergncy_stop: unknown binding id" in line
    assert "emergency_stop" in line and "toggle_strategy_9" in line


@pytest.mark.parametrize("key", ["x", "space", "question_mark", "1", "f12,k"])
def test_a_printable_key_for_the_emergency_stop_is_refused(key):
    with pytest.raises(ConfigError, match=r"ui\.keymap\.emergency_stop: .*printable"):
        check_desk_config(DeskConfig(ui=UIConfig(keymap={"emergency_stop": key})))


def test_the_emergency_stop_stays_a_priority_binding():
    (estop,) = [b for b in desk_bindings() if b.id == "emergency_stop"]
    assert estop.priority and estop.key == "ctrl+x"


async def _theme_after_start(home, config_theme: str) -> str:
    app = make_app(demo_engine(home, theme=config_theme))
    async with app.run_test(size=(120, 36)) as pilot:
        await ready(pilot)
        return app.theme


async def _pick_next_theme(home, config_theme: str) -> str:
    app = make_app(demo_engine(home, theme=config_theme))
    async with app.run_test(size=(120, 36)) as pilot:
        await ready(pilot)
        await pilot.press("t")
        await settle(pilot)
        return app.theme


async def test_a_picked_theme_is_remembered_until_the_config_theme_changes(_temp_home):
    picked = await _pick_next_theme(_temp_home, "tapedesk-dark")
    assert picked != "tapedesk-dark"
    assert await _theme_after_start(_temp_home, "tapedesk-dark") == picked  # remembered
    # The config now names another theme: the config wins and the pick is dropped ...
    assert await _theme_after_start(_temp_home, "tapedesk-high-contrast") == (
        "tapedesk-high-contrast")
    # ... for good: back on the old config value, the old pick does not come back.
    assert await _theme_after_start(_temp_home, "tapedesk-dark") == "tapedesk-dark"


def paper_desk(home):
    """A paper desk (not the demo) whose config loads ema_cross only."""
    cfg = DeskConfig(strategies=[StrategyConfig(name="ema_cross")])
    return build_replay_engine(sample_cut(home), data_dir=home, config=cfg, speed=600.0,
                               loop=True, symbol="BTCUSDT", resume=False, control=False)


async def test_the_strategy_screen_lists_every_strategy_and_enables_liquidity_sweep(_temp_home):
    from tapedesk.engine.strategy_catalog import catalog

    engine = paper_desk(_temp_home)
    assert [s.name for s in engine.strategies] == ["ema_cross"]
    app = make_app(engine)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot)
        assert app.last_snapshot.mode == "paper"
        await pilot.press("s")
        await settle(pilot)
        assert isinstance(app.screen, StrategyScreen)
        table = app.screen.query_one(DataTable)
        names = {str(k.value) for k in table.rows}
        assert names == {info.name for info in catalog()[0]}
        sweep = next(i for i in catalog()[0] if i.name == "liquidity_sweep")
        defaults = {p.name: p.default for p in sweep.params}
        row = [str(c) for c in table.get_row("liquidity_sweep")]
        assert row[2] == "not loaded"
        assert row[-1] == ", ".join(f"{k}={v}" for k, v in defaults.items())
        assert [str(c) for c in table.get_row("ema_cross")][2] == "ON"
        table.move_cursor(row=table.get_row_index("liquidity_sweep"))
        await settle(pilot)
        assert "liquidity_sweep:" in screen_text(app)  # its description and parameters
        await pilot.press("enter")
        await settle(pilot)
        loaded = {s.name: s for s in engine.strategies}
        assert "liquidity_sweep" in loaded
        status = {st.name: st for st in app.last_snapshot.strategies}
        assert status["liquidity_sweep"].enabled
        assert loaded["liquidity_sweep"].params == defaults
        assert [str(c) for c in table.get_row("liquidity_sweep")][2] == "ON"
        assert "Strategy liquidity_sweep enabled" in " ".join(
            e.text for e in await engine.recent_explanations(50))
        await pilot.press("enter")  # and off again, from the same row
        await settle(pilot)
        status = {st.name: st for st in app.last_snapshot.strategies}
        assert not status["liquidity_sweep"].enabled


async def test_a_strategy_enabled_from_the_desk_is_loaded_again_after_a_restart(_temp_home):
    app = make_app(paper_desk(_temp_home))
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot)
        await pilot.press("s")
        await settle(pilot)
        table = app.screen.query_one(DataTable)
        table.move_cursor(row=table.get_row_index("liquidity_sweep"))
        await pilot.press("enter")
        await settle(pilot)
    again = paper_desk(_temp_home)  # same journal, same config (ema_cross only)
    await again.start()
    try:
        status = {st.name: st.enabled for st in again.snapshot().strategies}
        assert status == {"ema_cross": True, "liquidity_sweep": True}
        await again.set_strategy_enabled("liquidity_sweep", False)
    finally:
        await again.stop()
    third = paper_desk(_temp_home)
    await third.start()
    try:  # switched off from the desk: still listed (and loaded), but off
        assert {st.name: st.enabled for st in third.snapshot().strategies} == {
            "ema_cross": True, "liquidity_sweep": False}
    finally:
        await third.stop()


async def test_a_book_strategy_added_to_a_live_feed_without_depth_says_why_it_stays_silent(
        _temp_home):
    from tapedesk.engine.assembly import build_paper_engine

    engine = build_paper_engine(_temp_home)  # ema_cross only: no depth stream subscribed
    await engine.start()
    try:
        await engine.add_strategy("book_imbalance")
        lines = [e.text for e in await engine.recent_explanations(20)]
        assert any("book_imbalance reads the order book" in t for t in lines), lines
        assert {st.name: st.enabled for st in engine.snapshot().strategies}["book_imbalance"]
    finally:
        await engine.feed.close()
        await engine.stop()
