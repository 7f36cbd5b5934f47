#include "sim/simconf.h"

#include <arpa/inet.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include "common/yamljson.h"

static struct simconf conf;
static uint64_t rng_state;

const struct simconf *simconf_get(void)
{
	return &conf;
}

static bool parse_number(const char *s, double *num, const char **suffix)
{
	char *end;
	if (!s || !*s)
		return false;
	*num = strtod(s, &end);
	if (end == s || *num < 0 || isnan(*num) || isinf(*num))
		return false;
	*suffix = end;
	return true;
}

bool simconf_quantity_milli(const char *s, int64_t *out)
{
	double v;
	const char *suf;
	if (!parse_number(s, &v, &suf))
		return false;
	if (!strcmp(suf, "m"))
		*out = (int64_t)llround(v);
	else if (!*suf)
		*out = (int64_t)llround(v * 1000);
	else
		return false;
	return true;
}

bool simconf_quantity(const char *s, int64_t *out)
{
	static const struct {
		const char *suffix;
		double mult;
	} units[] = {
		{"", 1},
		{"k", 1e3},
		{"M", 1e6},
		{"G", 1e9},
		{"T", 1e12},
		{"Ki", 1024.0},
		{"Mi", 1024.0 * 1024},
		{"Gi", 1024.0 * 1024 * 1024},
		{"Ti", 1024.0 * 1024 * 1024 * 1024},
		{"m", 1e-3},
	};
	double v;
	const char *suf;
	if (!parse_number(s, &v, &suf))
		return false;
	for (size_t i = 0; i < ARRAY_SIZE(units); i++) {
		if (!strcmp(suf, units[i].suffix)) {
			*out = (int64_t)llround(v * units[i].mult);
			return true;
		}
	}
	return false;
}

static bool get_int(json_t *obj, const char *key, int min, int max, int *out, char **err)
{
	json_t *v = json_object_get(obj, key);
	if (!v)
		return true;
	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
		*err = xasprintf("%s: an integer from %d to %d is expected", key, min, max);
		return false;
	}
	*out = (int)json_integer_value(v);
	return true;
}

static bool get_str(json_t *obj, const char *key, char **out, char **err)
{
	json_t *v = json_object_get(obj, key);
	if (!v)
		return true;
	if (!json_is_string(v)) {
		*err = xasprintf("%s: a string is expected", key);
		return false;
	}
	free(*out);
	*out = xstrdup(json_string_value(v));
	return true;
}

/* A quantity may be written as a YAML number or a string. */
static bool get_quantity(json_t *obj, const char *key, bool milli, int64_t *out, char **err)
{
	json_t *v = json_object_get(obj, key);
	char buf[64];
	const char *s;
	bool ok;
	if (!v)
		return true;
	if (json_is_integer(v)) {
		snprintf(buf, sizeof(buf), "%lld", (long long)json_integer_value(v));
		s = buf;
	} else if (json_is_real(v)) {
		snprintf(buf, sizeof(buf), "%g", json_real_value(v));
		s = buf;
	} else {
		s = json_string_value(v);
	}
	ok = s && (milli ? simconf_quantity_milli(s, out) : simconf_quantity(s, out));
	if (!ok)
		*err = xasprintf("%s: not a quantity", key);
	return ok;
}

bool simconf_split_listen(const char *s, char **host, int *port)
{
	const char *colon = strrchr(s, ':');
	if (!colon || colon == s)
		return false;
	if (!parse_int(colon + 1, 0, 65535, port))
		return false;
	if (s[0] == '[' && colon[-1] == ']')
		*host = xstrndup(s + 1, (size_t)(colon - s - 2));
	else
		*host = xstrndup(s, (size_t)(colon - s));
	return true;
}

