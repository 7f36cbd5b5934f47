#include "sim/images.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "sim/simconf.h"

/* What a node holds: an image, there from ready_ms (a pull ends then). */
struct node_image {
	char *node;
	char *image;
	int64_t ready_ms;
	struct node_image *next;
};

/* A node's pull queue: serialised pulls end one after the other. */
struct node_queue {
	char *node;
	int64_t busy_until_ms;
	struct node_queue *next;
};

struct backoff {
	char *key; /* "<pod uid>_<image as written>", as image_manager.go keys it */
	int64_t last_ms;
	int64_t backoff_ms;
	struct backoff *next;
};

static struct node_image *held;
static struct node_queue *queues;
static struct backoff *backoffs;

/* pkg/kubelet/kubelet.go: the image back-off starts at backOffPeriod and
 * stops at MaxContainerBackOff; flowcontrol's hasExpired forgets an entry
 * after twice the maximum. */
#define BACKOFF_INITIAL_MS 10000
#define BACKOFF_MAX_MS 300000

static bool path_component_ok(const char *s, size_t n)
{
	/* [a-z0-9]+ joined by ".", "_", "__" or "-"+ (reference/regexp.go). */
	if (n == 0 || !isalnum((unsigned char)s[0]) || !isalnum((unsigned char)s[n - 1]))
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (isupper(ch))
			return false;
		if (isalnum(ch))
			continue;
		if (ch == '.' || ch == '_') {
			if (!isalnum((unsigned char)s[i + 1]) &&
			    !(ch == '_' && s[i + 1] == '_' && isalnum((unsigned char)s[i + 2])))
				return false;
			if (ch == '_' && s[i + 1] == '_')
				i++;
			continue;
		}
		if (ch == '-')
			continue;
		return false;
	}
	return true;
}

static bool domain_ok(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (!isalnum(ch) && ch != '.' && ch != '-' && ch != ':')
			return false;
	}
	return n > 0;
}

static bool tag_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 128 || !(isalnum((unsigned char)s[0]) || s[0] == '_'))
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (!isalnum(ch) && ch != '_' && ch != '.' && ch != '-')
			return false;
	}
	return true;
}

static bool digest_ok(const char *s)
{
	const char *colon = strchr(s, ':');
	if (!colon || colon == s || !colon[1])
		return false;
	if (!strncmp(s, "sha256:", 7) && strlen(colon + 1) != 64)
		return false;
	for (const char *p = colon + 1; *p; p++) {
		if (!isxdigit((unsigned char)*p) || isupper((unsigned char)*p))
			return false;
	}
	return true;
}

/* github.com/distribution/reference: ParseNormalizedNamed, then the
 * kubelet's default tag (applyDefaultImageTag). */
char *images_normalize(const char *ref, const char **err)
{
	static const char bad[] = "invalid reference format";
	static const char upper[] = "invalid reference format: repository name must be lowercase";
	char *copy = xstrdup(ref ? ref : "");
	char *digest = strchr(copy, '@');
	char *tag = NULL;
	char *out = NULL;

	*err = bad;
	if (digest)
		*digest++ = '\0';
	char *slash = strrchr(copy, '/');
	char *colon = strrchr(slash ? slash : copy, ':');
	if (colon) {
		*colon = '\0';
		tag = colon + 1;
	}
	if (!*copy || (tag && !tag_ok(tag)) || (digest && !digest_ok(digest)))
		goto done;
	/* The domain: a first component with a dot or a port, or localhost. */
	const char *path = copy;
	char *first_slash = strchr(copy, '/');
	char *domain = NULL;
	if (first_slash) {
		size_t dn = (size_t)(first_slash - copy);
		if (memchr(copy, '.', dn) || memchr(copy, ':', dn) ||
		    (dn == 9 && !strncmp(copy, "localhost", 9))) {
			if (!domain_ok(copy, dn))
				goto done;
			domain = xstrndup(copy, dn);
			path = first_slash + 1;
		}
	}
	for (const char *p = path;;) {
		const char *end = strchr(p, '/');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		for (size_t i = 0; i < n; i++) {
			if (isupper((unsigned char)p[i])) {
				*err = upper;
				free(domain);
				goto done;
			}
		}
		if (!path_component_ok(p, n)) {
			free(domain);
			goto done;
		}
		if (!end)
			break;
		p = end + 1;
	}
	bool hub = !domain || !strcmp(domain, "docker.io") || !strcmp(domain, "index.docker.io");
	const char *host = hub ? "docker.io" : domain;
	const char *library = hub && !strchr(path, '/') ? "library/" : "";
	/* reference.Parse of the normalized name: NameTotalLengthMax. */
	if (strlen(host) + 1 + strlen(library) + strlen(path) > 255) {
		*err = "repository name must not be more than 255 characters";
		free(domain);
		goto done;
	}
	if (digest)
		out = xasprintf("%s/%s%s%s%s@%s", host, library, path, tag ? ":" : "",
				tag ? tag : "", digest);
	else
		out = xasprintf("%s/%s%s:%s", host, library, path, tag ? tag : "latest");
	free(domain);
	*err = NULL;
done:
	free(copy);
	return out;
}

