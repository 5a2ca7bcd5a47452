"""`tapedesk keys set|check|delete` against a real Secret Service, and `check` against a loopback
Binance that answers the real python-binance client with Binance's field names and errors."""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import io
import os
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import web
from binance.async_client import AsyncClient
from Crypto.PublicKey import ECC
from tapedesk.engine.keys import Credentials, load_credentials, save_credentials
from tapedesk.engine.keys_cli import (
    EXIT_NO,
    EXIT_OK,
    EXIT_UNAVAILABLE,
    add_keys_subparser,
    binance_verifier,
    run_keys_command,
)

pytestmark = pytest.mark.keyring

KEY = "Kq7vXm2PzR9tL4wY8nB3cF6hJ1sD5gA0eU2iO7kQ9xZ3vN6mT8rW4yP1bH5jC2lE"
SECRET = "Sx4gH8kL2pQ6wE0rT5yU9iO3aS7dF1gJ4hK8lZ2xC6vB0nM5qW9eR3tY7uI1oP4a"
MASKED = "Kq7v…C2lE"


@dataclass
class Run:
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err


def keys(action: str, answers: str = "", **kwargs) -> Run:
    out, err = io.StringIO(), io.StringIO()
    code = run_keys_command(action, stdin=io.StringIO(answers), out=out, err=err, **kwargs)
    return Run(code, out.getvalue(), err.getvalue())


def assert_no_secret(text: str, *secrets: str) -> None:
    for secret in (KEY, SECRET, *secrets):
        assert secret not in text


# --- set ---------------------------------------------------------------------------------


def test_set_stores_piped_keys_and_shows_only_the_masked_key(secret_service):
    backend = secret_service.backend()

    run = keys("set", f"{KEY}\n{SECRET}\n\n", backend=backend)

    assert run.code == EXIT_OK, run.text
    assert MASKED in run.out and "SecretService" in run.out and "live:default" in run.out
    assert_no_secret(run.text)
    assert load_credentials(backend=backend) == Credentials(KEY, SECRET)


def test_set_trims_the_newline_and_spaces_around_a_paste(secret_service):
    backend = secret_service.backend()

    run = keys("set", f"  {KEY}  \r\n\t{SECRET}\r\n\n", backend=backend)

    assert run.code == EXIT_OK, run.text
    assert load_credentials(backend=backend).api_secret == SECRET


def test_set_for_testnet_stores_under_testnet_only(secret_service):
    backend = secret_service.backend()

    run = keys("set", f"{KEY}\n{SECRET}\n\n", environment="testnet", backend=backend)

    assert run.code == EXIT_OK
    assert "testnet:default" in run.out and "--testnet" in run.out
    assert load_credentials(environment="testnet", backend=backend) is not None
    assert load_credentials(environment="live", backend=backend) is None


@pytest.mark.parametrize(
    ("answers", "field"),
    [
        (f"\n{SECRET}\n\n", "api_key"),
        (f"{KEY[:30]} {KEY[30:]}\n{SECRET}\n\n", "api_key"),
        (f"{KEY[:10]}\n{SECRET}\n\n", "api_key"),
        (f"{KEY}\n\n\n", "api_secret"),
        (f"{KEY}\n{SECRET[:20]} {SECRET[20:]}\n\n", "api_secret"),
    ],
    ids=["empty-key", "space-in-key", "short-key", "no-secret-no-ed25519", "space-in-secret"],
)
def test_set_refuses_a_malformed_key_naming_the_field_and_stores_nothing(
    secret_service, answers, field
):
    backend = secret_service.backend()

    run = keys("set", answers, backend=backend)

    assert run.code == EXIT_NO
    assert f"Not stored: {field}:" in run.err
    assert_no_secret(run.text, KEY[:30], SECRET[:20], SECRET[20:], KEY[30:])
    assert load_credentials(backend=backend) is None


def test_set_with_an_ed25519_key_file_needs_no_secret(secret_service, tmp_path):
    pem = ECC.generate(curve="ed25519").export_key(format="PEM")
    key_file = tmp_path / "binance-ed25519.pem"
    key_file.write_text(pem + "\n")
    backend = secret_service.backend()

    run = keys("set", f"{KEY}\n\n{key_file}\n", backend=backend)

    assert run.code == EXIT_OK, run.text
    assert "ED25519" in run.out and "you may delete" in run.out
    assert pem not in run.text and "PRIVATE KEY" not in run.text
    stored = load_credentials(backend=backend)
    assert stored.api_secret is None
    assert ECC.import_key(stored.private_key_pem) == ECC.import_key(pem)