/* A client of the pod network, at key: {listen?, namespace?, labels?, ip}. */
static bool podnet_source_ok(json_t *src, const char *key, bool listen, char **err)
{
	const char *k;
	json_t *v;
	unsigned char addr[16];
	const char *ip = json_string_value(json_object_get(src, "ip"));
	json_t *ns = json_object_get(src, "namespace");
	json_t *labels = json_object_get(src, "labels");

	if (!json_is_object(src)) {
		*err = xasprintf("%s: a mapping is expected", key);
		return false;
	}
	json_object_foreach (src, k, v) {
		if (strcmp(k, "namespace") && strcmp(k, "labels") && strcmp(k, "ip") &&
		    strcmp(k, listen ? "listen" : "others")) {
			*err = xasprintf("%s.%s: not a key of a pod network client", key, k);
			return false;
		}
	}
	if (!ip || inet_pton(strchr(ip, ':') ? AF_INET6 : AF_INET, ip, addr) != 1) {
		*err = xasprintf("%s.ip: an IP address is expected", key);
		return false;
	}
	if (ns && (!json_is_string(ns) || !json_string_length(ns))) {
		*err = xasprintf("%s.namespace: a namespace's name is expected", key);
		return false;
	}
	if (labels && !json_is_object(labels)) {
		*err = xasprintf("%s.labels: a mapping of strings is expected", key);
		return false;
	}
	json_object_foreach (labels, k, v) {
		if (!json_is_string(v)) {
			*err = xasprintf("%s.labels.%s: a string is expected", key, k);
			return false;
		}
	}
	if (labels && !ns) {
		*err = xasprintf("%s.labels: labels are a pod's; name its namespace", key);
		return false;
	}
	if (listen) {
		const char *l = json_string_value(json_object_get(src, "listen"));
		char *host = NULL;
		int port;
		bool ok = l && simconf_split_listen(l, &host, &port) && port > 0;
		free(host);
		if (!ok) {
			*err = xasprintf("%s.listen: HOST:PORT is expected", key);
			return false;
		}
	}
	return true;
}

/* pod_network: the listener's client and the others', each checked. */
static bool load_pod_network(json_t *sec, char **err)
{
	json_t *merged, *others;
	size_t i;
	json_t *o;

	if (!json_is_object(sec)) {
		*err = xstrdup("pod_network: a mapping is expected");
		return false;
	}
	/* A client the file names is named whole (ip included); else esaasd. */
	if (json_object_get(sec, "namespace") || json_object_get(sec, "labels") ||
	    json_object_get(sec, "ip"))
		merged = json_object();
	else
		merged = json_deep_copy(conf.pod_network);
	json_object_update(merged, sec);
	others = json_object_get(merged, "others");
	if (!others)
		json_object_set_new(merged, "others", others = json_array());
	if (!podnet_source_ok(merged, "pod_network", false, err))
		goto failed;
	if (!json_is_array(others)) {
		*err = xstrdup("pod_network.others: a list is expected");
		goto failed;
	}
	json_array_foreach (others, i, o) {
		char key[64];
		snprintf(key, sizeof(key), "pod_network.others[%zu]", i);
		if (!podnet_source_ok(o, key, true, err))
			goto failed;
	}
	json_decref(conf.pod_network);
	conf.pod_network = merged;
	return true;
failed:
	json_decref(merged);
	return false;
}

