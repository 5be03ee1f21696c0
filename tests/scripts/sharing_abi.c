/* pcsc-lite client semantics that only show when several handles, threads or processes
 * share one card, checked through the libpcsclite that `softcard exec` provides. Built
 * against the system's <winscard.h>, linked with -lpcsclite.
 *
 *   sharing_abi MODE DIR
 *
 * MODE is one of the checks below; some take two processes started together (the
 * `-holder`/`-waiter`, `verify-hold`/`release` pairs), which hand over with files in DIR.
 * Prints one line per check ("ok ..." or "FAILED ..."); exits 1 if any failed. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <winscard.h>

/* The reader; -DREADER='"Virtual PCD 00 00"' runs the program against pcscd. */
#ifndef READER
#define READER "softcard PIV 00 00"
#endif

static int failures = 0;
static const char *dir = ".";
static SCARDCONTEXT ctx;

static const unsigned char select_piv[] = {0x00, 0xA4, 0x04, 0x00, 0x09, 0xA0, 0x00, 0x00,
	0x03, 0x08, 0x00, 0x00, 0x10, 0x00};
static const unsigned char verify_pin[] = {0x00, 0x20, 0x00, 0x80, 0x08,
	'1', '2', '3', '4', '5', '6', '7', '8'};
static const unsigned char pin_status[] = {0x00, 0x20, 0x00, 0x80};

static void check(int ok, const char *what, LONG rv)
{
	printf("%s %s (0x%08lX)\n", ok ? "ok" : "FAILED", what, (unsigned long)rv);
	fflush(stdout);
	if (!ok)
		failures++;
}

static const char *file(const char *name)
{
	static char buf[4096];
	snprintf(buf, sizeof buf, "%s/%s", dir, name);
	return buf;
}

static void touch(const char *name)
{
	FILE *f = fopen(file(name), "w");
	if (f)
		fclose(f);
}

static int exists(const char *name)
{
	struct stat st;
	return stat(file(name), &st) == 0;
}

/* Waits up to `ms` milliseconds for DIR/name. */
static int await_file(const char *name, int ms)
{
	for (int i = 0; i < ms / 10 && !exists(name); i++)
		usleep(10000);
	return exists(name);
}

static void establish(void)
{
	LONG rv = SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &ctx);
	check(rv == SCARD_S_SUCCESS, "SCardEstablishContext", rv);
	if (rv != SCARD_S_SUCCESS)
		exit(1);
}

static SCARDHANDLE connect_shared(void)
{
	SCARDHANDLE h;
	DWORD proto;
	LONG rv = SCardConnect(ctx, READER, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1, &h, &proto);
	check(rv == SCARD_S_SUCCESS, "SCardConnect " READER, rv);
	if (rv != SCARD_S_SUCCESS)
		exit(1);
	return h;
}

/* Transmits; returns the PC/SC result and puts the status word in *sw (0 on error). */
static LONG transmit(SCARDHANDLE h, const unsigned char *apdu, DWORD len, unsigned *sw)
{
	unsigned char resp[258];
	DWORD rlen = sizeof resp;
	LONG rv = SCardTransmit(h, SCARD_PCI_T1, apdu, len, NULL, resp, &rlen);
	*sw = (rv == SCARD_S_SUCCESS && rlen >= 2) ? (unsigned)(resp[rlen - 2] << 8 | resp[rlen - 1]) : 0;
	return rv;
}

static void expect_sw(SCARDHANDLE h, const unsigned char *apdu, DWORD len, unsigned want, const char *what)
{
	unsigned sw;
	LONG rv = transmit(h, apdu, len, &sw);
	char line[256];
	snprintf(line, sizeof line, "%s: SW %04X, want %04X", what, sw, want);
	check(rv == SCARD_S_SUCCESS && sw == want, line, rv);
}

/* Begin, Begin, End on one handle: still held (another process's Begin waits); End:
 * released (the other process gets it); a further End: SCARD_E_NOT_TRANSACTED. */
static void nested_holder(void)
{
	LONG rv;
	SCARDHANDLE h;
	establish();
	h = connect_shared();
	rv = SCardBeginTransaction(h);
	check(rv == SCARD_S_SUCCESS, "first SCardBeginTransaction", rv);
	rv = SCardBeginTransaction(h);
	check(rv == SCARD_S_SUCCESS, "nested SCardBeginTransaction on the same handle", rv);
	rv = SCardEndTransaction(h, SCARD_LEAVE_CARD);
	check(rv == SCARD_S_SUCCESS, "first SCardEndTransaction (one level left)", rv);
	touch("holder-nested");
	check(await_file("waiter-trying", 20000), "the other process is calling SCardBeginTransaction", 0);
	usleep(800000);
	check(!exists("waiter-got"),
		"the other process's SCardBeginTransaction still waits while one level is held", 0);
	rv = SCardEndTransaction(h, SCARD_LEAVE_CARD);
	check(rv == SCARD_S_SUCCESS, "second SCardEndTransaction releases the transaction", rv);
	check(await_file("waiter-done", 20000),
		"the other process got the transaction after the release and ended it", 0);
	rv = SCardEndTransaction(h, SCARD_LEAVE_CARD);
	check(rv == SCARD_E_NOT_TRANSACTED, "a further SCardEndTransaction: SCARD_E_NOT_TRANSACTED", rv);
	SCardDisconnect(h, SCARD_LEAVE_CARD);
}

