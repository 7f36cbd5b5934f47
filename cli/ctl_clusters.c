/*
 * The clusters commands (list, show) and the operations that submit a job:
 * create, scale, restart, plugin install and remove, config set, delete.
 * Each builds the request body the API documents and leaves the checking
 * to esaasd, which has the cluster's spec and says which field is wrong;
 * only what cannot be put into JSON at all (--replicas abc) is refused here.
 */
#include "cli/ctl.h"
#include "common/yamljson.h"
#include "common/json.h"

#include <stdlib.h>
#include <string.h>

/* "/api/v1/clusters/NAME" and what follows, the name percent-encoded. */
static char *cluster_path(const char *name, const char *rest)
{
	char *n = ctl_http_escape(name);
	char *p = xasprintf("/api/v1/clusters/%s%s", n, rest);

	free(n);
	return p;
}

/* --- clusters list ------------------------------------------------------------- */

static void replicas_cell(struct ctl_table *t, json_t *spec, const char *role)
{
	json_t *r = json_object_get(json_object_get(spec, role), "replicas");

	if (json_is_integer(r))
		ctl_table_cellf(t, "%lld", (long long)json_integer_value(r));
	else
		ctl_table_cell(t, NULL);
}

static void active_job_cell(struct ctl_table *t, json_t *job)
{
	if (json_is_object(job))
		ctl_table_cellf(t, "%lld %s (%s)",
				(long long)json_integer_value(json_object_get(job, "id")),
				json_str(job, "kind") ? json_str(job, "kind") : "?",
				json_str(job, "status") ? json_str(job, "status") : "?");
	else
		ctl_table_cell(t, NULL);
}

static int clusters_list(struct ctl *ctl, const struct ctl_args *a)
{
	static const char *const headers[] = {"NAME",  "VERSION",    "MASTERS", "DATA", "CLIENTS",
					      "PHASE", "ACTIVE JOB", "AGE",	NULL};
	struct ctl_reply r;
	int rc = CTL_EXIT_OK;

	if (!ctl_http_call(ctl->http, "GET", "/api/v1/clusters", NULL, &r))
		return CTL_EXIT_API;
	if (r.status != 200 || !r.body) {
		rc = ctl_report_error(&r);
		ctl_reply_free(&r);
		return rc;
	}
	if (ctl->output == CTL_OUTPUT_JSON) {
		rc = ctl_print_json(r.body);
		ctl_reply_free(&r);
		return rc;
	}
	json_t *clusters = json_object_get(r.body, "clusters");
	struct ctl_table *t = ctl_table_new(8, headers);
	int64_t now = now_wall_ms();
	size_t i;
	json_t *c;

	json_array_foreach (clusters, i, c) {
		json_t *spec = json_object_get(c, "spec");
		int64_t created;
		char age[32] = "";

		if (ctl_parse_time(json_str(c, "created_at"), &created))
			ctl_format_age(now - created, age, sizeof(age));
		ctl_table_row(t);
		ctl_table_cell(t, json_str(c, "name"));
		ctl_table_cell(t, json_str(spec, "version"));
		replicas_cell(t, spec, "masters");
		replicas_cell(t, spec, "data");
		replicas_cell(t, spec, "clients");
		ctl_table_cell(t, json_str(json_object_get(c, "observed"), "phase"));
		active_job_cell(t, json_object_get(c, "active_job"));
		ctl_table_cell(t, age);
	}
	if (json_array_size(clusters) == 0)
		fprintf(stderr, "no clusters\n");
	else
		ctl_table_print(t, stdout);
	ctl_table_free(t);
	ctl_reply_free(&r);
	return CTL_EXIT_OK;
}

/* --- clusters show ------------------------------------------------------------- */

static void kv(struct ctl_table *t, const char *key, const char *value)
{
	ctl_table_row(t);
	ctl_table_cell(t, key);
	ctl_table_cell(t, value);
}

/* "3 (cpu 2, memory 8Gi, heap 4g, disk 100Gi)" */
static void kv_nodes(struct ctl_table *t, const char *key, json_t *n)
{
	static const char *const fields[] = {"cpu", "memory", "heap", "disk", NULL};
	char *line;

	if (!json_is_object(n)) {
		kv(t, key, NULL);
		return;
	}
	line = xasprintf("%lld", (long long)json_integer_value(json_object_get(n, "replicas")));
	for (int i = 0; fields[i]; i++) {
		const char *v = json_str(n, fields[i]);
		char *next;

		if (!v)
			continue;
		next = xasprintf("%s%s%s %s", line, strchr(line, '(') ? ", " : " (", fields[i], v);
		free(line);
		line = next;
	}
	if (strchr(line, '(')) {
		char *next = xasprintf("%s)", line);

		free(line);
		line = next;
	}
	kv(t, key, line);
	free(line);
}

static char *join_array(json_t *arr)
{
	char *out = xstrdup("");
	size_t i;
	json_t *v;

	json_array_foreach (arr, i, v) {
		char *next = xasprintf("%s%s%s", out, i ? ", " : "",
				       json_is_string(v) ? json_string_value(v) : "?");

		free(out);
		out = next;
	}
	return out;
}

