"""pyscard clients for the card-sharing tests (tests/sharing.rs).

Each subcommand is one process; a test's shell script starts several of them under ONE
`softcard exec`, and they hand over to each other with files in a folder DIR:
    hold-verify DIR PIN   PIV: connect, SELECT, touch a-ready, wait for b-done, VERIFY PIN
    hold-gids DIR         GIDS: connect, SELECT, touch a-ready, wait for b-done, read the
                          container map, VERIFY the default PIN
    wrong-pins DIR ID N   PIV: connect, SELECT, touch ready-ID, wait for go, N wrong VERIFYs
    mgmt-put DIR          PIV: connect, SELECT, touch ready-mgmt, wait for pins-done, then
                          management-key authentication, PUT DATA, empty VERIFY
    pin-status            PIV: connect, SELECT, empty VERIFY
    watch-removal DIR     PIV: connect, SELECT, VERIFY, touch watching; waits for the card to
                          go (status change), transmits on the old connection, touches
                          saw-empty; waits for it to come back, reconnects, SELECT, empty
                          VERIFY (the card put back is the same card, PIN logged out)
    stress DIR ID SECONDS PIV and GIDS: random writes of tagged data objects, in and out of
                          transactions; writes what was acknowledged to DIR/stress-ID.json
Every status word is printed; a PC/SC error ends the process with exit code 2.
"""
import json
import os
import random
import sys
import time

from smartcard.scard import (
    SCARD_E_SHARING_VIOLATION,
    SCARD_LEAVE_CARD,
    SCARD_PROTOCOL_T0,
    SCARD_PROTOCOL_T1,
    SCARD_S_SUCCESS,
    SCARD_SCOPE_USER,
    SCARD_SHARE_SHARED,
    SCARD_W_RESET_CARD,
    SCardBeginTransaction,
    SCardConnect,
    SCardDisconnect,
    SCardEndTransaction,
    SCardEstablishContext,
    SCARD_STATE_EMPTY,
    SCARD_STATE_PRESENT,
    SCARD_STATE_UNAWARE,
    SCardGetErrorMessage,
    SCardGetStatusChange,
    SCardListReaders,
    SCardReconnect,
    SCardReleaseContext,
    SCardTransmit,
)

PIV_READER = "softcard PIV"
GIDS_READER = "softcard GIDS"
PIV_AID = [0xA0, 0x00, 0x00, 0x03, 0x08, 0x00, 0x00, 0x10, 0x00, 0x01, 0x00]
GIDS_AID = [0xA0, 0x00, 0x00, 0x03, 0x97, 0x42, 0x54, 0x46, 0x59]
MGMT_KEY = bytes.fromhex("010203040506070801020304050607080102030405060708")
DEFAULT_PIN = "12345678"
WAIT_LIMIT = 60.0


class PcscError(Exception):
    def __init__(self, message, rv=None):
        super().__init__(message)
        self.rv = rv


def check(what, rv):
    if rv != SCARD_S_SUCCESS:
        raise PcscError(
            "%s: %s (0x%08X)" % (what, SCardGetErrorMessage(rv), rv & 0xFFFFFFFF), rv
        )


