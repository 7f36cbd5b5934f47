/*
 * snapshot: a snapshot of every index of the cluster into its repository.
 *
 *   the repository registered (the cluster's folder of its tenant's NFS
 *   export, or of its tenant's prefix of the S3 bucket; verified by
 *   Elasticsearch on every node) → the snapshot
 *   started → its end waited for (SUCCESS; PARTIAL or FAILED fail the job
 *   with the first shard's reason) → the oldest beyond the spec's
 *   snapshots.keep deleted
 *
 * The schedule of the spec's snapshots.every queues the same job
 * (storage/migrations/0014_snapshots.sql), params.scheduled true.
 *
 * A cancel or a failure while the snapshot runs aborts and removes it
 * (cleanup: snapshot_abort), so that no half snapshot is left in the
 * repository, nor one holding back the next (before 7.9 a cluster runs one
 * at a time).  The snapshot's name is the request's "name", or
 * "snapshot-<job id>".
 */
#include "workflows/workflows.h"
#include "workflows/request.h"
#include "states/states.h"
#include "common/json.h"
#include "common/util.h"
#include "kube/render.h"
#include "states/env.h"
#include "common/config.h"

#include <stdlib.h>
#include <string.h>

/* clang-format off */
static const struct wf_state snapshot_states[] = {
	{.name = "snapshot_repository", .run = state_snapshot_repository, .deadline_s = 120,
	 .next = "snapshot_take", .replay_safe = true},
	{.name = "snapshot_take", .run = state_snapshot_take, .deadline_s = 600,
	 .next = "snapshot_wait", .replay_safe = true, .pause_safe = true},
	{.name = "snapshot_wait", .run = state_snapshot_wait, .deadline_s = 86400,
	 .next = "snapshot_prune", .replay_safe = true},
	{.name = "snapshot_prune", .run = state_snapshot_prune, .deadline_s = 3600,
	 .replay_safe = true, .pause_safe = true},
	/* cleanup */
	{.name = "snapshot_abort", .run = state_snapshot_abort, .deadline_s = 300},
};
/* clang-format on */

/* Elasticsearch's rules for a snapshot's name (SnapshotsService.validate):
 * lowercase, none of its forbidden characters, not starting with '_';
 * and esaas's: at most 100 characters, not "_all". */
bool wf_snapshot_name_ok(const char *field, json_t *v, struct wf_refusal *why)
{
	const char *name = json_string_value(v);
	if (!json_is_string(v) || !name[0] || strlen(name) > 100)
		return wf_refuse(why, 422, "invalid", field,
				 "%s must be a string of 1 to 100 characters", field);
	if (name[0] == '_' || name[0] == '-')
		return wf_refuse(why, 422, "invalid", field, "%s must not start with '_' or '-'",
				 field);
	for (const char *p = name; *p; p++) {
		if ((*p >= 'A' && *p <= 'Z') || strchr(" ,#\\/*?\"<>|:", *p) ||
		    (unsigned char)*p < 32)
			return wf_refuse(why, 422, "invalid", field,
					 "%s must be lowercase, without spaces, control characters "
					 "nor any of , # \\ / * ? \" < > | :",
					 field);
	}
	return true;
}

/* {} or {"name": "before-upgrade"}. */
static bool snapshot_request(const struct wf_request *rq, json_t **params, struct wf_refusal *why)
{
	static const char *const fields[] = {"name", NULL};
	json_t *name = json_object_get(rq->body, "name");

	if (!wf_request_fields(rq->body, fields, why))
		return false;
	if (name && !wf_snapshot_name_ok("name", name, why))
		return false;
	*params = name ? json_pack("{s:O}", "snapshot", name) : json_object();
	return true;
}

struct snapshot_check {
	void (*done)(void *arg, const struct wf_refusal *why);
	void *arg;
	char *name;
};

static void snapshot_listed_cb(void *arg, json_t *list, const char *error)
{
	struct snapshot_check *c = arg;
	struct wf_refusal why = {0};
	bool taken = false;
	size_t i;
	json_t *snap;
	(void)error; /* unread: the job's own states will say what is wrong */
	json_array_foreach (list, i, snap) {
		if (c->name && json_str(snap, "name") && !strcmp(json_str(snap, "name"), c->name))
			taken = true;
	}
	if (taken)
		wf_refuse(&why, 409, "conflict", "name", "snapshot %s already exists", c->name);
	c->done(c->arg, taken ? &why : NULL);
	free(c->name);
	free(c);
}

/* Snapshots configured, for this cluster's version and tenant; a name
 * asked for not taken already. */
static void snapshot_precheck(void *env, const char *tenant, const char *ns, json_t *params,
			      void (*done)(void *arg, const struct wf_refusal *why), void *arg)
{
	struct wf_env *e = env;
	struct wf_refusal why = {0};
	struct es_version v;
	const char *version = json_str(json_object_get(params, "spec"), "version");
	bool have_version = version && es_version_parse(version, &v);
	char msg[768];
	if (!states_snapshots_ready(e ? e->cfg : NULL, tenant, have_version ? &v : NULL, msg,
				    sizeof(msg))) {
		wf_refuse(&why, 409, "not_configured", "", "%s", msg);
		done(arg, &why);
		return;
	}
	const char *name = json_str(params, "snapshot");
	if (!name) {
		done(arg, NULL);
		return;
	}
	struct snapshot_check *c = xcalloc(1, sizeof(*c));
	c->done = done;
	c->arg = arg;
	c->name = xstrdup(name);
	states_read_snapshots(env, tenant, ns, json_object_get(params, "spec"), snapshot_listed_cb,
			      c);
}

const struct workflow wf_snapshot = {
	.kind = "snapshot",
	.states = snapshot_states,
	.nstates = sizeof(snapshot_states) / sizeof(snapshot_states[0]),
	.cleanup = "snapshot_abort",
	.request = snapshot_request,
	.precheck = snapshot_precheck,
};
