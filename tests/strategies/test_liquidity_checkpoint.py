"""liquidity_sweep state saved by the code before Regime.feed/classify, Swings.step and
LiquidityMap's hour bounds (real checkpoint blobs made by b401954's ``strategy_state.dump``,
notes drained as a desk does) restored and run on: the same signals and skip notes, reasons
worded, as a strategy that never stopped; and the new state saved and restored the same."""

from __future__ import annotations

import base64
import pickle
import types
import zlib

from tapedesk.engine import strategy_state
from tapedesk.engine.feeds import load_bars
from tapedesk.engine.sample_data import SAMPLE_BARS_1M
from tapedesk.engine.strategy import create

# {(params, bars fed): strategy_state.dump blob} from b401954: before the swing detector's
# and the regime's warm-ups end (7, 19, 20, 21, 61, 62 bars), well after, and a 15m one.
OLD_BLOBS = (
    "eNrtnXt0E9edx+WH/DYYcAjvKODENgGDbfwATCwg4GBFQGxTIEBGsj22BLIkSzKPJg3q6alPT1Yn3dNOGpqcgpu3AyWk2+xJ293i"
    "nmzSzbbbtJtTcmjI1mEV3FLSQgNJSyDsvTPzvZqHjB81ppjxP/x+997f7z7naj6/eycJJz++q9Mk/n1JKCi0mTqFFWnJJlPY/Pjl"
    "JKRHxnvc7R3uZndoDxfcxfN+YdPbCSZTyOnnm/ngjiLe2+r28kXBUMAZ4lvdfLBIU77oPuj1VH14S0F+k8/b4g60cY3OQDB/niV/"
    "YX7hPAtN9nmafbu8LL24TMrg27mQz8MHnN4mnvM3hUSbooVybptzt1RTLEuRs9Pn4UjT3D6aU8Jy3F4u5Ay08iEuINaEjADpQxvP"
    "eXy+HY3Oph00r1xuXjDk83ONHS0tfEDRiBJFJq2P5ZSWKXNIfSwH3QrucntbOQ/fIqYXL1SmBtytLlWysrUlRUgkbW0JONt4kjo7"
    "v7gtf7aUHOC9zRwfUDdklzvk4qQsn9ezR3SeX7jt4bU+Ly+syEgUJ/5KAlsQkRS/k/gOClROZ1UJkcTiNrIsNCMl2KoiaahYqKk+"
    "1iL+RcZrqhVsCZFs1cQINdZkqdJIRmxIBFtGJFMxFlTP0S4EUk/3t+nfk5JPtgxIRq/sM0s5AST99VLxD+nSlCkbrJlnkiV88YOa"
    "w7kPkf7Jk0CabIJ75VIiZf8qp2erVrNgGx/JUi57wWbqiKQG97Q1+jxBYW0kqSm0m/yTTjLJQBGfxNWmb4b+bfsjF1miczdJ9BxK"
    "K77zD7sjqXITSdLc8pN/nLFyfiRD7E0z7w+5SGpIbnQqFwyRR5NOY8Ts9VEpktnk83j4JjL4XqKZm/n2Dl74plBoP5/QKdQJHUVC"
    "pxAsEgptqWRLOJ0lrozfZRlbws21JZzJECf+gwxjSxi7W0LqioaVG+rvaRAicwf/AAuRFK6euqCbxpeFtXQ5pKF3pB+RpDanf5Ae"
    "i/w+2t9IFtsU7MQ25jeZa3buEWqvkD/SbSJzLjL5Qs2Vs/KwpomJHt8uoWYv0sycy9cREGqfOJ9ClpCoyGbWU4e6xCLpUqpoZz31"
    "nV45McgHg+K2uE0ocOUR5/VSgqJFSbEGmekadgm2tEiyplVJ6gYle8XnJHl50O0kg07GPxCihqaOTqHRVSK7dpWJbl3lthxXBfPl"
    "qmR+XIsjKff5vM2kPa6lttR+jCf3a5y2lt9l2ewL7KDm2dScp6uBPlNkCqZp58vtbXY3OUM+sjgjKfVSKcU4kCHt/7ekTiiwJbPh"
    "7hRsKVRxSAofSeTcJIn48PgE11qxtInNAymdQJTnLArT55hpKkdaQlaaYLslkoyNwcy2BHnHEOeDPD7y/kGKr6X9jWQpdwzyUFgb"
    "7f9zrvtSxEwN6LQTn75dopAubgXi8rRlRbK8vDPAB0PyQmJTm4l0ccbZAsjoCPIY2a+JNaf6yWohOmlVirRVCpG7BvWIoHRKnSQo"
    "njrO2Rjkgh1tZBE39Eg1p3BOj9/lJH0Lf3425/OzE2hKKMB56YBLol+wjaO2RJRsnRbJNpVr8vjIM0CXP5sBInQ7ZOEgUl4KIwVZ"
    "hxzqLHk/NIQxKPCuOnExtfl2youFFbEuhzAPQi6EGRAsEIqMsRz7i4X8HvsD/E6B7Q1k76Eve86drULNUfaTSbYjsjcm0jcYmEbS"
    "lG+TZvG9RYhk7HIGyAtRq6XDL7hSYi9q6Yo3yGrZrbj1ppMN2tnmJ7u+9CsQBAqRnx4d9Ewi0DM1W3z3HZdtQM/NBT3TM8WJz8k0"
    "oMeAnrEDPa84DOgZJegZx4abkMtEqlhV0DOxf+hJI8qzYVnJJMoLULKI8iKKTaAv5GFFDYe7DDa6OhsFewdko4n9sdHunJFnI4VV"
    "d6+2zGGTtjDLehlZB2H1PdYMFD7SA8FhvIJeJzaaOJJsZJ0NIQfCIghzIVTprMogLIaQB2EZBDuENGPerjsbSc+rko2qV5196Bf7"
    "Hg9KbFRjrf7be0vNH2aMHCO1/2bl1n2Xhs5IuYSRpkiMlG0w0k3GSNMkRhpvMJLBSGOJkXoMRhoVRrJNYqPdKTglKpp07ahIrO5l"
    "q4FIV0ekkH9ARJo0VhEJ68N4JR0tRLpfXEw3JCKxuoyZHHVEkh5TDSJ9+Zm2M79miDTr/fccpz4dOURKuNR7ecHBoSPSLcYxknGM"
    "ZCCSgUgGIhmINPRjJCUj2XLpT5/67lzuyAITreGlHoORrs5IOwdmpNwxz0jEyoCl0TlGyr3hGclqNWZylBnpYBxGOrfw/Tf/fQtj"
    "pEcdtlddPx05Rlr6XFZjVfbQGWkZYaTl48RX5fJxBiPdXIy0UvqwrDLLYCSDka4zI9kX1g6dkPbFIaQnLHEI6TGHQUgjT0jzyMi+"
    "iot28+mLKshmAX2hNcnKQvoGjKOgYgpA+KyohCooVkahCcXKibIf3iqI8pR8fGSrJMqTcLCYKnBQxWafMVqVitGWkAJfA9EtZctC"
    "Nn1sOPDlWq+kL9ss4udp2engSIyuwuT15AlRjLzZ42zkPWTsyWA7PRapaMTsD7ipD+upf5XeL5KD7mZecFVEEkNB4dEUrveDiY8k"
    "iGumDWvGHxlHrHyB+WRNW6QGB5gDV9BV4QoRw86zsiHPuFDpIjvmgnZS9CANI/FQqfbgvDpQsrargRL+rgNQPr5+QKCsGiJQCr03"
    "LFASGoafZ1D4eaS8CM/P92qtDqFMN1KeRqUvMHNkPQ/Pr6DMK2wQTNp+sUHoNmnND0KQvnBUtvB7MD+CQTiEwt0o/BKEF1DmRdZ3"
    "pDwDh8+iqfth9SSynjBphW/B/DFU+g0ZKLeKiykGlNaKGxgorWt05iUQWL8Wsg6GZWEKUsoh2CCs0DksgLBBNsdXRaSFcFiq6/sM"
    "XXvu0WXdrauUtWepbnwsusFkflbq+sUmriasratai48xP6w7S/RAKe0oKqBc/YfpF6qsEwCUq179bWY08HsJKKtfa5na6dzXEh8o"
    "zeS3qJXvnyUvPLxua61/09BZ8m7CktMklhxvsORNxpIzJJacYLCkwZJjhiW7egyWvPFZchmbScaFy4bBhaIfwTFmIHE7FkObHhJ9"
    "MUj0E0hs7wcSFS60kOiLQaKfQGL7jQ2JZwaExGXDhcT9JgMSDUhUQuImcTHFg8Q6qwGJBiT2A4n7TXpIvNKd/Np/zQUk1nw/oWHB"
    "11fJkHjkyR+XvfPuieFB4qd1//nD3ZNfGTIk2k+YCSX+MkeEhddzDEq8uSjxV1J44I1xBiUalHi9KbF4GJR4RE+JfQ1hPSX2resa"
    "IiXS5ow4IxKnwyVEyfQfhQ/tx8xkULfKKGY/TrUtMkPZf0u1jch7z8zmBLxH0pTAZ/9vWqRMJkf7L6lWLhvY36ZapcyO9t9QbQkq"
    "EhuxFHnvUq3Woax23XD+OyD2N6hptcy7SlS0P0tzJodHihWlWiXGi6Fin9cRDxV/9923JutRUemCQl7fgw4lJlZ/tTeOUTbWisLO"
    "q7LjzN23Do5LtYYnJ0/RcmmB0kcafUZiTPqYQ8WkF1/I1VcrzUDM5m2r0ubA+epbBrY5pmLf205EBmHTq7I5cHj65IFtol1Km+rt"
    "hYOwOW1S1WO3xptnaWfobxA4LzdwRX2JKpujmxxxbLLY2uhnHOIvDW1VOSqbK5N+Mggb6cGCzd6XP4pjEy+uoVlDihV49biG/Kxo"
    "4xpyO65DXONbyQPFNejOOaTARl+BTNV9t8mA22eBcJtMun2zepElE3Nfnsz9fXd2QUDWnLA2ywLzPKTcbtJ5Nmk9F6AZBXBYiPbc"
    "AavZTEDh2ahiAVIWoMxCeJ4L4S5UehdS8iHcAfO7MD7zULgYWeWoaxlSqlCmCm1eAvMKnVAJ8wq0sAx+Flu0ZZah71VIuRtllsK8"
    "Co1fimYshZUdKXUoswEt3IgydShzf48U2GiQVpMisrGERTbCWohO08HvXB2VA+pjvF+po/IanRULXxTrohbLtQwea0aeLovVNUUX"
    "YNmsy2J+7tVlmXQxk2Jd8ISFC+7BQK1GSm3/cZ5ibVNjIYU8U7+RFqvOD6t0ti7kUtL/QDHPToStVpnU4QuFeY1mNBSRDXn9qCIb"
    "NWkTfN2ZAiIbtYUns+/90TtyZOPnr+adNAe54UU2/npu5s/WL2saemSjYE6nsGKbFNmoMyIbN1lkg5MiGw1GZMOIbFz3yEaFOrJh"
    "/XBCjzayYY2a1ZGN+Rd0kY3oA3HuUkfXh4ca2aiIE9lgbUpSN2fQkY3y4Uc2yv+hIhuz5pDe8zL922+jWrN8jm2/nWqN8tVnex7V"
    "tkHLn8NmiMU58ueo4hy5tEgRXE+m2kK4vpVqJdCmUK0UJadSbQniI9OotgLadKqthnYn1db0KJu0PjycGMifZxPTPZY4MZDxc9jq"
    "uHYxkA/X98SLgex9aup8/Z1qVQwkQIxtYeV96qNH58cxShfjEDEbZ5fqDvabrUWDqGi1qqK9m7OKB2FU6FC17kuWOEaqWwSi1SxV"
    "+w58YVMcK21cR99E7teu4sFdStcOyOFjg2pmksrqysVFJQOPSPSzHtWI5G4fjNGf1DVVPjIYI2lFs1FcfLTkajftlQGKAFv1uGV/"
    "4KsnSgZ3gUKuVhtowB47+oGG7mMDBhrI1jWkQEPUL/Nq1CcDcDQgI2jUDcFhgiBDaXSjDLfRJpl7oztQZjscelFmBwQPzJtQuBHm"
    "TibAvF5G4qgdQhHKIC4QXQI/q2BVAaEc3QHqR1dAAKtHl6FhVRDK0eUFEPKQNRPCNPRiPGovgDAHWYvQjEr4qWBtRu2VKLMInhEy"
    "iK7q0vZ9LbIaIGxEpU1I2QzBiawtzAoOtyBrHWq3oYX1EKRfQ961QVpNikCDXXcAzwIEdRDqdeAqgScRNoa1B/Cxo31dOIBl1Ye1"
    "bGzRofWWHm1cwNulvWGwDX6+AJDeqmsqg/b1OqLO09W+Bg7vYzcnrNoUNj6s725dlMTh0N7byNNdj1ikY/77dOOzNqwN8dyrC2Fs"
    "xkA1MD9hbXjCruvgxh5t0IeNT21YG2jA+64y0MB5qja8FXwZgYYHtr7U9+ihbDnQ8PTMFZ8kff3bw7xnP900rf3jPw010KDloCT6"
    "uqSgy6TisjZSkryNdY3vFFbcKgUksq4WkPjVSAckSo2AxIgEJMr+nojEFCkikT2IiIS4ZoyQxN8bkkgaIyGJtGsQkijVhCT6qi26"
    "kMSpfQ5VSOJ4nCv578S5bCFf1xxKSKL0Wly2KB1+SKIUIQmcbrkq2XiM/mX8C2x+OgXbJ/SkDF9f/401kCgXiTITV+U/I8oUKJ9T"
    "BTZXiJKBgEEC/f9KXkCgIZFqZ3GhIolqZ6AlU+047NIT2OSzaEd6giraYU5gQ0YMUqj2FCpKpdr+HqWz7uHc1dBc5T9N/Lzbc42v"
    "Z3zRFPcm///WzZAB1It11K4j8iCzd4UIg3YQiiw5EcdOR+RxDMfXztQbqog3yNYNjPbaQxa9UaZ8uaA/qwOfvmbRX+pQdlNzKh+M"
    "fW0QIrBMXWy8PFFfseIySDB2kA+Tn/8gV2fi+qd4Jf9lzmCP/Kvjkjg+Ihp9Ev/BkQFJnDxW/ZD4M8/GPfKfgTPg2TiKvhWHwfns"
    "bBtCIQpPxTlxFoRcWM2AMAlH0WZ8F/AJ7s9fQVYKsv4PN+pPo8xHuOF/Cilv4bL9W+xLAfYVAC7tf599MgDPv0CZv6DMX5DyMfyc"
    "hdVxZJ3A5wBR+ImihX9E1vswP44vBT7GaKSjgyY4/Ay1n0Xhy3D4e6ScYVXA6jxSLqHMJfj5BA07Z9J25xy68x6EUxZN7X3ZML+M"
    "lHRMXFKv/MG7tJoUJO4CM94LRtsARuMAoQ/qoI9DygMQ1umA7n6Yb2N+UEV9jxYM2/8Z3xWEtcTKGN9j1VJ2+3pAaFjLp+wY3p+j"
    "/arBpDvFZ8ferQ4tbq8z9fsNwzYdm7t7ZaHFog1irNR+FGHdBKHZqkXyWMQjrBVMOqZepftsg1F/C4SGHm3tHvT0QRZUQTNW60hc"
    "fuJUJO455zqa+/o+kPj2i6fXJD+0TibxQ+k1H/nvsAyPxM//uXbRm+UhLYnr36sYMpE3pvQ6VjC20yZyTbT1b8gXKjmyl5Ofase2"
    "zNsfSSCZ4hvscemkIZHzUO0/TLLmU3Q7hRNfMolpz3cvW0RTMirLH3ptzdGfnfxKxNzk6/CSV5PMSCKBudquH2cTEwk8BNcM8n7Q"
    "IriSaW8GCCV0FP0/KBmbOg=="
)


