/*
 * Who the token is, and the administration of tenants, their quotas and
 * the API tokens: whoami; tenants list, create, show; quota set; tokens
 * create, list, revoke.
 *
 * The API counts a quota in numbers (cpu_millis, memory_bytes, disk_bytes);
 * people read cores and binary units, so that is what the tables show.
 * The API's PUT of a quota replaces all five limits, so "quota set" reads
 * the quota first and sends it back with only the limits it was given
 * changed: a flag left out keeps its limit, "none" removes one.
 */
#include "cli/ctl.h"
#include "common/json.h"

#include <stdlib.h>
#include <string.h>

#define DESCRIPTION_COLUMN_MAX 40

static void kv(struct ctl_table *t, const char *key, const char *value)
{
	ctl_table_row(t);
	ctl_table_cell(t, key);
	ctl_table_cell(t, value);
}

/* method path; true with the reply when the status is want, else the error shown. */
static bool call_ok(struct ctl *ctl, const char *method, const char *path, json_t *body, long want,
		    struct ctl_reply *r, int *rc)
{
	if (!ctl_http_call(ctl->http, method, path, body, r)) {
		*rc = CTL_EXIT_API;
		return false;
	}
	if (r->status != want || !r->body) {
		*rc = ctl_report_error(r);
		ctl_reply_free(r);
		return false;
	}
	return true;
}

/* "/api/v1/tenants/NAME" and what follows, the name percent-encoded. */
static char *tenant_path(const char *tenant, const char *rest)
{
	char *t = ctl_http_escape(tenant);
	char *p = xasprintf("/api/v1/tenants/%s%s", t, rest);

	free(t);
	return p;
}

/* "3d4h ago" for a time past, "in 29d23h" for one to come; "" for none. */
static void relative(const char *ts, int64_t now, char *buf, size_t len)
{
	int64_t ms;
	char age[32];

	buf[0] = '\0';
	if (!ctl_parse_time(ts, &ms))
		return;
	ctl_format_age(ms > now ? ms - now : now - ms, age, sizeof(age));
	snprintf(buf, len, "%s%s%s", ms > now ? "in " : "", age, ms > now ? "" : " ago");
}

/* --- whoami ----------------------------------------------------------------------- */

static int whoami(struct ctl *ctl, const struct ctl_args *a)
{
	struct ctl_reply r;
	int rc = CTL_EXIT_OK;

	(void)a;
	if (!call_ok(ctl, "GET", "/api/v1/whoami", NULL, 200, &r, &rc))
		return rc;
	if (ctl->output == CTL_OUTPUT_JSON) {
		rc = ctl_print_json(r.body);
		ctl_reply_free(&r);
		return rc;
	}
	struct ctl_table *t = ctl_table_new(2, NULL);

	kv(t, "Actor:", json_str(r.body, "actor"));
	kv(t, "Tenant:", json_str(r.body, "tenant"));
	kv(t, "Role:", json_str(r.body, "role"));
	kv(t, "Token from:",
	   ctl->cfg.token_from == CTL_SOURCE_FLAG  ? "--token"
	   : ctl->cfg.token_from == CTL_SOURCE_ENV ? "ESAAS_TOKEN"
						   : ctl->cfg.file);
	ctl_table_print(t, stdout);
	ctl_table_free(t);
	ctl_reply_free(&r);
	return CTL_EXIT_OK;
}

/* --- tenants and quotas --------------------------------------------------------- */

enum measure_kind {
	MEASURE_COUNT,
	MEASURE_CPU,
	MEASURE_BYTES,
};

/* A quota's five measures, in the order the API's refusals name them. */
static const struct measure {
	const char *key;   /* in "quota" and "usage" */
	const char *label; /* for people */
	const char *flag;  /* of quota set, and the field of its body */
	enum measure_kind kind;
} measures[] = {
	{"clusters", "clusters", "clusters", MEASURE_COUNT},
	{"nodes", "nodes", "nodes", MEASURE_COUNT},
	{"cpu_millis", "cpu (cores)", "cpu", MEASURE_CPU},
	{"memory_bytes", "memory", "memory", MEASURE_BYTES},
	{"disk_bytes", "disk", "disk", MEASURE_BYTES},
};

