"""softcard for Python tests: virtual smart cards made to order, served by `softcard exec`.

`Card.create()` makes a card image (`softcard init`); `Card.attach()` puts it in a new
reader of the `softcard exec` this process runs under (`softcard ctl attach`), where
pyscard, OpenSC's PKCS#11 module and every program started from here see it. The pytest
plugin (`softcard.pytest_plugin`) does both for a test, as the `softcard_card` fixture.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sysconfig
from pathlib import Path
from typing import Optional, Sequence, Union

__all__ = ["Card", "SoftcardError", "binary", "under_exec", "opensc_pkcs11_module"]

#: The profiles softcard emulates.
PROFILES = ("piv", "windows-vsc", "yubikey", "yubikey-5.4")

#: The PIN a new card has when none is given.
DEFAULT_PINS = {"piv": "12345678", "windows-vsc": "12345678", "yubikey": "123456", "yubikey-5.4": "123456"}

# Where Debian and Fedora put OpenSC's PKCS#11 module.
_OPENSC_MODULES = (
    "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so",
    "/usr/lib/aarch64-linux-gnu/opensc-pkcs11.so",
    "/usr/lib64/opensc-pkcs11.so",
    "/usr/lib/opensc-pkcs11.so",
)


class SoftcardError(Exception):
    """A softcard command failed: its message, and the card's status word if it gave one."""

    def __init__(self, message: str, status: Optional[str] = None):
        super().__init__(message)
        self.status = status


def binary() -> str:
    """The `softcard` command: `$SOFTCARD_BIN`, else the one this package installed
    (the environment's scripts folder), else the first on PATH."""
    named = os.environ.get("SOFTCARD_BIN")
    if named:
        return named
    installed = Path(sysconfig.get_path("scripts")) / "softcard"
    if installed.is_file():
        return str(installed)
    found = shutil.which("softcard")
    if found is None:
        raise SoftcardError("the softcard command is not installed (pip install softcard)")
    return found


def under_exec() -> bool:
    """Whether this process runs under `softcard exec` (its cards' host is named in
    SOFTCARD_HOST)."""
    return bool(os.environ.get("SOFTCARD_HOST"))


def opensc_pkcs11_module() -> Optional[str]:
    """The path of OpenSC's PKCS#11 module (`$OPENSC_PKCS11`, else the usual places), or
    None if OpenSC is not installed."""
    named = os.environ.get("OPENSC_PKCS11")
    if named:
        return named
    return next((m for m in _OPENSC_MODULES if os.path.exists(m)), None)


def run(*args: Union[str, os.PathLike]) -> dict:
    """Runs `softcard ARGS... --json` and returns its JSON result; a failure raises
    SoftcardError with the command's message and the card's status word."""
    command = [binary(), *map(str, args), "--json"]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        message, status = done.stderr.strip(), None
        for line in reversed(done.stderr.splitlines()):
            try:
                error = json.loads(line)
            except ValueError:
                continue
            message, status = error.get("error", message), error.get("status")
            break
        raise SoftcardError(f"softcard {args[0]}: {message}", status)
    return json.loads(done.stdout) if done.stdout.strip() else {}


