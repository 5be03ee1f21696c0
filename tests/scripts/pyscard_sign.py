"""pyscard: select PIV, VERIFY a wrong PIN then the right one, sign SHA-256("softcard")
with the key in slot 9A (host-side PKCS#1 v1.5 padding, command chaining), print results.

usage: pyscard_sign.py READER_PREFIX PIN
"""
import hashlib
import sys

from smartcard.System import readers

prefix, pin = sys.argv[1], sys.argv[2].encode()
PIV_AID = [0xA0, 0x00, 0x00, 0x03, 0x08, 0x00, 0x00, 0x10, 0x00, 0x01, 0x00]
SHA256_PREFIX = bytes.fromhex("3031300d060960864801650304020105000420")

reader = next(r for r in readers() if str(r).startswith(prefix))
conn = reader.createConnection()
conn.connect()


def send(apdu):
    data, sw1, sw2 = conn.transmit(list(apdu))
    while sw1 == 0x61:
        more, sw1, sw2 = conn.transmit([0x00, 0xC0, 0x00, 0x00, sw2])
        data += more
    return bytes(data), (sw1 << 8) | sw2


def verify(value):
    padded = value + b"\xff" * (8 - len(value))
    return send([0x00, 0x20, 0x00, 0x80, 8] + list(padded))[1]


_, sw = send([0x00, 0xA4, 0x04, 0x00, len(PIV_AID)] + PIV_AID + [0x00])
print("SELECT %04X" % sw)
print("VERIFY-WRONG %04X" % verify(b"00000000"))
print("VERIFY %04X" % verify(pin))

digest_info = SHA256_PREFIX + hashlib.sha256(b"softcard").digest()
block = b"\x00\x01" + b"\xff" * (256 - 3 - len(digest_info)) + b"\x00" + digest_info
body = b"\x82\x00\x81\x82\x01\x00" + block
data = b"\x7c\x82" + len(body).to_bytes(2, "big") + body
for i in range(0, len(data), 255):
    piece = data[i:i + 255]
    last = i + 255 >= len(data)
    cla = 0x00 if last else 0x10
    resp, sw = send([cla, 0x87, 0x07, 0x9A, len(piece)] + list(piece) + ([0x00] if last else []))
print("SIGN %04X" % sw)
# 7C 82 01 04 82 82 01 00 <256 bytes>
print("SIGNATURE " + resp[-256:].hex())
conn.disconnect()