static void format_measure(const struct measure *m, int64_t v, char *buf, size_t len)
{
	switch (m->kind) {
	case MEASURE_CPU:
		ctl_format_cpu(v, buf, len);
		break;
	case MEASURE_BYTES:
		ctl_format_bytes(v, buf, len);
		break;
	default:
		snprintf(buf, len, "%lld", (long long)v);
	}
}

/* A measure of "quota" or "usage": false when it is null (no limit). */
static bool measure_value(json_t *obj, const struct measure *m, int64_t *v)
{
	json_t *n = json_object_get(obj, m->key);

	if (!json_is_number(n))
		return false;
	*v = (int64_t)json_number_value(n);
	return true;
}

static void show_tenant(json_t *tenant)
{
	static const char *const headers[] = {"RESOURCE", "USED", "LIMIT", "LEFT", NULL};
	json_t *quota = json_object_get(tenant, "quota");
	json_t *usage = json_object_get(tenant, "usage");
	struct ctl_table *t = ctl_table_new(2, NULL);
	char when[96], *s;

	kv(t, "Tenant:", json_str(tenant, "id"));
	ctl_format_when(json_str(tenant, "created_at"), now_wall_ms(), when, sizeof(when));
	s = json_str(tenant, "created_by")
		    ? xasprintf("%s by %s", when, json_str(tenant, "created_by"))
		    : xstrdup(when);
	kv(t, "Created:", s);
	free(s);
	ctl_table_print(t, stdout);
	ctl_table_free(t);

	t = ctl_table_new(4, headers);
	for (size_t i = 0; i < ARRAY_SIZE(measures); i++) {
		const struct measure *m = &measures[i];
		int64_t used = 0, limit;
		char u[32], l[32], left[48];

		measure_value(usage, m, &used);
		format_measure(m, used, u, sizeof(u));
		ctl_table_row(t);
		ctl_table_cell(t, m->label);
		ctl_table_cell(t, u);
		if (!measure_value(quota, m, &limit)) {
			ctl_table_cell(t, "none");
			ctl_table_cell(t, NULL);
			continue;
		}
		format_measure(m, limit, l, sizeof(l));
		ctl_table_cell(t, l);
		if (used <= limit) {
			format_measure(m, limit - used, left, sizeof(left));
		} else {
			/* A limit lowered below what the clusters take already. */
			char over[32];

			format_measure(m, used - limit, over, sizeof(over));
			snprintf(left, sizeof(left), "over by %s", over);
		}
		ctl_table_cell(t, left);
	}
	printf("\n");
	ctl_table_print(t, stdout);
	ctl_table_free(t);
}

static int tenants_list(struct ctl *ctl, const struct ctl_args *a)
{
	static const char *const headers[] = {"TENANT", "CLUSTERS", "NODES",   "CPU (CORES)",
					      "MEMORY", "DISK",	    "CREATED", NULL};
	struct ctl_reply r;
	int rc = CTL_EXIT_OK;

	(void)a;
	if (!call_ok(ctl, "GET", "/api/v1/tenants", NULL, 200, &r, &rc))
		return rc;
	if (ctl->output == CTL_OUTPUT_JSON) {
		rc = ctl_print_json(r.body);
		ctl_reply_free(&r);
		return rc;
	}
	json_t *tenants = json_object_get(r.body, "tenants");
	struct ctl_table *t = ctl_table_new(7, headers);
	int64_t now = now_wall_ms();
	size_t i;
	json_t *tenant;

	json_array_foreach (tenants, i, tenant) {
		json_t *quota = json_object_get(tenant, "quota");
		json_t *usage = json_object_get(tenant, "usage");
		char age[48];

		ctl_table_row(t);
		ctl_table_cell(t, json_str(tenant, "id"));
		/* "2 of 5", or "2" where there is no limit. */
		for (size_t k = 0; k < ARRAY_SIZE(measures); k++) {
			int64_t used = 0, limit;
			char u[32], l[32];

			measure_value(usage, &measures[k], &used);
			format_measure(&measures[k], used, u, sizeof(u));
			if (measure_value(quota, &measures[k], &limit)) {
				format_measure(&measures[k], limit, l, sizeof(l));
				ctl_table_cellf(t, "%s of %s", u, l);
			} else {
				ctl_table_cell(t, u);
			}
		}
		relative(json_str(tenant, "created_at"), now, age, sizeof(age));
		ctl_table_cell(t, age);
	}
	if (json_array_size(tenants) == 0)
		fprintf(stderr, "no tenants\n");
	else
		ctl_table_print(t, stdout);
	ctl_table_free(t);
	ctl_reply_free(&r);
	return CTL_EXIT_OK;
}

