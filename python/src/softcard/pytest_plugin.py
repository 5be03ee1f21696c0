"""The pytest plugin: the `softcard_card` and `softcard_cards` fixtures.

A PC/SC library is loaded once per process and reads LD_LIBRARY_PATH when the process
starts, so a test session cannot switch pyscard or OpenSC to softcard's library once it
runs. The plugin therefore runs the session under `softcard exec`: when the collected
tests use a softcard fixture and the session does not run under exec yet, it starts the
same pytest command again as `softcard exec -- python ARGS...` (a host with no card;
every process of the session, and each program a test starts, uses softcard's
libpcsclite.so.1 and OpenSC is pointed at it) and exits with its status. Each test then
gets its own card image, attached in a new reader for the test and detached after it.
Sessions whose tests use no softcard fixture are left alone (real readers and pcscd stay
visible to them).
"""

from __future__ import annotations

import os
import sys
from typing import Iterator, List

import pytest

from . import Card, SoftcardError, binary, under_exec

_FIXTURES = ("softcard_card", "softcard_cards")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "softcard(profile='piv', pin=None, puk=None, seed=None, snapshot=None, faults=()): "
        "the card the softcard_card fixture makes for this test",
    )


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: List[pytest.Item]) -> None:
    if under_exec() or config.option.collectonly:
        return
    if not any(set(_FIXTURES) & set(getattr(item, "fixturenames", ())) for item in items):
        return
    try:
        program = binary()
    except SoftcardError as e:
        raise pytest.UsageError(str(e)) from None
    # Give the terminal back (pytest captures fds 1 and 2 during collection), then run
    # the same command line under softcard exec in this process's place.
    capture = config.pluginmanager.getplugin("capturemanager")
    if capture is not None:
        capture.stop_global_capturing()
    sys.stdout.flush()
    sys.stderr.flush()
    argv = [program, "exec", "--", sys.executable, *sys.orig_argv[1:]]
    os.execv(program, argv)


def _options(request: pytest.FixtureRequest) -> dict:
    """The card's options: the test's `softcard` marker, then an indirect parameter."""
    options: dict = {}
    marker = request.node.get_closest_marker("softcard")
    if marker is not None:
        if marker.args:
            raise pytest.UsageError("@pytest.mark.softcard takes keyword arguments only")
        options.update(marker.kwargs)
    options.update(getattr(request, "param", None) or {})
    return options


def _session_ready() -> None:
    if not under_exec():
        pytest.fail(
            "softcard: this session does not run under softcard exec "
            "(the plugin restarts a session whose tests use its fixtures; run "
            "`softcard exec -- python -m pytest ...` where that cannot happen)",
            pytrace=False,
        )


def _attached_card(image, options: dict) -> Card:
    """A new card made with `options` (Card.create's, and `faults`: lines injected once it
    is in its reader), attached."""
    options = dict(options)
    faults = options.pop("faults", ())
    if isinstance(faults, str):
        faults = [faults]
    card = Card.create(image, **options)
    card.attach()
    if faults:
        try:
            card.fault(*faults)
        except BaseException:
            card.detach()
            raise
    return card


@pytest.fixture
def softcard_card(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Card]:
    """A new card in a reader of its own for this test, detached after it.

    Options (keyword arguments of `@pytest.mark.softcard`, or a dict as the fixture's
    indirect parameter): profile ('piv', 'windows-vsc', 'yubikey', 'yubikey-5.4'), pin,
    puk, seed (the same keys every run), snapshot (a file saved by `softcard snapshot
    save` or `Card.save_snapshot`), faults (lines of softcard's docs/faults.md, injected
    on this card's reader: 'answer ins=87 sw=6982'). The card's `reader` is the name pyscard and OpenSC
    list; `image` is its image file.
    """
    _session_ready()
    image = tmp_path_factory.mktemp("softcard") / "card.img"
    card = _attached_card(image, _options(request))
    try:
        yield card
    finally:
        card.detach()


class Cards:
    """Makes cards for one test (`softcard_cards.new(profile=..., ...)`), each in a new
    reader; all are detached after the test."""

    def __init__(self, factory: pytest.TempPathFactory):
        self._factory = factory
        self.cards: List[Card] = []

    def new(self, **options) -> Card:
        image = self._factory.mktemp("softcard") / "card.img"
        card = _attached_card(image, options)
        self.cards.append(card)
        return card

    def _detach_all(self) -> None:
        for card in self.cards:
            card.detach()


@pytest.fixture
def softcard_cards(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cards]:
    """A maker of several cards for one test: `softcard_cards.new(profile='yubikey')`."""
    _session_ready()
    cards = Cards(tmp_path_factory)
    try:
        yield cards
    finally:
        cards._detach_all()
