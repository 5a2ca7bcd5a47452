"""The parts of the liquidity-sweep method, each testable alone.

regime.py  — market state (trend / range, volatility) from recent bars
pools.py   — the liquidity map: where stops rest (prior day, sessions, equal highs/lows, swings)
sweep.py   — a wick through a pool that closes back inside, and where the stop/target go
"""