static int tenants_create(struct ctl *ctl, const struct ctl_args *a)
{
	char *path = tenant_path(a->pos[0], "");
	struct ctl_reply r;
	int rc = CTL_EXIT_OK;
	bool ok = ctl_http_call(ctl->http, "PUT", path, NULL, &r);

	free(path);
	if (!ok)
		return CTL_EXIT_API;
	if ((r.status != 200 && r.status != 201) || !r.body)
		rc = ctl_report_error(&r);
	else if (ctl->output == CTL_OUTPUT_JSON)
		rc = ctl_print_json(r.body);
	else if (r.status == 201)
		printf("tenant %s created\n", a->pos[0]);
	else
		printf("tenant %s exists already\n", a->pos[0]);
	ctl_reply_free(&r);
	return rc;
}

/* The tenant meant: the argument, else --tenant, else the token's own. */
static bool tenant_meant(struct ctl *ctl, const struct ctl_args *a, char **tenant, int *rc)
{
	struct ctl_reply r;

	if (a->npos > 0 || ctl->tenant) {
		*tenant = xstrdup(a->npos > 0 ? a->pos[0] : ctl->tenant);
		return true;
	}
	if (!call_ok(ctl, "GET", "/api/v1/whoami", NULL, 200, &r, rc))
		return false;
	*tenant = xstrdup(json_str(r.body, "tenant") ? json_str(r.body, "tenant") : "");
	ctl_reply_free(&r);
	return true;
}

static int tenants_show(struct ctl *ctl, const struct ctl_args *a)
{
	struct ctl_reply r;
	char *tenant, *path;
	int rc = CTL_EXIT_OK;

	if (!tenant_meant(ctl, a, &tenant, &rc))
		return rc;
	path = tenant_path(tenant, "");
	free(tenant);
	bool ok = call_ok(ctl, "GET", path, NULL, 200, &r, &rc);

	free(path);
	if (!ok)
		return rc;
	if (ctl->output == CTL_OUTPUT_JSON)
		rc = ctl_print_json(r.body);
	else
		show_tenant(r.body);
	ctl_reply_free(&r);
	return rc;
}

/*
 * The limit a flag of quota set gives, as the API's body has it: null for
 * "none"; a count as a number; a quantity as the string given, for esaasd
 * to check.  NULL (a usage error shown) when a count is not a number.
 */
static json_t *limit_of(struct ctl *ctl, const struct measure *m, const char *value)
{
	int n;

	if (strcmp(value, "none") == 0)
		return json_null();
	if (m->kind != MEASURE_COUNT)
		return json_string(value);
	if (value[0] >= '0' && value[0] <= '9' && parse_int(value, 0, 1000000, &n))
		return json_integer(n);
	ctl_usage_error(ctl, "--%s: expected a whole number or none, got \"%s\"", m->flag, value);
	return NULL;
}

/* The quota as the body of its PUT: what the API answered, in the units it takes. */
static json_t *quota_body(json_t *quota)
{
	json_t *body = json_object();

	for (size_t i = 0; i < ARRAY_SIZE(measures); i++) {
		const struct measure *m = &measures[i];
		int64_t v;
		json_t *limit;

		if (!measure_value(quota, m, &v))
			limit = json_null();
		else if (m->kind == MEASURE_COUNT)
			limit = json_integer(v);
		else if (m->kind == MEASURE_CPU)
			limit = json_sprintf("%lldm", (long long)v);
		else
			limit = json_sprintf("%lld", (long long)v);
		json_object_set_new(body, m->flag, limit);
	}
	return body;
}

