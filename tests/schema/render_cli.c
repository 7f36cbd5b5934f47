/*
 * render_cli: render a cluster spec for the schema test.
 *
 *   render_cli [-o json|yaml] [-t TENANT] [-r RACK_LABEL] [-p PLUGIN_REPO]
 *              [-g IMAGE_REGISTRY] [-m INITIAL_MASTER]... [-w HOST]...
 *              [-n HOST]... [-H] SPEC.json
 *
 * prints the cluster's objects (a JSON array by default) on stdout, with
 * -n its StorageClass and PersistentVolumes on each HOST (render_volumes()),
 * with -w the pod that wipes the cluster's data from each HOST; -H renders
 * the data paths as hostPath volumes, as clusters from before the claims
 * have them; a spec
 * that does not validate is reported on stderr with its field, exit 1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/util.h"
#include "kube/render.h"
#include "kube/spec.h"

#define MAX_INITIAL_MASTERS 16
#define MAX_WIPE_HOSTS 16

static void usage(void)
{
	fprintf(stderr, "usage: render_cli [-o json|yaml] [-t tenant] [-r rack-label] "
			"[-p plugin-repo] [-g image-registry] [-m initial-master]... [-w host]... "
			"[-n host]... [-H] [-T] spec.json\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct render_opts opts = {
		.tenant = "test",
		.plugin_repo_url = "http://127.0.0.1:8081/plugins",
	};
	const char *masters[MAX_INITIAL_MASTERS + 1] = {NULL};
	size_t nmasters = 0;
	const char *wipe_hosts[MAX_WIPE_HOSTS];
	size_t nwipe = 0;
	const char *volume_hosts[MAX_WIPE_HOSTS + 1] = {NULL};
	size_t nvolumes = 0;
	const char *format = "json";
	struct spec spec;
	struct spec_error serr;
	json_error_t jerr;
	json_t *doc, *objects = NULL;
	char err[512];
	char *text = NULL;
	int opt, status = 1;

	while ((opt = getopt(argc, argv, "o:t:r:p:g:m:w:n:HT")) != -1) {
		switch (opt) {
		case 'o':
			format = optarg;
			break;
		case 't':
			opts.tenant = optarg;
			break;
		case 'r':
			opts.rack_label = optarg;
			break;
		case 'p':
			opts.plugin_repo_url = optarg;
			break;
		case 'g':
			opts.image_registry = optarg;
			break;
		case 'm':
			if (nmasters == MAX_INITIAL_MASTERS)
				usage();
			masters[nmasters++] = optarg;
			break;
		case 'n':
			if (nvolumes == MAX_WIPE_HOSTS)
				usage();
			volume_hosts[nvolumes++] = optarg;
			break;
		case 'H':
			opts.host_path_data = true;
			break;
		case 'T':
			opts.tune_hosts = true;
			break;
		case 'w':
			if (nwipe == MAX_WIPE_HOSTS)
				usage();
			wipe_hosts[nwipe++] = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind != argc - 1 || (strcmp(format, "json") != 0 && strcmp(format, "yaml") != 0))
		usage();
	if (nmasters > 0)
		opts.initial_master_nodes = masters;

	doc = json_load_file(argv[optind], JSON_REJECT_DUPLICATES, &jerr);
	if (!doc) {
		fprintf(stderr, "%s:%d:%d: %s\n", argv[optind], jerr.line, jerr.column, jerr.text);
		return 1;
	}
	if (!spec_parse(doc, &spec, &serr)) {
		fprintf(stderr, "%s: %s: %s\n", argv[optind], serr.field, serr.message);
		goto cleanup;
	}
	if (!render_cluster(&spec, &opts, &objects, err, sizeof(err))) {
		fprintf(stderr, "%s: %s\n", argv[optind], err);
		goto cleanup_spec;
	}
	if (nvolumes > 0) {
		json_t *volumes;

		if (!render_volumes(&spec, &opts, volume_hosts, &volumes, err, sizeof(err))) {
			fprintf(stderr, "%s: %s\n", argv[optind], err);
			goto cleanup_spec;
		}
		json_array_extend(objects, volumes);
		json_decref(volumes);
	}
	for (size_t i = 0; i < nwipe; i++)
		json_array_append_new(objects,
				      render_wipe_pod(&spec, &opts, wipe_hosts[i], (int)i));
	if (strcmp(format, "yaml") == 0) {
		if (!render_to_yaml(objects, &text)) {
			fprintf(stderr, "%s: the objects could not be written as YAML\n",
				argv[optind]);
			goto cleanup_spec;
		}
	} else {
		text = json_dumps(objects, JSON_INDENT(2));
	}
	fputs(text, stdout);
	if (strcmp(format, "json") == 0)
		fputc('\n', stdout);
	status = fflush(stdout) == 0 ? 0 : 1;

cleanup_spec:
	spec_free(&spec);
cleanup:
	free(text);
	json_decref(objects);
	json_decref(doc);
	return status;
}