static char *join_settings(json_t *obj)
{
	char *out = xstrdup("");
	const char *key;
	json_t *v;

	json_object_foreach (obj, key, v) {
		char *value = json_is_string(v) ? xstrdup(json_string_value(v))
						: json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
		char *next =
			xasprintf("%s%s%s=%s", out, *out ? ", " : "", key, value ? value : "?");

		free(value);
		free(out);
		out = next;
	}
	return out;
}

static void show_recent_jobs(json_t *jobs, int64_t now)
{
	static const char *const headers[] = {"ID", "KIND", "STATUS", "STATE", "AGE", NULL};
	struct ctl_table *t;
	size_t i;
	json_t *job;

	if (json_array_size(jobs) == 0)
		return;
	t = ctl_table_new(5, headers);
	json_array_foreach (jobs, i, job) {
		int64_t created;
		char age[32] = "";

		if (ctl_parse_time(json_str(job, "created_at"), &created))
			ctl_format_age(now - created, age, sizeof(age));
		ctl_table_row(t);
		ctl_table_cellf(t, "%lld",
				(long long)json_integer_value(json_object_get(job, "id")));
		ctl_table_cell(t, json_str(job, "kind"));
		ctl_table_cell(t, json_str(job, "status"));
		ctl_table_cell(t, json_str(job, "state"));
		ctl_table_cell(t, age);
	}
	printf("\nRecent jobs:\n");
	ctl_table_print(t, stdout);
	ctl_table_free(t);
}

static int clusters_show(struct ctl *ctl, const struct ctl_args *a)
{
	char *path = cluster_path(a->pos[0], "");
	struct ctl_reply r;
	int rc = CTL_EXIT_OK;
	bool ok = ctl_http_call(ctl->http, "GET", path, NULL, &r);

	free(path);
	if (!ok)
		return CTL_EXIT_API;
	if (r.status != 200 || !r.body) {
		rc = ctl_report_error(&r);
		ctl_reply_free(&r);
		return rc;
	}
	if (ctl->output == CTL_OUTPUT_JSON) {
		rc = ctl_print_json(r.body);
		ctl_reply_free(&r);
		return rc;
	}
	json_t *c = r.body;
	json_t *spec = json_object_get(c, "spec");
	json_t *observed = json_object_get(c, "observed");
	json_t *endpoint = json_object_get(observed, "endpoint");
	json_t *active = json_object_get(c, "active_job");
	struct ctl_table *t = ctl_table_new(2, NULL);
	int64_t now = now_wall_ms();
	char when[96], *s;

	kv(t, "Name:", json_str(c, "name"));
	kv(t, "Tenant:", json_str(c, "tenant"));
	if (json_is_object(json_object_get(c, "paused"))) {
		json_t *p = json_object_get(c, "paused");
		s = xasprintf("since %s by %s: %s", json_str(p, "at"), json_str(p, "by"),
			      json_str(p, "reason"));
		kv(t, "Paused:", s);
		free(s);
	}
	s = ctl_format_maintenance(json_object_get(c, "maintenance"));
	kv(t, "Maintenance:", s);
	free(s);
	kv(t, "Version:", json_str(spec, "version"));
	kv_nodes(t, "Masters:", json_object_get(spec, "masters"));
	kv_nodes(t, "Data:", json_object_get(spec, "data"));
	kv_nodes(t, "Clients:", json_object_get(spec, "clients"));
	s = join_array(json_object_get(spec, "plugins"));
	kv(t, "Plugins:", s);
	free(s);
	s = join_settings(json_object_get(spec, "config"));
	kv(t, "Config:", s);
	free(s);
	kv(t, "Placement:", json_str(json_object_get(spec, "placement"), "spread"));
	kv(t, "Phase:", json_str(observed, "phase"));
	/* The namespace stored with the cluster, from its creation on. */
	if (json_str(c, "namespace"))
		kv(t, "Namespace:", json_str(c, "namespace"));
	if (json_str(observed, "health"))
		kv(t, "Health:", json_str(observed, "health"));
	if (json_is_object(endpoint)) {
		s = xasprintf("%s.%s:%lld",
			      json_str(endpoint, "service") ? json_str(endpoint, "service") : "?",
			      json_str(endpoint, "namespace") ? json_str(endpoint, "namespace")
							      : "?",
			      (long long)json_integer_value(json_object_get(endpoint, "port")));
		kv(t, "Endpoint:", s);
		free(s);
	} else if (json_is_string(endpoint)) {
		kv(t, "Endpoint:", json_string_value(endpoint));
	}
	ctl_format_when(json_str(c, "created_at"), now, when, sizeof(when));
	s = xasprintf("%s by %s", when,
		      json_str(c, "created_by") ? json_str(c, "created_by") : "?");
	kv(t, "Created:", s);
	free(s);
	if (json_is_object(active)) {
		s = xasprintf("%lld %s, %s in %s",
			      (long long)json_integer_value(json_object_get(active, "id")),
			      json_str(active, "kind") ? json_str(active, "kind") : "?",
			      json_str(active, "status") ? json_str(active, "status") : "?",
			      json_str(active, "state") ? json_str(active, "state") : "?");
		kv(t, "Active job:", s);
		free(s);
	} else {
		kv(t, "Active job:", "none");
	}
	ctl_table_print(t, stdout);
	ctl_table_free(t);
	show_recent_jobs(json_object_get(c, "recent_jobs"), now);
	ctl_reply_free(&r);
	return CTL_EXIT_OK;
}

