/*
 * What the files of states/ share, and nothing outside states/ includes:
 * the rendered spec of a step, the calls made on its behalf, the pod tally,
 * the apply loop.  Each handler file includes this and states/states.h.
 */
#ifndef ESAAS_STATES_INTERNAL_H
#define ESAAS_STATES_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include <jansson.h>

#include "kube/spec.h"

struct step;
struct wf_env;
struct render_opts;
struct render_security;
struct es_credentials;
struct kube_call;
struct es_call;
struct es;
struct es_result;
struct kube_result;

/* --- common.c --- */

/* The spec and its rendered objects, for one run of a state. */
struct states_rendered {
	struct spec spec;
	json_t *objects;
	char *ns;
};

/* How often a wait looks again (engine.wait_poll_ms). */
int64_t states_poll_ms(struct step *s);

void states_rendered_free(struct states_rendered *r);
/* How esaasd renders: its configuration, the job's tenant, its cluster's
 * namespace and id as stored. */
/* The render options of the step's cluster; with sec, its security too
 * (ro->security then points into sec and the step's JSON). */
void states_render_opts(struct step *s, const struct wf_env *env, struct render_opts *ro,
			struct render_security *sec);
/* The masters' node names a create renders as cluster.initial_master_nodes
 * until they have formed (context.cluster_uuid); NULL for any other job, a
 * formed cluster or zen1.  NULL-terminated; the caller frees each and it. */
char **states_initial_masters(struct step *s, const struct spec *spec);
/* The objects of spec_json (a spec in JSON); NULL after failing the step
 * with the reason. */
struct states_rendered *states_render_spec(struct step *s, json_t *spec_json, struct wf_env **envp);
/* The objects of the job's spec (params.spec). */
struct states_rendered *states_render_job(struct step *s, struct wf_env **envp);

/* One call to Kubernetes or Elasticsearch made for a step: what it needs,
 * what is in flight (cancelled on abort), and how its result is reported. */
struct state_call {
	struct step *step;
	struct wf_env *env;
	struct states_rendered *r;
	struct kube_call *kcall;
	struct es_call *ecall;
	struct es *es;
	bool clearing;		/* undoing a change of ours */
	const char *clear_flag; /* the context flag an acknowledged undo sets false */
	json_t *nodes;		/* a first answer kept for a second request */
	json_t *spec_json;	/* the spec applied, when not params.spec (borrowed) */
	/* states_check_owner()'s continuation; present: the namespace exists */
	void (*owned)(struct state_call *l, bool present);
	/* Where the namespace's watch was when the look began (kube/watch.h). */
	uint64_t watch_seq;
};

/* A pod list counted (states_tally_pods). */
struct states_pod_tally {
	int pods, ready;
	bool old_present;	 /* the pod of skip_uid is still there */
	char first_missing[512]; /* why the first pod not ready is not */
	/* The first pod with a container that no retry of the kubelet's
	 * starts (InvalidImageName, ErrImageNeverPull), and the first whose
	 * image cannot be pulled (ErrImagePull, ImagePullBackOff): what
	 * first_missing would say of it; "" when none. */
	char unstartable[512];
	char pull_refused[512];
};

/*
 * A wait on pods that waiting will not end: the step fails (true) with
 * observed, then why, when a container cannot start whatever the kubelet
 * retries, or when a pod's image has not been pulled for
 * kubernetes.image_pull_timeout_seconds since this wait first saw it
 * refused; otherwise false, and the time of that first refusal is kept in
 * the step's context (dropped once no image is refused).
 */
bool states_fail_unstartable(struct step *s, const struct wf_env *env,
			     const struct states_pod_tally *t, const char *observed);

void states_call_finish(struct state_call *l);
/*
 * How long a wait on the cluster's pods or StatefulSets waits, before
 * states_call_finish(): 0 when the namespace's watch saw a change since
 * the look began; else the poll interval, and the namespace's next change
 * wakes the job earlier (kube/watch.h).
 */
int64_t states_wait_ms(struct state_call *l);
/*
 * The same for a wait whose pods are ready but whose Elasticsearch cannot
 * be reached yet: a Service's endpoints follow its pods' readiness within
 * moments (the endpoint controller, then the proxy's own watch of the
 * EndpointSlices), so while the namespace is watched it looks again after
 * STATES_ENDPOINTS_RETRY_MS.  (A wait that reads the watch's
 * EndpointSlices first, states_no_endpoint_yet(), is woken instead.)
 */
#define STATES_ENDPOINTS_RETRY_MS 200
int64_t states_wait_endpoints_ms(struct state_call *l);

