/*
 * esaasctl: the command-line client.  For now it renders a cluster spec
 * into the Kubernetes objects esaasd would apply, like `helm template`:
 *
 *   esaasctl render [-c esaasd.yaml] [-o yaml|json] [--tenant T] SPEC.json
 */
#include "config.h"
#include "common/config.h"
#include "common/util.h"
#include "kube/render.h"
#include "kube/spec.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: esaasctl render [-c ESAASD_CONFIG] [-o yaml|json] [--tenant TENANT] SPEC.json\n"
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
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (strcmp(output, "yaml") != 0 && strcmp(output, "json") != 0) {
		fprintf(stderr, "esaasctl render: --output: expected yaml or json, got \"%s\"\n", output);
		return 2;
	}
	if (optind != argc - 1) {
		usage(stderr);
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
		fprintf(stderr, "esaasctl render: %s:%d:%d: %s\n", spec_path, jerr.line, jerr.column,
			jerr.text);
		goto out;
	}
	struct spec_error serr;
	if (!spec_parse(doc, &spec, &serr)) {
		fprintf(stderr, "esaasctl render: %s: %s: %s\n", spec_path, serr.field, serr.message);
		goto out;
	}
	have_spec = true;
	struct render_opts ro = {
		.tenant = tenant,
		.image_registry = cfg.kube_image_registry,
		.plugin_repo_url = cfg.kube_plugin_repository,
		.rack_label = cfg.kube_rack_label,
	};
	if (!render_cluster(&spec, &ro, &objects, err, sizeof(err))) {
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

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "-V") == 0 || strcmp(argv[1], "--version") == 0) {
		printf("esaasctl %s\n", PACKAGE_VERSION);
		return 0;
	}
	if (strcmp(argv[1], "render") == 0)
		return render_main(argc - 1, argv + 1);
	fprintf(stderr, "esaasctl: unknown command \"%s\"\n", argv[1]);
	usage(stderr);
	return 2;
}