static void set_defaults(void)
{
	conf.log_level = xstrdup("info");
	conf.tick_ms = 50;
	conf.node_count = 3;
	conf.hostname_prefix = xstrdup("node");
	conf.rack_label = xstrdup("topology.kubernetes.io/zone");
	conf.racks = NULL;
	conf.nracks = 0;
	conf.node_cpu_milli = 8000;
	conf.node_memory = 32LL * 1024 * 1024 * 1024;
	conf.node_disk = 100LL * 1024 * 1024 * 1024;
	conf.node_pods = 110;
	conf.pod_ready_delay_ms = 1000;
	/* An Elasticsearch pod ends on SIGTERM within seconds (flush and
	 * leave), well inside its terminationGracePeriodSeconds. */
	conf.pod_terminate_ms = 2000;
	/* pkg/controller/podgc/gc_controller.go: quarantineTime. */
	conf.pod_gc_quarantine_ms = 40000;
	/* An Elasticsearch image is some 400 MB to 1 GB of layers, which a
	 * node fetches and unpacks in seconds from a registry near it. */
	conf.image_pull_ms = 5000;
	conf.images_extra = json_array();
	/* The control plane's address as the pods see it (a kind or kubeadm
	 * control-plane node); the proxy dials from it. */
	conf.control_plane_ip = xstrdup("172.18.0.2");
	/* cmd/kube-apiserver/app/server.go, CreateProxyTransport: no dialer
	 * of its own, so utilnet.SetTransportDefaults gives it Go's
	 * http.DefaultTransport's, a net.Dialer with a 30 s Timeout. */
	conf.proxy_dial_timeout_ms = 30000;
	conf.relocation_ms = 2000;
	conf.recovery_ms = 500;
	conf.node_left_delay_ms = 60000;
	conf.no_master_wait_ms = 30000;
	conf.initial_state_timeout_ms = 30000;
	/* esaasd as deploy/kubernetes runs it: deployment.yaml's pod labels in
	 * namespace.yaml's namespace, with an address of the pod network. */
	conf.pod_network =
		json_pack("{s:s, s:{s:s, s:s}, s:s, s:[]}", "namespace", "esaas-system", "labels",
			  "app.kubernetes.io/name", "esaasd", "app.kubernetes.io/component", "api",
			  "ip", "10.244.255.2", "others");
	conf.indices = json_array();
	conf.faults = NULL;
	conf.seed_given = false;
	if (getrandom(&conf.seed, sizeof(conf.seed), 0) != sizeof(conf.seed))
		conf.seed = (uint64_t)now_wall_us();
	/* Kept below 2^53 so that YAML and JSON readers take it back exactly. */
	conf.seed &= (1ULL << 53) - 1;
}

