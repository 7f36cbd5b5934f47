/*
 * esaasctl: the command-line client, on-call's terminal.  It talks to
 * esaasd's HTTP API (the commands are in the tables of ctl_jobs.c,
 * ctl_clusters.c and ctl_tenants.c; this file finds the one asked for,
 * parses its flags and runs it), and it renders a cluster spec into the
 * Kubernetes objects esaasd would apply, like `helm template`, without any
 * server:
 *
 *   esaasctl render [-c esaasd.yaml] [-o yaml|json] [--tenant T] SPEC.json
 */
#include "config.h"
#include "cli/ctl.h"
#include "common/config.h"
#include "common/util.h"
#include "kube/render.h"
#include "kube/spec.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <curl/curl.h>

static void render_usage(FILE *f)
{
	fprintf(f, "Usage: esaasctl render [-c ESAASD_CONFIG] [-o yaml|json] [--tenant TENANT] "
		   "SPEC.json\n"
		   "\n"
		   "Print the Kubernetes objects of the cluster that SPEC.json describes (the\n"
		   "body of POST /api/v1/clusters; - reads standard input), as esaasd would\n"
		   "apply them.  esaasd's configuration supplies the image registry, the plugin\n"
		   "repository and the rack label.\n"
		   "\n"
		   "  -c, --config FILE   esaasd's configuration (default: its defaults)\n"
		   "  -o, --output FMT    yaml (default) or json\n"
		   "      --tenant NAME   the tenant that owns the cluster (default: default)\n"
		   "  -h, --help          this help\n"
		   "  -V, --version       the version\n");
}

static int render_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"output", required_argument, NULL, 'o'},
		{"tenant", required_argument, NULL, 't'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *config_path = NULL, *output = "yaml", *tenant = "default";
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "c:o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config_path = optarg;
			break;
		case 'o':
			output = optarg;
			break;
		case 't':
			tenant = optarg;
			break;
		case 'h':
			render_usage(stdout);
			return 0;
		default:
			render_usage(stderr);
			return 2;
		}
	}
	if (strcmp(output, "yaml") != 0 && strcmp(output, "json") != 0) {
		fprintf(stderr, "esaasctl render: --output: expected yaml or json, got \"%s\"\n",
			output);
		return 2;
	}
	if (optind != argc - 1) {
		render_usage(stderr);
		return 2;
	}
	const char *spec_path = argv[optind];

	int rc = 1;
	struct config cfg;
	memset(&cfg, 0, sizeof(cfg));
	char err[1024];
	json_t *doc = NULL, *objects = NULL;
	struct spec spec;
	bool have_spec = false;
	if (!config_load(&cfg, config_path, NULL, err, sizeof(err))) {
		fprintf(stderr, "esaasctl render: %s\n", err);
		goto out;
	}
	json_error_t jerr;
	doc = strcmp(spec_path, "-") == 0 ? json_loadf(stdin, 0, &jerr)
					  : json_load_file(spec_path, 0, &jerr);
	if (!doc) {
		fprintf(stderr, "esaasctl render: %s:%d:%d: %s\n", spec_path, jerr.line,
			jerr.column, jerr.text);
		goto out;
	}
	struct spec_error serr;
	if (!spec_parse(doc, &spec, &serr)) {
		fprintf(stderr, "esaasctl render: %s: %s: %s\n", spec_path, serr.field,
			serr.message);
		goto out;
	}
	have_spec = true;
	struct render_opts ro = {
		.tenant = tenant,
		.image_registry = cfg.kube_image_registry,
		.plugin_repo_url = cfg.kube_plugin_repository,
		.rack_label = cfg.kube_rack_label,
		.allowed_images = cfg.kube_allowed_images,
		.utility_image = cfg.kube_utility_image,
		.tune_hosts = cfg.kube_tune_hosts,
		.api_server_cidrs = cfg.kube_api_server_cidrs,
		.esaasd_namespace = cfg.kube_esaasd_namespace,
		.snapshots_nfs_server = cfg.snapshots_nfs_server,
		.snapshots_nfs_path = cfg.snapshots_nfs_path,
	};
	/* Object storage as esaasd renders it, with the tenant's keys when
	 * this machine has them (states_s3_opts()). */
	struct render_s3 s3 = {0};
	char *access_key = NULL, *secret_key = NULL;
	if (cfg.snapshots_s3_bucket) {
		const char *protocol = NULL;
		const char *host = config_s3_endpoint_host(cfg.snapshots_s3_endpoint, &protocol);
		char why[512];
		if (!config_s3_keys(&cfg, tenant, &access_key, &secret_key, why, sizeof(why)))
			fprintf(stderr, "esaasctl render: %s: no keystore is rendered\n", why);
		s3 = (struct render_s3){.bucket = cfg.snapshots_s3_bucket,
					.endpoint = host,
					.protocol = host ? protocol : NULL,
					.path_style_access = cfg.snapshots_s3_path_style,
					.base_path = cfg.snapshots_s3_base_path,
					.access_key = access_key,
					.secret_key = secret_key};
		ro.s3 = &s3;
	}
	bool rendered = render_cluster(&spec, &ro, &objects, err, sizeof(err));
	free(access_key);
	free(secret_key);
	if (!rendered) {
		fprintf(stderr, "esaasctl render: %s\n", err);
		goto out;
	}
	if (strcmp(output, "json") == 0) {
		if (json_dumpf(objects, stdout, JSON_INDENT(2)) != 0)
			goto out;
		putchar('\n');
	} else {
		char *yaml;
		if (!render_to_yaml(objects, &yaml)) {
			fprintf(stderr, "esaasctl render: cannot write YAML\n");
			goto out;
		}
		fputs(yaml, stdout);
		free(yaml);
	}
	rc = fflush(stdout) == 0 ? 0 : 1;