static int quota_set(struct ctl *ctl, const struct ctl_args *a)
{
	json_t *given = json_object(), *body;
	struct ctl_reply r;
	char *path;
	int rc = CTL_EXIT_OK;

	for (size_t i = 0; i < ARRAY_SIZE(measures); i++) {
		const char *v = ctl_args_get(a, measures[i].flag);
		json_t *limit;

		if (!v)
			continue;
		if (!(limit = limit_of(ctl, &measures[i], v))) {
			json_decref(given);
			return CTL_EXIT_USAGE;
		}
		json_object_set_new(given, measures[i].flag, limit);
	}
	if (json_object_size(given) == 0) {
		json_decref(given);
		return ctl_usage_error(ctl,
				       "which limits? give one or more of --clusters, --nodes, "
				       "--cpu, --memory and --disk");
	}
	path = tenant_path(a->pos[0], "");
	if (!call_ok(ctl, "GET", path, NULL, 200, &r, &rc)) {
		free(path);
		json_decref(given);
		return rc;
	}
	free(path);
	body = quota_body(json_object_get(r.body, "quota"));
	ctl_reply_free(&r);
	json_object_update(body, given);
	json_decref(given);

	path = tenant_path(a->pos[0], "/quota");
	bool ok = call_ok(ctl, "PUT", path, body, 200, &r, &rc);

	free(path);
	json_decref(body);
	if (!ok)
		return rc;
	if (ctl->output == CTL_OUTPUT_JSON)
		rc = ctl_print_json(r.body);
	else
		show_tenant(r.body);
	ctl_reply_free(&r);
	return rc;
}

/* --- tokens ----------------------------------------------------------------------------- */

static int tokens_create(struct ctl *ctl, const struct ctl_args *a)
{
	const char *role = ctl_args_get(a, "role");
	const char *expires = ctl_args_get(a, "expires");
	const char *description = ctl_args_get(a, "description");
	int64_t seconds = 0;
	struct ctl_reply r;
	int rc = CTL_EXIT_OK;

	if (!ctl->tenant || !role)
		return ctl_usage_error(ctl, "--tenant and --role are both required");
	if (expires && !ctl_parse_duration(expires, &seconds))
		return ctl_usage_error(ctl,
				       "--expires: expected a duration such as 30d, 12h, 90m or "
				       "3600s, got \"%s\"",
				       expires);
	json_t *body = json_pack("{s:s, s:s}", "tenant", ctl->tenant, "role", role);

	if (description)
		json_object_set_new(body, "description", json_string(description));
	if (expires)
		json_object_set_new(body, "expires_in_seconds", json_integer(seconds));
	bool ok = call_ok(ctl, "POST", "/api/v1/tokens", body, 201, &r, &rc);

	json_decref(body);
	if (!ok)
		return rc;
	const char *token = json_str(r.body, "token");

	if (ctl->output == CTL_OUTPUT_JSON) {
		rc = ctl_print_json(r.body);
	} else if (!token) {
		fprintf(stderr, "esaasctl: %ld: the answer has no token\n", r.status);
		rc = CTL_EXIT_API;
	} else {
		const char *expires_at = json_str(r.body, "expires_at");
		char when[96] = "", in[48];

		/* The secret alone on stdout, for TOKEN=$(esaasctl tokens create ...). */
		printf("%s\n", token);
		fflush(stdout);
		relative(expires_at, now_wall_ms(), in, sizeof(in));
		if (expires_at)
			snprintf(when, sizeof(when), "%.19sZ (%s)", expires_at, in);
		fprintf(stderr,
			"token %s: %s of tenant %s, %s%s; its secret is shown this once: keep it "
			"now\n",
			json_str(r.body, "id") ? json_str(r.body, "id") : "?",
			json_str(r.body, "role") ? json_str(r.body, "role") : role,
			json_str(r.body, "tenant") ? json_str(r.body, "tenant") : ctl->tenant,
			expires_at ? "expires " : "never expires", when);
		rc = CTL_EXIT_OK;
	}
	ctl_reply_free(&r);
	return rc;
}

