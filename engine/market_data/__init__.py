"""Historical Binance USDT-M market data: downloaded from the public archive, stored
compactly under the data dir, read back wherever a data file is accepted
(``binance:BTCUSDT:1m:2023-01..2024-06``). Light to import: submodules hold the work."""
