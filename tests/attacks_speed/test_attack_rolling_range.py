"""grid's rolling range (RollingRange, blocks of ``lookback`` bars) against a brute-force
window max/min, and grid state saved by the code before it (a RollingMax/RollingMin pair
in a real checkpoint blob made by 66d3d72's ``strategy_state.dump``) restored and run on:
the same signals, reasons included, as a grid that never stopped."""

from __future__ import annotations

import base64
import pickle
import types
import zlib

from hypothesis import given, settings
from hypothesis import strategies as st
from tapedesk.engine import strategy_state
from tapedesk.engine.feeds import load_bars
from tapedesk.engine.rolling_range import RollingRange
from tapedesk.engine.sample_data import SAMPLE_BARS_1M
from tapedesk.engine.strategy import create

# {(lookback, bars fed): strategy_state.dump blob} from 66d3d72 (grid state held
# RollingMax/RollingMin); cuts inside a block, at a block's first bar, one after, and
# where the last bar fed is its block's new high or low while grid searches a range.
OLD_BLOBS = (
    "eNrtXHt0VMUZD9m8AyIhoEk0WYECkbjd+76LohGsQdeAgLb1xbJJVjYSk5gHtWgLnh5TH+vRU69HaW1Ji239w6O2eiz2tIp4"
    "WntaPHh6BF9YIEpWwWp88FCsdr6Z+ebeu3u5EJE/WjZ/KL/vznyPmW++me+be3dNwX3By/Lo3w+smdHa5k8DA9bc68bl5a0p"
    "vC82Dp+kCpb3tLdZqdf74t2JtkTvilCic3l7ZyLU29cT70ssb0/0hqBFqIn85+arZs7o6Opa0RJvXTGjIThDCc+obwgC7XuJ"
    "HiCEQ5xyffzGWEdiZaKjF8gyUts7HVSFEXu7463tnctj3a19jIWs8Qd9Xd0xYCSeKK4nhJl4IvEn/d3dDk2uuXlBV2fCmts1"
    "llrdNlaMR6qoO94Tv77Xgn8XUv2tpjz+lyqkbByEErTaitamyh0aW03nvcTblNk2W9FKAoWxVjSQGuvUmfR6XqF/SGdWEvq2"
    "a+lff6q49/vXt3SRzgtSgda+G8n/SmJcMGnWtmpX06OVN6UKY9DfQSgmBDJvYFiqeO5l8y5fcsFlVqruCLNrpYpiS6Cfda9V"
    "f4u1gI5QvLWvfWXCui1V0BLvTVhNjcN7mKX5yXaC0tMe3rfp7qtTRWhkQSq/o8vRrKy7J7Ey1trRRTunx+2k1IIeYqyVqs7U"
    "qL2zrb013tfV02ulyhZ3dXQQQ5tJS1uhQKztBitV3kqeJYhqXZ2kZWFb4oZ+qvVia2bzcIDIkdaAnAGrOQ2oYZCjPYBmNXL0"
    "PqDpGzn6ANAUbDkCaDK2/ARQJaKDgE7m/RKp/Fg70Ig3JXrau9rAOwpXxjv6qcFMkf4BqwWMbu+0krW2ZQQKy5JTk9Op/tsJ"
    "9+GPl3FZOwB9gtbsBHQgyNFHoEc+arUPUOlOjg4AKtvp1LgcNU6GCSEpRWuTshBFNSzsbe9sTVjRyYB6iTtkromiWOaiKI05"
    "V0UZ9cRYX+LGPitVMhOWcfAb9WS+2CJgD4ixROz9DWxRqXqDrGshFXzmto2CJmlk8QLtyQJBUyN6SALarx8QNMUMh0ygbeoW"
    "NF2SQhrQXkhS56Q0TQopQHswz+4bVpmMrWzZAM3QDUbbMLL+lbI5lKYpGuP3xpu1Gxa9R2mmpIYiQHvG1lkzZdZ3z4pHK1ft"
    "orSIIjHbKG3ITXtxwd1Xz9zP9IuYVEZ66j9oSChRjQYlEmY6b260bYuwcUnLLRAiaDstbNBxSU9SeTujQTaUkA60xk/Xkj9K"
    "02WFjlW66MHNmze/SGmSplM70uNfK5vT/RDrq7AxTY8JCn6SpDC5Z0X5GBgNqq5T/dK1PyHmzmc6qyaTe8rQor231jF+EY3N"
    "296dwo6IyvlNv4tMUT3jJ8l0XNKlOkwIk2sYIUPwq3Xz++zObjJJlBbWw2xM3/45p5E5MvkcbbPn3NBNJvfkfiFXJvMLMoY/"
    "ni3khsMSH4NXhVxJMpmvvdczhwjhdhjU3uEt9hwZEverQ+VXz9z3PNdPZfq9+RoZv71MPz7OwwefIyI2sHYq9/E31gh+psT8"
    "Kl3cYo+LrrB2e4LCxyNyhLXjQZn5kMF8aI89BhGZj8GkL4gqt7IxMLlfKUuE/2nEDt3qTxV2dsFmQuJT8ydjBiwSpO4o+vJn"
    "H1T8cExyQkqFM0GwN9E3O6gE2S4QxPU7tOZeXLYNQRYMgnGy5/ZZP7buKKr7bPJEPxaypiILPRwORTxYPNtyOmNx8TzYYdqg"
    "myFroXAw3tK1MhHsSyaCsLV5sZsd7Il3Lk8EW3q6ViQ6G1i7rmuvZbo11/rqRkMHZwaRxUO31WEtWzfD9NQtk52vbs8+OttX"
    "NxqGGDMaabx0m3NqpR8LGmWABTgk6e3BYseMqkq3ecSJyLh6mZfJzte88yqqs3TTvXWjAdJDt3ULp2Tppkn6kXSj7Hx1+zIy"
    "NUs3w1s3GpQ9dPvy1kafoeeBlrGg8dVr6NdUTfKbPRpbGQsaKj1YxKYqkzKd0yQhLxxsSZBN3zVCmez8nXOcmqWb6tCNxl/O"
    "DMKu16K+YpGveTS8cm+CqOrFYs8vfVnQiMpY0EDqNU93zJ/sZwgNoug3hsc8JfpD1oDVG7KiI83LSknadUklTUDOr8xMu974"
    "KmmXrP6P5F2XTqRmf2vi15B3jZzAedeBZc68a+qN9PhXZBvJ8y7eLCPvCgwe97xrawmRE8JsZBugGZhNvQloCmYxOyjK42gX"
    "oDPw2VsU4bPdgE7HLCYNqAafvQOoGrO39wFVIZcPKMIcaoQi1OxDQKfgs49KnHleYSmcivBZEaCJKL0E0HjMvUoBjUP7yihC"
    "zUxA5dhvCaBS5HkZRcjlckDFaMO3KUKe36EI+30XUBFKuBJQIT67ClABcllKEXKJURR05aqxUjtXHXHkqmzyRpOrnke4D+9H"
    "WeeXOrPTuYAO4bN5gD5H/ZsAfYEt51OE1lwEGufh6F1RKvIQgq6haNBpqch/qaWBQcxxLySEZFN0JDlfqOjKcZd+tRx3ZDQ5"
    "7o759hlelUPy4XLcl7bbuYPM8rHhfz9pn9c1nmN45Ljp+pvEeV0lGyrNJ563cwdd5uf66ndFHqhIEZa3mWNFHqhpPPei7X7q"
    "bkdlqEIGzRfHftfONcMyk/ufv4qcNGzqzN4PVCJjM7NDjzA7KO1FQTNE3+XuvjvXc9vI+Gks30kXKSJPlTSW4w6/48grJZ4D"
    "yd8Udmhhlr+nK7fzfBvy4zAb5wO3k9RrMZOr8Hx26oCdz5om0+Vo88q6iXb+TsZUH0VeyWh17lyT9p3k7uuVux5lTpoufQg2"
    "KybDlFgO6ZWTeuWulLbJRUvXbbX9RTOZLttsHzcMLneCwesfRGdVYjl9qFeMvWporG5A2+1yt6My1rpkpPPXijGQZJWNS/0+"
    "oYuqcL/aaetialwXcy0Z+qe53+usb80iXgMiMmSZ+cvYR0QeLYdZjSp9+ZDwISPCxi/ddC4fe6NBNxS2PtoGxJxHwsyHGG2S"
    "m0Z12eDWhdqx1mVHeuo3xHwopsb6Vi6z1yCvW6WXzhZr2iRxg/KT9pDpHeBrQWE+Tmm3umlUxia3jMbHxVrQZR5zFvaLuouB"
    "+tF2TR7tyt3t6n4k1q+isVoHr6Vyf+br6Mq7xToyZV4bC10odFGJX1H95pSKepQWkVmtY9980S5M1hGlDQ/aMQISHeh77j1i"
    "LegkA6cyAiNkCO5hfsXrfox2t4vGZDS5ZKQrHhB+IGssJqbPaBRrWjF4LJ6WtGkko6L6vbvRUZ/ReS2mwq7xSSyWpCc9Y8sw"
    "DOZrtN1yd7viSltnPcziwcHrbJ1VPudFFY5aII9XB2y/ChN7w44DJ/MN7leVfxHrDeKpfJha0Y5F9030y+gdtSK6TfoVLBwZ"
    "fVjzzugz2fnmq6KM4dBNc2b0ssjo6TbnoZsoWDh0U7WId7Uhg52vbus+r/avNtjM6NbvleffedDXPLpdYsGCePaxlgoy2I26"
    "VKB5lwroTurlFg9O8E3SHaUCutn55fmO2VNgo/CYvUx2vubF+i+a7GueodrmmZ6VkHW7V2XppkYkb90y2PnXsbbc5Kubqam2"
    "Z0U8dVs94Y9ZuumGd/0vk53/ijz0xyzdTG/d6AbsVVletTFLt4ikHUk3ys5Xt9Vtz2XpFvHWjW7wXtHi41+ccvih5xs5Y0H3"
    "by+XveXmU31ZKGLh0K3Ty7OePq0qc1FHoG6ctaiz2fl71vrTq/xiPd17GTO65XoV7+RDVb6LmhxNMIZq3iF59ZLq6qyFo3g7"
    "QCY7f+ecU1PtG09h6+YBUPKOWes2H6z2KwDTHZcvZNPLAZyFxUVlA9bcK6tohW1h1YlVWFx6KjV7yam5wuIxFRZfaHQWFleG"
    "WRUEjRyLhUXezF1YHN7feNwLi69CYWcVlo5eA9SL5aE3APVg2e9fgK7HYtEOQCsQ7QTUhi13AboGS2ZDgJaIEiSgxdjvbUDN"
    "iD4BdAlK3wcoioWr/YAuRi4HAF2E/fLKCLoAn40BdD5yyacIdSmgCFsWUiQKkhQhz2JAZyMqAaRjy3JACkoYCyiEZbMJgM7C"
    "slkFoDMRTQRUj9IrAc1EzaoATcVn1YDOQJ51gGqw5TSKsOV0QNUoYQagyfhsJkWo9ZmAxuGzWWXOcmgIUCFyWVgGJSOUdymg"
    "Q3muIuelZd5FTuZIoylyamXC+4ksHdDfUSsD0D8RzQa0HdFcQG+hbfMA7cZnlwBK4/w0A9rb6LTmQ7QmeSkhJBdFR5KLhRqu"
    "QmZ1rpCZK2TmCpm5QmaukJkrZOYKmV9PIRPbLfdot9bdTp5lvzAXZmOQbqwR/HSJ74P7B21d8EU9qV2sVTXC96gFL4o1bSg8"
    "Nl2zRoyVqfGXAWm7De52HbJY07hHpac8Zb8MaPI4VFnAX26F9aYy3y1cbMdsVWd9abtzXe2Gt77s2CtYO8wN2Iu23Dd4IlGi"
    "mmSOIszX3k7aMcxU2H700ee2v5AxoH4w5h7Hi6c66ZsrLOcKy7nCcq6wnCss5wrLucLycSosE//e+1BN1ovTEa/dMJudv39v"
    "/XWNn2fRExGfPTgweTnntA1ZupnKYXTLYOcfT8c/XXP43dDFjB6+vNbe+j9n6RYxzSPpRtn579R3PVNz+JjlYkYPfF66qSed"
    "lrUiw4bnisxk569b7XjGWLN1k8LOoKXyJUlOgJL3wNX9rSJLOQM+hvA4A2Sy83e430/MVk52nnHwMMePpz7XLLXR+IA191AB"
    "vW4YKTihvprNY1bvC+S+mh39Jcvt9iULr5aySxb8qDH77W3eLOOS5anj/tVsdB4R8zSvp0eXEfCHQWc5PbrM8/NW3mUU1fTo"
    "QtLrPhS0SHyQScB3CFjPpUavAMDr49GrCHgI+1xNwG94rTy6FAAvsUdjBDzmtOEJUUQ/M7osOStam2wQ0l019On/Dx+8euTI"
    "X8N3enHHbfOT+SQOPl9CI8KGkhPrtvmFYmr2n4pzt83HFAj5FQe/beaXGyIQFmIg5M0yAuHrweN+2xzJd/4MwGxAp+PN3P35"
    "zg9QHgBUjS3XAqrAG711gMYjGqQI+/0SUDn2+xWgErzzXJ/v+Fyj+bcEDX+J0h8G9AWiRwB9jv0eBXQI70MfowhbPg7oM5T+"
    "O0Dv4a3k7wHtRnlPABpy/7DBE/ne96hTBkcX+RnzV7ioePJsQkieEx1JzhFkV0huzF1r5q41j/ZaM1cezpWHj7I87Hx77i34"
    "NaS8cpbhlJ1Y55mCMmr2p6W588wxnWe2uN6e4y8lZP8c0havt+fSdcf77bnmIfjln3q++cfZlj4U8N7S60f9alR5QLwkAa+Z"
    "BRw7fPNJgF7FY8f4gPhNE4JOBrQdn00IOF+bqgD0Jrb8bUC8+kDQU4DexpYbAe1GLs8BGsaWmwClEW0JiF9AIeglQO8hl5cB"
    "vY+Hpa2ARtCGbRThYek1QB8iz9cBfYRcjv5Xm3bBjARQlyHnrzYlkvWEQJLVkeQsMbCuU9E5uVNR7lSUe9nr2F72yp0Wc6fF"
    "3MsErsNwf+i/1n5pXA=="
)


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 7), st.lists(st.tuples(st.integers(0, 5), st.integers(0, 3),
                                             st.booleans()), max_size=60))