out:
	json_decref(objects);
	json_decref(doc);
	if (have_spec)
		spec_free(&spec);
	config_free(&cfg);
	return rc;
}

/* --- the client's commands ------------------------------------------------- */

#define DEFAULT_TIMEOUT_S 30

/* Every command takes these, before or after its own. */
static const struct ctl_flag global_flags[] = {
	{"output", 'o', "FORMAT", "table (default) or json: the server's JSON, for scripts"},
	{"url", 0, "URL", "esaasd's URL (else $ESAAS_URL, the config file, " CTL_DEFAULT_URL ")"},
	{"token", 0, "TOKEN",
	 "the API token (else $ESAAS_TOKEN, the config file: unlike flags, ps shows neither)"},
	{"ca-file", 0, "FILE",
	 "the CA (PEM) that signed esaasd's certificate, when the system does not trust it "
	 "(else $ESAAS_CA_FILE, ca_file: in the config file)"},
	{"tenant", 0, "TENANT",
	 "the tenant to act in (default: the token's own; for oncall and admin, lists "
	 "show every tenant)"},
	{"timeout", 0, "SECONDS", "give up on a request after this long (default 30)"},
	{"help", 'h', NULL, "this help"},
	{NULL, 0, NULL, NULL},
};

static const struct ctl_command *const command_tables[] = {
	ctl_jobs_commands,
	ctl_clusters_commands,
	ctl_tenants_commands,
	ctl_maintenance_commands,
	NULL,
};

static const char help_footer[] =
	"\n"
	"esaasd's URL and token come from --url and --token, else ESAAS_URL and\n"
	"ESAAS_TOKEN, else $XDG_CONFIG_HOME/esaas/config.yaml (~/.config/esaas/config.yaml)\n"
	"with the keys url:, token: and ca_file: (a private CA of esaasd's https\n"
	"certificate; else the system's CAs).  Every request but the probes needs a token;\n"
	"an admin makes them with \"esaasctl tokens create\", and the first one with\n"
	"\"esaasd --bootstrap-admin\".\n"
	"\n"
	"Exit status: 0 done, 1 the server refused (its error on stderr; 401 when the\n"
	"token is missing, unknown, expired or revoked, 403 when its role may not) or\n"
	"could not be reached, 2 a usage error, 3 a watched or waited-for job failed\n"
	"or was cancelled.\n";

static void usage(FILE *f)
{
	size_t width = strlen("render");

	for (const struct ctl_command *const *t = command_tables; *t; t++) {
		for (const struct ctl_command *c = *t; c->name; c++) {
			if (strlen(c->name) > width)
				width = strlen(c->name);
		}
	}
	fprintf(f, "Usage: esaasctl COMMAND [ARGS] [FLAGS]\n\nCommands:\n");
	for (const struct ctl_command *const *t = command_tables; *t; t++) {
		for (const struct ctl_command *c = *t; c->name; c++)
			fprintf(f, "  %-*s  %s\n", (int)width, c->name, c->summary);
	}
	fprintf(f, "  %-*s  %s\n", (int)width, "render",
		"print the Kubernetes objects of a cluster spec (no server needed)");
	fprintf(f, "\nFlags of every command:\n");
	ctl_args_help(f, global_flags);
	fprintf(f, "  -V, --version          the version\n");
	fputs(help_footer, f);
	fprintf(f, "\n\"esaasctl COMMAND --help\" says more about a command.\n");
}

