"""HTTP attacks on one served desk: auth, odd methods and paths, bad trade ids, malformed
requests carrying the token, answers against the CLI's, docs/api.md's curl lines as written,
the emergency stop from three sides at once."""

from __future__ import annotations

import concurrent.futures
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.attacks_api.conftest import ROOT, Served, raw_request, td

pytestmark = pytest.mark.keyring

ROUTES = ["/api/status", "/api/trades", "/api/trades/1", "/api/metrics", "/api/active-trade",
          "/metrics", "/api/openapi.json", "/ws/live", "/nope", "/api/../api/status"]


@pytest.mark.parametrize("header", [
    None, "", "Bearer", "Bearer ", "Basic {t}", "{t}", "Bearer {t}x", "Bearer x{t}",
    "Bearer {t}{t}", "Token {t}", "Bearer {short}",
])
def test_wrong_or_missing_token_is_401_on_every_route(served: Served, header: str | None
                                                      ) -> None:
    value = None if header is None else header.format(t=served.token, short=served.token[:-1])
    for path in ROUTES:
        for method in ("GET", "POST", "HEAD", "OPTIONS", "DELETE"):
            hdrs = {} if value is None else {"Authorization": value}
            status, body, h = served.call(path, method, token=None, headers=hdrs)
            assert status == 401, (path, method, header, status, body)
            assert h["WWW-Authenticate"].startswith("Bearer")


def test_token_in_query_string_or_cookie_is_refused(served: Served) -> None:
    for path in (f"/api/status?token={served.token}", f"/api/status?access_token={served.token}"):
        assert served.call(path, token=None)[0] == 401
    assert served.call("/api/status", token=None,
                       headers={"Cookie": f"token={served.token}"})[0] == 401


def test_scheme_case_and_padding_are_tolerated(served: Served) -> None:
    """RFC 7235: the scheme is case-insensitive; surrounding blanks are not part of it."""
    for value in (f"bearer {served.token}", f"BEARER {served.token}",
                  f"Bearer  {served.token}", f"Bearer {served.token}   "):
        assert served.call("/api/status", token=None,
                           headers={"Authorization": value})[0] == 200, value


@pytest.mark.parametrize(("raw", "status"), [
    ("abc", 400), ("-1", 400), ("0", 400), ("1.0", 400), ("%C2%B2", 400), ("%D9%A1", 400),
    ("%EF%BC%91", 400), ("1e3", 400), ("99999999999999999999", 404), ("9223372036854775807", 404),
    ("999999", 404),
])
def test_bad_trade_ids_answer_400_or_404_never_500(served: Served, raw: str, status: int
                                                   ) -> None:
    got, body, _ = served.call(f"/api/trades/{raw}")
    assert (got, list(body)) == (status, ["error"]), body


def test_traversal_and_encoded_paths_reach_nothing(served: Served) -> None:
    for path in ("/api/%2e%2e/api/status", "/api/trades/1/../2", "/api/trades/1%2f..%2f2",
                 "/%61pi/status", "/API/STATUS", "/api/status/", "//api/status"):
        assert served.call(path, token=None)[0] == 401, path
        got = served.call(path)[0]
        assert got in (200, 400, 404), (path, got)
    # what the desk serves is only its routes: no file under the data dir
    assert served.call("/api/trades/..%2f..%2fpaper.db")[0] in (400, 404)


