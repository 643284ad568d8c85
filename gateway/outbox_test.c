/* gateway/outbox_test.c -- unit tests of the outbox backoff schedule. */
#include <config.h>
#include "gateway/outbox.h"
#include "tests/tap.h"

int main(void)
{
	mid_backoff_t b;
	mid_backoff_default(&b);
	is_int(b.base_ms, 5000, "default base 5 s");
	is_int(b.cap_ms, 3600000, "default cap 1 h");
	b.jitter = 0;
	is_int(mid_backoff_ms(&b, 1, 0.7), 5000, "attempt 1: base");
	is_int(mid_backoff_ms(&b, 2, 0.7), 10000, "attempt 2: doubled");
	is_int(mid_backoff_ms(&b, 5, 0.7), 80000, "attempt 5: base * 16");
	is_int(mid_backoff_ms(&b, 30, 0.7), 3600000, "capped");
	is_int(mid_backoff_ms(&b, 100000, 0.7), 3600000, "no overflow for many attempts");
	b.jitter = 0.5;
	is_int(mid_backoff_ms(&b, 3, 0.0), 20000, "jitter 0.5, rnd 0: full delay");
	is_int(mid_backoff_ms(&b, 3, 0.5), 15000, "jitter 0.5, rnd 0.5: three quarters");
	ok(mid_backoff_ms(&b, 3, 0.999999) >= 10000, "never below (1 - jitter) * delay");
	b.base_ms = 100;
	b.cap_ms = 250;
	b.jitter = 0;
	is_int(mid_backoff_ms(&b, 3, 0), 250, "custom cap");
	int64_t lo = 1 << 30, hi = 0;
	mid_backoff_default(&b);
	for (int i = 0; i < 1000; i++) {
		int64_t d = mid_backoff_ms(&b, 4, mid_backoff_random());
		if (d < lo)
			lo = d;
		if (d > hi)
			hi = d;
	}
	ok(lo >= 20000 && hi <= 40000 && hi > lo, "random jitter stays in [d/2, d] and varies");
	is_int(mid_backoff_ms(NULL, 1, 0), 5000, "NULL means the defaults");
	return tap_done();
}