def _run(strat, bars) -> list[str]:
    """Each signal (reasons worded: what a reader sees) and each skip note, in order."""
    out = []
    for b in bars:
        sig = strat.on_bar(b)
        if sig is not None:
            out.append(repr(sig))
        out.extend(text for _, _, text in strat.drain_notes())
    return out


def _engine(strat) -> types.SimpleNamespace:
    return types.SimpleNamespace(strategies=[strat], venue=object(), clock=object())


def test_state_of_the_old_code_restores_and_runs_on_the_same() -> None:
    bars = load_bars(SAMPLE_BARS_1M)
    blobs = pickle.loads(zlib.decompress(base64.b64decode("".join(OLD_BLOBS))))
    assert len(blobs) == 10
    for (params, cut), blob in blobs.items():
        assert b"_warming" not in blob and (cut == 0 or b"_atr_n" in blob)  # the old layout
        params = dict(params)
        restored = create("liquidity_sweep", **params)
        assert strategy_state.load(_engine(restored), blob) == ({"liquidity_sweep"}, []), cut
        never_stopped = create("liquidity_sweep", **params)
        _run(never_stopped, bars[:cut])
        later = bars[cut:cut + 6000]
        want = _run(never_stopped, later)
        assert sum(w.startswith("Signal") for w in want) >= 3, (params, cut)
        assert _run(restored, later) == want, (params, cut)