def test_set_with_an_unreadable_key_file_names_the_file_and_stores_nothing(
    secret_service, tmp_path
):
    backend = secret_service.backend()

    run = keys("set", f"{KEY}\n{SECRET}\n{tmp_path / 'missing.pem'}\n", backend=backend)

    assert run.code == EXIT_NO
    assert "private_key: cannot read" in run.err and "missing.pem" in run.err
    assert load_credentials(backend=backend) is None


def test_set_asks_before_replacing_and_keeps_the_old_keys_on_no(secret_service):
    backend = secret_service.backend()
    save_credentials(Credentials(KEY, SECRET), backend=backend)

    run = keys("set", f"n\n{KEY[::-1]}\n{SECRET[::-1]}\n\n", backend=backend)

    assert run.code == EXIT_NO
    assert "already stored" in run.out and MASKED in run.out and "Left unchanged" in run.out
    assert load_credentials(backend=backend).api_key == KEY


def test_set_replaces_after_yes(secret_service):
    backend = secret_service.backend()
    save_credentials(Credentials(KEY, SECRET), backend=backend)

    run = keys("set", f"y\n{KEY[::-1]}\n{SECRET[::-1]}\n\n", backend=backend)

    assert run.code == EXIT_OK
    assert load_credentials(backend=backend).api_key == KEY[::-1]


def test_set_cancelled_by_end_of_input_stores_nothing(secret_service):
    backend = secret_service.backend()

    run = keys("set", f"{KEY}\n", backend=backend)

    assert run.code == EXIT_NO
    assert "Cancelled" in run.err
    assert load_credentials(backend=backend) is None


# --- check, with and without Binance -------------------------------------------------------


def test_check_reports_missing_keys_and_how_to_store_them(secret_service):
    run = keys("check", environment="demo", backend=secret_service.backend())

    assert run.code == EXIT_NO
    assert "demo keys (profile default): missing" in run.out
    assert "tapedesk keys set --demo" in run.out


def test_check_reports_present_keys_masked_and_says_the_account_was_not_asked(secret_service):
    backend = secret_service.backend()
    save_credentials(Credentials(KEY, SECRET), backend=backend)

    run = keys("check", backend=backend)

    assert run.code == EXIT_OK
    assert f"present: key {MASKED}, signed with HMAC" in run.out
    assert "Account not checked" in run.out
    assert_no_secret(run.text)