def test_malformed_requests_carrying_the_token_never_log_it(served: Served) -> None:
    """aiohttp answers these 400 before any handler; its server logger wrote the offending
    header line (with the token) into the desk's log with a traceback."""
    t = served.token
    bad = [
        f"GET /api/status HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {t}{'A' * 9000}\r\n\r\n",
        f"GET /api/status HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {t}\x01\r\n\r\n",
        f"GET /api/status HTTP/1.1\r\nHost: x\r\nAuthorization : Bearer {t}\r\n\r\n",
        f"GET /api/status?x={t} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {t}\r\n"
        f"Content-Length: -1\r\n\r\n",
        f"GET /api/sta\x00tus?{t} HTTP/1.1\r\nHost: x\r\n\r\n",
    ]
    before = len(served.output())
    for data in bad:
        answer = raw_request(served.port, data.encode())
        assert answer.startswith(b"HTTP/1.") and b" 400 " in answer.split(b"\r\n")[0], answer
    # the desk still answers, and its log holds one line per refusal, no token, no traceback
    assert served.call("/api/status")[0] == 200
    log = served.output()[before:]
    assert t not in log
    assert "Traceback" not in log, log[-3000:]


def test_api_trades_equal_the_cli_ids_included(served: Served) -> None:
    status, trades, _ = served.call("/api/trades")
    assert status == 200 and trades == served.cli_json("trades") and len(trades) >= 2
    assert [t["id"] for t in trades] == list(range(1, len(trades) + 1))
    for n in (1, len(trades)):
        status, one, _ = served.call(f"/api/trades/{n}")
        assert status == 200 and one == served.cli_json("trades", "--id", str(n))
    day = trades[-1]["exit_time"][:10]
    assert served.call(f"/api/trades?day={day}")[1] == served.cli_json("trades", "--day", day)
    assert served.call("/api/trades?day=2026-13-45")[0] == 400


def _prom(text: str) -> dict[str, float]:
    from prometheus_client.parser import text_string_to_metric_families

    return {s.name + (json.dumps(s.labels, sort_keys=True) if s.labels else ""): s.value
            for fam in text_string_to_metric_families(text) for s in fam.samples}


def test_metrics_agree_with_status_json(served: Served) -> None:
    status_code, text, h = served.call("/metrics")
    assert status_code == 200 and h["Content-Type"].startswith("text/plain; version=0.0.4")
    m = _prom(text)
    st = served.cli_json("status")
    assert m["tapedesk_balance_usdt"] == pytest.approx(float(st["balance"]), abs=1e-6)
    assert m["tapedesk_positions"] == len(st["positions"])
    assert m["tapedesk_day_trades"] == st["day"]["trades"]
    assert m["tapedesk_day_realized_pnl_usdt"] == pytest.approx(
        float(st["day"]["realized_pnl"]), abs=1e-6)
    assert m["tapedesk_day_fees_usdt"] == pytest.approx(float(st["day"]["fees"]), abs=1e-6)
    open_pnl = sum(float(p.get("unrealized_pnl") or 0)
                   for p in served.call("/api/active-trade")[1]["positions"])
    assert m["tapedesk_equity_usdt"] == pytest.approx(float(st["balance"]) + open_pnl, abs=1e-6)
    assert m["tapedesk_day_pnl_usdt"] == pytest.approx(
        float(st["day"]["realized_pnl"]) + open_pnl, abs=1e-6)


def _doc_curls() -> list[str]:
    text = (ROOT / "docs" / "api.md").read_text()
    return [line.strip() for block in re.findall(r"```sh\n(.*?)```", text, re.S)
            for line in block.splitlines() if line.strip().startswith("curl ")]


def test_every_curl_in_the_docs_works_as_written(served: Served) -> None:
    if shutil.which("curl") is None:
        pytest.skip("curl not installed")
    curls = _doc_curls()
    assert len(curls) >= 8
    env = {**served.env, "TOKEN": served.token, "API": served.url}
    for line in sorted(curls, key=lambda c: "emergency-stop" in c):  # the stop last
        line = line.replace("127.0.0.1:8765", f"127.0.0.1:{served.port}")
        done = subprocess.run(["bash", "-c", line + ' -w "\\n%{http_code}"'], env=env,
                              capture_output=True, text=True, timeout=60)
        body, _, code = done.stdout.rpartition("\n")
        assert code == "200", (line, code, body[:300])
        if "/metrics" not in line:
            json.loads(body)