class Card:
    """One PC/SC context and one shared connection to the first reader named PREFIX..."""

    def __init__(self, prefix):
        rv, self.ctx = SCardEstablishContext(SCARD_SCOPE_USER)
        check("SCardEstablishContext", rv)
        rv, names = SCardListReaders(self.ctx, [])
        check("SCardListReaders", rv)
        matching = [n for n in names if n.startswith(prefix)]
        if not matching:
            raise PcscError("no reader %r among %r" % (prefix, names))
        self.reader = matching[0]
        rv, self.handle, self.proto = SCardConnect(
            self.ctx, self.reader, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1
        )
        check("SCardConnect " + self.reader, rv)
        self.aid = None

    def transmit(self, apdu):
        """One SCardTransmit. When another client reset the card (SCARD_W_RESET_CARD, as
        yubico-piv-tool's disconnect does), reconnects, selects the application again
        and retries, as a client of a real shared card must."""
        rv, resp = SCardTransmit(self.handle, self.proto, list(apdu))
        if rv == SCARD_W_RESET_CARD:
            print("(%s was reset by another client: reconnecting)" % self.reader, file=sys.stderr)
            rv, self.proto = SCardReconnect(
                self.handle, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1, SCARD_LEAVE_CARD
            )
            check("SCardReconnect", rv)
            if self.aid is not None:
                aid = self.aid
                rv, resp = SCardTransmit(self.handle, self.proto, [0x00, 0xA4, 0x04, 0x00, len(aid)] + aid + [0x00])
                check("SCardTransmit (SELECT after the reset)", rv)
            rv, resp = SCardTransmit(self.handle, self.proto, list(apdu))
        check("SCardTransmit", rv)
        return resp

    def send(self, apdu):
        """Sends APDU, follows 61xx with GET RESPONSE; returns (data, sw)."""
        resp = self.transmit(apdu)
        data = list(resp[:-2])
        sw = (resp[-2] << 8) | resp[-1]
        while sw >> 8 == 0x61:
            resp = self.transmit([0x00, 0xC0, 0x00, 0x00, sw & 0xFF])
            data += list(resp[:-2])
            sw = (resp[-2] << 8) | resp[-1]
        return data, sw

    def select(self, aid):
        self.aid = aid
        return self.send([0x00, 0xA4, 0x04, 0x00, len(aid)] + aid + [0x00])[1]

    def begin(self):
        check("SCardBeginTransaction", SCardBeginTransaction(self.handle))

    def end(self):
        check("SCardEndTransaction", SCardEndTransaction(self.handle, SCARD_LEAVE_CARD))

    def close(self):
        SCardDisconnect(self.handle, SCARD_LEAVE_CARD)
        SCardReleaseContext(self.ctx)


def touch(path):
    with open(path, "w"):
        pass


def await_file(path):
    deadline = time.monotonic() + WAIT_LIMIT
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            raise PcscError("timed out waiting for " + path)
        time.sleep(0.02)


def verify_apdu(pin):
    digits = [ord(c) for c in pin]
    return [0x00, 0x20, 0x00, 0x80, 0x08] + digits + [0xFF] * (8 - len(digits))


def gids_verify_apdu(pin):
    digits = [ord(c) for c in pin]
    return [0x00, 0x20, 0x00, 0x80, len(digits)] + digits


def tlv_len(n):
    if n < 0x80:
        return [n]
    if n < 0x100:
        return [0x81, n]
    return [0x82, n >> 8, n & 0xFF]


def des3(encrypt, block):
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    cipher = Cipher(algorithms.TripleDES(MGMT_KEY), modes.ECB())
    op = cipher.encryptor() if encrypt else cipher.decryptor()
    return op.update(bytes(block)) + op.finalize()


def mgmt_auth(card):
    """PIV mutual authentication with the default 3DES management key; returns the SW
    (0x9000 on success, 0x0001 if the card's answer to our challenge is wrong)."""
    data, sw = card.send([0x00, 0x87, 0x03, 0x9B, 0x04, 0x7C, 0x02, 0x80, 0x00, 0x00])
    if sw != 0x9000:
        return sw
    witness = des3(False, data[4:12])
    challenge = os.urandom(8)
    body = [0x7C, 0x14, 0x80, 0x08] + list(witness) + [0x81, 0x08] + list(challenge)
    data, sw = card.send([0x00, 0x87, 0x03, 0x9B, len(body)] + body + [0x00])
    if sw != 0x9000:
        return sw
    return 0x9000 if bytes(data[4:12]) == des3(True, challenge) else 0x0001


def piv_put(card, tag, content):
    body = [0x5C, 0x03, 0x5F, 0xC1, tag] + [0x53] + tlv_len(len(content)) + list(content)
    return card.send([0x00, 0xDB, 0x3F, 0xFF, len(body)] + body)[1]


def piv_get(card, tag):
    data, sw = card.send([0x00, 0xCB, 0x3F, 0xFF, 0x05, 0x5C, 0x03, 0x5F, 0xC1, tag, 0x00])
    if sw != 0x9000:
        return None, sw
    # 53 L content
    skip = 2 if data[1] < 0x80 else 2 + (data[1] & 0x7F)
    return bytes(data[skip:]), sw


def gids_put(card, do, content):
    body = [0xDF, do] + tlv_len(len(content)) + list(content)
    return card.send([0x00, 0xDB, 0xA0, 0x13, len(body)] + body)[1]