/*
 * The credentials of a cluster's own Elasticsearch: the user and password,
 * the URL, and the CA (PEM) to check its certificate with.  --ca-out
 * writes the CA to a file, for curl --cacert.  Each read is audited.
 */
static int clusters_credentials(struct ctl *ctl, const struct ctl_args *a)
{
	char *path = cluster_path(a->pos[0], "/credentials");
	const char *ca_file = ctl_args_get(a, "ca-out");
	struct ctl_reply r;
	int rc = CTL_EXIT_OK;
	bool ok = ctl_http_call(ctl->http, "GET", path, NULL, &r);

	free(path);
	if (!ok)
		return CTL_EXIT_API;
	if (r.status != 200 || !r.body) {
		rc = ctl_report_error(&r);
		ctl_reply_free(&r);
		return rc;
	}
	if (ca_file) {
		FILE *f = fopen(ca_file, "w");
		const char *pem = json_str(r.body, "ca_crt");
		if (!f || !pem || fputs(pem, f) == EOF || fclose(f) != 0) {
			fprintf(stderr, "esaasctl: cannot write the CA to %s\n", ca_file);
			ctl_reply_free(&r);
			return CTL_EXIT_USAGE;
		}
	}
	if (ctl->output == CTL_OUTPUT_JSON) {
		rc = ctl_print_json(r.body);
		ctl_reply_free(&r);
		return rc;
	}
	struct ctl_table *t = ctl_table_new(2, NULL);
	kv(t, "Cluster:", json_str(r.body, "cluster"));
	kv(t, "Username:", json_str(r.body, "username"));
	kv(t, "Password:", json_str(r.body, "password"));
	if (json_str(r.body, "url"))
		kv(t, "URL:", json_str(r.body, "url"));
	if (ca_file)
		kv(t, "CA:", ca_file);
	ctl_table_print(t, stdout);
	ctl_table_free(t);
	if (!ca_file && json_str(r.body, "ca_crt"))
		fputs(json_str(r.body, "ca_crt"), stdout);
	ctl_reply_free(&r);
	return CTL_EXIT_OK;
}

/* --- pause and resume -------------------------------------------------------------- */

/*
 * POST /api/v1/clusters/NAME/pause or /resume with the reason: the answer's
 * message says what happens to the job in progress and the queue.
 */
static int pause_or_resume(struct ctl *ctl, const struct ctl_args *a, const char *what)
{
	const char *reason = ctl_args_get(a, "reason");
	struct ctl_reply r;
	int rc = CTL_EXIT_OK;

	if (!reason || !*reason)
		return ctl_usage_error(ctl, "--reason is required: the audit log records why");
	char *path = cluster_path(a->pos[0], what);
	json_t *body = json_pack("{s:s}", "reason", reason);
	bool ok = ctl_http_call(ctl->http, "POST", path, body, &r);

	free(path);
	json_decref(body);
	if (!ok)
		return CTL_EXIT_API;
	if (r.status < 200 || r.status > 299 || !r.body)
		rc = ctl_report_error(&r);
	else if (ctl->output == CTL_OUTPUT_JSON)
		rc = ctl_print_json(r.body);
	else
		printf("%s\n", json_str(r.body, "message") ? json_str(r.body, "message") : "done");
	ctl_reply_free(&r);
	return rc;
}

static int cluster_pause(struct ctl *ctl, const struct ctl_args *a)
{
	return pause_or_resume(ctl, a, "/pause");
}

static int cluster_resume(struct ctl *ctl, const struct ctl_args *a)
{
	return pause_or_resume(ctl, a, "/resume");
}

/* --- submitting --------------------------------------------------------------------- */

/*
 * Send, then show the job (and follow it with --wait).  Takes path and
 * body.  accepted, when given, looks at the job before it is shown.
 */
static int submit_checked(struct ctl *ctl, const struct ctl_args *a, const char *method, char *path,
			  json_t *body, void (*accepted)(json_t *job))
{
	struct ctl_reply r;
	int rc;
	bool dry_run = ctl_args_has(a, "dry-run");

	if (dry_run) {
		char *with = xasprintf("%s%sdry_run=true", path, strchr(path, '?') ? "&" : "?");
		free(path);
		path = with;
	}
	bool ok = ctl_http_call(ctl->http, method, path, body, &r);

	free(path);
	json_decref(body);
	if (!ok)
		return CTL_EXIT_API;
	if (dry_run && r.status == 200) {
		/* The plan: nothing was queued, so there is no job to follow. */
		if (ctl->output == CTL_OUTPUT_JSON) {
			rc = ctl_print_json(r.body);
			ctl_reply_free(&r);
			return rc;
		}
		char *text = ctl_format_plan(r.body);
		fputs(text, stdout);
		free(text);
		ctl_reply_free(&r);
		return CTL_EXIT_OK;
	}
	if (accepted && r.status >= 200 && r.status <= 299)
		accepted(r.body);
	rc = ctl_jobs_accepted(ctl, &r, ctl_args_has(a, "wait"), 0);
	ctl_reply_free(&r);
	return rc;
}