def test_token_is_not_in_openapi_or_paths(served: Served) -> None:
    status, spec, _ = served.call("/api/openapi.json")
    assert status == 200 and served.token not in json.dumps(spec)
    paths = td(served.env, "--data-dir", str(served.ddir), "paths")
    assert served.token not in paths.stdout + paths.stderr


def test_emergency_stop_three_ways_at_once_then_twice_more(served: Served) -> None:
    """Two API stops and `tapedesk halt` together: one procedure, all verified flat."""
    def api() -> tuple[int, object]:
        code, body, _ = served.call("/api/emergency-stop?wait=30", "POST")
        return code, body

    def cli() -> subprocess.CompletedProcess[str]:
        return td(served.env, "--data-dir", str(served.ddir), "halt")

    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        a, b, c = pool.submit(api), pool.submit(api), pool.submit(cli)
        answers = [a.result(), b.result()]
        halt = c.result()
    for code, body in answers:
        assert code == 200 and body["verified"] is True and body["flat"] is True, body
        assert body["state"] == "HALTED"
    assert halt.returncode == 0 and "verified flat" in halt.stdout, halt
    code, body = api()  # again on a halted desk: still an honest answer
    assert code == 200 and body["state"] == "HALTED"
    assert served.cli_json("status")["halted"] is True
    # nonsense waits are clamped, never an error or a hang
    for wait in ("-5", "nan", "inf", "abc", "1e999"):
        assert served.call(f"/api/emergency-stop?wait={wait}", "POST")[0] == 200, wait


def test_no_token_in_the_desk_output_or_files(served: Served) -> None:
    """Last in the module: everything above ran against this desk at DEBUG."""
    assert served.call("/api/status")[0] == 200
    out = served.output()
    assert served.token not in out
    assert "Traceback" not in out
    for path in Path(served.ddir).rglob("*"):
        if path.is_file():
            assert served.token.encode() not in path.read_bytes(), path


def test_a_refused_malformed_request_does_not_echo_the_token(served: Served) -> None:
    """aiohttp's 400 body quoted the offending header line (the token included) back
    to the sender and to any proxy logging bodies; the parser answers before any handler."""
    answer = raw_request(served.port, (
        f"GET /api/status HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {served.token}\x01"
        "\r\n\r\n").encode())
    assert b" 400 " in answer.split(b"\r\n")[0]
    assert served.token.encode() not in answer, answer


def test_the_api_lines_are_not_dated_1970(served: Served) -> None:
    """Companions start before the replay's first bar, when the engine clock is 0, so
    the desk printed (and journaled) `1970-01-01 00:00:00  DESK  Local API listening ...`."""
    line = next(x for x in served.output().splitlines() if "Local API listening" in x
                and "DEBUG" not in x)
    assert not line.startswith("1970-01-01"), line


def test_rotation_refuses_the_old_token_within_5_s_and_delete_refuses_all(served: Served
                                                                         ) -> None:
    """Last: it changes the token. The desk re-reads the keyring every 5 s."""
    import time

    old = served.token
    rotated = td(served.env, "api", "token", "--rotate")
    assert rotated.returncode == 0
    new = rotated.stdout.strip()
    deadline = time.monotonic() + 8
    while served.call("/api/status", token=old)[0] == 200:
        assert time.monotonic() < deadline, "the old token still works 8 s after --rotate"
        time.sleep(0.2)
    assert served.call("/api/status", token=new)[0] == 200
    served.token = new
    assert td(served.env, "api", "token", "--delete").returncode == 0
    deadline = time.monotonic() + 8
    while served.call("/api/status", token=new)[0] == 200:
        assert time.monotonic() < deadline, "a deleted token still works 8 s later"
        time.sleep(0.2)
    assert served.call("/api/status", token=None, headers={"Authorization": "Bearer "})[0] == 401
    assert new not in served.output() and old not in served.output()
