"""Research tools around a backtest: Monte Carlo, terminal plots, reports, CLI selection."""