static int submit(struct ctl *ctl, const struct ctl_args *a, const char *method, char *path,
		  json_t *body)
{
	return submit_checked(ctl, a, method, path, body, NULL);
}

/* A whole number for a flag, or a usage error. */
static bool count_arg(struct ctl *ctl, const char *flag, const char *value, int *out)
{
	if (value[0] >= '0' && value[0] <= '9' && parse_int(value, 0, 1000000, out))
		return true;
	ctl_usage_error(ctl, "--%s: expected a whole number, got \"%s\"", flag, value);
	return false;
}

/*
 * A setting's value as JSON: true, false and null (which removes a
 * setting) as themselves, numbers as numbers, anything else as text.
 */
static json_t *setting_value(const char *s)
{
	json_t *v;

	if (strcmp(s, "true") == 0)
		return json_true();
	if (strcmp(s, "false") == 0)
		return json_false();
	if (strcmp(s, "null") == 0)
		return json_null();
	v = json_loads(s, JSON_DECODE_ANY, NULL);
	if (json_is_number(v))
		return v;
	json_decref(v);
	return json_string(s);
}

/* "key=value" into obj; false (a usage error shown) when there is no '='. */
static bool add_setting(struct ctl *ctl, json_t *obj, const char *arg)
{
	const char *eq = strchr(arg, '=');

	if (!eq || eq == arg) {
		ctl_usage_error(ctl, "expected key=value, got \"%s\"", arg);
		return false;
	}
	char *key = xstrndup(arg, (size_t)(eq - arg));

	json_object_set_new(obj, key, setting_value(eq + 1));
	free(key);
	return true;
}

/* The spec file: JSON or YAML, "-" for standard input. */
static json_t *load_spec(struct ctl *ctl, const char *path)
{
	json_t *spec;
	char *err = NULL;

	if (strcmp(path, "-") == 0) {
		size_t cap = 4096, len = 0, n;
		char *buf = xmalloc(cap);

		while ((n = fread(buf + len, 1, cap - len, stdin)) > 0) {
			len += n;
			if (len == cap)
				buf = xrealloc(buf, cap *= 2);
		}
		spec = yamljson_parse(buf, len, &err);
		free(buf);
	} else {
		spec = yamljson_load_file(path, &err);
	}
	if (!spec) {
		fprintf(stderr, "%s: %s: %s\n", ctl->name, path, err ? err : "cannot read");
		free(err);
		return NULL;
	}
	if (!json_is_object(spec)) {
		fprintf(stderr, "%s: %s: a cluster spec is a mapping (an object)\n", ctl->name,
			path);
		json_decref(spec);
		return NULL;
	}
	return spec;
}

/* spec[role].replicas = the flag's value, keeping what the file says of the role. */
static bool set_replicas(struct ctl *ctl, const struct ctl_args *a, json_t *spec, const char *flag,
			 const char *role)
{
	const char *v = ctl_args_get(a, flag);
	json_t *section;
	int n;

	if (!v)
		return true;
	if (!count_arg(ctl, flag, v, &n))
		return false;
	section = json_object_get(spec, role);
	if (!json_is_object(section)) {
		section = json_object();
		json_object_set_new(spec, role, section);
	}
	json_object_set_new(section, "replicas", json_integer(n));
	return true;
}

static int cluster_create(struct ctl *ctl, const struct ctl_args *a)
{
	const char *file = ctl_args_get(a, "file");
	const char *name = a->npos > 0 ? a->pos[0] : NULL;
	const char *v;
	json_t *spec = file ? load_spec(ctl, file) : json_object();
	size_t i = 0;

	if (!spec)
		return CTL_EXIT_USAGE;
	if (name) {
		const char *in_file = json_str(spec, "name");

		if (in_file && strcmp(in_file, name) != 0) {
			json_decref(spec);
			return ctl_usage_error(ctl, "the name is %s here and %s in %s", name,
					       in_file, file);
		}
		json_object_set_new(spec, "name", json_string(name));
	}
	if (!json_object_get(spec, "name")) {
		json_decref(spec);
		return ctl_usage_error(ctl,
				       "which cluster? give its NAME, or a spec file with a name");
	}
	if ((v = ctl_args_get(a, "version")))
		json_object_set_new(spec, "version", json_string(v));
	if (!set_replicas(ctl, a, spec, "masters", "masters") ||
	    !set_replicas(ctl, a, spec, "data", "data") ||
	    !set_replicas(ctl, a, spec, "clients", "clients")) {
		json_decref(spec);
		return CTL_EXIT_USAGE;
	}
	if (ctl_args_has(a, "plugin")) {
		json_t *plugins = json_array();

		while ((v = ctl_args_next(a, "plugin", &i)))
			json_array_append_new(plugins, json_string(v));
		json_object_set_new(spec, "plugins", plugins);
	}
	if (ctl_args_has(a, "set")) {
		json_t *config = json_object_get(spec, "config");

		if (!json_is_object(config)) {
			config = json_object();
			json_object_set_new(spec, "config", config);
		}
		for (i = 0; (v = ctl_args_next(a, "set", &i));) {
			if (!add_setting(ctl, config, v)) {
				json_decref(spec);
				return CTL_EXIT_USAGE;
			}
		}
	}
	if ((v = ctl_args_get(a, "spread")))
		json_object_set_new(spec, "placement", json_pack("{s:s}", "spread", v));
	return submit(ctl, a, "POST", xstrdup("/api/v1/clusters"), spec);
}

