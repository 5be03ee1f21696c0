"""What else the fixtures give a test: a card pulled out and put back as pyscard sees it, a
card started from a snapshot ("a card with a blocked PIN"), the same card from the same
seed, several cards in one test, faults injected."""

import pytest
from smartcard.Exceptions import CardConnectionException
from smartcard.System import readers

from test_signing import connect, verify_pin


@pytest.mark.softcard(profile="piv")
def test_a_card_pulled_out_is_seen_by_pyscard(softcard_card):
    connection = connect(softcard_card)
    softcard_card.remove()
    with pytest.raises(CardConnectionException):
        verify_pin(connection, softcard_card.pin)
    softcard_card.insert()
    assert verify_pin(connect(softcard_card), softcard_card.pin) == 0x9000


def test_a_snapshot_gives_a_card_with_a_blocked_pin(softcard_cards, tmp_path):
    first = softcard_cards.new(profile="piv", pin="123456")
    connection = connect(first)
    while verify_pin(connection, "000000") != 0x6983:
        pass
    snapshot = first.save_snapshot(tmp_path / "blocked.snapshot")
    second = softcard_cards.new(profile="piv", snapshot=snapshot)
    assert second.info()["applets"][0]["state"]["pin"]["blocked"] is True
    assert verify_pin(connect(second), "123456") == 0x6983
    fresh = softcard_cards.new(profile="piv", pin="123456")
    assert verify_pin(connect(fresh), "123456") == 0x9000
    assert len({first.reader, second.reader, fresh.reader}) == 3
    assert {first.reader, second.reader, fresh.reader} <= {str(r) for r in readers()}


@pytest.mark.parametrize("softcard_card", [{"profile": "yubikey", "seed": 7}], indirect=True)
def test_a_seed_gives_the_same_card_and_an_indirect_parameter_chooses_it(softcard_card, softcard_cards):
    assert softcard_card.reader.startswith("Yubico YubiKey")
    assert softcard_card.pin == "123456"
    twin = softcard_cards.new(profile="yubikey", seed=7)
    other = softcard_cards.new(profile="yubikey", seed=8)
    serial = lambda card: card.info()["serial"]
    assert serial(twin) == serial(softcard_card) != serial(other)


@pytest.mark.softcard(profile="piv", pin="123456", faults=["answer ins=20 sw=6982"])
def test_a_fault_answers_the_next_verify_and_another_fails_a_transmission(softcard_card):
    connection = connect(softcard_card)
    assert verify_pin(connection, "123456") == 0x6982
    assert verify_pin(connection, "123456") == 0x9000
    softcard_card.fault("fail error=SCARD_E_COMM_DATA_LOST")
    with pytest.raises(CardConnectionException):
        verify_pin(connection, "123456")
    assert verify_pin(connection, "123456") == 0x9000