static void nested_waiter(void)
{
	LONG rv;
	SCARDHANDLE h;
	establish();
	h = connect_shared();
	check(await_file("holder-nested", 20000), "the holder is in its nested transaction", 0);
	touch("waiter-trying");
	rv = SCardBeginTransaction(h);
	touch("waiter-got");
	check(rv == SCARD_S_SUCCESS, "waiting SCardBeginTransaction succeeds (it waits, it does not fail)", rv);
	rv = SCardEndTransaction(h, SCARD_LEAVE_CARD);
	check(rv == SCARD_S_SUCCESS, "waiter's SCardEndTransaction", rv);
	touch("waiter-done");
	SCardDisconnect(h, SCARD_LEAVE_CARD);
}

/* After fork() the child cannot use the parent's handle; the parent's still works.
 * (pcsc-lite 1.9.9 itself lets the child's call through its inherited socket; the
 * behaviour checked here is the stricter one a shared card needs.) */
static void forked(void)
{
	SCARDHANDLE h;
	pid_t pid;
	int status = 0;
	establish();
	h = connect_shared();
	expect_sw(h, select_piv, sizeof select_piv, 0x9000, "parent SELECT before fork");
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		unsigned sw;
		LONG rv = transmit(h, select_piv, sizeof select_piv, &sw);
		printf("child: SCardTransmit on the parent's handle: 0x%08lX (SW %04X)\n",
			(unsigned long)rv, sw);
		fflush(stdout);
		_exit(rv == SCARD_E_INVALID_HANDLE ? 0 : 1);
	}
	check(pid > 0 && waitpid(pid, &status, 0) == pid, "fork and wait for the child", 0);
	check(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		"the child's SCardTransmit on the parent's handle gave SCARD_E_INVALID_HANDLE", status);
	expect_sw(h, select_piv, sizeof select_piv, 0x9000, "the parent's handle works after the child exited");
	SCardDisconnect(h, SCARD_LEAVE_CARD);
}

/* A child forked after the parent opened its context opens one of its own and lists the
 * readers. Under `softcard exec` it shares the card (mode fork-shares); with the drop-in
 * serving the images in process (mode fork-alone) the card is the parent's, and the child
 * gets no reader rather than a copy that would write over the parent's changes. */
static void forked_context(int shares)
{
	pid_t pid;
	int status = 0;
	establish();
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		SCARDCONTEXT child;
		char readers[256] = "";
		DWORD len = sizeof readers;
		LONG rv = SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &child);
		if (rv == SCARD_S_SUCCESS)
			rv = SCardListReaders(child, NULL, readers, &len);
		printf("child: SCardListReaders: 0x%08lX \"%s\"\n", (unsigned long)rv, readers);
		fflush(stdout);
		if (shares)
			_exit(rv == SCARD_S_SUCCESS && strcmp(readers, READER) == 0 ? 0 : 1);
		_exit(rv == SCARD_E_NO_READERS_AVAILABLE ? 0 : 1);
	}
	check(pid > 0 && waitpid(pid, &status, 0) == pid, "fork and wait for the child", 0);
	check(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		shares ? "the child's own context lists " READER
		       : "the child's own context lists no reader (SCARD_E_NO_READERS_AVAILABLE)",
		status);
	SCARDHANDLE h = connect_shared();
	expect_sw(h, select_piv, sizeof select_piv, 0x9000, "the parent still uses the card");
	SCardDisconnect(h, SCARD_LEAVE_CARD);
}

/* Verifies the PIN, waits for the other process to release its context with a card
 * connected, then is still verified and gets no SCARD_W_RESET_CARD. */
static void verify_hold(void)
{
	SCARDHANDLE h;
	unsigned sw;
	LONG rv;
	establish();
	h = connect_shared();
	expect_sw(h, select_piv, sizeof select_piv, 0x9000, "SELECT");
	expect_sw(h, verify_pin, sizeof verify_pin, 0x9000, "VERIFY of the PIN");
	touch("verified");
	check(await_file("released", 20000), "the other process released its context", 0);
	rv = transmit(h, pin_status, sizeof pin_status, &sw);
	check(rv == SCARD_S_SUCCESS, "no SCARD_W_RESET_CARD after another process's SCardReleaseContext", rv);
	if (rv == SCARD_W_RESET_CARD)
		rv = transmit(h, pin_status, sizeof pin_status, &sw);
	check(sw == 0x9000, "the PIN is still verified after another process's SCardReleaseContext (SW 9000)", sw);
	SCardDisconnect(h, SCARD_LEAVE_CARD);
}