/* --allow-yellow and --urgent, for the operations that restart nodes. */
static json_t *allow_yellow(const struct ctl_args *a, json_t *body)
{
	if (ctl_args_has(a, "allow-yellow"))
		json_object_set_new(body, "allow_yellow", json_true());
	if (ctl_args_get(a, "urgent"))
		json_object_set_new(body, "urgent",
				    json_pack("{s:s}", "reason", ctl_args_get(a, "urgent")));
	return body;
}

static int cluster_scale(struct ctl *ctl, const struct ctl_args *a)
{
	const char *role = ctl_args_get(a, "role");
	const char *replicas = ctl_args_get(a, "replicas");
	int n;

	if (!role || !replicas)
		return ctl_usage_error(ctl, "--role and --replicas are both required");
	if (!count_arg(ctl, "replicas", replicas, &n))
		return CTL_EXIT_USAGE;
	json_t *body = json_pack("{s:s, s:i}", "role", role, "replicas", n);

	if (ctl_args_has(a, "force"))
		json_object_set_new(body, "force", json_true());
	return submit(ctl, a, "POST", cluster_path(a->pos[0], "/scale"), body);
}

static int cluster_restart(struct ctl *ctl, const struct ctl_args *a)
{
	const char *role = ctl_args_get(a, "role");
	json_t *body = json_object();

	if (role && ctl_args_has(a, "node")) {
		json_decref(body);
		return ctl_usage_error(ctl, "give --role or --node, not both");
	}
	if (!ctl_args_has(a, "node") && a->npos > 1) {
		json_decref(body);
		return ctl_usage_error(ctl, "unexpected \"%s\": pods are named after --node",
				       a->pos[1]);
	}
	if (role)
		json_object_set_new(body, "role", json_string(role));
	if (ctl_args_has(a, "node")) {
		json_t *nodes = json_array();
		size_t i = 0;
		const char *v;

		/* "--node a --node b" and "--node a b" both name two pods. */
		while ((v = ctl_args_next(a, "node", &i)))
			json_array_append_new(nodes, json_string(v));
		for (size_t p = 1; p < a->npos; p++)
			json_array_append_new(nodes, json_string(a->pos[p]));
		json_object_set_new(body, "nodes", nodes);
	}
	return submit(ctl, a, "POST", cluster_path(a->pos[0], "/restart"), allow_yellow(a, body));
}

static int cluster_upgrade(struct ctl *ctl, const struct ctl_args *a)
{
	const char *version = ctl_args_get(a, "version");

	if (!version)
		return ctl_usage_error(ctl, "--version is required");
	json_t *body = json_pack("{s:s}", "version", version);
	return submit(ctl, a, "POST", cluster_path(a->pos[0], "/upgrade"), allow_yellow(a, body));
}

static int cluster_secure(struct ctl *ctl, const struct ctl_args *a)
{
	return submit(ctl, a, "POST", cluster_path(a->pos[0], "/secure"),
		      allow_yellow(a, json_object()));
}

static int plugin_install(struct ctl *ctl, const struct ctl_args *a)
{
	return submit(ctl, a, "POST", cluster_path(a->pos[0], "/plugins"),
		      allow_yellow(a, json_pack("{s:s}", "name", a->pos[1])));
}

static int plugin_remove(struct ctl *ctl, const struct ctl_args *a)
{
	char *plugin = ctl_http_escape(a->pos[1]);
	char *rest = xasprintf("/plugins/%s", plugin);
	char *path = cluster_path(a->pos[0], rest);

	free(plugin);
	free(rest);
	/* The body is optional: only --allow-yellow and --urgent need one. */
	return submit(ctl, a, "DELETE", path,
		      ctl_args_has(a, "allow-yellow") || ctl_args_has(a, "urgent")
			      ? allow_yellow(a, json_object())
			      : NULL);
}

static int config_set(struct ctl *ctl, const struct ctl_args *a)
{
	json_t *settings = json_object();

	for (size_t i = 1; i < a->npos; i++) {
		if (!add_setting(ctl, settings, a->pos[i])) {
			json_decref(settings);
			return CTL_EXIT_USAGE;
		}
	}
	return submit(ctl, a, "PATCH", cluster_path(a->pos[0], "/config"),
		      allow_yellow(a, json_pack("{s:o}", "settings", settings)));
}

/*
 * An esaasd that does not know wipe_data deletes the cluster and keeps its
 * data: the job is queued all the same, and whoever asked must know.
 */
