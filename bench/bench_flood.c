/*
 * How much a flood of strangers delays a running workflow.
 *
 * One job of the test workflow that waits forty times 200 ms (a transition
 * committed every 200 ms, heartbeats on the default lease), timed from
 * submission to success: once with nobody else about, then while a flood
 * (tests/integration/harness.h: bogus tokens from addresses that change
 * every 50 requests, and /readyz, each a new connection) runs at a few
 * rates.  The delay is the job's time over the quiet run's; the flood's
 * answers show what the API did with it (refused, rate-limited, shed).
 * The ten-per-cent bound of issue 14 is read here, not asserted in a
 * test.  Run it with `make bench-flood`; bench/README.md has the figures.
 */
#include "common/util.h"
#include "tests/integration/harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define POLLS 40

/* The job's milliseconds from submission to success, or -1. */
static double job_run(const struct esaasd *d, int flood_per_second, struct flood_counts *c)
{
	char plan[2048];
	size_t at = (size_t)snprintf(plan, sizeof(plan), "{\"plan\": {\"work\": [");
	struct flood *fl = NULL;

	for (int i = 0; i < POLLS; i++)
		at += (size_t)snprintf(plan + at, sizeof(plan) - at, "\"poll:200\", ");
	snprintf(plan + at, sizeof(plan) - at, "\"next\"]}}");
	memset(c, 0, sizeof(*c));
	if (flood_per_second > 0) {
		/* Under way before the job starts, and past its end. */
		fl = flood_start(d, POLLS * 200 + 6000, flood_per_second);
		if (!fl)
			return -1;
		msleep(1000);
	}
	int64_t t0 = harness_now_ms();
	int64_t id = submit_job(d, "test", "bench", plan);
	json_t *job = id > 0 ? wait_job_done(d, id, 120000) : NULL;
	int64_t t1 = harness_now_ms();
	bool ok =
		job && strcmp(json_string_value(json_object_get(job, "status")), "succeeded") == 0;

	json_decref(job);
	if (fl && !flood_finish(fl, c))
		return -1;
	return ok ? (double)(t1 - t0) : -1;
}

int main(void)
{
	struct pg pg;
	struct esaasd d;
	char dburl[600];
	struct esaasd_opts o = {.log_level = "info"};
	const int rates[] = {0, 200, 400, 1000};
	double quiet = 0;
	int rc = 0;

	if (!pg_start(&pg) || !pg_new_database(&pg, dburl, sizeof(dburl)) ||
	    !esaasd_start(&d, pg.dir, dburl, &o)) {
		fprintf(stderr, "bench_flood: cannot start PostgreSQL and esaasd\n");
		return 1;
	}
	printf("a job of %d waits of 200 ms (ideal %d ms), alone and under a flood\n", POLLS,
	       POLLS * 200);
	printf("%-10s %10s %8s %8s %8s %8s %8s %8s\n", "flood/s", "job ms", "delay", "sent",
	       "ready", "401", "429", "503");
	for (size_t i = 0; i < sizeof(rates) / sizeof(rates[0]); i++) {
		struct flood_counts c;
		double ms = job_run(&d, rates[i], &c);

		if (ms < 0) {
			fprintf(stderr, "bench_flood: the job failed at %d/s\n", rates[i]);
			rc = 1;
			break;
		}
		if (rates[i] == 0)
			quiet = ms;
		printf("%-10d %10.0f %7.1f%% %8ld %8ld %8ld %8ld %8ld\n", rates[i], ms,
		       100.0 * (ms - quiet) / quiet, c.sent, c.ok, c.unauthorized, c.limited,
		       c.busy);
	}
	if (esaasd_stop_all(&d, 1) != 0)
		rc = 1;
	pg_destroy(&pg);
	return rc;
}