/* The commands under one first word: "esaasctl jobs --help". */
static void group_usage(FILE *f, const char *group)
{
	size_t glen = strlen(group), width = 0;

	for (const struct ctl_command *const *t = command_tables; *t; t++) {
		for (const struct ctl_command *c = *t; c->name; c++) {
			if (strncmp(c->name, group, glen) == 0 && c->name[glen] == ' ' &&
			    strlen(c->name + glen + 1) > width)
				width = strlen(c->name + glen + 1);
		}
	}
	fprintf(f, "Usage: esaasctl %s COMMAND [ARGS] [FLAGS]\n\nCommands:\n", group);
	for (const struct ctl_command *const *t = command_tables; *t; t++) {
		for (const struct ctl_command *c = *t; c->name; c++) {
			if (strncmp(c->name, group, glen) == 0 && c->name[glen] == ' ')
				fprintf(f, "  %-*s  %s\n", (int)width, c->name + glen + 1,
					c->summary);
		}
	}
	fprintf(f, "\n\"esaasctl %s COMMAND --help\" says more about a command.\n", group);
}

static void command_usage(FILE *f, const struct ctl_command *c)
{
	fprintf(f, "Usage: esaasctl %s%s%s\n\n", c->name, c->synopsis[0] ? " " : "", c->synopsis);
	/* The summary is a line of the command list: here it starts a sentence. */
	fprintf(f, "%c%s.\n",
		c->summary[0] >= 'a' && c->summary[0] <= 'z' ? c->summary[0] - 32 : c->summary[0],
		c->summary + 1);
	if (c->details)
		fprintf(f, "\n%s", c->details);
	if (c->flags[0].name) {
		fprintf(f, "\nFlags:\n");
		ctl_args_help(f, c->flags);
	}
	fprintf(f, "\nFlags of every command:\n");
	ctl_args_help(f, global_flags);
	fputs(help_footer, f);
}

int ctl_usage_error(const struct ctl *ctl, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", ctl->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nRun \"%s --help\" for its usage.\n", ctl->name);
	return CTL_EXIT_USAGE;
}

static const struct ctl_command *find_command(const char *first, const char *second)
{
	char *two = second ? xasprintf("%s %s", first, second) : NULL;
	const struct ctl_command *found = NULL;

	for (const struct ctl_command *const *t = command_tables; *t && !found; t++) {
		for (const struct ctl_command *c = *t; c->name && !found; c++) {
			if ((two && strcmp(c->name, two) == 0) || strcmp(c->name, first) == 0)
				found = c;
		}
	}
	free(two);
	return found;
}

static bool is_group(const char *word)
{
	size_t len = strlen(word);

	for (const struct ctl_command *const *t = command_tables; *t; t++) {
		for (const struct ctl_command *c = *t; c->name; c++) {
			if (strncmp(c->name, word, len) == 0 && c->name[len] == ' ')
				return true;
		}
	}
	return false;
}

static bool is_help(const char *arg)
{
	return strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0;
}

/* Is arg one of the flags of every command (with its value, or not)? */
static bool known_global(const char *arg)
{
	for (const struct ctl_flag *f = global_flags; f->name; f++) {
		size_t len = strlen(f->name);

		if (arg[1] != '-' && f->letter && arg[1] == f->letter && (!arg[2] || f->value))
			return true;
		if (arg[1] == '-' && strncmp(arg + 2, f->name, len) == 0 &&
		    (arg[2 + len] == '\0' || (arg[2 + len] == '=' && f->value)))
			return true;
	}
	return false;
}

/* Does a flag of every command take the next argument as its value? */
static bool takes_next(const char *arg)
{
	for (const struct ctl_flag *f = global_flags; f->name; f++) {
		if (!f->value)
			continue;
		if ((arg[0] == '-' && arg[1] == f->letter && arg[2] == '\0' && f->letter) ||
		    (strncmp(arg, "--", 2) == 0 && strcmp(arg + 2, f->name) == 0))
			return true;
	}
	return false;
}

