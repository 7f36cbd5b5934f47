/*
 * esaasctl, on-call's terminal: the pieces its commands share.
 *
 *   ctl_args.c      flags and positional arguments, and their help
 *   ctl_config.c    where esaasd is and the token: flags, environment, file
 *   ctl_format.c    tables, ages and timestamps for people
 *   ctl_http.c      one blocking HTTP client and the one way to show an error
 *   ctl_jobs.c      the jobs commands, and following a job to its end
 *   ctl_clusters.c  the clusters commands and the operations that submit jobs
 *   ctl_tenants.c   who am I; tenants, their quotas, and API tokens
 *   esaasctl.c      main: the command table and the dispatch
 */
#ifndef ESAAS_CLI_CTL_H
#define ESAAS_CLI_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <jansson.h>

#include "common/util.h"

/* What esaasctl exits with; scripts rely on these. */
enum ctl_exit {
	CTL_EXIT_OK = 0,
	CTL_EXIT_API = 1,	 /* the server refused, or could not be reached */
	CTL_EXIT_USAGE = 2,	 /* the command line (or the config file) is wrong */
	CTL_EXIT_JOB_FAILED = 3, /* a watched or waited-for job ended failed or cancelled */
};

#define CTL_DEFAULT_URL "http://127.0.0.1:8080"

/* --- ctl_args.c --------------------------------------------------------- */

/* One flag a command accepts. */
struct ctl_flag {
	const char *name;  /* the long form, without "--" */
	char letter;	   /* the short form; 0: none */
	const char *value; /* NULL: a switch; else what the help calls its value */
	const char *help;
};

struct ctl_given {
	const struct ctl_flag *flag;
	const char *value; /* borrowed from argv; NULL for a switch */
};

/* A parsed command line; the strings are borrowed from argv. */
struct ctl_args {
	struct ctl_given *given; /* in the order given */
	size_t ngiven;
	char **pos;
	size_t npos;
};

/*
 * Parse argv against the flag tables (a NULL-terminated list of tables,
 * each ending with a zeroed entry).  Flags and positional arguments may be
 * mixed; "--" ends the flags.  On failure err names the offending flag and
 * *out is left empty.
 */
bool ctl_args_parse(const struct ctl_flag *const *tables, int argc, char **argv,
		    struct ctl_args *out, char *err, size_t errlen) MUST_CHECK;
void ctl_args_free(struct ctl_args *a);
/* The last value given for the flag; NULL when it was not given. */
const char *ctl_args_get(const struct ctl_args *a, const char *name);
bool ctl_args_has(const struct ctl_args *a, const char *name);
/* Every value given for a repeatable flag: start with *i = 0. */
const char *ctl_args_next(const struct ctl_args *a, const char *name, size_t *i);
/* The flags' help, one aligned line each. */
void ctl_args_help(FILE *f, const struct ctl_flag *flags);

/* --- ctl_config.c ------------------------------------------------------- */

/* What one source says; NULL for what it does not say. */
struct ctl_config_layer {
	const char *url;
	const char *token;
	const char *ca_file; /* PEM: the CAs that may sign esaasd's certificate */
};

/* Where the token came from, for the message when esaasd refuses it. */
enum ctl_source {
	CTL_SOURCE_NONE,
	CTL_SOURCE_FLAG, /* --token */
	CTL_SOURCE_ENV,	 /* ESAAS_TOKEN */
	CTL_SOURCE_FILE, /* the config file */
};

struct ctl_config {
	char *url;   /* never NULL once resolved; without a trailing '/' */
	char *token; /* NULL: none known */
	enum ctl_source token_from;
	char *ca_file; /* NULL: the system's CAs */
	char *file;    /* the config file looked at, or NULL */
};

/*
 * Flags beat the environment, which beats the file; the URL defaults to
 * CTL_DEFAULT_URL.  Empty values count as not given.
 */
void ctl_config_merge(const struct ctl_config_layer *flags, const struct ctl_config_layer *env,
		      const struct ctl_config_layer *file, struct ctl_config *out);