class Card:
    """A card image, and the reader serving it once attached."""

    def __init__(self, image: Path, profile: str, pin: str):
        self.image = Path(image)
        self.profile = profile
        #: The user PIN the card was made with.
        self.pin = pin
        #: The reader's name once attached (as pyscard and OpenSC list it), else None.
        self.reader: Optional[str] = None

    @classmethod
    def create(
        cls,
        image: Union[str, os.PathLike],
        profile: str = "piv",
        pin: Optional[str] = None,
        puk: Optional[str] = None,
        seed: Optional[int] = None,
        snapshot: Optional[Union[str, os.PathLike]] = None,
    ) -> "Card":
        """Makes a new card image (`softcard init`): the profile's defaults for what is not
        given; `seed` makes the keys the same every run (tests only); `snapshot` then puts
        a saved state on it (`softcard snapshot restore`), PINs and keys included, so a
        PIN or PUK cannot be given with it."""
        if profile not in PROFILES:
            raise SoftcardError(f"unknown profile {profile!r} (expected one of {', '.join(PROFILES)})")
        if snapshot is not None and (pin is not None or puk is not None):
            raise SoftcardError("a snapshot carries its own PIN and PUK: give either the snapshot or them")
        args = ["init", image, "--profile", profile]
        if pin is not None:
            args += ["--pin", pin]
        if puk is not None:
            args += ["--puk", puk]
        if seed is not None:
            args += ["--seed", str(seed)]
        run(*args)
        card = cls(Path(image), profile, pin if pin is not None else DEFAULT_PINS[profile])
        if snapshot is not None:
            _plain(binary(), "snapshot", "restore", image, snapshot)
            card.pin = None  # the snapshot's: not known here
        return card

    def attach(self) -> str:
        """Serves the card in a new reader of the `softcard exec` this process runs under
        (`softcard ctl attach`); returns the reader's name."""
        if not under_exec():
            raise SoftcardError("not under softcard exec: run the program as `softcard exec -- ...`")
        self.reader = run("ctl", "attach", self.image)["reader"]
        return self.reader

    def detach(self) -> None:
        """Takes the card's reader away (`softcard ctl detach`)."""
        if self.reader is not None:
            run("ctl", "detach", self.reader)
            self.reader = None

    def fault(self, *lines: str) -> None:
        """Injects faults in the card's exchanges (`softcard ctl fault`), each a line of the
        format of softcard's docs/faults.md: 'answer ins=87 sw=6982', 'fail
        error=SCARD_E_COMM_DATA_LOST', 'latency profile=tpm'. A line that names no reader
        is given this card's."""
        reader = self._attached()
        run("ctl", "fault", *(line if "reader=" in line else f'{line} reader="{reader}"' for line in lines))

    def reset(self) -> None:
        """Power-cycles the card: open connections get SCARD_W_RESET_CARD (`softcard ctl
        reset`)."""
        run("ctl", "reset", self._attached())

    def remove(self) -> None:
        """Takes the card out of its reader, as a user pulling it would: open connections
        get SCARD_W_REMOVED_CARD (`softcard ctl remove`)."""
        run("ctl", "remove", self._attached())

    def insert(self) -> None:
        """Puts the card taken out back (`softcard ctl insert`)."""
        run("ctl", "insert", self._attached())

    def save_snapshot(self, path: Union[str, os.PathLike]) -> Path:
        """Saves the card's whole state to `path`, to start other cards from
        (`Card.create(..., snapshot=path)`). A snapshot file is a copy of the image file
        (`softcard snapshot save`); while the card is attached, the exec serving it holds
        the image and `snapshot save` refuses it, so the file is copied here: the host
        writes every change to it, atomically, before the card answers."""
        if self.reader is None:
            _plain(binary(), "snapshot", "save", self.image, path)
        else:
            shutil.copyfile(self.image, path)
        return Path(path)

    def info(self) -> dict:
        """What is on the card (`softcard info --json`; no secrets)."""
        return run("info", self.image)

    def _attached(self) -> str:
        if self.reader is None:
            raise SoftcardError(f"{self.image}: the card is not attached to a reader")
        return self.reader

    def __repr__(self) -> str:
        return f"Card(image={str(self.image)!r}, profile={self.profile!r}, reader={self.reader!r})"


def _plain(*command: Union[str, os.PathLike]) -> None:
    """Runs a softcard command that has no --json, raising SoftcardError on failure."""
    done = subprocess.run([str(c) for c in command], capture_output=True, text=True)
    if done.returncode != 0:
        raise SoftcardError(f"softcard {command[1]}: {done.stderr.strip()}")


def exec_command(argv: Sequence[str]) -> list:
    """The command line that runs `argv` under `softcard exec` with no card: cards are
    attached later, one per test."""
    return [binary(), "exec", "--", *argv]
