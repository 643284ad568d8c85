/* tests/bench/bench_issue_batch.c -- issuance throughput: N Mobile IDs
 * issued in one batch (allocation, store rows, audit, outbox, device
 * binding and the Ed25519 signature of each credential) against raw
 * libsodium Ed25519 signing of N messages of the same size, in the same
 * run. Not part of make check: `make issue-bench` or run it with N as
 * the first argument (default 100000). */
#include <config.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sodium.h>

#include "gateway/instance.h"
#include "gateway/issuer.h"
#include "gateway/keys.h"
#include "gateway/secrets.h"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 100000;
	char dir[] = "/tmp/mid-bench-issue-XXXXXX", path[512], key[512], cmd[600];
	mid_error_t err = { 0 };
	mid_instance_t *in = NULL;
	char (*ids)[MID_ID_LEN] = NULL;
	const char **pids = NULL;
	unsigned char (*pks)[32] = NULL, sk[64], msg[108], sig[64];
	mid_issue_opts_t o;
	double t0, t_issue, t_raw;
	FILE *f;
	int rc = 1;

	if (sodium_init() < 0 || !mkdtemp(dir))
		return 1;
	snprintf(path, sizeof path, "%s/mobileidd.json", dir);
	snprintf(key, sizeof key, "%s/master.key", dir);
	if (!(f = fopen(path, "w")))
		return 1;
	fputs("{\"site\": {\"id\": \"0f8fad5b-d9cb-469f-a165-70867728950e\"},\n"
	      " \"issuance\": {\"ranges\": [{\"format\": \"H10302\", \"facility_code\": 0,"
	      " \"first\": 1, \"last\": 10000000}]}}\n", f);
	fclose(f);
	if (mid_master_key_create(key, &err) != MID_OK ||
	    mid_instance_open(path, MID_INST_CREATE | MID_INST_STORE | MID_INST_SECRETS, "bench", &in,
	                      NULL, &err) != MID_OK ||
	    mid_keys_create_initial(in, &err) != MID_OK) {
		fprintf(stderr, "setup: %s\n", err.text);
		goto out;
	}
	ids = calloc(n, MID_ID_LEN);
	pids = calloc(n, sizeof *pids);
	pks = calloc(n, 32);
	if (!ids || !pids || !pks)
		goto out;
	/* untimed: the people and the phones' keys */
	mid_store_begin(in->store, &err);
	for (size_t i = 0; i < n; i++) {
		mid_person_t p;
		memset(&p, 0, sizeof p);
		snprintf(p.given_name, sizeof p.given_name, "P%zu", i);
		snprintf(p.family_name, sizeof p.family_name, "Bench");
		p.status = MID_PERSON_ACTIVE;
		if (mid_store_person_create(in->store, &p, &err) != MID_OK) {
			fprintf(stderr, "person: %s\n", err.text);
			goto out;
		}
		memcpy(ids[i], p.id, MID_ID_LEN);
		pids[i] = ids[i];
		crypto_sign_keypair(pks[i], sk);
		mid_person_clear(&p);
	}
	mid_store_commit(in->store, &err);

	memset(&o, 0, sizeof o);
	o.facility_code = -1;
	t0 = now_s();
	if (mid_issuer_batch_issue(in, pids, (const unsigned char (*)[32])pks, n, &o, NULL, &err) !=
	    MID_OK) {
		fprintf(stderr, "batch: %s\n", err.text);
		goto out;
	}
	t_issue = now_s() - t0;

	crypto_sign_keypair(msg, sk); /* any key */
	t0 = now_s();
	for (size_t i = 0; i < n; i++) {
		memcpy(msg, &i, sizeof i);
		crypto_sign_detached(sig, NULL, msg, sizeof msg, sk);
	}
	t_raw = now_s() - t0;
	printf("issuance: %zu Mobile IDs in one batch (signed, bound) in %.2f s = %.0f/s\n", n,
	       t_issue, n / t_issue);
	printf("raw Ed25519 signing: %zu messages of %zu bytes in %.2f s = %.0f/s\n", n, sizeof msg,
	       t_raw, n / t_raw);
	printf("ratio issuance/raw signing: %.2fx (aim >= 0.3x)\n", t_raw / t_issue);
	rc = 0;
out:
	mid_instance_close(in);
	free(ids);
	free(pids);
	free(pks);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	return rc;
}