/* splitmix64: every seed, 0 included, gives a full-period sequence. */
static uint64_t rng_next(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

uint64_t simconf_rand_below(uint64_t n)
{
	if (n == 0)
		return 0;
	uint64_t limit = UINT64_MAX - UINT64_MAX % n;
	uint64_t r;
	do
		r = rng_next();
	while (r >= limit);
	return r % n;
}

static bool nonempty_string(const json_t *v)
{
	return json_is_string(v) && json_string_length(v) > 0;
}

/* object_store: what sim/s3.c serves (see sim/s3.h). */
static bool object_store_valid(const json_t *sec, char **err)
{
	if (!json_is_object(sec)) {
		*err = xstrdup("object_store: a mapping is expected");
		return false;
	}
	json_t *endpoint = json_object_get(sec, "endpoint");
	if (endpoint && !nonempty_string(endpoint)) {
		*err = xstrdup("object_store.endpoint: host[:port] is expected");
		return false;
	}
	json_t *buckets = json_object_get(sec, "buckets");
	size_t i;
	json_t *v;
	if (buckets && !json_is_array(buckets)) {
		*err = xstrdup("object_store.buckets: a list of names is expected");
		return false;
	}
	json_array_foreach (buckets, i, v) {
		if (!nonempty_string(v)) {
			*err = xasprintf("object_store.buckets[%zu]: a bucket's name is expected",
					 i);
			return false;
		}
	}
	json_t *keys = json_object_get(sec, "keys");
	if (keys && !json_is_array(keys)) {
		*err = xstrdup("object_store.keys: a list is expected");
		return false;
	}
	json_array_foreach (keys, i, v) {
		static const char *const fields[] = {"access_key", "secret_key", "bucket"};
		for (size_t k = 0; k < ARRAY_SIZE(fields); k++) {
			if (!nonempty_string(json_object_get(v, fields[k]))) {
				*err = xasprintf("object_store.keys[%zu].%s: a non-empty string "
						 "is expected",
						 i, fields[k]);
				return false;
			}
		}
		json_t *prefix = json_object_get(v, "prefix");
		if (prefix && !json_is_string(prefix)) {
			*err = xasprintf("object_store.keys[%zu].prefix: a string is expected", i);
			return false;
		}
	}
	return true;
}

static bool load(json_t *root, char **err)
{
	json_t *sec;
	if (!json_is_object(root)) {
		*err = xstrdup("the configuration must be a mapping");
		return false;
	}
	if (!get_int(root, "tick_ms", 1, 10000, &conf.tick_ms, err))
		return false;
	if ((sec = json_object_get(root, "log")) && !get_str(sec, "level", &conf.log_level, err))
		return false;
	if ((sec = json_object_get(root, "nodes"))) {
		if (!get_int(sec, "count", 0, 10000, &conf.node_count, err) ||
		    !get_str(sec, "hostname_prefix", &conf.hostname_prefix, err) ||
		    !get_str(sec, "rack_label", &conf.rack_label, err) ||
		    !get_quantity(sec, "cpu", true, &conf.node_cpu_milli, err) ||
		    !get_quantity(sec, "memory", false, &conf.node_memory, err) ||
		    !get_quantity(sec, "disk", false, &conf.node_disk, err) ||
		    !get_int(sec, "pods", 1, 100000, &conf.node_pods, err))
			return false;
		json_t *racks = json_object_get(sec, "racks");
		size_t i;
		json_t *r;
		if (racks && !json_is_array(racks)) {
			*err = xstrdup("nodes.racks: a list is expected");
			return false;
		}
		json_array_foreach (racks, i, r) {
			if (!json_is_string(r)) {
				*err = xstrdup("nodes.racks: strings are expected");
				return false;
			}
			conf.racks =
				xrealloc(conf.racks, (size_t)(conf.nracks + 1) * sizeof(char *));
			conf.racks[conf.nracks++] = xstrdup(json_string_value(r));
		}
	}
	if ((sec = json_object_get(root, "pods"))) {
		if (!get_int(sec, "ready_delay_ms", 0, 3600000, &conf.pod_ready_delay_ms, err) ||
		    !get_int(sec, "terminate_ms", 0, 3600000, &conf.pod_terminate_ms, err) ||
		    !get_int(sec, "gc_quarantine_ms", 0, 3600000, &conf.pod_gc_quarantine_ms, err))
			return false;
	}
	if ((sec = json_object_get(root, "images"))) {
		json_t *extra = json_object_get(sec, "extra");
		size_t i;
		json_t *e;
		if (!get_int(sec, "pull_ms", 0, 3600000, &conf.image_pull_ms, err))
			return false;
		if (extra && !json_is_array(extra)) {
			*err = xstrdup("images.extra: a list is expected");
			return false;
		}
		json_array_foreach (extra, i, e) {
			if (!json_is_string(e)) {
				*err = xstrdup("images.extra: image references are expected");
				return false;
			}
		}
		if (extra) {
			json_decref(conf.images_extra);
			conf.images_extra = json_incref(extra);
		}
	}
	if ((sec = json_object_get(root, "network"))) {
		if (!get_str(sec, "control_plane_ip", &conf.control_plane_ip, err) ||
		    !get_int(sec, "proxy_dial_timeout_ms", 0, 3600000, &conf.proxy_dial_timeout_ms,
			     err))
			return false;
	}
	if ((sec = json_object_get(root, "pod_network")) && !load_pod_network(sec, err))
		return false;
	if ((sec = json_object_get(root, "serviceaccounts"))) {
		int life = 0;
		if (!get_int(sec, "token_life_ms", 0, 86400000, &life, err))
			return false;
		conf.token_life_ms = life;
	}
	if ((sec = json_object_get(root, "pod_security"))) {
		if (!get_str(sec, "force_enforce", &conf.pod_security_force_enforce, err) ||
		    !get_str(sec, "default_enforce", &conf.pod_security_default_enforce, err))
			return false;
		const char *keys[] = {"force_enforce", "default_enforce"};
		const char *vals[] = {conf.pod_security_force_enforce,
				      conf.pod_security_default_enforce};
		for (size_t i = 0; i < 2; i++) {
			const char *l = vals[i];
			if (l && strcmp(l, "privileged") && strcmp(l, "baseline") &&
			    strcmp(l, "restricted")) {
				*err = xasprintf("pod_security.%s: privileged, baseline or "
						 "restricted expected, got \"%s\"",
						 keys[i], l);
				return false;
			}
		}
	}
	if ((sec = json_object_get(root, "elasticsearch"))) {
		if (!get_int(sec, "relocation_ms", 0, 3600000, &conf.relocation_ms, err) ||
		    !get_int(sec, "recovery_ms", 0, 3600000, &conf.recovery_ms, err) ||
		    !get_int(sec, "node_left_delay_ms", 0, 86400000, &conf.node_left_delay_ms,
			     err) ||
		    !get_int(sec, "no_master_wait_ms", 0, 3600000, &conf.no_master_wait_ms, err) ||
		    !get_int(sec, "initial_state_timeout_ms", 0, 3600000,
			     &conf.initial_state_timeout_ms, err))
			return false;
		json_t *ix = json_object_get(sec, "indices");
		if (ix) {
			if (!json_is_array(ix)) {
				*err = xstrdup("elasticsearch.indices: a list is expected");
				return false;
			}
			size_t k;
			json_t *one;
			json_array_foreach (ix, k, one) {
				json_t *size = json_object_get(one, "shard_size");
				int64_t b;

				if (size &&
				    (!json_is_string(size) ||
				     !simconf_bytes(json_string_value(size), &b) || b < 0)) {
					*err = xasprintf("elasticsearch.indices[%zu].shard_size: a "
							 "size such as \"500mb\" is expected",
							 k);
					return false;
				}
			}
			json_decref(conf.indices);
			conf.indices = json_incref(ix);
		}
	}
	if ((sec = json_object_get(root, "seed"))) {
		if (!json_is_integer(sec) || json_integer_value(sec) < 0) {
			*err = xstrdup("seed: a non-negative integer is expected");
			return false;
		}
		conf.seed = (uint64_t)json_integer_value(sec);
		conf.seed_given = true;
	}
	if ((sec = json_object_get(root, "object_store"))) {
		if (!object_store_valid(sec, err))
			return false;
		json_decref(conf.object_store);
		conf.object_store = json_incref(sec);
	}
	if ((sec = json_object_get(root, "faults"))) {
		if (!json_is_array(sec)) {
			*err = xstrdup("faults: a list is expected");
			return false;
		}
		conf.faults = json_incref(sec);
	}
	return true;
}

bool simconf_load(const char *path, char **err)
{
	json_t *root;
	bool ok;

	*err = NULL;
	set_defaults();
	rng_state = conf.seed;
	if (!path)
		return true;
	root = yamljson_load_file(path, err);
	if (!root)
		return false;
	if (json_is_null(root)) {
		json_decref(root);
		return true;
	}
	ok = load(root, err);
	rng_state = conf.seed;
	if (!ok) {
		char *e = xasprintf("%s: %s", path, *err);
		free(*err);
		*err = e;
	}
	json_decref(root);
	return ok;
}

void simconf_free(void)
{
	free(conf.log_level);
	free(conf.hostname_prefix);
	free(conf.rack_label);
	free(conf.control_plane_ip);
	free(conf.pod_security_force_enforce);
	free(conf.pod_security_default_enforce);
	for (int i = 0; i < conf.nracks; i++)
		free(conf.racks[i]);
	free(conf.racks);
	json_decref(conf.indices);
	json_decref(conf.faults);
	json_decref(conf.images_extra);
	json_decref(conf.pod_network);
	json_decref(conf.object_store);
	memset(&conf, 0, sizeof(conf));
}

bool simconf_bytes(const char *s, int64_t *out)
{
	static const struct {
		const char *unit;
		int64_t factor;
	} units[] = {{"", 1},	       {"b", 1},	  {"k", 1LL << 10}, {"kb", 1LL << 10},
		     {"m", 1LL << 20}, {"mb", 1LL << 20}, {"g", 1LL << 30}, {"gb", 1LL << 30},
		     {"t", 1LL << 40}, {"tb", 1LL << 40}, {"p", 1LL << 50}, {"pb", 1LL << 50}};
	char *end;
	double n;

	if (!s || !*s)
		return false;
	n = strtod(s, &end);
	if (end == s || n < -1 || n > 1e18)
		return false;
	for (size_t i = 0; i < ARRAY_SIZE(units); i++) {
		if (strcasecmp(end, units[i].unit))
			continue;
		/* A bare number is bytes only for -1 and 0, as ByteSizeValue has it. */
		if (!*end && n != 0 && n != -1)
			return false;
		*out = (int64_t)(n * (double)units[i].factor);
		return true;
	}
	return false;
}