def gids_get(card, do):
    data, sw = card.send([0x00, 0xCB, 0xA0, 0x13, 0x04, 0x5C, 0x02, 0xDF, do, 0x00])
    if sw != 0x9000:
        return None, sw
    skip = 3 if data[2] < 0x80 else 3 + (data[2] & 0x7F)
    return bytes(data[skip:]), sw


def hold_verify(folder, pin):
    card = Card(PIV_READER)
    print("A: SELECT %04X" % card.select(PIV_AID), flush=True)
    touch(os.path.join(folder, "a-ready"))
    await_file(os.path.join(folder, "b-done"))
    print("A: VERIFY %04X" % card.send(verify_apdu(pin))[1], flush=True)
    card.close()


def hold_gids(folder):
    card = Card(GIDS_READER)
    print("A: SELECT %04X" % card.select(GIDS_AID), flush=True)
    touch(os.path.join(folder, "a-ready"))
    await_file(os.path.join(folder, "b-done"))
    data, sw = card.send([0x00, 0xCB, 0xA0, 0x10, 0x04, 0x5C, 0x02, 0xDF, 0x23, 0x00])
    print("A: CMAPFILE %04X %s" % (sw, bytes(data).hex()), flush=True)
    print("A: VERIFY %04X" % card.send(gids_verify_apdu(DEFAULT_PIN))[1], flush=True)
    card.close()


def wrong_pins(folder, ident, n):
    card = Card(PIV_READER)
    sw = card.select(PIV_AID)
    if sw != 0x9000:
        print("SELECT %04X" % sw, flush=True)
    touch(os.path.join(folder, "ready-" + ident))
    await_file(os.path.join(folder, "go"))
    for _ in range(n):
        print("VERIFY %04X" % card.send(verify_apdu("00000000"))[1], flush=True)
    card.close()


def mgmt_put(folder):
    card = Card(PIV_READER)
    print("M: SELECT %04X" % card.select(PIV_AID), flush=True)
    touch(os.path.join(folder, "ready-mgmt"))
    await_file(os.path.join(folder, "pins-done"))
    print("M: AUTHENTICATE %04X" % mgmt_auth(card), flush=True)
    print("M: PUT DATA %04X" % piv_put(card, 0x0D, b"written without the PIN"), flush=True)
    print("M: PIN STATUS %04X" % card.send([0x00, 0x20, 0x00, 0x80])[1], flush=True)
    card.close()


def pin_status():
    card = Card(PIV_READER)
    card.select(PIV_AID)
    print("PIN STATUS %04X" % card.send([0x00, 0x20, 0x00, 0x80])[1], flush=True)
    card.close()


def await_state(card, bit):
    """Waits with SCardGetStatusChange until the reader's state has BIT."""
    rv, states = SCardGetStatusChange(card.ctx, 0, [(card.reader, SCARD_STATE_UNAWARE)])
    check("SCardGetStatusChange", rv)
    deadline = time.monotonic() + WAIT_LIMIT
    while not states[0][1] & bit:
        if time.monotonic() > deadline:
            raise PcscError("timed out waiting for the reader state 0x%X" % bit)
        rv, states = SCardGetStatusChange(card.ctx, 1000, [(card.reader, states[0][1])])
        if rv != SCARD_S_SUCCESS and rv & 0xFFFFFFFF != 0x8010000A:  # SCARD_E_TIMEOUT
            check("SCardGetStatusChange", rv)
    return states[0][1]


def watch_removal(folder):
    card = Card(PIV_READER)
    print("W: SELECT %04X" % card.select(PIV_AID), flush=True)
    print("W: VERIFY %04X" % card.send(verify_apdu(DEFAULT_PIN))[1], flush=True)
    touch(os.path.join(folder, "watching"))
    await_state(card, SCARD_STATE_EMPTY)
    print("W: reader EMPTY", flush=True)
    rv, _ = SCardTransmit(card.handle, card.proto, [0x00, 0x20, 0x00, 0x80])
    print("W: transmit on the old connection: 0x%08X" % (rv & 0xFFFFFFFF), flush=True)
    touch(os.path.join(folder, "saw-empty"))
    await_state(card, SCARD_STATE_PRESENT)
    print("W: reader PRESENT", flush=True)
    rv, card.proto = SCardReconnect(
        card.handle, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1, SCARD_LEAVE_CARD
    )
    check("SCardReconnect", rv)
    print("W: SELECT again %04X" % card.select(PIV_AID), flush=True)
    print("W: PIN STATUS %04X" % card.send([0x00, 0x20, 0x00, 0x80])[1], flush=True)
    card.close()


