/* The libpcsclite ABI through the softcard drop-in: null pointers, short buffers,
 * SCARD_AUTOALLOCATE with SCardFreeMemory, SCardGetStatusChange with a card present and
 * a SELECT. Built against the system headers, linked with -lpcsclite, run with the
 * drop-in first on LD_LIBRARY_PATH. Prints one line per check; exits 1 at the first
 * failure. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stddef.h>
#include <winscard.h>

static int failures = 0;

static void check(int ok, const char *what, LONG rv)
{
	printf("%s %s (0x%08lX)\n", ok ? "ok" : "FAILED", what, (unsigned long)rv);
	if (!ok)
		failures++;
}

int main(void)
{
	SCARDCONTEXT ctx;
	SCARDHANDLE card;
	DWORD len, proto, state;
	LONG rv;
	char small[4];
	char *auto_readers = NULL;
	unsigned char *auto_atr = NULL;
	unsigned char resp[258];
	SCARD_READERSTATE rs;
	static const unsigned char select_piv[] = {0x00, 0xA4, 0x04, 0x00, 0x0B, 0xA0, 0x00, 0x00,
		0x03, 0x08, 0x00, 0x00, 0x10, 0x00, 0x01, 0x00};

	check(sizeof(SCARD_READERSTATE) == 80 && offsetof(SCARD_READERSTATE, rgbAtr) == 40, "layout", 0);
	rv = SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, NULL);
	check(rv == SCARD_E_INVALID_PARAMETER, "establish with a null handle pointer", rv);
	rv = SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &ctx);
	check(rv == SCARD_S_SUCCESS, "establish", rv);
	check(SCardIsValidContext(ctx) == SCARD_S_SUCCESS, "valid context", 0);

	rv = SCardListReaders(ctx, NULL, NULL, NULL);
	check(rv == SCARD_E_INVALID_PARAMETER, "list readers with a null length", rv);
	len = sizeof small;
	rv = SCardListReaders(ctx, NULL, small, &len);
	check(rv == SCARD_E_INSUFFICIENT_BUFFER && len > sizeof small, "list readers into 4 bytes", rv);
	len = SCARD_AUTOALLOCATE;
	rv = SCardListReaders(ctx, NULL, (LPSTR)&auto_readers, &len);
	check(rv == SCARD_S_SUCCESS && auto_readers != NULL && auto_readers[len - 1] == '\0'
		&& auto_readers[len - 2] == '\0', "list readers, autoallocated, double NUL", rv);
	if (auto_readers == NULL)
		return 1;
	printf("reader: %s\n", auto_readers);

	rv = SCardConnect(ctx, auto_readers, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1, NULL, &proto);
	check(rv == SCARD_E_INVALID_PARAMETER, "connect with a null handle pointer", rv);
	rv = SCardConnect(ctx, auto_readers, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1, &card, &proto);
	check(rv == SCARD_S_SUCCESS && proto == SCARD_PROTOCOL_T1, "connect, T=1", rv);

	len = SCARD_AUTOALLOCATE;
	rv = SCardStatus(card, NULL, NULL, &state, &proto, (LPBYTE)&auto_atr, &len);
	check(rv == SCARD_S_SUCCESS && auto_atr != NULL && len > 2 && auto_atr[0] == 0x3B, "status, autoallocated ATR", rv);
	len = 1;
	rv = SCardStatus(card, NULL, NULL, NULL, NULL, resp, &len);
	check(rv == SCARD_E_INSUFFICIENT_BUFFER && len > 1, "status with a 1-byte ATR buffer", rv);
	rv = SCardFreeMemory(ctx, auto_atr);
	check(rv == SCARD_S_SUCCESS, "free the ATR", rv);

	len = 1;
	rv = SCardTransmit(card, SCARD_PCI_T1, select_piv, sizeof select_piv, NULL, resp, &len);
	check(rv == SCARD_E_INSUFFICIENT_BUFFER && len >= 2, "transmit into 1 byte", rv);
	rv = SCardTransmit(card, SCARD_PCI_T1, select_piv, sizeof select_piv, NULL, resp, NULL);
	check(rv == SCARD_E_INVALID_PARAMETER, "transmit with a null length", rv);
	rv = SCardTransmit(card, NULL, select_piv, sizeof select_piv, NULL, resp, &len);
	check(rv == SCARD_E_INVALID_PARAMETER, "transmit with a null PCI", rv);
	len = sizeof resp;
	rv = SCardTransmit(card, SCARD_PCI_T1, select_piv, sizeof select_piv, NULL, resp, &len);
	check(rv == SCARD_S_SUCCESS && len >= 2, "transmit SELECT PIV", rv);
	printf("SW %02X%02X\n", resp[len - 2], resp[len - 1]);

	memset(&rs, 0, sizeof rs);
	rs.szReader = auto_readers;
	rs.dwCurrentState = SCARD_STATE_UNAWARE;
	rv = SCardGetStatusChange(ctx, 0, &rs, 1);
	check(rv == SCARD_S_SUCCESS && (rs.dwEventState & SCARD_STATE_PRESENT)
		&& (rs.dwEventState & SCARD_STATE_CHANGED) && rs.cbAtr > 2 && rs.rgbAtr[0] == 0x3B,
		"status change: present, with the ATR", rv);
	rs.dwCurrentState = rs.dwEventState & ~SCARD_STATE_CHANGED;
	rv = SCardGetStatusChange(ctx, 10, &rs, 1);
	check(rv == SCARD_E_TIMEOUT, "status change: no change times out", rv);
	rv = SCardGetStatusChange(ctx, 0, NULL, 1);
	check(rv == SCARD_E_INVALID_PARAMETER, "status change with a null array", rv);

	rv = SCardFreeMemory(ctx, auto_readers);
	check(rv == SCARD_S_SUCCESS, "free the reader list", rv);
	printf("%s\n", pcsc_stringify_error(SCARD_E_INSUFFICIENT_BUFFER));
	rv = SCardDisconnect(card, SCARD_LEAVE_CARD);
	check(rv == SCARD_S_SUCCESS, "disconnect", rv);
	rv = SCardReleaseContext(ctx);
	check(rv == SCARD_S_SUCCESS, "release", rv);
	check(SCardIsValidContext(ctx) == SCARD_E_INVALID_HANDLE, "released context is invalid", 0);
	if (failures)
		return 1;
	printf("all checks passed\n");
	return 0;
}