def test_rolling_range_is_the_window_max_and_min(period: int,
                                                 steps: list[tuple[int, int, bool]]) -> None:
    """Few distinct values (ties), periods 1 and 2, questions at irregular times."""
    rng, highs, lows = RollingRange(period), [], []
    for high, drop, ask in steps:
        rng.update(float(high), float(high - drop))
        highs.append(float(high))
        lows.append(float(high - drop))
        if ask:
            want = ((max(highs[-period:]), min(lows[-period:])) if len(highs) >= period
                    else (None, None))
            assert (rng.high(), rng.low()) == want


def _signals(strat, bars) -> list[str]:
    """Each signal (reasons worded: the text a reader sees) and the range after each bar."""
    out = []
    for b in bars:
        sig = strat.on_bar(b)
        if sig is not None:
            out.append(repr(sig))
        rng = strat._states[b.symbol].range
        out.append(f"{rng.high()} {rng.low()}")
    return out


def test_grid_restored_from_a_checkpoint_of_the_old_code_runs_on_the_same() -> None:
    bars = load_bars(SAMPLE_BARS_1M)
    blobs = pickle.loads(zlib.decompress(base64.b64decode("".join(OLD_BLOBS))))
    assert len(blobs) == 6
    for (lookback, cut), blob in blobs.items():
        assert b"RollingMax" in blob  # the old layout, really
        restored = create("grid", lookback=lookback)
        engine = types.SimpleNamespace(strategies=[restored], venue=object(), clock=object())
        assert strategy_state.load(engine, blob) == ({"grid"}, []), (lookback, cut)
        never_stopped = create("grid", lookback=lookback)
        _signals(never_stopped, bars[:cut])
        later = bars[cut:cut + 4000]
        want = _signals(never_stopped, later)
        assert sum(w.startswith("Signal") for w in want) > 10
        assert _signals(restored, later) == want, (lookback, cut)