static int tokens_list(struct ctl *ctl, const struct ctl_args *a)
{
	static const char *const headers[] = {"ID",	     "TENANT",	  "ROLE",
					      "DESCRIPTION", "CREATED",	  "EXPIRES",
					      "REVOKED",     "LAST USED", NULL};
	struct ctl_reply r;
	int rc = CTL_EXIT_OK;

	(void)a;
	if (!call_ok(ctl, "GET", "/api/v1/tokens", NULL, 200, &r, &rc))
		return rc;
	if (ctl->output == CTL_OUTPUT_JSON) {
		rc = ctl_print_json(r.body);
		ctl_reply_free(&r);
		return rc;
	}
	json_t *tokens = json_object_get(r.body, "tokens");
	struct ctl_table *t = ctl_table_new(8, headers);
	int64_t now = now_wall_ms();
	size_t i;
	json_t *tok;

	json_array_foreach (tokens, i, tok) {
		char *description =
			ctl_abbrev(json_str(tok, "description"), DESCRIPTION_COLUMN_MAX);
		char buf[48];

		ctl_table_row(t);
		ctl_table_cell(t, json_str(tok, "id"));
		ctl_table_cell(t, json_str(tok, "tenant"));
		ctl_table_cell(t, json_str(tok, "role"));
		ctl_table_cell(t, description);
		free(description);
		relative(json_str(tok, "created_at"), now, buf, sizeof(buf));
		ctl_table_cell(t, buf);
		relative(json_str(tok, "expires_at"), now, buf, sizeof(buf));
		ctl_table_cell(t, json_str(tok, "expires_at") ? buf : "never");
		relative(json_str(tok, "revoked_at"), now, buf, sizeof(buf));
		ctl_table_cell(t, buf);
		relative(json_str(tok, "last_used_at"), now, buf, sizeof(buf));
		ctl_table_cell(t, json_str(tok, "last_used_at") ? buf : "never");
	}
	if (json_array_size(tokens) == 0)
		fprintf(stderr, "no tokens\n");
	else
		ctl_table_print(t, stdout);
	ctl_table_free(t);
	ctl_reply_free(&r);
	return CTL_EXIT_OK;
}

static int tokens_revoke(struct ctl *ctl, const struct ctl_args *a)
{
	const char *id = a->pos[0];
	struct ctl_reply r;
	int rc = CTL_EXIT_OK;

	/* A whole token pasted: its secret must not travel in a URL as well. */
	if (strncmp(id, "esaas_", 6) == 0)
		return ctl_usage_error(ctl, "give the token's id (the 12 characters after esaas_, "
					    "as tokens list shows it), not the token itself");
	char *eid = ctl_http_escape(id);
	char *path = xasprintf("/api/v1/tokens/%s", eid);
	bool ok = call_ok(ctl, "DELETE", path, NULL, 200, &r, &rc);

	free(eid);
	free(path);
	if (!ok)
		return rc;
	if (ctl->output == CTL_OUTPUT_JSON) {
		rc = ctl_print_json(r.body);
	} else {
		char when[96];
		char *by = ctl_printable(json_str(r.body, "revoked_by"));

		ctl_format_when(json_str(r.body, "revoked_at"), now_wall_ms(), when, sizeof(when));
		printf("token %s of tenant %s is revoked: %s by %s\n", id,
		       json_str(r.body, "tenant") ? json_str(r.body, "tenant") : "?", when,
		       *by ? by : "?");
		free(by);
		rc = CTL_EXIT_OK;
	}
	ctl_reply_free(&r);
	return rc;
}

/* --- the table ---------------------------------------------------------------------- */

static const struct ctl_flag no_flags[] = {
	{NULL, 0, NULL, NULL},
};

