"""pyscard as the client of injected faults (tests/faults.rs).

    faults_pyscard.py READER SOFTCARD [CTL-OPTION...]

Drives the card in READER with pyscard's PC/SC calls while `SOFTCARD ctl [CTL-OPTION...]`
injects faults and card events in the host serving it (under `softcard exec` the host is
found through SOFTCARD_HOST; for `softcard serve`, pass `--image IMAGE`). Prints one line
per step, `STEP: WHAT THE CLIENT SAW`, with PC/SC results by name; the test reads them.
"""
import subprocess
import sys
import threading
import time

from smartcard import scard

READER, SOFTCARD, CTL = sys.argv[1], sys.argv[2], sys.argv[3:]
SELECT_PIV = [0x00, 0xA4, 0x04, 0x00, 0x05, 0xA0, 0x00, 0x00, 0x03, 0x08]
PIN_STATUS = [0x00, 0x20, 0x00, 0x80]
NAMES = {
    getattr(scard, n) & 0xFFFFFFFF: n
    for n in dir(scard)
    if n.startswith(("SCARD_E_", "SCARD_W_", "SCARD_F_", "SCARD_S_SUCCESS"))
}


def name(code):
    return NAMES.get(code & 0xFFFFFFFF, hex(code & 0xFFFFFFFF))


def ctl(*args):
    subprocess.run([SOFTCARD, "ctl", *CTL, *args], check=True, stdout=subprocess.DEVNULL)


def ctl_card(action):
    """`ctl remove|insert|reset` on the card: named by the reader under exec, found by
    --image otherwise."""
    ctl(action) if CTL else ctl(action, READER)


def transmit(card, apdu):
    """The status word as 4 hex digits, or the PC/SC error's name."""
    rv, resp = scard.SCardTransmit(card, scard.SCARD_PCI_T1, apdu)
    if rv != scard.SCARD_S_SUCCESS:
        return name(rv)
    if len(resp) < 2:
        return "no status word"
    return "%02X%02X" % (resp[-2], resp[-1])


def wait_change(ctx, state, timeout_ms):
    """Waits for the reader to leave `state`; the new state's EMPTY/PRESENT bits."""
    rv, states = scard.SCardGetStatusChange(ctx, timeout_ms, [(READER, state)])
    if rv != scard.SCARD_S_SUCCESS:
        return name(rv), state
    event = states[0][1]
    word = "EMPTY" if event & scard.SCARD_STATE_EMPTY else "PRESENT"
    return word, event & ~scard.SCARD_STATE_CHANGED


def connect(ctx):
    rv, card, _ = scard.SCardConnect(
        ctx, READER, scard.SCARD_SHARE_SHARED, scard.SCARD_PROTOCOL_T1
    )
    assert rv == scard.SCARD_S_SUCCESS, name(rv)
    return card


def main():
    rv, ctx = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    assert rv == scard.SCARD_S_SUCCESS, name(rv)
    card = connect(ctx)
    print("select:", transmit(card, SELECT_PIV))

    # A failed transmission, once; the card answers again afterwards.
    ctl("fault", "fail error=SCARD_E_COMM_DATA_LOST")
    print("failed transmit:", transmit(card, SELECT_PIV))
    rv, state = wait_change(ctx, scard.SCARD_STATE_UNAWARE, 0)
    print("after the failure:", rv)
    # Through pcscd the connection closed with the failed command: commands fail until the
    # card is back, a moment later.
    for _ in range(100):
        answer = transmit(card, SELECT_PIV)
        if not answer.startswith("SCARD_"):
            break
        if answer.startswith("SCARD_W_"):
            scard.SCardReconnect(card, scard.SCARD_SHARE_SHARED, scard.SCARD_PROTOCOL_T1,
                                 scard.SCARD_LEAVE_CARD)
        time.sleep(0.1)
    print("next transmit:", answer)

    # An injected status word on the next matching SELECT; a pattern that does not match
    # (the GIDS AID) leaves the command alone.
    ctl("fault", "answer prefix=00a4040005a000000397 sw=6a82")
    print("unmatched pattern:", transmit(card, SELECT_PIV))
    ctl("clear-faults")
    ctl("fault", "answer prefix=00a4040005a000000308 sw=6a82 times=1")
    print("injected sw:", transmit(card, SELECT_PIV))
    print("after the injected sw:", transmit(card, SELECT_PIV))

    # A removal reaches a client waiting in SCardGetStatusChange, and the open handle.
    rv, watcher_ctx = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    _, present = wait_change(watcher_ctx, scard.SCARD_STATE_UNAWARE, 0)
    seen = {}

    def watch():
        seen["removal"], seen["state"] = wait_change(watcher_ctx, present, 15000)

    watcher = threading.Thread(target=watch)
    watcher.start()
    ctl_card("remove")
    watcher.join()
    print("waiting client saw:", seen["removal"])
    print("handle after removal:", transmit(card, SELECT_PIV))
    ctl_card("insert")
    print("waiting client saw:", wait_change(watcher_ctx, seen["state"], 15000)[0])
    rv = scard.SCardReconnect(card, scard.SCARD_SHARE_SHARED, scard.SCARD_PROTOCOL_T1,
                              scard.SCARD_LEAVE_CARD)[0]
    print("reconnect:", name(rv))
    print("select:", transmit(card, SELECT_PIV))

    # A power cycle: the drop-in's handles see a reset; pcscd sees a removal and an
    # insertion.
    _, state = wait_change(ctx, scard.SCARD_STATE_UNAWARE, 0)
    ctl_card("reset")
    rv, state2 = wait_change(ctx, state, 3000)
    print("status change after reset:", rv)
    if rv == "EMPTY":
        wait_change(ctx, state2, 15000)
    print("handle after reset:", transmit(card, SELECT_PIV))
    scard.SCardReconnect(card, scard.SCARD_SHARE_SHARED, scard.SCARD_PROTOCOL_T1,
                         scard.SCARD_LEAVE_CARD)
    print("select:", transmit(card, SELECT_PIV))
    scard.SCardDisconnect(card, scard.SCARD_LEAVE_CARD)
    scard.SCardReleaseContext(watcher_ctx)
    scard.SCardReleaseContext(ctx)


main()
