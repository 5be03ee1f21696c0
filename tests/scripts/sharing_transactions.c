/* Many short PC/SC transactions from two threads of one process, each a sequence of
 * APDUs that any interleaving breaks: SELECT PIV, management-key mutual authentication
 * (a challenge and its answer), GET DATA of a shared counter object (a response longer
 * than 256 bytes: 61xx + GET RESPONSE), PUT DATA of the counter plus one (command chaining,
 * CLA 10 then 00). The test starts two such processes under one `softcard exec`.
 *
 *   sharing_transactions ID ROUNDS
 *
 * Prints "FAILED ..." for every step that did not answer as expected and, per thread,
 * "worker ID.T: N transactions, E errors". The counter (object 5FC10D: 4 bytes big-endian,
 * then 296 bytes all equal to its low byte) ends at the number of transactions done,
 * by all processes, if and only if no two ever interleaved and no write was lost. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <pthread.h>
#include <winscard.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

/* The reader; -DREADER='"Virtual PCD 00 00"' runs the program against pcscd. */
#ifndef READER
#define READER "softcard PIV 00 00"
#endif
#define CONTENT 300
#define PAUSE_US 300

static const unsigned char key3des[24] = {1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8,
	1, 2, 3, 4, 5, 6, 7, 8};
static int ident, rounds;

struct worker {
	int thread;
	int done;
	int errors;
};

static int des3(int encrypt, const unsigned char *in, unsigned char *out)
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int len = 0;
	int ok = c && EVP_CipherInit_ex(c, EVP_des_ede3_ecb(), NULL, key3des, NULL, encrypt)
		&& EVP_CIPHER_CTX_set_padding(c, 0) && EVP_CipherUpdate(c, out, &len, in, 8);
	EVP_CIPHER_CTX_free(c);
	return ok && len == 8;
}

/* Sends one APDU (no GET RESPONSE): response data into out (if any), returns the SW or
 * 0 on a PC/SC error (printed). */
static unsigned send_apdu(struct worker *w, SCARDHANDLE h, const unsigned char *apdu, DWORD len,
	unsigned char *out, DWORD *out_len)
{
	unsigned char resp[300];
	DWORD rlen = sizeof resp;
	LONG rv;
	usleep(PAUSE_US);
	rv = SCardTransmit(h, SCARD_PCI_T1, apdu, len, NULL, resp, &rlen);
	if (rv != SCARD_S_SUCCESS || rlen < 2) {
		printf("FAILED worker %d.%d: SCardTransmit 0x%08lX\n", ident, w->thread, (unsigned long)rv);
		return 0;
	}
	if (out) {
		memcpy(out, resp, rlen - 2);
		*out_len = rlen - 2;
	}
	return (unsigned)(resp[rlen - 2] << 8 | resp[rlen - 1]);
}

#define STEP(cond, what) do { if (!(cond)) { \
	printf("FAILED worker %d.%d round %d: %s (SW %04X)\n", ident, w->thread, round, what, sw); \
	fflush(stdout); return 0; } } while (0)