static const struct ctl_flag quota_flags[] = {
	{"clusters", 0, "N", "at most N clusters"},
	{"nodes", 0, "N", "at most N Elasticsearch nodes, all clusters together"},
	{"cpu", 0, "CORES", "at most this much CPU: a quantity such as 64 or 500m"},
	{"memory", 0, "BYTES", "at most this much memory: a quantity such as 256Gi"},
	{"disk", 0, "BYTES", "at most this much disk of data nodes: a quantity such as 2Ti"},
	{NULL, 0, NULL, NULL},
};

static const struct ctl_flag token_flags[] = {
	{"role", 0, "ROLE", "viewer, member, oncall or admin"},
	{"expires", 0, "DURATION", "expire after this long: 30d, 12h, 90m, 3600s (default: never)"},
	{"description", 0, "TEXT", "who or what the token is for, shown by tokens list"},
	{NULL, 0, NULL, NULL},
};

const struct ctl_command ctl_tenants_commands[] = {
	{"whoami", "", "who the token is: its actor, tenant and role",
	 "What esaasd makes of the token esaasctl sends, and where the token came from.\n",
	 no_flags, 0, 0, whoami},
	{"tenants list", "", "list tenants, with what their clusters take of their quotas",
	 "\"2 of 5\" is 2 used of a limit of 5; a number alone has no limit.  Needs an\n"
	 "oncall or admin token.\n",
	 no_flags, 0, 0, tenants_list},
	{"tenants create", "TENANT", "create a tenant",
	 "A tenant is a DNS label of at most 40 characters; it starts without a quota\n"
	 "(no limits).  Creating one that exists changes nothing.  Needs an admin token.\n",
	 no_flags, 1, 1, tenants_create},
	{"tenants show", "[TENANT]", "a tenant's quota and usage, side by side",
	 "Without TENANT, the tenant of --tenant, else the token's own.  CPU is in\n"
	 "cores, memory and disk in binary units (Gi, Ti).  The usage counts every\n"
	 "live cluster at the most that its spec or any of its unfinished jobs takes.\n",
	 no_flags, 0, 1, tenants_show},
	{"quota set",
	 "TENANT [--clusters N] [--nodes N] [--cpu CORES] [--memory BYTES] [--disk BYTES]",
	 "change a tenant's quota",
	 "Only the limits given change: the others keep their value.  The value none\n"
	 "removes a limit.  A submission that would take a tenant past a limit is\n"
	 "refused (429 quota_exceeded); what runs already is never stopped.  Needs an\n"
	 "admin token.  For example:\n"
	 "  esaasctl quota set search --clusters 5 --memory 256Gi --cpu 64\n"
	 "  esaasctl quota set search --disk none\n",
	 quota_flags, 1, 1, quota_set},
	{"tokens create", "--tenant TENANT --role ROLE [--expires DURATION] [--description TEXT]",
	 "make an API token of a tenant",
	 "The token is printed alone on standard output, the only time it is shown;\n"
	 "its id and expiry go to standard error.  With -o json, the API's answer.\n"
	 "Roles: viewer reads its tenant; member also operates its tenant's clusters;\n"
	 "oncall reads every tenant and cancels and replays any job; admin does all,\n"
	 "tenants, quotas and tokens included.  Needs an admin token.  For example:\n"
	 "  esaasctl tokens create --tenant search --role member --expires 90d \\\n"
	 "      --description \"search team CI\"\n",
	 token_flags, 0, 0, tokens_create},
	{"tokens list", "[--tenant TENANT]", "list API tokens, revoked ones too",
	 "Every tenant's, or with --tenant that tenant's; never their secrets.  Needs\n"
	 "an admin token.\n",
	 no_flags, 0, 0, tokens_list},
	{"tokens revoke", "ID", "revoke an API token",
	 "ID is the token's id, as tokens list shows it.  The token is refused from the\n"
	 "next request on.  Needs an admin token.\n",
	 no_flags, 1, 1, tokens_revoke},
	{NULL, NULL, NULL, NULL, NULL, 0, 0, NULL},
};