def test_new_state_saved_and_restored_runs_on_the_same() -> None:
    bars = load_bars(SAMPLE_BARS_1M)
    for cut in (0, 5, 20, 21, 61, 3000):
        first = create("liquidity_sweep")
        _run(first, bars[:cut])
        blob = strategy_state.dump(_engine(first))
        restored = create("liquidity_sweep")
        assert strategy_state.load(_engine(restored), blob) == ({"liquidity_sweep"}, [])
        later = bars[cut:cut + 3000]
        assert _run(restored, later) == _run(first, later), cut


def test_swings_saved_before_the_placeholders_never_confirm_a_centre_too_early() -> None:
    """The old Swings state (deques of real bars only, no last prices kept apart), cut
    anywhere in the warm-up: restored, it reports what an uninterrupted detector does."""
    import random

    from tapedesk.engine.indicators import Swings

    rnd = random.Random(5)
    highs = [float(rnd.randint(0, 4)) for _ in range(400)]  # many ties
    for left, right in ((3, 3), (2, 5), (5, 1)):
        for cut in range(left + right + 3):
            never_stopped = Swings(left, right)
            for h in highs[:cut]:
                never_stopped.update(h, h - 1.0)
            slots = dict(never_stopped.__reduce_ex__(5)[2][1])
            for side in ("_hi", "_lo"):  # the old layout: no placeholder in the deques
                slots[side] = type(slots[side])(e for e in slots[side] if e[0] >= 0)
            del slots["_last_high"], slots["_last_low"]
            restored = Swings.__new__(Swings)
            restored.__setstate__((None, slots))
            for h in highs[cut:]:
                assert restored.update(h, h - 1.0) == never_stopped.update(h, h - 1.0), cut
                assert restored.swing_high == never_stopped.swing_high
