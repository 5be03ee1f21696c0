#!/usr/bin/env python3
"""APDU round trip through pcscd + vpcd, one pyscard client, several cards, alternating.

  roundtrip.py --reader LABEL=READER_SUBSTRING --apdu LABEL=HEX ... [--rounds R]
               [--batch B] [--warmup W] [--json OUT]

One process connects to every reader named (the first reader whose name contains the
substring), then, ROUNDS times, sends each its APDU BATCH times in turn (the first card
alternating), timing each `transmit` with time.perf_counter_ns. Every response's status
word must be the same as the first one's. The result: per reader the median, quartiles
and extremes in microseconds, and the status word.
"""

import sys
import time

from smartcard.System import readers

from harness import summary, write_result


def main(argv):
    opts = {"rounds": 20, "batch": 100, "warmup": 200, "json": None}
    wanted, apdus = [], {}
    it = iter(argv)
    for a in it:
        if a == "--reader":
            label, name = next(it).split("=", 1)
            wanted.append((label, name))
        elif a == "--apdu":
            label, hexa = next(it).split("=", 1)
            apdus[label] = list(bytes.fromhex(hexa.replace(" ", "")))
        elif a.startswith("--"):
            key = a[2:]
            opts[key] = next(it) if key == "json" else int(next(it))
        else:
            raise SystemExit(f"unknown argument {a}")
    available = readers()
    conns = []
    for label, name in wanted:
        reader = next((r for r in available if name in str(r)), None)
        if reader is None:
            raise SystemExit(f"{label}: no reader matching {name!r} in {available}")
        conn = reader.createConnection()
        # The card may still be on its way into the reader (vicc takes seconds to start).
        deadline = time.monotonic() + 30
        while True:
            try:
                conn.connect()
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        conns.append((label, conn, apdus[label]))
    expected = {}
    for label, conn, apdu in conns:
        data, sw1, sw2 = conn.transmit(apdu)
        expected[label] = (sw1, sw2)
        for _ in range(opts["warmup"]):
            conn.transmit(apdu)
    times = {label: [] for label, _, _ in conns}
    for r in range(opts["rounds"]):
        order = conns[r % len(conns):] + conns[:r % len(conns)]
        for label, conn, apdu in order:
            for _ in range(opts["batch"]):
                start = time.perf_counter_ns()
                _, sw1, sw2 = conn.transmit(apdu)
                times[label].append(time.perf_counter_ns() - start)
                if (sw1, sw2) != expected[label]:
                    raise SystemExit(f"{label}: status {sw1:02X}{sw2:02X} changed")
    result = {}
    for label, t in times.items():
        sw1, sw2 = expected[label]
        result[label] = dict(summary(t), status=f"{sw1:02X}{sw2:02X}")
    write_result(result, opts["json"])

if __name__ == "__main__":
    main(sys.argv[1:])