static void release(void)
{
	SCARDHANDLE h;
	LONG rv;
	check(await_file("verified", 20000), "the other process verified the PIN", 0);
	establish();
	h = connect_shared();
	expect_sw(h, select_piv, sizeof select_piv, 0x9000, "SELECT");
	expect_sw(h, pin_status, sizeof pin_status, 0x9000,
		"this process sees the PIN the other process verified (one card)");
	rv = SCardReleaseContext(ctx);
	check(rv == SCARD_S_SUCCESS, "SCardReleaseContext with the card still connected", rv);
	touch("released");
}

/* SCardEndTransaction on a handle whose reader's transaction another handle holds. */
static void end_other(void)
{
	SCARDHANDLE h1, h2;
	LONG rv;
	establish();
	h1 = connect_shared();
	h2 = connect_shared();
	rv = SCardBeginTransaction(h1);
	check(rv == SCARD_S_SUCCESS, "SCardBeginTransaction on the first handle", rv);
	rv = SCardEndTransaction(h2, SCARD_LEAVE_CARD);
	check(rv == SCARD_E_SHARING_VIOLATION,
		"SCardEndTransaction on the second handle: SCARD_E_SHARING_VIOLATION", rv);
	rv = SCardEndTransaction(h1, SCARD_LEAVE_CARD);
	check(rv == SCARD_S_SUCCESS, "SCardEndTransaction on the first handle", rv);
	rv = SCardEndTransaction(h1, SCARD_LEAVE_CARD);
	check(rv == SCARD_E_NOT_TRANSACTED, "a further SCardEndTransaction: SCARD_E_NOT_TRANSACTED", rv);
	SCardDisconnect(h1, SCARD_LEAVE_CARD);
	SCardDisconnect(h2, SCARD_LEAVE_CARD);
}

static void share_direct(void)
{
	SCARDHANDLE h;
	DWORD proto = 0xFFFF;
	LONG rv;
	char line[128];
	establish();
	rv = SCardConnect(ctx, READER, SCARD_SHARE_DIRECT, 0, &h, &proto);
	snprintf(line, sizeof line, "SCardConnect with SCARD_SHARE_DIRECT: protocol %lu, want 0 (SCARD_PROTOCOL_UNDEFINED)",
		(unsigned long)proto);
	check(rv == SCARD_S_SUCCESS && proto == SCARD_PROTOCOL_UNDEFINED, line, rv);
	if (rv == SCARD_S_SUCCESS)
		SCardDisconnect(h, SCARD_LEAVE_CARD);
}

static void stringify(void)
{
	const char *text = pcsc_stringify_error((LONG)0x8010001F);
	char line[256];
	snprintf(line, sizeof line, "pcsc_stringify_error(0x8010001F) is \"%s\", want \"Feature not supported.\"",
		text ? text : "(null)");
	check(text != NULL && strcmp(text, "Feature not supported.") == 0, line, 0);
}

/* certmonger's workers call clearenv() before using PC/SC. */
static void cleared_environment(void)
{
	char readers[1024];
	DWORD len = sizeof readers;
	LONG rv;
	char line[1200];
	check(clearenv() == 0, "clearenv", 0);
	establish();
	rv = SCardListReaders(ctx, NULL, readers, &len);
	snprintf(line, sizeof line, "SCardListReaders after clearenv() lists " READER " (got \"%s\")",
		rv == SCARD_S_SUCCESS ? readers : "");
	check(rv == SCARD_S_SUCCESS && strcmp(readers, READER) == 0, line, rv);
}

int main(int argc, char **argv)
{
	const char *mode;
	if (argc < 2) {
		fprintf(stderr, "usage: %s MODE [DIR]\n", argv[0]);
		return 2;
	}
	mode = argv[1];
	if (argc > 2)
		dir = argv[2];
	if (strcmp(mode, "nested-holder") == 0)
		nested_holder();
	else if (strcmp(mode, "nested-waiter") == 0)
		nested_waiter();
	else if (strcmp(mode, "fork") == 0)
		forked();
	else if (strcmp(mode, "fork-shares") == 0)
		forked_context(1);
	else if (strcmp(mode, "fork-alone") == 0)
		forked_context(0);
	else if (strcmp(mode, "verify-hold") == 0)
		verify_hold();
	else if (strcmp(mode, "release") == 0)
		release();
	else if (strcmp(mode, "end-other") == 0)
		end_other();
	else if (strcmp(mode, "share-direct") == 0)
		share_direct();
	else if (strcmp(mode, "stringify") == 0)
		stringify();
	else if (strcmp(mode, "clearenv") == 0)
		cleared_environment();
	else {
		fprintf(stderr, "unknown mode %s\n", mode);
		return 2;
	}
	printf("%s: %s\n", mode, failures ? "FAILED" : "all checks passed");
	return failures ? 1 : 0;
}
