"""What a user runs (`tapedesk` in subprocesses, a real keyring where installed): a bad
`[notify]`/`[telegram]` section, a service or bot that cannot start, no keyring, a service
whose error answer echoes its URL at --log-level DEBUG, a dead service at SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.attacks_remote.echo_service import EchoingError
from tests.engine.helpers import write_sample_csv
from tests.notify.local_hook import Blackhole
from tests.notify.test_notify_cli import REPO, TAPEDESK, _env, _run, keyring_env  # noqa: F401

PASSWORD = "pw-Kq93-must-never-show"


def _no_traceback(text: str) -> None:
    assert "Traceback" not in text, text[-3000:]


@pytest.mark.parametrize(("line", "expected"), [
    ('events = ["fills"]', "notify.events[0]: Input should be 'fill'"),
    ("burst = 0", "notify.burst:"),
    ('url = ["phone"]', "notify.url: unknown field"),
])
def test_a_bad_notify_section_is_one_line_with_its_field(keyring_env, tmp_path,  # noqa: F811
                                                          line, expected) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text(f"[notify]\n{line}\n")
    r = _run(_env(keyring_env, tmp_path), "--config", str(cfg), "notify", "test")
    assert r.returncode == 2 and expected in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr


@pytest.mark.parametrize("value", [
    f'"json://desk:{PASSWORD}@127.0.0.1:9/hook"',
    f'["phone", {{ u = "json://desk:{PASSWORD}@127.0.0.1:9/hook" }}]',
    f'[["json://desk:{PASSWORD}@127.0.0.1:9/hook"]]',
])
def test_a_url_pasted_into_the_config_in_any_shape_is_not_repeated(keyring_env,  # noqa: F811
                                                                     tmp_path, value) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text(f"[notify]\nurls = {value}\n")
    r = _run(_env(keyring_env, tmp_path), "--config", str(cfg), "notify", "test")
    assert r.returncode == 2 and "notify.urls" in r.stderr, r.stderr
    assert PASSWORD not in r.stderr + r.stdout, r.stderr


def test_an_unparseable_url_is_refused_without_a_fragment_of_it(keyring_env,  # noqa: F811
                                                                tmp_path) -> None:
    r = _run(_env(keyring_env, tmp_path), "--log-level", "DEBUG", "notify", "add", "bad",
             "--yes", stdin=f"jsn://desk:{PASSWORD}@127.0.0.1:9/hook\n")
    assert r.returncode == 2 and "Apprise does not understand that URL" in r.stderr
    # Not the password, nor Apprise's "privacy" form of it (first…last character).
    assert PASSWORD not in r.stderr and f"{PASSWORD[0]}...{PASSWORD[-1]}" not in r.stderr, \
        r.stderr


def _replay(env: dict[str, str], tmp_path: Path, cfg: Path, *extra: str,
            timeout: float = 90) -> subprocess.CompletedProcess[str]:
    data = write_sample_csv(tmp_path / "btc.csv", days=1)
    return _run(env, "--config", str(cfg), "--data-dir", str(tmp_path / "data"), *extra,
                "run", "--headless", "--replay", str(data), "--speed", "0", timeout=timeout)


def test_companions_that_cannot_start_say_one_line_and_no_traceback(keyring_env,  # noqa: F811
                                                                    tmp_path) -> None:
    """No URL stored under the name, no bot token stored: the desk trades on and says why,
    without a traceback."""
    cfg = tmp_path / "config.toml"
    cfg.write_text('[notify]\nurls = ["nobody"]\n[telegram]\nenabled = true\n'
                   'allowed_chat_ids = [1]\napi_url = "http://127.0.0.1:9/bot"\n')
    r = _replay(_env(keyring_env, tmp_path), tmp_path, cfg)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "no URL stored for nobody" in r.stdout
    assert "no Telegram bot token in the keyring" in r.stdout
    _no_traceback(r.stderr)
    _no_traceback(r.stdout)


def test_no_keyring_at_all_the_desk_trades_on_without_a_traceback(keyring_env,  # noqa: F811
                                                                  tmp_path) -> None:
    env = {**_env(keyring_env, tmp_path), "PYTHON_KEYRING_BACKEND":
           "keyring.backends.fail.Keyring"}
    add = _run(env, "notify", "add", "phone", "--yes",
               stdin=f"json://desk:{PASSWORD}@127.0.0.1:9/hook\n")
    assert add.returncode == 2 and "Cannot use the OS keyring" in add.stderr
    assert PASSWORD not in add.stderr + add.stdout
    cfg = tmp_path / "config.toml"
    cfg.write_text('[notify]\nurls = ["phone"]\n')
    r = _replay(env, tmp_path, cfg)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "notifier did not start: Cannot use the OS keyring" in r.stdout
    _no_traceback(r.stderr)


def test_an_echoing_error_at_debug_reaches_no_output_file_or_row(keyring_env,  # noqa: F811
                                                                 tmp_path) -> None:
    """The service answers 500 with the request (Authorization included) in its body; the
    desk runs at --log-level DEBUG. The password must reach no output, config or journal."""
    svc = EchoingError(500)
    try:
        env = _env(keyring_env, tmp_path)
        url = f"json://desk:{PASSWORD}@127.0.0.1:{svc.port}/hook/{PASSWORD}-path"
        assert _run(env, "notify", "add", "svc", "--yes", stdin=url + "\n").returncode == 0
        cfg = tmp_path / "config.toml"
        cfg.write_text('[notify]\nurls = ["svc"]\nbatch_window_s = 0\n')
        tested = _run(env, "--config", str(cfg), "--log-level", "DEBUG", "notify", "test")
        assert tested.returncode == 1 and "svc: NOT delivered" in tested.stdout, tested.stderr
        r = _replay(env, tmp_path, cfg, "--log-level", "DEBUG")
        assert r.returncode == 0, r.stderr[-2000:]
        assert svc.requests >= 2
        assert "Failed to send JSON" in r.stderr + r.stdout  # said, whatever the timing
        status = _run(env, "--data-dir", str(tmp_path / "data"), "paths")
        texts = [tested.stdout, tested.stderr, r.stdout, r.stderr, status.stdout,
                 cfg.read_text()]
        for text in texts:
            assert PASSWORD not in text
        for f in (tmp_path / "data").rglob("*"):
            if f.is_file():
                assert PASSWORD.encode() not in f.read_bytes(), f
    finally:
        svc.close()


async def test_a_dead_service_does_not_hold_up_sigterm(keyring_env, tmp_path) -> None:  # noqa: F811
    import asyncio

    hole = Blackhole()
    try:
        env = _env(keyring_env, tmp_path)
        assert _run(env, "notify", "add", "hole", "--yes",
                    stdin=hole.url() + "\n").returncode == 0
        cfg = tmp_path / "config.toml"
        # "nobody" has no URL: that ERROR, said at start, goes to the blackhole at once.
        cfg.write_text('[notify]\nurls = ["hole", "nobody"]\nbatch_window_s = 0\n')
        data = write_sample_csv(tmp_path / "btc.csv", days=2)
        desk = await asyncio.create_subprocess_exec(
            str(TAPEDESK), "--config", str(cfg), "--data-dir", str(tmp_path / "data"),
            "run", "--headless", "--replay", str(data), "--speed", "1",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env,
            cwd=str(REPO))
        for _ in range(300):  # until the desk has tried to send (the blackhole holds it)
            if hole._held:
                break
            await asyncio.sleep(0.05)
        if not hole._held:
            desk.send_signal(signal.SIGINT)
            out, err = await asyncio.wait_for(desk.communicate(), 30)
            raise AssertionError("the desk never tried to notify:\n"
                                 + (out + err).decode()[-3000:])
        t0 = time.monotonic()
        desk.send_signal(signal.SIGTERM)
        _out, err = await asyncio.wait_for(desk.communicate(), 30)
        took = time.monotonic() - t0
        print(f"SIGTERM to exit: {took:.2f} s")
        assert took < 8, took
        _no_traceback(err.decode())
    finally:
        hole.close()