/* One transaction's APDUs; 1 if every answer was as expected. */
static int one_round(struct worker *w, SCARDHANDLE h, int round)
{
	static const unsigned char select_piv[] = {0x00, 0xA4, 0x04, 0x00, 0x09, 0xA0, 0x00, 0x00,
		0x03, 0x08, 0x00, 0x00, 0x10, 0x00};
	static const unsigned char witness_req[] = {0x00, 0x87, 0x03, 0x9B, 0x04, 0x7C, 0x02, 0x80, 0x00, 0x00};
	static const unsigned char get_counter[] = {0x00, 0xCB, 0x3F, 0xFF, 0x05, 0x5C, 0x03, 0x5F, 0xC1, 0x0D, 0x00};
	unsigned char resp[600], apdu[300], challenge[8], expected[8], witness[8];
	unsigned char put[CONTENT + 16];
	DWORD rlen = 0, total;
	unsigned sw = 0;
	unsigned long counter = 0;
	size_t i;

	sw = send_apdu(w, h, select_piv, sizeof select_piv, NULL, NULL);
	STEP(sw == 0x9000, "SELECT PIV");
	/* Mutual authentication: witness, then our answer and challenge. */
	sw = send_apdu(w, h, witness_req, sizeof witness_req, resp, &rlen);
	STEP(sw == 0x9000 && rlen == 12 && resp[2] == 0x80, "GENERAL AUTHENTICATE, witness");
	STEP(des3(0, resp + 4, witness), "3DES decrypt");
	STEP(RAND_bytes(challenge, 8) == 1, "RAND_bytes");
	memcpy(apdu, (unsigned char[]){0x00, 0x87, 0x03, 0x9B, 0x16, 0x7C, 0x14, 0x80, 0x08}, 9);
	memcpy(apdu + 9, witness, 8);
	apdu[17] = 0x81;
	apdu[18] = 0x08;
	memcpy(apdu + 19, challenge, 8);
	apdu[27] = 0x00;
	sw = send_apdu(w, h, apdu, 28, resp, &rlen);
	STEP(sw == 0x9000 && rlen == 12, "GENERAL AUTHENTICATE, answer and challenge");
	STEP(des3(1, challenge, expected) && memcmp(resp + 4, expected, 8) == 0,
		"the card's answer to our challenge");
	/* GET DATA of the counter, 61xx + GET RESPONSE. */
	sw = send_apdu(w, h, get_counter, sizeof get_counter, resp, &rlen);
	total = 0;
	if (sw != 0x6A82) {
		while (sw >> 8 == 0x61) {
			unsigned char get_response[] = {0x00, 0xC0, 0x00, 0x00, (unsigned char)(sw & 0xFF)};
			if (total + rlen > sizeof put)
				break;
			memcpy(put + total, resp, rlen);
			total += rlen;
			sw = send_apdu(w, h, get_response, sizeof get_response, resp, &rlen);
		}
		STEP(sw == 0x9000, "GET DATA of the counter (with GET RESPONSE)");
		STEP(total + rlen <= sizeof put, "counter object size");
		memcpy(put + total, resp, rlen);
		total += rlen;
		/* 53 82 01 2C content[300] */
		STEP(total == CONTENT + 4 && put[0] == 0x53 && put[1] == 0x82, "counter object layout");
		counter = (unsigned long)put[4] << 24 | put[5] << 16 | put[6] << 8 | put[7];
		for (i = 8; i < total; i++)
			STEP(put[i] == (counter & 0xFF), "counter object is whole (not torn)");
	}
	/* PUT DATA 5C 03 5FC10D 53 82 01 2C content, chained: 200 bytes, then the rest. */
	counter++;
	total = 0;
	memcpy(put, (unsigned char[]){0x5C, 0x03, 0x5F, 0xC1, 0x0D, 0x53, 0x82, 0x01, 0x2C}, 9);
	total = 9;
	put[total++] = (unsigned char)(counter >> 24);
	put[total++] = (unsigned char)(counter >> 16);
	put[total++] = (unsigned char)(counter >> 8);
	put[total++] = (unsigned char)counter;
	memset(put + total, (int)(counter & 0xFF), CONTENT - 4);
	total += CONTENT - 4;
	memcpy(apdu, (unsigned char[]){0x10, 0xDB, 0x3F, 0xFF, 200}, 5);
	memcpy(apdu + 5, put, 200);
	sw = send_apdu(w, h, apdu, 205, NULL, NULL);
	STEP(sw == 0x9000, "PUT DATA, first part of the chain (CLA 10)");
	memcpy(apdu, (unsigned char[]){0x00, 0xDB, 0x3F, 0xFF, (unsigned char)(total - 200)}, 5);
	memcpy(apdu + 5, put + 200, total - 200);
	sw = send_apdu(w, h, apdu, 5 + total - 200, NULL, NULL);
	STEP(sw == 0x9000, "PUT DATA, last part of the chain");
	return 1;
}

static void *run(void *arg)
{
	struct worker *w = arg;
	SCARDCONTEXT ctx;
	SCARDHANDLE h;
	DWORD proto;
	LONG rv = SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &ctx);
	if (rv == SCARD_S_SUCCESS)
		rv = SCardConnect(ctx, READER, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1, &h, &proto);
	if (rv != SCARD_S_SUCCESS) {
		printf("FAILED worker %d.%d: connect 0x%08lX\n", ident, w->thread, (unsigned long)rv);
		w->errors++;
		return NULL;
	}
	for (int round = 0; round < rounds; round++) {
		rv = SCardBeginTransaction(h);
		if (rv != SCARD_S_SUCCESS) {
			printf("FAILED worker %d.%d round %d: SCardBeginTransaction 0x%08lX\n", ident,
				w->thread, round, (unsigned long)rv);
			w->errors++;
			continue;
		}
		if (one_round(w, h, round))
			w->done++;
		else
			w->errors++;
		rv = SCardEndTransaction(h, SCARD_LEAVE_CARD);
		if (rv != SCARD_S_SUCCESS) {
			printf("FAILED worker %d.%d round %d: SCardEndTransaction 0x%08lX\n", ident,
				w->thread, round, (unsigned long)rv);
			w->errors++;
		}
	}
	SCardDisconnect(h, SCARD_LEAVE_CARD);
	SCardReleaseContext(ctx);
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t threads[2];
	struct worker workers[2] = {{0, 0, 0}, {1, 0, 0}};
	if (argc != 3) {
		fprintf(stderr, "usage: %s ID ROUNDS\n", argv[0]);
		return 2;
	}
	ident = atoi(argv[1]);
	rounds = atoi(argv[2]);
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (int i = 0; i < 2; i++)
		pthread_create(&threads[i], NULL, run, &workers[i]);
	for (int i = 0; i < 2; i++) {
		pthread_join(threads[i], NULL);
		printf("worker %d.%d: %d transactions, %d errors\n", ident, i, workers[i].done, workers[i].errors);
	}
	return 0;
}
