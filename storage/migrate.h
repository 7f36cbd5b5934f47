/* Versioned schema migrations, embedded in the binary. */
#ifndef ESAAS_MIGRATE_H
#define ESAAS_MIGRATE_H

#include <stdbool.h>
#include <stddef.h>

#include "common/util.h"

struct migration {
	int version;
	const char *name;
	const char *sql;
};

/* Generated from storage/migrations/NNNN_name.sql, in version order. */
extern const struct migration migrations[];
extern const int migrations_count;

/* The newest version this binary knows. */
int migrate_latest(void);

/*
 * Bring the database at conninfo up to migrate_latest(), at start-up,
 * before the event loop runs: one transaction under an advisory lock, so
 * daemons starting together apply each version once.  Refuses a database
 * newer than the binary.  On failure, err says why.
 */
bool migrate_run(const char *conninfo, char *err, size_t errlen) MUST_CHECK;

#endif
