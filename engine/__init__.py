"""Tapedesk trading engine: headless, no Textual import anywhere in here (see DESIGN.md)."""