/*
 * The config file: $XDG_CONFIG_HOME/esaas/config.yaml, else
 * $HOME/.config/esaas/config.yaml; NULL when neither is set.  Allocated.
 */
char *ctl_config_path(const char *xdg_config_home, const char *home);
/*
 * The file's text: a YAML mapping with url:, token: and ca_file: (other
 * keys are left for later versions).  *url, *token and *ca_file are
 * allocated, NULL when absent.  False with err (naming the line) when it is
 * not such a mapping.
 */
bool ctl_config_parse(const char *text, size_t len, char **url, char **token, char **ca_file,
		      char *err, size_t errlen) MUST_CHECK;
/*
 * Everything together: flags, ESAAS_URL, ESAAS_TOKEN and ESAAS_CA_FILE,
 * the file (a missing file is no error).  False with err when the file cannot be read
 * or parsed, or when the URL is not http:// or https://.
 */
bool ctl_config_load(const struct ctl_config_layer *flags, struct ctl_config *out, char *err,
		     size_t errlen) MUST_CHECK;
void ctl_config_free(struct ctl_config *c);

/* --- ctl_format.c ------------------------------------------------------- */

/* An age or a duration for people: "45s", "3m12s", "2h5m", "4d3h". */
void ctl_format_age(int64_t ms, char *buf, size_t len);
/* A measured duration: "340ms" under a second, else as an age. */
void ctl_format_duration(int64_t ms, char *buf, size_t len);
/*
 * A duration as people type it: one or more of a whole number and its unit,
 * s, m, h, d or w ("30d", "12h", "90m", "3600s", "1d12h").  False for
 * anything else, a bare number included, and for more than 100 years.
 */
bool ctl_parse_duration(const char *s, int64_t *seconds) MUST_CHECK;
/* CPU in cores: 12000 millicores is "12", 12500 "12.5", 250 "0.25". */
void ctl_format_cpu(int64_t millicores, char *buf, size_t len);
/* Bytes in the largest binary unit that fits, cut (never rounded up) to two
 * decimals: "48Gi", "1.5Ti", "512Mi", "100" (bytes). */
void ctl_format_bytes(int64_t bytes, char *buf, size_t len);
/* The API's timestamps ("2024-05-01T10:02:03.123Z") as milliseconds since the epoch. */
bool ctl_parse_time(const char *s, int64_t *ms) MUST_CHECK;
/* "2024-05-01T10:02:03Z (3m12s ago)", or "-" for NULL. */
void ctl_format_when(const char *ts, int64_t now_ms, char *buf, size_t len);
/* A copy fit for a terminal: control characters become spaces. */
char *ctl_printable(const char *s);
/* At most max columns of s (printable), cut with "..." when longer.  Allocated. */
char *ctl_abbrev(const char *s, size_t max);
/* Pretty JSON on stdout; CTL_EXIT_OK, or CTL_EXIT_API when it cannot be written. */
int ctl_print_json(json_t *v);
/* A preview's plan (?dry_run=true, docs/operations.md) as text for people:
 * a new string.  What the API's JSON lacks is left out. */
char *ctl_format_plan(json_t *plan);

