"""The softcard pytest fixture at work: a signature made on the card through pyscard
(PC/SC, the card's own commands) and through OpenSC's PKCS#11 module with PyKCS11, each
with its failing twin (a wrong PIN: 63Cx from the card, CKR_PIN_INCORRECT from PKCS#11)."""

import hashlib

import pytest
import PyKCS11
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, encode_dss_signature
from smartcard.System import readers

from softcard import opensc_pkcs11_module

SELECT_PIV = [0x00, 0xA4, 0x04, 0x00, 0x05, 0xA0, 0x00, 0x00, 0x03, 0x08]
MESSAGE = b"signed by a virtual card"


def connect(card):
    """A pyscard connection to the card's reader, with PIV selected."""
    reader = next(r for r in readers() if str(r) == card.reader)
    connection = reader.createConnection()
    connection.connect()
    _, sw1, sw2 = connection.transmit(SELECT_PIV)
    assert (sw1, sw2) == (0x90, 0x00)
    return connection


def verify_pin(connection, pin):
    """PIV VERIFY of the PIN, padded with FF to 8 bytes; the status word."""
    data = list(pin.encode()) + [0xFF] * (8 - len(pin))
    _, sw1, sw2 = connection.transmit([0x00, 0x20, 0x00, 0x80, 0x08, *data])
    return (sw1 << 8) | sw2


def sign_digest(connection, digest):
    """PIV GENERAL AUTHENTICATE with the P-256 key (11) in slot 9A over a SHA-256 digest:
    7C { 82 (asks for the signature), 81 digest }; the signature and the status word."""
    template = [0x82, 0x00, 0x81, len(digest), *digest]
    apdu = [0x00, 0x87, 0x11, 0x9A, len(template) + 2, 0x7C, len(template), *template, 0x00]
    response, sw1, sw2 = connection.transmit(apdu)
    # 7C L 82 L signature (short lengths: a P-256 signature is at most 72 bytes)
    return bytes(response[4:]), (sw1 << 8) | sw2


def public_key(card):
    return x509.load_pem_x509_certificate(card.certificate).public_key()


@pytest.mark.softcard(profile="piv", pin="123456")
def test_pyscard_signs_with_the_pin(signing_card):
    connection = connect(signing_card)
    assert verify_pin(connection, "123456") == 0x9000
    digest = hashlib.sha256(MESSAGE).digest()
    signature, sw = sign_digest(connection, digest)
    assert sw == 0x9000
    public_key(signing_card).verify(signature, digest, ec.ECDSA(Prehashed(hashes.SHA256())))


@pytest.mark.softcard(profile="piv", pin="123456")
def test_pyscard_wrong_pin_is_refused_and_the_key_stays_locked(signing_card):
    connection = connect(signing_card)
    assert verify_pin(connection, "654321") == 0x63C2
    _, sw = sign_digest(connection, hashlib.sha256(MESSAGE).digest())
    assert sw == 0x6982


def pkcs11_session(card):
    """A PKCS#11 session on the card's slot through OpenSC's module."""
    module = opensc_pkcs11_module()
    assert module is not None, "OpenSC's PKCS#11 module (opensc-pkcs11.so) is not installed"
    lib = PyKCS11.PyKCS11Lib()
    lib.load(module)
    slot = next(s for s in lib.getSlotList(tokenPresent=True)
                if lib.getSlotInfo(s).slotDescription.strip().startswith(card.reader))
    return lib, lib.openSession(slot, PyKCS11.CKF_SERIAL_SESSION)


@pytest.mark.softcard(profile="piv", pin="123456")
def test_pykcs11_signs_through_opensc(signing_card):
    lib, session = pkcs11_session(signing_card)
    session.login("123456")
    key = session.findObjects([(PyKCS11.CKA_CLASS, PyKCS11.CKO_PRIVATE_KEY)])[0]
    raw = bytes(session.sign(key, MESSAGE, PyKCS11.Mechanism(PyKCS11.CKM_ECDSA_SHA256)))
    session.logout()
    session.closeSession()
    half = len(raw) // 2
    signature = encode_dss_signature(int.from_bytes(raw[:half], "big"), int.from_bytes(raw[half:], "big"))
    public_key(signing_card).verify(signature, MESSAGE, ec.ECDSA(hashes.SHA256()))


@pytest.mark.softcard(profile="piv", pin="123456")
def test_pykcs11_wrong_pin_is_pin_incorrect(signing_card):
    lib, session = pkcs11_session(signing_card)
    with pytest.raises(PyKCS11.PyKCS11Error) as refused:
        session.login("654321")
    assert refused.value.value == PyKCS11.CKR_PIN_INCORRECT
    session.closeSession()