const char *images_default_pull_policy(const char *ref)
{
	/* parsers.ParseImageName: no tag and no digest is the tag latest. */
	const char *err;
	char *n = images_normalize(ref, &err);
	bool latest = false;
	if (n) {
		size_t len = strlen(n);
		latest = !strchr(n, '@') && len > 7 && !strcmp(n + len - 7, ":latest");
	}
	free(n);
	return latest ? "Always" : "IfNotPresent";
}

/* "X.Y.Z" with major from lo to hi. */
static bool version_tag(const char *tag, int lo, int hi)
{
	int part = 0, value = 0, major = -1, digits = 0;
	for (const char *p = tag;; p++) {
		if (isdigit((unsigned char)*p)) {
			value = value * 10 + (*p - '0');
			if (++digits > 4)
				return false;
			continue;
		}
		if (digits == 0 || (*p != '.' && *p))
			return false;
		if (part == 0)
			major = value;
		part++;
		value = digits = 0;
		if (!*p)
			break;
	}
	return part == 3 && major >= lo && major <= hi;
}

static bool listed(const char *tag, const char *const *tags)
{
	for (size_t i = 0; tags[i]; i++) {
		if (!strcmp(tag, tags[i]))
			return true;
	}
	return false;
}

/*
 * The repositories the registry serves and which of their tags exist.
 * Elastic publishes every release under docker.elastic.co from 5.0 (the
 * -oss images from 6.0 to 7.10), 9.x's too; Docker Hub's official
 * elasticsearch and kibana images have the 2.x releases (and the later
 * ones).
 * https://www.docker.elastic.co/; https://hub.docker.com/_/elasticsearch
 */
static int repository_has(const char *repo, const char *tag)
{
	static const char *const busybox[] = {"latest", "stable", "musl",   "glibc", "uclibc",
					      "1",	"1.35",	  "1.35.0", "1.36",  "1.36.0",
					      "1.36.1", "1.37",	  "1.37.0", NULL};
	static const char *const nginx[] = {"latest", "stable", "mainline", "1",
					    "1.25",   "1.25.5", "1.26",	    "1.26.2",
					    "1.27",   "1.27.3", "alpine",   NULL};
	static const struct {
		const char *repo;
		int lo, hi;
	} versioned[] = {
		{"docker.elastic.co/elasticsearch/elasticsearch", 5, 9},
		{"docker.elastic.co/elasticsearch/elasticsearch-oss", 6, 7},
		{"docker.elastic.co/kibana/kibana", 5, 9},
		{"docker.elastic.co/kibana/kibana-oss", 6, 7},
		{"docker.io/library/elasticsearch", 1, 9},
		{"docker.io/library/kibana", 4, 9},
	};
	if (!strcmp(repo, "docker.io/library/busybox"))
		return listed(tag, busybox);
	if (!strcmp(repo, "docker.io/library/nginx"))
		return listed(tag, nginx);
	for (size_t i = 0; i < ARRAY_SIZE(versioned); i++) {
		if (!strcmp(repo, versioned[i].repo))
			return version_tag(tag, versioned[i].lo, versioned[i].hi);
	}
	return -1; /* no such repository */
}

