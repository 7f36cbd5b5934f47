/*
 * The create's waits: every pod ready, the masters formed, health green.
 */
#include "states/states.h"
#include "common/json.h"
#include "states/internal.h"
#include "states/env.h"
#include "common/config.h"
#include "common/util.h"
#include "engine/fsm.h"
#include "es/client.h"
#include "kube/client.h"
#include "kube/render.h"
#include "kube/spec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int expected_pods(const struct spec *spec)
{
	int n = 0;
	for (int r = 0; r < ES_ROLE_COUNT; r++)
		n += spec->nodes[r].replicas;
	return n;
}

static void pods_listed_cb(void *arg, const struct kube_result *res)
{
	struct state_call *l = arg;
	l->kcall = NULL;
	struct step *s = l->step;
	if (res->klass != HTTPC_OK) {
		states_call_report(l, false, res->klass == HTTPC_TRANSIENT,
				   res->message ? res->message : "listing pods failed");
		return;
	}
	int want = expected_pods(&l->r->spec);
	struct states_pod_tally t;
	states_tally_pods(json_object_get(res->body, "items"), false, NULL, &t);
	states_call_finish(l);
	if (t.ready >= want)
		step_next(s);
	else
		step_wait(s, states_poll_ms(s), "%d of %d pods ready%s%s", t.ready, want,
			  t.first_missing[0] ? "; " : "", t.first_missing);
}

void state_wait_pods_ready(struct step *s)
{
	struct state_call *l = states_call_new(s);
	if (!l)
		return;
	states_list_pods(l, NULL, pods_listed_cb, l);
}

static void masters_cb(void *arg, const struct es_result *res)
{
	struct state_call *l = arg;
	l->ecall = NULL;
	struct step *s = l->step;
	const char *uuid = json_str(res->body, "cluster_uuid");
	char *msg = res->message ? xstrdup(res->message) : NULL;
	bool ok = res->klass == HTTPC_OK;
	bool formed = ok && uuid && strcmp(uuid, "_na_") != 0;
	states_call_finish(l);
	if (formed)
		step_next(s);
	else if (ok)
		step_wait(s, states_poll_ms(s),
			  "the masters answer but have not elected a master yet");
	else
		/* Not reachable yet is what this state waits out, not an error. */
		step_wait(s, states_poll_ms(s), "masters not reachable yet: %s",
			  msg ? msg : "no answer");
	free(msg);
}

void state_wait_masters_formed(struct step *s)
{
	struct state_call *l = states_call_new(s);
	if (!l)
		return;
	char *svc = render_headless_service(l->r->ns);
	states_call_connect(l, svc);
	free(svc);
	l->ecall = es_info(l->es, masters_cb, l);
}

static void health_cb(void *arg, const struct es_result *res)
{
	struct state_call *l = arg;
	l->ecall = NULL;
	struct step *s = l->step;
	const char *status = json_str(res->body, "status");
	json_int_t unassigned = json_integer_value(json_object_get(res->body, "unassigned_shards"));
	json_int_t nodes = json_integer_value(json_object_get(res->body, "number_of_nodes"));
	char *msg = res->message ? xstrdup(res->message) : NULL;
	bool green = states_healthy_enough(s, status);
	char *seen = xstrdup(status ? status : "");
	states_call_finish(l);
	if (green)
		step_next(s);
	else if (seen[0])
		step_wait(s, states_poll_ms(s), "health %s: %lld nodes, %lld unassigned shards",
			  seen, (long long)nodes, (long long)unassigned);
	else
		step_wait(s, states_poll_ms(s), "health not readable yet: %s",
			  msg ? msg : "no answer");
	free(seen);
	free(msg);
}

void state_wait_green(struct step *s)
{
	struct state_call *l = states_call_es(s, RENDER_HTTP_SERVICE);
	if (!l)
		return;
	l->ecall = es_health(l->es, NULL, NULL, false, health_cb, l);
}