def write_once(card, which, obj, value):
    """Writes VALUE to this process's object OBJ on the card: SELECT, then the
    management-key authentication (PIV) or the PIN (GIDS), then PUT DATA. Returns
    (key, sw)."""
    if which == "piv":
        tag = 0x0D + obj
        sw = card.select(PIV_AID)
        if sw == 0x9000:
            sw = mgmt_auth(card)
        if sw == 0x9000:
            sw = piv_put(card, tag, value)
        return "piv:%02X" % tag, sw
    do = 0x40 + obj
    sw = card.select(GIDS_AID)
    if sw == 0x9000:
        sw = card.send(gids_verify_apdu(DEFAULT_PIN))[1]
    if sw == 0x9000:
        sw = gids_put(card, do, value)
    return "gids:DF%02X" % do, sw


def stress(folder, ident, seconds):
    """Random writes of this process's own objects: PIV 5FC1(0D + 2*ID + k) and GIDS
    A013/DF(40 + 2*ID + k), k in {0, 1}; half of the rounds in a transaction, which may
    hold several writes and reads them back before it ends."""
    n = int(ident)
    rng = random.Random(n)
    piv, gids = Card(PIV_READER), Card(GIDS_READER)
    acked = {}  # "piv:0D" -> last value acknowledged with 9000
    counts = {"acked": 0, "refused": 0, "transactions": 0}
    refusals = {}
    mismatches = []
    deadline = time.monotonic() + seconds
    seq = 0
    while time.monotonic() < deadline:
        which = rng.choice(["piv", "gids"])
        card = piv if which == "piv" else gids
        in_tx = rng.random() < 0.5
        if in_tx:
            card.begin()
            counts["transactions"] += 1
        written = []
        for _ in range(rng.randint(1, 3) if in_tx else 1):
            seq += 1
            value = ("p%d-%d" % (n, seq)).encode()
            obj = 2 * n + rng.randint(0, 1)
            try:
                key, sw = write_once(card, which, obj, value)
            except PcscError as e:
                # Outside a transaction, a command sent while another client holds one may
                # be refused with SCARD_E_SHARING_VIOLATION (pcsc-lite does); never inside.
                if in_tx or e.rv != SCARD_E_SHARING_VIOLATION:
                    raise
                key, sw = None, "sharing violation"
            if sw == 0x9000:
                acked[key] = value.decode()
                counts["acked"] += 1
                written.append((key, value))
            else:
                counts["refused"] += 1
                name = sw if isinstance(sw, str) else "%04X" % sw
                refusals[name] = refusals.get(name, 0) + 1
        if in_tx:
            # Read back, before the transaction ends, the last value written to each object.
            for key, value in dict(written).items():
                obj = int(key[-2:], 16)
                got, sw = piv_get(card, obj) if which == "piv" else gids_get(card, obj)
                if got != value:
                    mismatches.append("%s: wrote %s, read %s (%04X)" % (key, value, got, sw))
            card.end()
    piv.close()
    gids.close()
    with open(os.path.join(folder, "stress-%s.txt" % ident), "w") as f:
        for key in sorted(acked):
            f.write("acked %s %s\n" % (key, acked[key]))
        for line in mismatches:
            f.write("mismatch %s\n" % line)
        f.write("counts %s refusals %s\n" % (json.dumps(counts), json.dumps(refusals)))
    print("stress %s: %s refusals %s" % (ident, json.dumps(counts), json.dumps(refusals)), flush=True)


def main(args):
    command, rest = args[0], args[1:]
    if command == "hold-verify":
        hold_verify(rest[0], rest[1])
    elif command == "hold-gids":
        hold_gids(rest[0])
    elif command == "wrong-pins":
        wrong_pins(rest[0], rest[1], int(rest[2]))
    elif command == "mgmt-put":
        mgmt_put(rest[0])
    elif command == "pin-status":
        pin_status()
    elif command == "watch-removal":
        watch_removal(rest[0])
    elif command == "stress":
        stress(rest[0], rest[1], float(rest[2]))
    else:
        raise SystemExit("unknown subcommand " + command)


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except PcscError as e:
        print("PC/SC error: %s" % e, flush=True)
        sys.exit(2)