bool images_registry_has(const char *normalized, char **why)
{
	const json_t *extra = simconf_get()->images_extra;
	size_t i;
	json_t *e;
	json_array_foreach (extra, i, e) {
		const char *err;
		char *n = images_normalize(json_string_value(e), &err);
		bool same = n && !strcmp(n, normalized);
		free(n);
		if (same)
			return true;
	}
	/* The repository, and the tag or digest. */
	char *repo = xstrdup(normalized);
	char *at = strchr(repo, '@');
	char *slash = strrchr(repo, '/');
	char *colon = at ? NULL : strrchr(slash ? slash : repo, ':');
	const char *tag = "";
	if (at)
		*at = '\0';
	else if (colon) {
		*colon = '\0';
		tag = colon + 1;
	}
	/* A digest is known only when the configuration lists it. */
	int has = at ? (repository_has(repo, "latest") >= 0 ? 0 : -1) : repository_has(repo, tag);
	bool found = has == 1;
	/*
	 * containerd's errors, as the CRI wraps them: a manifest that the
	 * repository does not have is NotFound; a repository that is not
	 * there is refused by the registry's authorisation (Docker Hub and
	 * distribution registries answer 401 insufficient_scope).
	 */
	if (!found && has == 0)
		*why = xasprintf(
			"rpc error: code = NotFound desc = failed to pull and unpack image "
			"\"%s\": failed to resolve reference \"%s\": %s: not found",
			normalized, normalized, normalized);
	else if (!found)
		*why = xasprintf("rpc error: code = Unknown desc = failed to pull and unpack image "
				 "\"%s\": failed to resolve reference \"%s\": pull access denied, "
				 "repository does not exist or may require authorization: server "
				 "message: insufficient_scope: authorization failed",
				 normalized, normalized);
	free(repo);
	return found;
}

static struct node_image *held_find(const char *node, const char *image)
{
	for (struct node_image *h = held; h; h = h->next) {
		if (!strcmp(h->node, node) && !strcmp(h->image, image))
			return h;
	}
	return NULL;
}

bool images_present(const char *node, const char *normalized, int64_t now)
{
	struct node_image *h = held_find(node, normalized);
	return h && h->ready_ms <= now;
}

int64_t images_pull(const char *node, const char *normalized, int64_t now, int64_t *took)
{
	struct node_image *h = held_find(node, normalized);
	if (h && h->ready_ms > now) {
		*took = h->ready_ms - now;
		return h->ready_ms;
	}
	struct node_queue *q;
	for (q = queues; q && strcmp(q->node, node); q = q->next)
		;
	if (!q) {
		q = xcalloc(1, sizeof(*q));
		q->node = xstrdup(node);
		q->next = queues;
		queues = q;
	}
	int64_t start = q->busy_until_ms > now ? q->busy_until_ms : now;
	q->busy_until_ms = start + simconf_get()->image_pull_ms;
	if (!h) {
		h = xcalloc(1, sizeof(*h));
		h->node = xstrdup(node);
		h->image = xstrdup(normalized);
		h->next = held;
		held = h;
	}
	h->ready_ms = q->busy_until_ms;
	*took = simconf_get()->image_pull_ms;
	return h->ready_ms;
}

static struct backoff *backoff_find(const char *key)
{
	for (struct backoff *b = backoffs; b; b = b->next) {
		if (!strcmp(b->key, key))
			return b;
	}
	return NULL;
}

bool images_in_backoff(const char *pod_uid, const char *image, int64_t now)
{
	char *key = xasprintf("%s_%s", pod_uid ? pod_uid : "", image);
	struct backoff *b = backoff_find(key);
	free(key);
	/* flowcontrol.Backoff.IsInBackOffSinceUpdate */
	return b && now - b->last_ms <= 2 * BACKOFF_MAX_MS && now - b->last_ms < b->backoff_ms;
}

void images_backoff_next(const char *pod_uid, const char *image, int64_t now)
{
	char *key = xasprintf("%s_%s", pod_uid ? pod_uid : "", image);
	struct backoff *b = backoff_find(key);
	if (!b) {
		b = xcalloc(1, sizeof(*b));
		b->key = key;
		b->next = backoffs;
		backoffs = b;
	} else {
		free(key);
	}
	if (b->backoff_ms == 0 || now - b->last_ms > 2 * BACKOFF_MAX_MS)
		b->backoff_ms = BACKOFF_INITIAL_MS;
	else
		b->backoff_ms =
			b->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : b->backoff_ms * 2;
	b->last_ms = now;
}

void images_free(void)
{
	while (held) {
		struct node_image *h = held;
		held = h->next;
		free(h->node);
		free(h->image);
		free(h);
	}
	while (queues) {
		struct node_queue *q = queues;
		queues = q->next;
		free(q->node);
		free(q);
	}
	while (backoffs) {
		struct backoff *b = backoffs;
		backoffs = b->next;
		free(b->key);
		free(b);
	}
}
