"""pyscard through the softcard drop-in: list readers, connect, SELECT PIV, print the SW."""
from smartcard.System import readers

PIV_AID = [0xA0, 0x00, 0x00, 0x03, 0x08, 0x00, 0x00, 0x10, 0x00, 0x01, 0x00]

found = readers()
for r in found:
    print("reader:", r)
reader = next(r for r in found if str(r).startswith("softcard"))
connection = reader.createConnection()
connection.connect()
print("ATR", "".join("%02X" % b for b in connection.getATR()))
data, sw1, sw2 = connection.transmit([0x00, 0xA4, 0x04, 0x00, len(PIV_AID)] + PIV_AID + [0x00])
print("SW %02X%02X" % (sw1, sw2))
connection.disconnect()
