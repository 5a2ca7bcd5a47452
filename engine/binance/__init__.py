"""Binance USDT-M perpetuals through python-binance: REST gate, streams, the live venue.

Exchange formats stop here: everything that leaves this package is an ``engine.events`` type.
"""