static void wipe_data_checked(json_t *job)
{
	if (!json_is_true(json_object_get(json_object_get(job, "params"), "wipe_data")))
		fprintf(stderr, "esaasctl: warning: this esaasd did not take --wipe-data: the "
				"cluster's data stays on its hosts\n");
}

static int cluster_delete(struct ctl *ctl, const struct ctl_args *a)
{
	if (!ctl_args_has(a, "wipe-data"))
		return submit(ctl, a, "DELETE", cluster_path(a->pos[0], ""), NULL);
	return submit_checked(ctl, a, "DELETE", cluster_path(a->pos[0], ""),
			      json_pack("{s:b}", "wipe_data", 1), wipe_data_checked);
}

/* --- snapshots ---------------------------------------------------------------------- */

static int snapshot_create(struct ctl *ctl, const struct ctl_args *a)
{
	const char *name = ctl_args_get(a, "name");
	return submit(ctl, a, "POST", cluster_path(a->pos[0], "/snapshots"),
		      name ? json_pack("{s:s}", "name", name) : json_object());
}

static int snapshot_restore(struct ctl *ctl, const struct ctl_args *a)
{
	if (!ctl_args_get(a, "snapshot"))
		return ctl_usage_error(ctl, "--snapshot is required: the snapshot to restore from");
	json_t *body = json_pack("{s:s}", "snapshot", ctl_args_get(a, "snapshot"));
	const char *indices = ctl_args_get(a, "indices");
	const char *pattern = ctl_args_get(a, "rename-pattern");
	const char *replacement = ctl_args_get(a, "rename-replacement");

	if (indices)
		json_object_set_new(body, "indices", json_string(indices));
	if (pattern)
		json_object_set_new(body, "rename_pattern", json_string(pattern));
	if (replacement)
		json_object_set_new(body, "rename_replacement", json_string(replacement));
	return submit(ctl, a, "POST", cluster_path(a->pos[0], "/restore"), body);
}

static int snapshots_list(struct ctl *ctl, const struct ctl_args *a)
{
	static const char *const headers[] = {"NAME",	 "STATE",  "STARTED", "DURATION",
					      "INDICES", "SHARDS", "SIZE",    NULL};
	struct ctl_reply r;
	int rc;

	char *path = cluster_path(a->pos[0], "/snapshots");
	bool ok = ctl_http_call(ctl->http, "GET", path, NULL, &r);

	free(path);
	if (!ok)
		return CTL_EXIT_API;
	if (r.status != 200 || !r.body || ctl->output == CTL_OUTPUT_JSON) {
		rc = r.status == 200 && r.body ? ctl_print_json(r.body) : ctl_report_error(&r);
		ctl_reply_free(&r);
		return rc;
	}
	json_t *list = json_object_get(r.body, "snapshots");
	struct ctl_table *t = ctl_table_new(7, headers);
	size_t i;
	json_t *s;

	json_array_foreach (list, i, s) {
		char duration[32] = "", size[32] = "", indices[16], shards[32];
		json_t *sh = json_object_get(s, "shards");
		json_t *bytes = json_object_get(s, "size_bytes");

		if (json_is_integer(json_object_get(s, "duration_ms")))
			ctl_format_age(json_integer_value(json_object_get(s, "duration_ms")),
				       duration, sizeof(duration));
		if (json_is_integer(bytes))
			ctl_format_bytes(json_integer_value(bytes), size, sizeof(size));
		snprintf(indices, sizeof(indices), "%zu",
			 json_array_size(json_object_get(s, "indices")));
		snprintf(shards, sizeof(shards), "%lld/%lld",
			 (long long)json_integer_value(json_object_get(sh, "successful")),
			 (long long)json_integer_value(json_object_get(sh, "total")));
		ctl_table_row(t);
		ctl_table_cell(t, json_str(s, "name"));
		ctl_table_cell(t, json_str(s, "state"));
		ctl_table_cell(t, json_str(s, "start_time"));
		ctl_table_cell(t, duration);
		ctl_table_cell(t, indices);
		ctl_table_cell(t, shards);
		ctl_table_cell(t, size);
	}
	if (json_array_size(list) == 0)
		fprintf(stderr, "no snapshots\n");
	else
		ctl_table_print(t, stdout);
	ctl_table_free(t);
	ctl_reply_free(&r);
	return CTL_EXIT_OK;
}

/* --- the table ---------------------------------------------------------------------- */

#define WAIT_FLAG                                                                   \
	{                                                                           \
		"wait", 0, NULL, "follow the job until it ends, as jobs watch does" \
	}

#define DRY_RUN_FLAG                                                                               \
	{                                                                                          \
		"dry-run", 0, NULL,                                                                \
			"show the plan (states, pods, shards, quota, gates, estimate) and change " \
			"nothing"                                                                  \
	}

static const struct ctl_flag no_flags[] = {
	{NULL, 0, NULL, NULL},
};

#define ALLOW_YELLOW_FLAG                                                                       \
	{                                                                                       \
		"allow-yellow", 0, NULL,                                                        \
			"restart nodes while the cluster is yellow (by default each waits for " \
			"green)"                                                                \
	}

#define URGENT_FLAG                                                                         \
	{                                                                                   \
		"urgent", 0, "REASON",                                                      \
			"run now even outside the cluster's maintenance windows, for this " \
			"reason (audited)"                                                  \
	}