/*
 * A wait may read the namespace's watch (kube/watch.h) instead of asking
 * the API server or Elasticsearch, but only to learn that asking would
 * find nothing new: its pods not all ready yet, its Service without a
 * ready endpoint.  A wait never moves on from what the watch says: what
 * lets it go on is always a fresh answer.  The watch is only as fresh as
 * its stream, which any change of what it reads wakes the wait through;
 * a stream that stalls unnoticed is the risk, so a state trusts it for
 * STATES_WATCH_TRUSTED_MS since it began or last asked, and then asks
 * again (states_asked()).
 */
#define STATES_WATCH_TRUSTED_MS 10000
/* May l's state still read the watch instead of asking?  False without
 * watches (kubernetes.watch: false). */
bool states_watch_trusted(struct state_call *l);
/*
 * The state began moments ago: what it has just made (a workload's pods)
 * may not have reached the watch yet.  A wait that misses them there looks
 * at the watch again after STATES_WATCH_SETTLE_MS rather than asking
 * (pods made only wake no one, kube/watch.c); missing after that, they are
 * asked for, and their workload's events explain them.
 */
#define STATES_WATCH_SETTLE_MS 200
bool states_watch_settling(struct state_call *l);
/* l's state asked the API server or Elasticsearch itself: it may trust
 * the watch again for STATES_WATCH_TRUSTED_MS. */
void states_asked(struct state_call *l);
/* The state moves on: its record of trust goes from the context. */
void states_watch_done(struct step *s);
/* The cluster's pods (of role, as states_list_pods) as the namespace's
 * watch last saw them, as a list's items; new reference.  NULL when the
 * state must ask (no watch held, or trusted too long). */
json_t *states_watched_pods(struct state_call *l, const char *role);
/* True when the watch, trusted, says service has no ready endpoint: the
 * service proxy would answer 503 "no endpoints available" at once. */
bool states_no_endpoint_yet(struct state_call *l, const char *service);

/*
 * A wait on health asks Elasticsearch to answer once the health is there
 * (_cluster/health?wait_for_status=...&timeout=...), for at most this
 * long: well under the client's 30 s, so that the call's own timeout never
 * cuts the answer.  A 408 is the long-poll run out: the wait looks again
 * at once (states_health_wait_ms).
 */
#define STATES_HEALTH_LONG_POLL "10s"
/* The status the step's health wait accepts at least: "yellow" when the
 * job allows it (allow_yellow, force), else "green". */
const char *states_health_wanted(struct step *s);
/* How long a health wait that is not satisfied waits before looking
 * again: 0 after a long-poll that ran out (408), else the poll interval. */
int64_t states_health_wait_ms(struct step *s, long status);
/* A look for the step, its spec rendered; NULL after failing the step. */
struct state_call *states_call_new(struct step *s);
/* An Elasticsearch client for one of the cluster's services, speaking the
 * spec's version (paths and bodies differ between versions). */
void states_call_connect(struct state_call *l, const char *service);
/* The step's cluster's security as render options (borrowed from the
 * step's JSON): false when it has none. */
bool states_security_of(struct step *s, struct render_security *sec);
/* The security the nodes are rendered with: a secure job's new material
 * until its switch, else states_security_of(). */
bool states_security_rendered(struct step *s, struct render_security *sec);
/* Its Elasticsearch credentials (elastic, the CA): false when none. */
bool states_es_credentials(struct step *s, struct es_credentials *cred);
/* states_call_new, with an Elasticsearch client for the cluster's service. */
struct state_call *states_call_es(struct step *s, const char *service);
/* Read the cluster's namespace: owned(l, present) when it is absent or the
 * cluster's own (render_namespace_owner()), else the step fails saying
 * whose it is, l ended.  Before a delete takes what is in it. */
void states_check_owner(struct state_call *l, void (*owned)(struct state_call *l, bool present));
/* List the cluster's pods, those of one role label when role is set
 * ("master", "data", "client", "kibana", "wipe"): cb(arg, ...) answers. */
/*
 * Pods a workload could not make say why only in the namespace's
 * FailedCreate events (the StatefulSet and ReplicaSet controllers record
 * the API server's refusal there).  Ends the step: with the newest such
 * event since the wait began in the observation (observed, then "; NAME
 * FailedCreate: message"), waiting; failed at once when the refusal is
 * Pod Security's, which no retry gets past (the namespace's level must
 * change).  observed: what the pod count says.
 */
void states_explain_missing_pods(struct state_call *l, const char *observed);
void states_list_pods(struct state_call *l, const char *role,
		      void (*cb)(void *arg, const struct kube_result *res), void *arg);
/* A Kubernetes answer to l's call: true for a success; otherwise false
 * after reporting a retry (a read is always worth another try). */
bool states_call_kube_ok(struct state_call *l, const struct kube_result *res);
/* An Elasticsearch answer to l's call: true for a success; otherwise false
 * after ending l and waiting: "<what>: <the error>" is the observation. */
