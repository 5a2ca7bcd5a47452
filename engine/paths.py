"""Where the desk keeps things: config, journals, logs; one place decides, `tapedesk paths` shows.

platformdirs gives each OS its own locations (XDG on Linux, ~/Library on macOS). Two rules
keep existing users' files found: $TAPEDESK_HOME / ``--data-dir`` name the data dir outright,
and a journal or config already in the old hand-built XDG location (``~/.local/share`` and
``~/.config``) keeps being used there. The control socket and the desk lock sit beside the
journal they guard, so one data dir is one desk whatever the runtime dir is.
"""

from __future__ import annotations

import os
import stat
import warnings
from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP = "tapedesk"
#: Desk names: each has its own journal, lock, socket and log. A live desk on Binance's
#: testnet or demo-trading environment is named after it (never ``live``, never ``demo``:
#: ``demo`` is the offline replay), see engine.assembly.desk_name.
MODES = ("paper", "live", "testnet", "demo-trading", "demo")


class DataDirError(Exception):
    """The data dir cannot be made private; the message says why and what to do."""


def _legacy_config_dir() -> Path:
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / APP


def _legacy_data_dir() -> Path:
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / APP


def config_dir() -> Path:
    """The OS config dir, unless a config file already lives in the old XDG place."""
    legacy = _legacy_config_dir()
    if (legacy / "config.toml").exists():
        return legacy
    return Path(platformdirs.user_config_dir(APP, appauthor=False))


def _holds_journal(path: Path) -> bool:
    return any((path / f"{mode}.db").exists() for mode in MODES)


def default_data_dir() -> Path:
    """$TAPEDESK_HOME, else the old XDG data dir when it holds a journal, else the OS one."""
    if os.environ.get("TAPEDESK_HOME"):
        return Path(os.environ["TAPEDESK_HOME"])
    legacy = _legacy_data_dir()
    if _holds_journal(legacy):
        return legacy
    return Path(platformdirs.user_data_dir(APP, appauthor=False))


def data_dir(override: str | Path | None = None, *, create: bool = True) -> Path:
    """Where journals live: ``--data-dir``, else $TAPEDESK_HOME, else the OS data dir.

    With ``create`` the dir is made, and forced to 0700 (the journal and the control socket
    are the trader's alone); a dir owned by someone else is refused with why.
    """
    path = Path(override) if override else default_data_dir()
    if create:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        make_private(path)
    return path


def make_private(path: Path) -> None:
    """chmod 0700 a data dir that was left group/world readable (e.g. made by ``mkdir``)."""
    st = path.stat()
    if not stat.S_ISDIR(st.st_mode):
        raise DataDirError(f"data dir {path} is not a directory")
    if st.st_mode & 0o077 == 0:
        return
    if st.st_uid != os.getuid():
        raise DataDirError(
            f"data dir {path} is readable by others (mode {st.st_mode & 0o777:o}) and owned by "
            f"uid {st.st_uid}, not you: use a dir of your own (--data-dir or $TAPEDESK_HOME)"
        )
    strangers = sorted(p.name for p in path.iterdir() if not _ours(p.name))
    if strangers:  # e.g. --data-dir ~ : never chmod a dir that is not the desk's own
        raise DataDirError(
            f"data dir {path} is readable by others (mode {st.st_mode & 0o777:o}) and holds "
            f"other files ({', '.join(strangers[:3])}{', …' if len(strangers) > 3 else ''}): "
            f"make it private (chmod 700 {path}) or use a dir of its own"
        )
    try:
        os.chmod(path, 0o700)
    except OSError as exc:
        raise DataDirError(
            f"data dir {path} is readable by others (mode {st.st_mode & 0o777:o}) and could "
            f"not be made private: {exc.strerror}"
        ) from None


def _ours(name: str) -> bool:
    """Files a desk keeps in its data dir (journals and their WAL, sockets, locks, logs)."""
    stem = name.split(".", 1)[0]
    return name in ("log", "themes", "market") or (stem in MODES and "." in name)


def state_dir() -> Path:
    return Path(platformdirs.user_state_dir(APP, appauthor=False))


def log_dir(data: Path | None = None) -> Path:
    """The OS log dir; a desk with its own data dir (--data-dir, $TAPEDESK_HOME) logs inside
    it, so two separate desks never share (and rotate) one log file."""
    shared = (Path(platformdirs.user_data_dir(APP, appauthor=False)), _legacy_data_dir())
    if data is not None and Path(data) not in shared:
        return Path(data) / "log"
    return Path(platformdirs.user_log_dir(APP, appauthor=False))


def runtime_dir() -> Path:
    with warnings.catch_warnings():  # no XDG_RUNTIME_DIR: platformdirs falls back and warns
        warnings.simplefilter("ignore")
        return Path(platformdirs.user_runtime_dir(APP, appauthor=False))


def log_file(data: Path | None, mode: str) -> Path:
    return log_dir(data) / f"desk-{mode}.log"


@dataclass(frozen=True)
class DeskPaths:
    """Everything `tapedesk paths` prints."""

    config_dir: Path
    config_file: Path
    plugins_dir: Path
    data_dir: Path
    state_dir: Path
    log_dir: Path
    runtime_dir: Path

    def journals(self) -> dict[str, Path]:
        return {m: self.data_dir / f"{m}.db" for m in MODES}

    def sockets(self) -> dict[str, Path]:
        return {m: self.data_dir / f"{m}.sock" for m in MODES}

    def locks(self) -> dict[str, Path]:
        return {m: self.data_dir / f"{m}.lock" for m in MODES}

    def logs(self) -> dict[str, Path]:
        return {m: self.log_dir / f"desk-{m}.log" for m in MODES}

    def to_json(self) -> dict[str, object]:
        return {
            "config_dir": str(self.config_dir),
            "config_file": str(self.config_file),
            "plugins_dir": str(self.plugins_dir),
            "data_dir": str(self.data_dir),
            "journals": {m: str(p) for m, p in self.journals().items()},
            "control_sockets": {m: str(p) for m, p in self.sockets().items()},
            "locks": {m: str(p) for m, p in self.locks().items()},
            "state_dir": str(self.state_dir),
            "log_dir": str(self.log_dir),
            "logs": {m: str(p) for m, p in self.logs().items()},
            "runtime_dir": str(self.runtime_dir),
        }


def desk_paths(data_override: str | Path | None = None, config: Path | None = None) -> DeskPaths:
    cdir = config_dir()
    data = data_dir(data_override, create=False)
    return DeskPaths(
        config_dir=cdir,
        config_file=Path(config) if config else cdir / "config.toml",
        plugins_dir=cdir / "strategies",
        data_dir=data,
        state_dir=state_dir(),
        log_dir=log_dir(data),
        runtime_dir=runtime_dir(),
    )
