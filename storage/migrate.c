/*
 * Schema migrations.  They run once at start-up, before the event loop,
 * on a connection of their own: the only blocking database work esaasd does.
 */
#include "storage/migrate.h"
#include "common/log.h"
#include "common/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libpq-fe.h>

/* Any constant will do, as long as every esaasd uses the same one. */
#define MIGRATE_LOCK_KEY "7295160433921"

int migrate_latest(void)
{
	return migrations_count ? migrations[migrations_count - 1].version : 0;
}

static bool exec1(PGconn *pg, const char *sql, int nparams, const char *const *params,
		  PGresult **out, char *err, size_t errlen)
{
	PGresult *res = PQexecParams(pg, sql, nparams, NULL, params, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(res);
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		snprintf(err, errlen, "%s", PQresultErrorMessage(res));
		size_t n = strlen(err);
		while (n && (err[n - 1] == '\n' || err[n - 1] == ' '))
			err[--n] = '\0';
		PQclear(res);
		return false;
	}
	if (out)
		*out = res;
	else
		PQclear(res);
	return true;
}

/*
 * Migration files hold several statements; the extended protocol takes one
 * at a time.  A statement ends with ';' at the end of a line, outside a
 * dollar-quoted body; the files are ours, written to that rule (no '$$' or
 * line-ending ';' inside string literals).  Calls fn for each; stops at the
 * first false.
 */
static bool for_each_statement(const char *sql, bool (*fn)(const char *stmt, void *arg), void *arg)
{
	size_t len = strlen(sql);
	char *buf = xmalloc(len + 2);
	size_t n = 0;
	bool in_dollar = false;
	bool ok = true;
	const char *line = sql;
	while (ok && *line) {
		const char *eol = strchr(line, '\n');
		size_t ll = eol ? (size_t)(eol - line) : strlen(line);
		const char *text = line;
		while (text < line + ll && (*text == ' ' || *text == '\t'))
			text++;
		/* A comment line neither opens a body nor ends a statement. */
		bool comment = text + 1 < line + ll && text[0] == '-' && text[1] == '-';
		for (const char *p = line; !comment && p + 1 < line + ll; p++)
			if (p[0] == '$' && p[1] == '$') {
				in_dollar = !in_dollar;
				p++;
			}
		memcpy(buf + n, line, ll);
		n += ll;
		buf[n++] = '\n';
		size_t t = ll;
		while (t && (line[t - 1] == ' ' || line[t - 1] == '\t' || line[t - 1] == '\r'))
			t--;
		if (!comment && !in_dollar && t && line[t - 1] == ';') {
			buf[n] = '\0';
			ok = fn(buf, arg);
			n = 0;
		}
		line = eol ? eol + 1 : line + ll;
	}
	/* Trailing text without ';' must be only comments and blanks. */
	buf[n] = '\0';
	for (const char *p = buf; ok && *p;) {
		if (*p == '-' && p[1] == '-') {
			p = strchr(p, '\n');
			if (!p)
				break;
		} else if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
			ok = fn(buf, arg);
			break;
		}
		p++;
	}
	free(buf);
	return ok;
}

struct apply_ctx {
	PGconn *pg;
	char *err;
	size_t errlen;
};

static bool apply_statement(const char *stmt, void *arg)
{
	struct apply_ctx *a = arg;
	return exec1(a->pg, stmt, 0, NULL, NULL, a->err, a->errlen);
}

static bool migrate_locked(PGconn *pg, char *err, size_t errlen)
{
	const char *const lock[] = {MIGRATE_LOCK_KEY};
	if (!exec1(pg, "SELECT pg_advisory_xact_lock($1::bigint)", 1, lock, NULL, err, errlen))
		return false;
	if (!exec1(pg,
		   "CREATE TABLE IF NOT EXISTS esaas_schema_migrations ("
		   " version integer PRIMARY KEY, name text NOT NULL,"
		   " applied_at timestamptz NOT NULL DEFAULT now())",
		   0, NULL, NULL, err, errlen))
		return false;
	PGresult *res;
	if (!exec1(pg, "SELECT coalesce(max(version), 0) FROM esaas_schema_migrations", 0, NULL,
		   &res, err, errlen))
		return false;
	int current = 0;
	bool parsed = parse_int(PQgetvalue(res, 0, 0), 0, 1 << 30, &current);
	PQclear(res);
	if (!parsed) {
		snprintf(err, errlen, "cannot read the schema version");
		return false;
	}
	int latest = migrate_latest();
	if (current > latest) {
		snprintf(err, errlen,
			 "the database schema is at version %d but this esaasd knows versions up "
			 "to %d: "
			 "run a newer esaasd, or restore a database that matches this one",
			 current, latest);
		return false;
	}
	for (int i = 0; i < migrations_count; i++) {
		const struct migration *m = &migrations[i];
		if (m->version <= current)
			continue;
		struct apply_ctx a = {pg, err, errlen};
		char prefix[128];
		snprintf(prefix, sizeof(prefix), "migration %04d_%s: ", m->version, m->name);
		if (!for_each_statement(m->sql, apply_statement, &a)) {
			size_t pl = strlen(prefix);
			if (pl < errlen) {
				memmove(err + pl, err, errlen - pl - 1);
				err[errlen - 1] = '\0';
				memcpy(err, prefix, pl);
			}
			return false;
		}
		char version[16];
		snprintf(version, sizeof(version), "%d", m->version);
		const char *const p[] = {version, m->name};
		if (!exec1(pg,
			   "INSERT INTO esaas_schema_migrations (version, name) VALUES ($1, $2)", 2,
			   p, NULL, err, errlen))
			return false;
		log_info("applied migration %04d_%s", m->version, m->name);
	}
	return true;
}

static void ignore_notice(void *arg, const char *message)
{
}

bool migrate_run(const char *conninfo, char *err, size_t errlen)
{
	PGconn *pg = PQconnectdb(conninfo);
	if (PQstatus(pg) != CONNECTION_OK) {
		snprintf(err, errlen, "cannot connect to the database: %s", PQerrorMessage(pg));
		size_t n = strlen(err);
		while (n && (err[n - 1] == '\n' || err[n - 1] == ' '))
			err[--n] = '\0';
		PQfinish(pg);
		return false;
	}
	/* Quiet the NOTICEs of IF NOT EXISTS. */
	PQsetNoticeProcessor(pg, ignore_notice, NULL);
	bool ok = exec1(pg, "BEGIN", 0, NULL, NULL, err, errlen);
	if (ok)
		ok = migrate_locked(pg, err, errlen);
	if (ok)
		ok = exec1(pg, "COMMIT", 0, NULL, NULL, err, errlen);
	else {
		char ignored[256];
		exec1(pg, "ROLLBACK", 0, NULL, NULL, ignored, sizeof(ignored));
	}
	PQfinish(pg);
	return ok;
}