static const struct ctl_flag restarting_flags[] = {
	ALLOW_YELLOW_FLAG, URGENT_FLAG, WAIT_FLAG, DRY_RUN_FLAG, {NULL, 0, NULL, NULL},
};

static const struct ctl_flag create_flags[] = {
	{"file", 'f', "FILE", "the cluster spec, JSON or YAML (- reads standard input)"},
	{"version", 0, "VERSION", "the Elasticsearch version, e.g. 7.17.10"},
	{"masters", 0, "N", "master nodes"},
	{"data", 0, "N", "data nodes"},
	{"clients", 0, "N", "client (coordinating) nodes"},
	{"plugin", 0, "PLUGIN", "a plugin to install; repeat for more"},
	{"set", 0, "KEY=VALUE", "an elasticsearch.yml setting; repeat for more"},
	{"spread", 0, "host|rack", "no two nodes of a role on one host (default) or in one rack"},
	WAIT_FLAG,
	DRY_RUN_FLAG,
	{NULL, 0, NULL, NULL},
};

static const struct ctl_flag scale_flags[] = {
	{"role", 0, "ROLE", "data, clients or masters"},
	{"replicas", 0, "N", "how many nodes of that role"},
	{"force", 0, NULL, "scale data down even when some shard copies could not be placed"},
	WAIT_FLAG,
	DRY_RUN_FLAG,
	{NULL, 0, NULL, NULL},
};

static const struct ctl_flag restart_flags[] = {
	{"role", 0, "ROLE", "only the nodes of this role: masters, data or clients"},
	{"node", 0, "POD", "only this pod; repeat, or list more pods after it"},
	ALLOW_YELLOW_FLAG,
	URGENT_FLAG,
	WAIT_FLAG,
	DRY_RUN_FLAG,
	{NULL, 0, NULL, NULL},
};

static const struct ctl_flag upgrade_flags[] = {
	{"version", 0, "VERSION", "the Elasticsearch version to upgrade to, e.g. 7.17.10"},
	ALLOW_YELLOW_FLAG,
	URGENT_FLAG,
	WAIT_FLAG,
	DRY_RUN_FLAG,
	{NULL, 0, NULL, NULL},
};

static const struct ctl_flag credentials_flags[] = {
	{"ca-out", 0, "FILE", "write the CA (PEM) to FILE instead of printing it"},
	{NULL, 0, NULL, NULL},
};

static const struct ctl_flag pause_flags[] = {
	{"reason", 0, "TEXT", "why, for the audit log and the job's history (required)"},
	{NULL, 0, NULL, NULL},
};

static const struct ctl_flag snapshot_flags[] = {
	{"name", 0, "SNAPSHOT", "the snapshot's name (default: snapshot-<job id>)"},
	WAIT_FLAG,
	DRY_RUN_FLAG,
	{NULL, 0, NULL, NULL},
};

static const struct ctl_flag restore_flags[] = {
	{"snapshot", 0, "SNAPSHOT", "the cluster's snapshot to restore from (required)"},
	{"indices", 0, "LIST", "the indices to restore, names or patterns, comma-separated"},
	{"rename-pattern", 0, "REGEX", "restored indices renamed: what to replace"},
	{"rename-replacement", 0, "TEXT", "and what by ($1 for the first group)"},
	WAIT_FLAG,
	DRY_RUN_FLAG,
	{NULL, 0, NULL, NULL},
};

static const struct ctl_flag delete_flags[] = {
	{"wipe-data", 0, NULL, "also remove the data on the hosts (kept by default)"},
	WAIT_FLAG,
	DRY_RUN_FLAG,
	{NULL, 0, NULL, NULL},
};