@dataclass
class LoopbackBinance:
    """Answers the four account questions like Binance, checking the key and HMAC signature."""

    hedge: bool = False
    can_trade: bool = True
    multi_assets: bool = False
    restrictions: dict = field(
        default_factory=lambda: {
            "ipRestrict": True,
            "enableReading": True,
            "enableFutures": True,
            "enableWithdrawals": False,
            "enableSpotAndMarginTrading": False,
        }
    )
    base_url: str = ""
    paths: list[str] = field(default_factory=list)

    def _refusal(self, request: web.Request) -> web.Response | None:
        self.paths.append(request.path)
        if request.headers.get("X-MBX-APIKEY") != KEY:
            return web.json_response(
                {"code": -2015, "msg": "Invalid API-key, IP, or permissions for action."},
                status=401,
            )
        query, _, signature = request.query_string.rpartition("&signature=")
        expected = hmac.new(SECRET.encode(), query.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(signature, expected):
            return web.json_response(
                {"code": -1022, "msg": "Signature for this request is not valid."}, status=400
            )
        return None

    def app(self) -> web.Application:
        async def account(request):
            return self._refusal(request) or web.json_response(
                {
                    "feeTier": 0,
                    "canTrade": self.can_trade,
                    "canDeposit": True,
                    "canWithdraw": True,
                    "totalWalletBalance": "1250.50000000",
                    "assets": [{"asset": "USDT", "walletBalance": "1250.50000000"}],
                    "positions": [],
                }
            )

        async def dual(request):
            return self._refusal(request) or web.json_response({"dualSidePosition": self.hedge})

        async def multi(request):
            return self._refusal(request) or web.json_response(
                {"multiAssetsMargin": self.multi_assets}
            )

        async def restrictions(request):
            return self._refusal(request) or web.json_response(self.restrictions)

        app = web.Application()
        app.router.add_get("/fapi/v2/account", account)
        app.router.add_get("/fapi/v1/positionSide/dual", dual)
        app.router.add_get("/fapi/v1/multiAssetsMargin", multi)
        app.router.add_get("/sapi/v1/account/apiRestrictions", restrictions)
        return app


@pytest.fixture
def loopback_binance() -> Iterator[LoopbackBinance]:
    """The server on 127.0.0.1 in a thread of its own: `keys check` runs its own event loop."""
    exchange = LoopbackBinance()
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    runner = web.AppRunner(exchange.app())

    async def start():
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        exchange.base_url = f"http://127.0.0.1:{port}"
        ready.set()

    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(start(), loop).result(timeout=10)
    ready.wait(10)
    try:
        yield exchange
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


def client_at(base_url: str):
    """What the lead's wiring does with helper-1's client: the real AsyncClient, URLs overridden."""

    def factory(credentials: Credentials) -> AsyncClient:
        client = AsyncClient(**credentials.client_kwargs())
        client.FUTURES_URL = f"{base_url}/fapi"
        client.MARGIN_API_URL = f"{base_url}/sapi"
        return client

    return factory


def test_check_reports_what_the_account_answers(secret_service, loopback_binance):
    backend = secret_service.backend()
    save_credentials(Credentials(KEY, SECRET), backend=backend)

    run = keys(
        "check", backend=backend, verify=binance_verifier(client_at(loopback_binance.base_url))
    )

    assert run.code == EXIT_OK, run.text
    assert "can trade: yes" in run.out
    assert "futures enabled on the key: yes" in run.out
    assert "position mode: one-way" in run.out
    assert "multi-assets margin: off" in run.out
    assert "wallet balance: 1250.50000000 USDT" in run.out
    assert "Key permissions: reading, futures." in run.out
    assert "Problem" not in run.out and "Warning" not in run.out
    assert "/sapi/v1/account/apiRestrictions" in loopback_binance.paths
    assert_no_secret(run.text)


def test_check_names_what_must_change_when_the_account_is_in_hedge_mode(
    secret_service, loopback_binance
):
    backend = secret_service.backend()
    save_credentials(Credentials(KEY, SECRET), backend=backend)
    loopback_binance.hedge = True
    loopback_binance.multi_assets = True
    loopback_binance.restrictions.update(enableWithdrawals=True, ipRestrict=False)

    run = keys(
        "check", backend=backend, verify=binance_verifier(client_at(loopback_binance.base_url))
    )

    assert run.code == EXIT_NO
    assert "Problem: the account is in Hedge Mode" in run.out
    assert "Problem: Multi-Assets margin mode is on" in run.out
    assert "Warning: the key can withdraw funds" in run.out
    assert "Warning: the key is not restricted to trusted IP addresses" in run.out


def test_check_does_not_ask_key_restrictions_for_testnet_keys(secret_service, loopback_binance):
    backend = secret_service.backend()
    save_credentials(Credentials(KEY, SECRET, environment="testnet"), backend=backend)

    run = keys(
        "check",
        environment="testnet",
        backend=backend,
        verify=binance_verifier(client_at(loopback_binance.base_url)),
    )

    assert run.code == EXIT_OK, run.text
    assert "futures enabled on the key: unknown" in run.out
    assert "/sapi/v1/account/apiRestrictions" not in loopback_binance.paths


def test_check_explains_a_wrong_secret_in_plain_words(secret_service, loopback_binance):
    backend = secret_service.backend()
    wrong_secret = SECRET[::-1]
    save_credentials(Credentials(KEY, wrong_secret), backend=backend)

    run = keys(
        "check", backend=backend, verify=binance_verifier(client_at(loopback_binance.base_url))
    )

    assert run.code == EXIT_NO
    assert "Binance refused the keys: code -1022" in run.out
    assert "the secret (or Ed25519 private key) does not match the key" in run.out
    assert_no_secret(run.text, wrong_secret)


def test_check_explains_an_unknown_key(secret_service, loopback_binance):
    backend = secret_service.backend()
    save_credentials(Credentials(KEY[::-1], SECRET), backend=backend)

    run = keys(
        "check", backend=backend, verify=binance_verifier(client_at(loopback_binance.base_url))
    )

    assert run.code == EXIT_NO
    assert "code -2015" in run.out and "not allowed from this IP address" in run.out
    assert_no_secret(run.text, KEY[::-1])


def test_check_without_network_says_so_plainly(secret_service):
    with socket.socket() as probe:  # a port nobody listens on: connection refused
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    backend = secret_service.backend()
    save_credentials(Credentials(KEY, SECRET), backend=backend)

    run = keys(
        "check",
        backend=backend,
        verify=binance_verifier(client_at(f"http://127.0.0.1:{closed_port}")),
    )

    assert run.code == EXIT_OK
    assert f"present: key {MASKED}" in run.out
    assert "Account NOT checked: could not reach Binance" in run.out and "No network?" in run.out


def test_secrets_never_appear_even_when_the_verifier_fails_quoting_them(secret_service):
    backend = secret_service.backend()
    save_credentials(Credentials(KEY, SECRET), backend=backend)

    def leaky_verify(credentials):
        raise RuntimeError(
            f"signing failed for {credentials.api_key} with {credentials.api_secret}"
        )

    run = keys("check", backend=backend, verify=leaky_verify)

    assert run.code == EXIT_NO
    assert "Account check failed: RuntimeError: signing failed for *** with ***" in run.out
    assert_no_secret(run.text)


# --- delete --------------------------------------------------------------------------------


def test_delete_asks_then_removes_the_keys(secret_service):
    backend = secret_service.backend()
    save_credentials(Credentials(KEY, SECRET), backend=backend)

    declined = keys("delete", "\n", backend=backend)
    assert declined.code == EXIT_NO and load_credentials(backend=backend) is not None

    run = keys("delete", "y\n", backend=backend)

    assert run.code == EXIT_OK
    assert f"Deleted live keys (profile default) (key {MASKED})" in run.out
    assert load_credentials(backend=backend) is None
    assert_no_secret(declined.text + run.text)


def test_delete_with_yes_does_not_ask(secret_service):
    backend = secret_service.backend()
    save_credentials(Credentials(KEY, SECRET, environment="demo"), backend=backend)

    run = keys("delete", environment="demo", yes=True, backend=backend)

    assert run.code == EXIT_OK
    assert load_credentials(environment="demo", backend=backend) is None


def test_delete_with_nothing_stored_says_so(secret_service):
    run = keys("delete", "y\n", backend=secret_service.backend())

    assert run.code == EXIT_NO
    assert "nothing to delete" in run.out


# --- usage -----------------------------------------------------------------------------------


def test_unknown_action_or_environment_is_a_usage_error():
    assert keys("show").code == EXIT_UNAVAILABLE
    bad_env = keys("check", environment="mainnet")
    assert bad_env.code == EXIT_UNAVAILABLE and "environment: must be one of" in bad_env.err


@pytest.mark.parametrize(
    ("argv", "environment"),
    [
        (["keys", "check"], "live"),
        (["keys", "check", "--testnet"], "testnet"),
        (["keys", "check", "--demo"], "demo"),
        (["--testnet", "keys", "check"], "testnet"),
    ],
)
def test_subparser_plugs_into_the_desk_cli_and_picks_the_environment(
    argv, environment, monkeypatch
):
    seen = {}

    def fake_run(action, **kwargs):
        seen.update(kwargs, action=action)
        return 0

    monkeypatch.setattr("tapedesk.engine.keys_cli.run_keys_command", fake_run)
    parser = argparse.ArgumentParser(prog="tapedesk")
    parser.add_argument("--testnet", action="store_true")  # the desk's own top-level flag
    add_keys_subparser(parser.add_subparsers(dest="command"))

    args = parser.parse_args(argv)

    assert args.handler(args) == 0
    assert seen["action"] == "check" and seen["environment"] == environment


def test_set_never_repeats_a_secret_typed_at_the_key_file_prompt(secret_service):
    """The secret pasted one prompt late lands at the (echoing) key-file prompt: the error
    must not print it back, and nothing is stored."""
    env = {k: v for k, v in secret_service.env.items() if k != "PYTHON_KEYRING_BACKEND"}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    exe = shutil.which("tapedesk")
    cmd = [exe] if exe else [sys.executable, "-m", "tapedesk"]
    typed = "TOPSECRETHMAC123"
    run = subprocess.run(
        [*cmd, "keys", "set", "--testnet"],
        input=f"{KEY}\n{SECRET}\n{typed}\n",
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=60,
    )
    shown = run.stdout + run.stderr
    assert run.returncode == EXIT_NO, shown
    assert "private_key: cannot read the file named at the prompt" in shown
    assert typed not in shown and "Traceback" not in shown
    assert_no_secret(shown)
    assert load_credentials(environment="testnet", backend=secret_service.backend()) is None