static int run_command(const struct ctl_command *cmd, int argc, char **argv)
{
	const struct ctl_flag *const tables[] = {cmd->flags, global_flags, NULL};
	char *name = xasprintf("esaasctl %s", cmd->name);
	struct ctl ctl = {.name = name};
	struct ctl_args a;
	char err[1024];
	int rc = CTL_EXIT_USAGE, timeout_s = DEFAULT_TIMEOUT_S;
	const char *v;

	if (!ctl_args_parse(tables, argc, argv, &a, err, sizeof(err))) {
		ctl_usage_error(&ctl, "%s", err);
		goto out_name;
	}
	if (ctl_args_has(&a, "help")) {
		command_usage(stdout, cmd);
		rc = CTL_EXIT_OK;
		goto out_args;
	}
	if ((int)a.npos < cmd->min_pos) {
		ctl_usage_error(&ctl, "expected %s", cmd->synopsis);
		goto out_args;
	}
	if (cmd->max_pos >= 0 && (int)a.npos > cmd->max_pos) {
		ctl_usage_error(&ctl, "unexpected argument \"%s\"", a.pos[cmd->max_pos]);
		goto out_args;
	}
	if ((v = ctl_args_get(&a, "output"))) {
		if (strcmp(v, "json") == 0) {
			ctl.output = CTL_OUTPUT_JSON;
		} else if (strcmp(v, "table") != 0) {
			ctl_usage_error(&ctl, "--output: expected table or json, got \"%s\"", v);
			goto out_args;
		}
	}
	if ((v = ctl_args_get(&a, "timeout")) && !parse_int(v, 1, 3600, &timeout_s)) {
		ctl_usage_error(&ctl, "--timeout: expected seconds from 1 to 3600, got \"%s\"", v);
		goto out_args;
	}
	ctl.tenant = ctl_args_get(&a, "tenant");
	if (ctl.tenant && !*ctl.tenant) {
		ctl_usage_error(&ctl, "--tenant: expected a tenant's name");
		goto out_args;
	}
	struct ctl_config_layer flags = {ctl_args_get(&a, "url"), ctl_args_get(&a, "token"),
					 ctl_args_get(&a, "ca-file")};

	if (!ctl_config_load(&flags, &ctl.cfg, err, sizeof(err))) {
		fprintf(stderr, "esaasctl: %s\n", err);
		goto out_config;
	}
	ctl.http = ctl_http_new(&ctl.cfg, ctl.tenant, timeout_s * 1000L);
	if (!ctl.http) {
		fprintf(stderr, "esaasctl: cannot start libcurl\n");
		rc = CTL_EXIT_API;
		goto out_config;
	}
	rc = cmd->run(&ctl, &a);
	ctl_http_free(ctl.http);
out_config:
	ctl_config_free(&ctl.cfg);
out_args:
	ctl_args_free(&a);
out_name:
	free(name);
	return rc;
}

int main(int argc, char **argv)
{
	int first = 1, rc;

	/* Flags of every command may come before it: "esaasctl -o json jobs list". */
	while (first < argc && argv[first][0] == '-') {
		if (is_help(argv[first])) {
			usage(stdout);
			return 0;
		}
		if (strcmp(argv[first], "-V") == 0 || strcmp(argv[first], "--version") == 0) {
			printf("esaasctl %s\n", PACKAGE_VERSION);
			return 0;
		}
		if (!known_global(argv[first])) {
			fprintf(stderr, "esaasctl: unknown flag %s\n", argv[first]);
			fprintf(stderr,
				"Run \"esaasctl --help\" for the commands and their flags.\n");
			return CTL_EXIT_USAGE;
		}
		first += takes_next(argv[first]) ? 2 : 1;
	}
	if (first >= argc) {
		usage(stderr);
		return CTL_EXIT_USAGE;
	}
	const char *word = argv[first];
	const char *second = first + 1 < argc ? argv[first + 1] : NULL;

	if (strcmp(word, "render") == 0)
		return render_main(argc - first, argv + first);
	if (strcmp(word, "help") == 0) {
		/* "esaasctl help jobs list" is "esaasctl jobs list --help". */
		const char *third = first + 2 < argc ? argv[first + 2] : NULL;
		const struct ctl_command *c = second ? find_command(second, third) : NULL;

		if (c)
			command_usage(stdout, c);
		else if (second && is_group(second))
			group_usage(stdout, second);
		else
			usage(stdout);
		return 0;
	}
	const struct ctl_command *cmd = find_command(word, second);

	if (!cmd && is_group(word)) {
		if (second && is_help(second)) {
			group_usage(stdout, word);
			return 0;
		}
		if (second)
			fprintf(stderr, "esaasctl: unknown command \"%s %s\"\n", word, second);
		group_usage(stderr, word);
		return CTL_EXIT_USAGE;
	}
	if (!cmd) {
		fprintf(stderr, "esaasctl: unknown command \"%s\"\n", word);
		fprintf(stderr, "Run \"esaasctl --help\" for the commands.\n");
		return CTL_EXIT_USAGE;
	}

	/* The command's arguments: the flags before it, then what follows its name. */
	int skip = strchr(cmd->name, ' ') ? 2 : 1;
	int nargs = (first - 1) + (argc - first - skip);
	char **args = xcalloc((size_t)nargs + 1, sizeof(*args));

	memcpy(args, argv + 1, (size_t)(first - 1) * sizeof(*args));
	memcpy(args + first - 1, argv + first + skip,
	       (size_t)(argc - first - skip) * sizeof(*args));
	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = run_command(cmd, nargs, args);
	curl_global_cleanup();
	free(args);
	return rc;
}