/* Aligned columns; every cell is copied and made printable. */
struct ctl_table;
/* headers: NULL-terminated; NULL for a table without a header line. */
struct ctl_table *ctl_table_new(size_t ncols, const char *const *headers);
/* Start a row; then add ncols cells. */
void ctl_table_row(struct ctl_table *t);
/* A cell: NULL or "" shows as "-". */
void ctl_table_cell(struct ctl_table *t, const char *s);
void ctl_table_cellf(struct ctl_table *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* The table as text: columns two spaces apart, no trailing blanks.  Allocated. */
char *ctl_table_render(const struct ctl_table *t);
void ctl_table_print(const struct ctl_table *t, FILE *f);
void ctl_table_free(struct ctl_table *t);

/* --- ctl_http.c --------------------------------------------------------- */

struct ctl_http;

struct ctl_reply {
	long status;
	json_t *body; /* NULL when the answer is not JSON */
	char *raw;
	const struct ctl_http *http; /* the client that asked: what a 401 says to do */
};

/*
 * One connection kept across calls.  timeout_ms bounds each call.  With a
 * tenant, every request carries ?tenant=TENANT: the tenant it addresses.
 */
struct ctl_http *ctl_http_new(const struct ctl_config *cfg, const char *tenant, long timeout_ms);
void ctl_http_free(struct ctl_http *h);
/*
 * One call; path starts with '/'.  body may be NULL.  False, with the
 * reason on stderr ("cannot reach esaasd at URL: ..."), when no HTTP
 * answer came; any HTTP status is true.  ctl_http_try leaves stderr alone
 * and puts the reason in *why (allocated), for callers that try again.
 */
bool ctl_http_call(struct ctl_http *h, const char *method, const char *path, json_t *body,
		   struct ctl_reply *out) MUST_CHECK;
bool ctl_http_try(struct ctl_http *h, const char *method, const char *path, json_t *body,
		  struct ctl_reply *out, char **why) MUST_CHECK;
void ctl_reply_free(struct ctl_reply *r);
/* Print "cannot reach esaasd at URL: why". */
void ctl_http_report_unreachable(const struct ctl_http *h, const char *why);
/* A path segment, percent-encoded.  Allocated. */
char *ctl_http_escape(const char *s);
/*
 * The server's error on stderr, the one format for all of them:
 *   esaasctl: 422 invalid: replicas: must be odd
 * A 401 also says which credential was refused and where one goes.
 * Returns CTL_EXIT_API.
 */
int ctl_report_error(const struct ctl_reply *r);

/* --- the commands --------------------------------------------------------- */

enum ctl_output {
	CTL_OUTPUT_TABLE,
	CTL_OUTPUT_JSON,
};

/* What every command gets. */
struct ctl {
	struct ctl_config cfg;
	struct ctl_http *http;
	enum ctl_output output;
	const char *tenant; /* --tenant, or NULL */
	const char *name;   /* "esaasctl jobs list", for messages */
};

struct ctl_command {
	const char *name;     /* "jobs list" */
	const char *synopsis; /* what follows the name in the usage line */
	const char *summary;  /* one line for the command list */
	const char *details;  /* more, for --help; NULL: none */
	const struct ctl_flag *flags;
	int min_pos, max_pos; /* positional arguments; max -1: any number */
	int (*run)(struct ctl *ctl, const struct ctl_args *a);
};

/* Each module's commands, ending with a zeroed entry. */
extern const struct ctl_command ctl_jobs_commands[];
extern const struct ctl_command ctl_clusters_commands[];
extern const struct ctl_command ctl_tenants_commands[];
extern const struct ctl_command ctl_maintenance_commands[];

/*
 * A cluster's "maintenance" as the API answers it, on one line:
 * "Europe/Berlin: sat 02:00 for 4h; closed, next opens at ..." (a new
 * string).
 */
char *ctl_format_maintenance(json_t *m);

/* A usage error from inside a command: the message, a hint, CTL_EXIT_USAGE. */
int ctl_usage_error(const struct ctl *ctl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* A job id from the command line. */
bool ctl_parse_job_id(const char *s, int64_t *id) MUST_CHECK;
/*
 * A mutation's answer (202 and the job): the error, or the job shown, and
 * with wait followed to its end, from the event after after_id.  Returns
 * the exit status.
 */
int ctl_jobs_accepted(struct ctl *ctl, const struct ctl_reply *r, bool wait, int64_t after_id);
/*
 * Print the job's transitions after event after_id, one line each, until
 * it ends; CTL_EXIT_OK when it succeeded, CTL_EXIT_JOB_FAILED when it
 * failed or was cancelled.
 */
int ctl_jobs_follow(struct ctl *ctl, int64_t id, int64_t after_id);

#endif