const struct ctl_command ctl_clusters_commands[] = {
	{"clusters list", "", "list clusters", NULL, no_flags, 0, 0, clusters_list},
	{"clusters show", "NAME", "a cluster: its spec, status, endpoint and jobs", NULL, no_flags,
	 1, 1, clusters_show},
	{"clusters credentials", "NAME [--ca-out FILE]",
	 "the user, password and CA of a cluster's own Elasticsearch (members; audited)",
	 "For clusters with security (6.8+ created with elasticsearch.security).  For\n"
	 "example:\n"
	 "  esaasctl clusters credentials logs --ca-out ca.crt\n"
	 "  curl --cacert ca.crt -u elastic:PASSWORD https://es-http.NAMESPACE.svc:9200\n",
	 credentials_flags, 1, 1, clusters_credentials},
	{"create",
	 "[NAME] [-f SPEC] [--version V] [--masters N] [--data N] [--clients N] [--wait] "
	 "[--dry-run]",
	 "create a cluster",
	 "The spec is the body of POST /api/v1/clusters; flags override what the file\n"
	 "says, and what neither says takes esaasd's defaults.  For example:\n"
	 "  esaasctl create logs --version 7.17.10 --masters 3 --data 3 --wait\n"
	 "  esaasctl create -f logs.yaml\n",
	 create_flags, 0, 1, cluster_create},
	{"scale", "NAME --role ROLE --replicas N [--force] [--wait] [--dry-run]",
	 "change how many nodes a role has",
	 "Scaling data nodes down drains their shards off them first.  It is refused,\n"
	 "unless --force, when fewer data nodes would be left than some index has\n"
	 "copies of a shard.\n",
	 scale_flags, 1, 1, cluster_scale},
	{"restart", "NAME [--role ROLE | --node POD...] [--allow-yellow] [--wait] [--dry-run]",
	 "restart a cluster's nodes one at a time, safely",
	 "Without --role or --node every node restarts, one at a time.\n", restart_flags, 1, -1,
	 cluster_restart},
	{"upgrade", "NAME --version V [--allow-yellow] [--wait] [--dry-run]",
	 "upgrade a cluster to another version of Elasticsearch",
	 "Rolling, one node at a time (data nodes first, the masters last), within a\n"
	 "major and from 5.6, 6.8 or 7.17 to the next major, from 8.19 to 9.1 or later\n"
	 "(from 8.18 to 9.0.x); from 2.x to 5.x by a full cluster restart.  A path\n"
	 "Elasticsearch refuses names the version to upgrade to first.  For example:\n"
	 "  esaasctl upgrade logs --version 8.19.20 --dry-run\n"
	 "  esaasctl upgrade logs --version 8.19.20 --wait\n",
	 upgrade_flags, 1, 1, cluster_upgrade},
	{"secure", "NAME [--allow-yellow] [--wait] [--dry-run]",
	 "give a cluster created without security users, passwords and TLS",
	 "For 6.8 and later (not the -oss images), when esaasd runs with\n"
	 "elasticsearch.security.  TLS between the nodes cannot be turned on one node\n"
	 "at a time: every node stops, then starts secured (a full cluster restart), and\n"
	 "the cluster is unavailable meanwhile.  Then read its credentials with\n"
	 "esaasctl clusters credentials NAME.\n",
	 restarting_flags, 1, 1, cluster_secure},
	{"plugin install", "NAME PLUGIN [--allow-yellow] [--wait] [--dry-run]",
	 "install a plugin on every node of a cluster", NULL, restarting_flags, 2, 2,
	 plugin_install},
	{"plugin remove", "NAME PLUGIN [--allow-yellow] [--wait] [--dry-run]",
	 "remove a plugin from every node of a cluster", NULL, restarting_flags, 2, 2,
	 plugin_remove},
	{"config set", "NAME KEY=VALUE... [--allow-yellow] [--wait] [--dry-run]",
	 "change cluster settings",
	 "Dynamic settings change live; static ones by a rolling restart.  VALUE null\n"
	 "removes a setting; true, false and numbers are sent as such, anything else as\n"
	 "text.  For example:\n"
	 "  esaasctl config set logs search.max_buckets=20000\n",
	 restarting_flags, 2, -1, config_set},
	{"pause", "NAME --reason TEXT", "hold a cluster's jobs at their next safe boundary",
	 "The job in progress stops where nothing is left half-done (between the pods\n"
	 "of a rolling restart, once a scale step has settled) with status paused, and\n"
	 "the jobs queued behind it wait; the health checks go on.  For example:\n"
	 "  esaasctl pause logs --reason \"latency under investigation\"\n",
	 pause_flags, 1, 1, cluster_pause},
	{"resume", "NAME --reason TEXT", "let a paused cluster's jobs go on",
	 "The paused job goes on from the state where it stopped, then the queue.\n", pause_flags,
	 1, 1, cluster_resume},
	{"snapshots create", "NAME [--name SNAPSHOT] [--wait] [--dry-run]",
	 "take a snapshot of every index of a cluster",
	 "Into the cluster's repository, on the NFS export (snapshots.nfs_*) or in\n"
	 "the tenant's prefix of the S3 bucket (snapshots.s3_*).  A cancel aborts a\n"
	 "snapshot still running and removes it.  For example:\n"
	 "  esaasctl snapshots create logs --name before-reindex --wait\n",
	 snapshot_flags, 1, 1, snapshot_create},
	{"snapshots list", "NAME", "a cluster's snapshots: state, start, duration, size", NULL,
	 no_flags, 1, 1, snapshots_list},
	{"snapshots restore",
	 "NAME --snapshot SNAPSHOT [--indices LIST] [--rename-pattern REGEX --rename-replacement "
	 "TEXT] [--wait] [--dry-run]",
	 "restore indices of one of a cluster's snapshots into it",
	 "An open index of the same name is refused by Elasticsearch: rename them.  For\n"
	 "example:\n"
	 "  esaasctl snapshots restore logs --snapshot nightly --indices orders \\\n"
	 "    --rename-pattern '(.+)' --rename-replacement 'restored-$1' --wait\n"
	 "A new cluster from another's snapshot is a create with \"restore\" in its spec.\n",
	 restore_flags, 1, 1, snapshot_restore},
	{"delete", "NAME [--wipe-data] [--wait] [--dry-run]", "delete a cluster",
	 "Its Kubernetes objects go; the data on the hosts stays unless --wipe-data.\n",
	 delete_flags, 1, 1, cluster_delete},
	{NULL, NULL, NULL, NULL, NULL, 0, 0, NULL},
};
