"""The theme files and their loader."""

from __future__ import annotations

from pathlib import Path

import pytest
from tapedesk.themes import BUNDLED_DIR, DEFAULT_THEME, ThemeFileError, load_themes, parse_theme


def test_bundled_themes_are_dark_light_and_high_contrast():
    loaded = load_themes()
    assert loaded.errors == []
    names = [t.name for t in loaded.themes]
    assert names[0] == DEFAULT_THEME
    assert {"tapedesk-dark", "tapedesk-light", "tapedesk-high-contrast"} <= set(names)
    light = next(t for t in loaded.themes if t.name == "tapedesk-light")
    assert light.dark is False


def test_every_bundled_theme_sets_every_desk_colour():
    from tapedesk.themes import DESK_VARIABLES

    for path in BUNDLED_DIR.glob("*.toml"):
        theme = parse_theme(path)
        assert set(DESK_VARIABLES) <= set(theme.variables), path.name


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ('name = "x"\nprimary = "#12345"\n', "'primary'"),
        ('primary = "#123456"\n', "missing required field 'name'"),
        ('name = "x"\nprimary = "#123456"\nforeground_colour = "#fff"\n', "foreground_colour"),
        ('name = "x"\nprimary = "#123456"\ndark = "yes"\n', "'dark' must be a bool"),
        ('name = "x"\nprimary = "#123456"\n[variables]\npnl-up = "greenish"\n', "variables.pnl-up"),
        ('name = "x\nprimary = 1', "not valid TOML"),
    ],
)
def test_a_bad_theme_file_names_the_file_and_field(tmp_path: Path, text: str, needle: str):
    path = tmp_path / "mine.toml"
    path.write_text(text)
    with pytest.raises(ThemeFileError) as err:
        parse_theme(path)
    assert "mine.toml" in str(err.value) and needle in str(err.value)


def test_user_themes_are_added_and_bad_ones_reported_not_fatal(tmp_path: Path):
    (tmp_path / "ocean.toml").write_text('name = "ocean"\nprimary = "#0077be"\n')
    (tmp_path / "bad.toml").write_text("this is not toml = = =")
    loaded = load_themes(tmp_path)
    assert "ocean" in [t.name for t in loaded.themes]
    assert len(loaded.errors) == 1 and "bad.toml" in loaded.errors[0]