bool states_call_es_ok(struct state_call *l, const struct es_result *res, const char *what);
/* End the look and report: next, retry (transient) or fail, with msg. */
void states_call_report(struct state_call *l, bool ok, bool transient, const char *msg);
/* A settings write done: next (an acknowledged undo clears l->clear_flag in
 * the context), retry or fail. */
void states_settings_put_cb(void *arg, const struct es_result *res);

/*
 * Count a pod list.  skip_deleting: pods on their way out do not count;
 * skip_uid: nor does that pod (a restarted one), only noted as present.
 */
void states_tally_pods(json_t *items, bool skip_deleting, const char *skip_uid,
		       struct states_pod_tally *t);

/* Write settings (flat, persistent) through l, connected, as
 * states_settings_put_cb reports; first a transient value of any of their
 * keys, which would shadow them, is recorded in context.transient_cleared
 * and cleared. */
void states_put_settings_over_transient(struct state_call *l, json_t *settings);

/* The value that undoes esaas's write of key: null (the default) from
 * 5.0; on 2.x, which resets nothing with null (elastic/elasticsearch#17996),
 * the persistent value recorded before the write
 * (states_put_settings_over_transient), else the setting's default. */
json_t *states_undo_value(struct step *s, const struct spec *spec, const char *key);

/* Green, or yellow when the job allows it (params.allow_yellow), or when a
 * forced scale-down accepted copies that cannot be placed (params.force). */
bool states_healthy_enough(struct step *s, const char *status);

/* --- waits.c --- */

/* state_wait_joined, for a handler that goes on to it (its next on success). */
void states_wait_joined(struct step *s);
/* A drain not done yet: wait, with seen (the caller's count of the copies,
 * allocated, taken), the cluster's health counters and, when a copy is
 * unassigned, the reason allocation/explain gives, as the observation.
 * Takes over l, which is connected. */
void states_drain_wait(struct state_call *l, char *seen);

/* --- apply.c --- */

/* Applying rendered objects one after the other (states_apply_more), resuming
 * where a failed run stopped (context.applied). */
/*
 * At most how many applies of one state are in flight at once
 * (kubernetes.apply_concurrency).  Objects of one kind go together (the
 * volumes of every host, the Services, the ConfigMaps); the next kind
 * starts once the previous kind's are all applied, so that the order of
 * the rendered list still holds between kinds.
 */
#define STATES_APPLY_WIDTH 32

struct states_apply;
struct states_apply_slot {
	struct states_apply *a;
	struct kube_call *call; /* NULL: free */
	size_t idx;		/* the object's index in r->objects */
};

struct states_apply {
	struct step *step;
	struct wf_env *env;
	struct states_rendered *r;
	const char *kind; /* NULL: every kind */
	const char *name; /* NULL: every object of the kind */
	size_t next;
	struct kube_call *call; /* a read before an apply (one at a time) */
	struct states_apply_slot slots[STATES_APPLY_WIDTH];
	unsigned in_flight; /* slots in use */
	json_t *done;	    /* applied in this state so far (apply_progress), borrowed */
	char *warned;	    /* what Kubernetes warned of, "Kind name: text; ...", or NULL */
};

void states_apply_more(struct states_apply *a);
void states_apply_finish(struct states_apply *a);
/* An apply of spec_json's objects of kind (and name), for states_apply_more() to
 * start; NULL after failing the step. */
struct states_apply *states_apply_prepare(struct step *s, json_t *spec_json, const char *kind,
					  const char *name);
void states_apply_kind_of(struct step *s, json_t *spec_json, const char *kind, const char *name);
/* Every StatefulSet of spec_json, each keeping its live spec.replicas. */
void states_apply_workloads_of(struct step *s, json_t *spec_json);
void states_apply_kind(struct step *s, const char *kind, const char *name);
/* The namespace's quota raised to at least spec_json's, never lowered. */
void states_raise_quota(struct step *s, json_t *spec_json);

/* --- checks.c --- */

/* GET the cluster's security Secret (RENDER_SECURITY_SECRET) in ns; its
 * answer (404: a cluster without security) to cb; NULL when not sent. */
struct kube_call *states_get_security_secret(struct wf_env *env, const char *ns,
					     void (*cb)(void *arg, const struct kube_result *res),
					     void *arg);

/*
 * The credentials of a cluster's security Secret (secret: the body of its
 * GET; NULL, or one without elastic's password and the CA: a cluster
 * without security, nothing put) on es: esaas's own user where the Secret
 * has its password, else elastic.  Returns elastic's password when
 * esaas's user was put (newly allocated: the fallback for a 401 while that
 * user is not made yet), else NULL; *ca (newly allocated, or NULL) the CA.
 */
char *states_es_secret_credentials(struct es *es, json_t *secret, char **ca);

#endif
