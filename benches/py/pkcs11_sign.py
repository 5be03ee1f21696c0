#!/usr/bin/env python3
"""C_Sign (CKM_SHA256_RSA_PKCS, RSA-2048) through PKCS#11 modules, one harness for all.

Every target is the same process shape: one Python process (this file, `child` mode)
that loads a PKCS#11 module with PyKCS11, logs in once, finds its RSA-2048 private key
and then signs on request. The driver (`drive` mode) starts one child per target, lets
each sign WARMUP times, then runs ROUNDS rounds; in each round every target, in turn,
signs BATCH times and reports each call's duration (time.perf_counter_ns around C_Sign
alone). The targets therefore alternate within one run and share the machine's state.

  pkcs11_sign.py drive --rounds R --batch B --warmup W --json OUT \
      --target NAME=ENV_JSON ...     (a target: its label and how to start its child)

A target's ENV_JSON: {"module": path, "pin": "...", "label": key label or null,
"env": {extra environment}, "wrap": [command prefix, e.g. softcard exec ...]}.
The result (OUT): per target the medians, quartiles and counts, in microseconds.
"""

import json
import os
import subprocess
import sys
import time

from harness import summary, write_result

MESSAGE = b"softcard benchmark: the signing hot path at every layer"


def child(module, pin, label):
    import PyKCS11

    lib = PyKCS11.PyKCS11Lib()
    lib.load(module)
    slots = lib.getSlotList(tokenPresent=True)
    if not slots:
        raise SystemExit(f"{module}: no token")
    session = None
    key = None
    for slot in slots:
        s = lib.openSession(slot, PyKCS11.CKF_SERIAL_SESSION | PyKCS11.CKF_RW_SESSION)
        template = [(PyKCS11.CKA_CLASS, PyKCS11.CKO_PRIVATE_KEY),
                    (PyKCS11.CKA_KEY_TYPE, PyKCS11.CKK_RSA)]
        try:
            s.login(pin)
        except PyKCS11.PyKCS11Error as e:
            if "CKR_USER_ALREADY_LOGGED_IN" not in str(e):
                s.closeSession()
                continue
        if label:
            template.append((PyKCS11.CKA_LABEL, label))
        found = s.findObjects(template)
        if found:
            session, key = s, found[0]
            break
        s.closeSession()
    if key is None:
        raise SystemExit(f"{module}: no RSA private key found")
    mechanism = PyKCS11.Mechanism(PyKCS11.CKM_SHA256_RSA_PKCS, None)
    # One signature to check it works before any measurement.
    signature = bytes(session.sign(key, MESSAGE, mechanism))
    if len(signature) != 256:
        raise SystemExit(f"{module}: a {len(signature)}-byte signature, not RSA-2048")
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    for line in sys.stdin:
        n = int(line)
        times = []
        for _ in range(n):
            start = time.perf_counter_ns()
            session.sign(key, MESSAGE, mechanism)
            times.append(time.perf_counter_ns() - start)
        sys.stdout.write(" ".join(map(str, times)) + "\n")
        sys.stdout.flush()
    session.logout()
    session.closeSession()


def drive(args):
    targets = []
    it = iter(args)
    opts = {"rounds": 10, "batch": 50, "warmup": 20, "json": None}
    for a in it:
        if a == "--target":
            name, spec = next(it).split("=", 1)
            targets.append((name, json.loads(spec)))
        elif a.startswith("--"):
            key = a[2:]
            opts[key] = next(it) if key == "json" else int(next(it))
        else:
            raise SystemExit(f"unknown argument {a}")
    procs = []
    for name, spec in targets:
        env = dict(os.environ)
        env.update(spec.get("env", {}))
        cmd = list(spec.get("wrap", [])) + [
            sys.executable, os.path.abspath(__file__), "child",
            spec["module"], spec["pin"], spec.get("label") or ""]
        p = subprocess.Popen(cmd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             text=True)
        line = p.stdout.readline()
        if line.strip() != "ready":
            raise SystemExit(f"{name}: the child did not start ({line.strip()!r})")
        procs.append((name, p))

    def batch(p, n):
        p.stdin.write(f"{n}\n")
        p.stdin.flush()
        return [int(t) for t in p.stdout.readline().split()]

    for _, p in procs:
        batch(p, opts["warmup"])
    times = {name: [] for name, _ in procs}
    for r in range(opts["rounds"]):
        # Alternate, and rotate who goes first, so no target always follows the same one.
        order = procs[r % len(procs):] + procs[:r % len(procs)]
        for name, p in order:
            times[name].extend(batch(p, opts["batch"]))
    for _, p in procs:
        p.stdin.close()
        p.wait()
    write_result({name: summary(t) for name, t in times.items()}, opts["json"])


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "child":
        child(sys.argv[2], sys.argv[3], sys.argv[4] or None)
    elif len(sys.argv) >= 2 and sys.argv[1] == "drive":
        drive(sys.argv[2:])
    else:
        raise SystemExit(__doc__)
