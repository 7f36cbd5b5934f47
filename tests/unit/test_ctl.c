/*
 * esaasctl's pieces that need no server: ages and timestamps, tables, the
 * command line, and where the URL and token come from.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "cli/ctl.h"

/* --- ages and times --- */

static void test_age(void **state)
{
	static const struct {
		int64_t ms;
		const char *want;
	} cases[] = {
		{-5000, "0s"},
		{0, "0s"},
		{999, "0s"},
		{45000, "45s"},
		{59999, "59s"},
		{60000, "1m0s"},
		{192000, "3m12s"},
		{3599000, "59m59s"},
		{3600000, "1h0m"},
		{2 * 3600000 + 5 * 60000 + 59000, "2h5m"},
		{86400000, "1d0h"},
		{4 * 86400000LL + 3 * 3600000, "4d3h"},
		{400 * 86400000LL, "400d0h"},
	};
	char buf[32];

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		ctl_format_age(cases[i].ms, buf, sizeof(buf));
		assert_string_equal(buf, cases[i].want);
	}
}

static void test_duration(void **state)
{
	char buf[32];

	ctl_format_duration(0, buf, sizeof(buf));
	assert_string_equal(buf, "0ms");
	ctl_format_duration(340, buf, sizeof(buf));
	assert_string_equal(buf, "340ms");
	ctl_format_duration(1500, buf, sizeof(buf));
	assert_string_equal(buf, "1s");
	ctl_format_duration(63000, buf, sizeof(buf));
	assert_string_equal(buf, "1m3s");
}

static void test_parse_time(void **state)
{
	int64_t ms = 0;

	assert_true(ctl_parse_time("1970-01-01T00:00:00.000Z", &ms));
	assert_int_equal(ms, 0);
	assert_true(ctl_parse_time("2024-05-01T10:02:03.123Z", &ms));
	assert_int_equal(ms, 1714557723123LL);
	/* Fewer or more digits of fraction, or none. */
	assert_true(ctl_parse_time("2024-05-01T10:02:03.1Z", &ms));
	assert_int_equal(ms, 1714557723100LL);
	assert_true(ctl_parse_time("2024-05-01T10:02:03.123456Z", &ms));
	assert_int_equal(ms, 1714557723123LL);
	assert_true(ctl_parse_time("2024-05-01T10:02:03Z", &ms));
	assert_int_equal(ms, 1714557723000LL);

	static const char *const bad[] = {
		"",
		"yesterday",
		"2024-05-01",
		"2024-05-01T10:02:03",
		"2024-05-01T10:02:03+02:00",
		"2024-05-01T10:02:03.Z",
		"2024-13-01T10:02:03Z",
		"2024-05-01T25:02:03Z",
		"2024-05-01T10:02:03Zjunk",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		if (ctl_parse_time(bad[i], &ms))
			fail_msg("ctl_parse_time accepted \"%s\"", bad[i]);
	}
	assert_false(ctl_parse_time(NULL, &ms));
}

static void test_when(void **state)
{
	char buf[96];
	int64_t at = 1714557723123LL;

	ctl_format_when("2024-05-01T10:02:03.123Z", at + 192000, buf, sizeof(buf));
	assert_string_equal(buf, "2024-05-01T10:02:03Z (3m12s ago)");
	ctl_format_when(NULL, at, buf, sizeof(buf));
	assert_string_equal(buf, "-");
	/* Something else than a timestamp is shown as it is, made printable. */
	ctl_format_when("soon\x1b[2J", at, buf, sizeof(buf));
	assert_string_equal(buf, "soon [2J");
}

static void test_printable_and_abbrev(void **state)
{
	char *s = ctl_printable("a\nb\tc\x1b[31md\x7f");

	assert_string_equal(s, "a b c [31md ");
	free(s);
	s = ctl_printable(NULL);
	assert_string_equal(s, "");
	free(s);

	s = ctl_abbrev("short", 10);
	assert_string_equal(s, "short");
	free(s);
	s = ctl_abbrev("exactly10!", 10);
	assert_string_equal(s, "exactly10!");
	free(s);
	s = ctl_abbrev("one more than ten", 10);
	assert_string_equal(s, "one mor...");
	free(s);
	/* Characters, not bytes: "é" is two bytes and one column, never cut in half. */
	s = ctl_abbrev("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", 5);
	assert_string_equal(s, "\xc3\xa9\xc3\xa9...");
	free(s);
}

static void test_parse_duration(void **state)
{
	static const struct {
		const char *s;
		int64_t want;
	} good[] = {
		{"3600s", 3600},    {"90m", 5400},   {"12h", 43200},
		{"30d", 2592000},   {"2w", 1209600}, {"1d12h", 129600},
		{"1h30m15s", 5415}, {"0s", 0},	     {"36500d", 36500LL * 86400},
	};
	static const char *const bad[] = {
		"", "30", "d", "30x", "30 d", "-1d", "1.5h", "30D", "1d ", "99999999999s", "40000d",
	};
	int64_t s;

	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		if (!ctl_parse_duration(good[i].s, &s))
			fail_msg("ctl_parse_duration refused \"%s\"", good[i].s);
		assert_int_equal(s, good[i].want);
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		if (ctl_parse_duration(bad[i], &s))
			fail_msg("ctl_parse_duration accepted \"%s\"", bad[i]);
	}
	assert_false(ctl_parse_duration(NULL, &s));
}

static void test_format_quantities(void **state)
{
	static const struct {
		int64_t millis;
		const char *want;
	} cpu[] = {
		{0, "0"},	 {1, "0.001"},	{250, "0.25"}, {1000, "1"},
		{12500, "12.5"}, {64000, "64"}, {-5, "0"},
	};
	static const struct {
		int64_t bytes;
		const char *want;
	} bytes[] = {
		{0, "0"},
		{100, "100"},
		{1023, "1023"},
		{1024, "1Ki"},
		{1536, "1.5Ki"},
		{512LL << 20, "512Mi"},
		{48LL << 30, "48Gi"},
		{(1LL << 31) - 1, "1.99Gi"},
		{3LL << 39, "1.5Ti"},
		{2LL << 40, "2Ti"},
		{1LL << 60, "1Ei"},
		{INT64_MAX, "7.99Ei"},
	};
	char buf[32];

	for (size_t i = 0; i < ARRAY_SIZE(cpu); i++) {
		ctl_format_cpu(cpu[i].millis, buf, sizeof(buf));
		assert_string_equal(buf, cpu[i].want);
	}
	for (size_t i = 0; i < ARRAY_SIZE(bytes); i++) {
		ctl_format_bytes(bytes[i].bytes, buf, sizeof(buf));
		assert_string_equal(buf, bytes[i].want);
	}
}

/* --- tables --- */

static void test_table_aligns(void **state)
{
	static const char *const headers[] = {"ID", "KIND", "ERROR", NULL};
	struct ctl_table *t = ctl_table_new(3, headers);
	char *out;

	ctl_table_row(t);
	ctl_table_cellf(t, "%d", 7);
	ctl_table_cell(t, "create");
	ctl_table_cell(t, NULL);
	ctl_table_row(t);
	ctl_table_cell(t, "1234");
	ctl_table_cell(t, "scale");
	ctl_table_cell(t, "es-data-4 Pending: 0/6 nodes match");
	out = ctl_table_render(t);
	assert_string_equal(out, "ID    KIND    ERROR\n"
				 "7     create  -\n"
				 "1234  scale   es-data-4 Pending: 0/6 nodes match\n");
	free(out);
	ctl_table_free(t);
}

static void test_table_without_header_and_short_rows(void **state)
{
	struct ctl_table *t = ctl_table_new(2, NULL);
	char *out;

	ctl_table_row(t);
	ctl_table_cell(t, "Job:");
	ctl_table_cell(t, "42");
	ctl_table_row(t);
	ctl_table_cell(t, "Submitted by:");
	/* A row left short is completed with "-" when the next one starts. */
	ctl_table_row(t);
	ctl_table_cell(t, "Error:");
	ctl_table_cell(t, "line one\nline two");
	out = ctl_table_render(t);
	assert_string_equal(out, "Job:           42\n"
				 "Submitted by:  -\n"
				 "Error:         line one line two\n");
	free(out);
	ctl_table_free(t);
}

static void test_table_counts_characters(void **state)
{
	static const char *const headers[] = {"A", "B", NULL};
	struct ctl_table *t = ctl_table_new(2, headers);
	char *out;

	ctl_table_row(t);
	ctl_table_cell(t, "\xc3\xa9t\xc3\xa9");
	ctl_table_cell(t, "x");
	ctl_table_row(t);
	ctl_table_cell(t, "abcd");
	ctl_table_cell(t, "y");
	out = ctl_table_render(t);
	assert_string_equal(out, "A     B\n"
				 "\xc3\xa9t\xc3\xa9   x\n"
				 "abcd  y\n");
	free(out);
	ctl_table_free(t);
}

/* --- the command line --- */

static const struct ctl_flag cmd_flags[] = {
	{"status", 0, "STATUS", "a status"}, {"node", 0, "POD", "a pod"}, {"wait", 0, NULL, "wait"},
	{"file", 'f', "FILE", "a file"},     {NULL, 0, NULL, NULL},
};

static const struct ctl_flag common_flags[] = {
	{"output", 'o', "FORMAT", "the format"},
	{"help", 'h', NULL, "help"},
	{NULL, 0, NULL, NULL},
};

static const struct ctl_flag *const tables[] = {cmd_flags, common_flags, NULL};

static bool parse(struct ctl_args *a, char *err, size_t errlen, int argc, ...)
{
	static char *argv[32];
	va_list ap;

	va_start(ap, argc);
	for (int i = 0; i < argc; i++)
		argv[i] = va_arg(ap, char *);
	va_end(ap);
	return ctl_args_parse(tables, argc, argv, a, err, errlen);
}

static void test_args_mixed(void **state)
{
	struct ctl_args a;
	char err[128];
	size_t i = 0;

	assert_true(parse(&a, err, sizeof(err), 10, "logs", "--node", "es-data-0", "-o", "json",
			  "--node=es-data-1", "--wait", "extra", "-fspec.yaml", "-"));
	assert_int_equal(a.npos, 3);
	assert_string_equal(a.pos[0], "logs");
	assert_string_equal(a.pos[1], "extra");
	assert_string_equal(a.pos[2], "-");
	assert_string_equal(ctl_args_get(&a, "output"), "json");
	assert_string_equal(ctl_args_get(&a, "file"), "spec.yaml");
	assert_true(ctl_args_has(&a, "wait"));
	assert_false(ctl_args_has(&a, "status"));
	assert_null(ctl_args_get(&a, "status"));
	assert_string_equal(ctl_args_next(&a, "node", &i), "es-data-0");
	assert_string_equal(ctl_args_next(&a, "node", &i), "es-data-1");
	assert_null(ctl_args_next(&a, "node", &i));
	/* The last of a flag given twice wins. */
	ctl_args_free(&a);
	assert_true(parse(&a, err, sizeof(err), 4, "--status", "failed", "--status", "running"));
	assert_string_equal(ctl_args_get(&a, "status"), "running");
	ctl_args_free(&a);
	/* After "--" everything is an argument, even what looks like a flag. */
	assert_true(parse(&a, err, sizeof(err), 3, "--", "--wait", "-o"));
	assert_int_equal(a.npos, 2);
	assert_false(ctl_args_has(&a, "wait"));
	ctl_args_free(&a);
	/* A value may start with '-'. */
	assert_true(parse(&a, err, sizeof(err), 2, "--status", "-1"));
	assert_string_equal(ctl_args_get(&a, "status"), "-1");
	ctl_args_free(&a);
}

static void test_args_errors_name_the_flag(void **state)
{
	struct ctl_args a;
	char err[128];

	assert_false(parse(&a, err, sizeof(err), 2, "logs", "--replicas"));
	assert_string_equal(err, "unknown flag --replicas");
	assert_null(a.given);
	assert_false(parse(&a, err, sizeof(err), 1, "-x"));
	assert_string_equal(err, "unknown flag -x");
	assert_false(parse(&a, err, sizeof(err), 1, "--statu=failed"));
	assert_string_equal(err, "unknown flag --statu=failed");
	assert_false(parse(&a, err, sizeof(err), 1, "--status"));
	assert_string_equal(err, "flag --status needs a value");
	assert_false(parse(&a, err, sizeof(err), 1, "--wait=yes"));
	assert_string_equal(err, "flag --wait takes no value");
	assert_false(parse(&a, err, sizeof(err), 1, "-hx"));
	assert_string_equal(err, "unknown flag -hx");
}

static void test_args_help(void **state)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	ctl_args_help(f, common_flags);
	fclose(f);
	assert_string_equal(text, "  -o, --output FORMAT  the format\n"
				  "  -h, --help           help\n");
	free(text);
}

/* --- where the server is --- */

static void test_config_precedence(void **state)
{
	struct ctl_config_layer none = {NULL, NULL, NULL};
	struct ctl_config_layer flags = {"http://flag:1", "flag-token", NULL};
	struct ctl_config_layer env = {"http://env:2", "env-token", NULL};
	struct ctl_config_layer file = {"http://file:3/", "file-token", NULL};
	struct ctl_config_layer empty = {"", "", NULL};
	struct ctl_config c = {0};

	ctl_config_merge(&flags, &env, &file, &c);
	assert_string_equal(c.url, "http://flag:1");
	assert_string_equal(c.token, "flag-token");
	assert_int_equal(c.token_from, CTL_SOURCE_FLAG);
	ctl_config_merge(&none, &env, &file, &c);
	assert_string_equal(c.url, "http://env:2");
	assert_string_equal(c.token, "env-token");
	assert_int_equal(c.token_from, CTL_SOURCE_ENV);
	/* Empty counts as not given; the trailing slash goes. */
	ctl_config_merge(&empty, &empty, &file, &c);
	assert_string_equal(c.url, "http://file:3");
	assert_string_equal(c.token, "file-token");
	assert_int_equal(c.token_from, CTL_SOURCE_FILE);
	/* Each setting on its own: a flag's URL and the file's token. */
	struct ctl_config_layer url_only = {"http://flag:1", NULL, NULL};
	ctl_config_merge(&url_only, &none, &file, &c);
	assert_string_equal(c.url, "http://flag:1");
	assert_string_equal(c.token, "file-token");
	ctl_config_merge(&none, &none, &none, &c);
	assert_string_equal(c.url, CTL_DEFAULT_URL);
	assert_null(c.token);
	assert_int_equal(c.token_from, CTL_SOURCE_NONE);
	assert_null(c.ca_file);
	/* The CA file: the flag's, else the environment's, else the file's. */
	struct ctl_config_layer ca_flag = {NULL, NULL, "/flag/ca.pem"};
	struct ctl_config_layer ca_env = {NULL, NULL, "/env/ca.pem"};
	struct ctl_config_layer ca_file = {NULL, NULL, "/file/ca.pem"};
	ctl_config_merge(&ca_flag, &ca_env, &ca_file, &c);
	assert_string_equal(c.ca_file, "/flag/ca.pem");
	ctl_config_merge(&none, &ca_env, &ca_file, &c);
	assert_string_equal(c.ca_file, "/env/ca.pem");
	ctl_config_merge(&none, &none, &ca_file, &c);
	assert_string_equal(c.ca_file, "/file/ca.pem");
	ctl_config_free(&c);
}

static void test_config_path(void **state)
{
	char *p = ctl_config_path("/x/config", "/home/me");

	assert_string_equal(p, "/x/config/esaas/config.yaml");
	free(p);
	p = ctl_config_path(NULL, "/home/me");
	assert_string_equal(p, "/home/me/.config/esaas/config.yaml");
	free(p);
	/* A relative XDG_CONFIG_HOME is ignored, as the specification says. */
	p = ctl_config_path("relative", "/home/me");
	assert_string_equal(p, "/home/me/.config/esaas/config.yaml");
	free(p);
	p = ctl_config_path("", "");
	assert_null(p);
}

static void check_parse(const char *text, const char *want_url, const char *want_token)
{
	char *url, *token, *ca, err[256];

	if (!ctl_config_parse(text, strlen(text), &url, &token, &ca, err, sizeof(err)))
		fail_msg("refused \"%s\": %s", text, err);
	free(ca);
	if (want_url)
		assert_string_equal(url, want_url);
	else
		assert_null(url);
	if (want_token)
		assert_string_equal(token, want_token);
	else
		assert_null(token);
	free(url);
	free(token);
}

static void check_refused(const char *text, const char *want_err)
{
	char *url, *token, *ca, err[256];

	if (ctl_config_parse(text, strlen(text), &url, &token, &ca, err, sizeof(err)))
		fail_msg("accepted \"%s\"", text);
	assert_null(url);
	assert_null(token);
	assert_null(ca);
	if (!strstr(err, want_err))
		fail_msg("error \"%s\" does not say \"%s\"", err, want_err);
}

static void test_config_parse(void **state)
{
	check_parse("url: https://esaas.example.com\ntoken: s3cr3t\n", "https://esaas.example.com",
		    "s3cr3t");
	check_parse("", NULL, NULL);
	check_parse("# nothing yet\n", NULL, NULL);
	check_parse("---\nurl: \"http://a:1\"\n", "http://a:1", NULL);
	/* Every scalar is text: a token of digits stays as written. */
	check_parse("token: 0x0012\n", NULL, "0x0012");
	/* Keys of later versions are left alone, whatever their shape. */
	check_parse("tenant: blue\nprofiles:\n  a: {url: x}\n  b: [1, 2]\nurl: http://b:2\n",
		    "http://b:2", NULL);
	check_refused("url: [a, b]\n", "line 1: url must be a string");
	check_refused("ca_file: [a]\n", "line 1: ca_file must be a string");
	{
		char *url, *token, *ca, err[256];
		const char *text = "url: https://e:1\nca_file: /etc/esaas/ca.pem\n";

		assert_true(
			ctl_config_parse(text, strlen(text), &url, &token, &ca, err, sizeof(err)));
		assert_string_equal(ca, "/etc/esaas/ca.pem");
		assert_null(token);
		free(url);
		free(ca);
	}
	check_refused("just a string\n", "expected a mapping");
	check_refused("- url: x\n", "expected a mapping");
	check_refused("url: 'unterminated\n", "line");
}

static char tmpdir[64];

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_config_load(void **state)
{
	struct ctl_config_layer none = {NULL, NULL, NULL};
	struct ctl_config_layer flags = {"http://flag:1", NULL, NULL};
	struct ctl_config c;
	char path[128], err[512];

	str_copy_trunc(tmpdir, "/tmp/test_ctl-XXXXXX", sizeof(tmpdir));
	assert_non_null(mkdtemp(tmpdir));
	snprintf(path, sizeof(path), "%s/esaas", tmpdir);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/esaas/config.yaml", tmpdir);
	setenv("XDG_CONFIG_HOME", tmpdir, 1);
	unsetenv("ESAAS_URL");
	unsetenv("ESAAS_TOKEN");
	unsetenv("ESAAS_CA_FILE");

	/* No file at all: the default, and no token. */
	assert_true(ctl_config_load(&none, &c, err, sizeof(err)));
	assert_string_equal(c.url, CTL_DEFAULT_URL);
	assert_null(c.token);
	ctl_config_free(&c);

	write_file(path, "url: http://file:3\ntoken: file-token\n");
	assert_true(ctl_config_load(&none, &c, err, sizeof(err)));
	assert_string_equal(c.url, "http://file:3");
	assert_string_equal(c.token, "file-token");
	assert_string_equal(c.file, path);
	ctl_config_free(&c);

	setenv("ESAAS_URL", "http://env:2", 1);
	assert_true(ctl_config_load(&none, &c, err, sizeof(err)));
	assert_string_equal(c.url, "http://env:2");
	assert_string_equal(c.token, "file-token");
	ctl_config_free(&c);

	setenv("ESAAS_TOKEN", "env-token", 1);
	assert_true(ctl_config_load(&flags, &c, err, sizeof(err)));
	assert_string_equal(c.url, "http://flag:1");
	assert_string_equal(c.token, "env-token");
	ctl_config_free(&c);
	unsetenv("ESAAS_URL");
	unsetenv("ESAAS_TOKEN");

	/* A broken file is an error naming the file and the line, never the token. */
	write_file(path, "token: s3cr3t\nurl: [1]\n");
	assert_false(ctl_config_load(&none, &c, err, sizeof(err)));
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "line 2"));
	assert_null(strstr(err, "s3cr3t"));
	ctl_config_free(&c);

	/* Not an HTTP URL: the error says where it came from. */
	write_file(path, "url: esaas.example.com\n");
	assert_false(ctl_config_load(&none, &c, err, sizeof(err)));
	assert_non_null(strstr(err, path));
	ctl_config_free(&c);
	struct ctl_config_layer bad_flag = {"ftp://x", NULL, NULL};
	assert_false(ctl_config_load(&bad_flag, &c, err, sizeof(err)));
	assert_non_null(strstr(err, "--url"));
	ctl_config_free(&c);

	/* A CA file that cannot be read is named, with where it was given. */
	write_file(path, "ca_file: /nonexistent/ca.pem\n");
	assert_false(ctl_config_load(&none, &c, err, sizeof(err)));
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "/nonexistent/ca.pem"));
	ctl_config_free(&c);
	struct ctl_config_layer ca_flag = {NULL, NULL, "/nonexistent/flag.pem"};
	assert_false(ctl_config_load(&ca_flag, &c, err, sizeof(err)));
	assert_non_null(strstr(err, "--ca-file"));
	ctl_config_free(&c);
	write_file(path, "ca_file: /etc/hostname\n");
	unsetenv("ESAAS_CA_FILE");
	assert_true(ctl_config_load(&none, &c, err, sizeof(err)));
	assert_string_equal(c.ca_file, "/etc/hostname");
	ctl_config_free(&c);

	/* A token that would split the Authorization header is refused. */
	write_file(path, "token: \"a\\r\\nX-Evil: 1\"\n");
	assert_false(ctl_config_load(&none, &c, err, sizeof(err)));
	assert_non_null(strstr(err, "token"));
	assert_null(strstr(err, "Evil"));
	ctl_config_free(&c);

	unlink(path);
	snprintf(path, sizeof(path), "%s/esaas", tmpdir);
	rmdir(path);
	rmdir(tmpdir);
}

/* A preview's plan, as esaasctl --dry-run prints it. */
static void test_format_plan(void **state)
{
	json_t *plan = json_loads("{\"dry_run\": true, \"kind\": \"scale\", \"cluster\": \"pv\","
				  " \"states\": [\"plan\", \"check_copies\"],"
				  " \"pods\": [{\"name\": \"es-data-2\", \"role\": \"data\", "
				  "\"action\": \"delete\"}],"
				  " \"shards\": {\"count\": 3, \"bytes\": 2048, \"copies\": []},"
				  " \"quota\": {\"namespace\": {\"before\": {\"pods\": \"7\"}, "
				  "\"after\": {\"pods\": \"6\"}}},"
				  " \"gates\": [{\"gate\": \"health\", \"reason\": \"cluster "
				  "health is \\u001b[31myellow\"}],"
				  " \"estimate_seconds\": null, \"estimate\": {\"jobs\": 0, "
				  "\"reason\": \"no history\"}}",
				  0, NULL);
	assert_non_null(plan);
	char *text = ctl_format_plan(plan);
	assert_non_null(strstr(text, "Preview of scale on cluster pv"));
	assert_non_null(strstr(text, "States:   plan -> check_copies\n"));
	assert_non_null(strstr(text, "Pods:     1. delete es-data-2 (data)\n"));
	assert_non_null(strstr(text, "Shards:   3 shard copies"));
	assert_non_null(strstr(text, "Quota:    pods \"7\" -> \"6\"\n"));
	assert_non_null(strstr(text, "Gates:    - cluster health is"));
	assert_null(strchr(text, '\x1b')); /* nothing the terminal would act on */
	assert_non_null(strstr(text, "Estimate: unknown: no history\n"));
	free(text);
	json_object_set_new(plan, "estimate_seconds", json_integer(90));
	json_object_set_new(plan, "estimate", json_pack("{s:i}", "jobs", 4));
	json_object_set_new(plan, "gates", json_array());
	text = ctl_format_plan(plan);
	assert_non_null(strstr(text, "Gates:    none\n"));
	assert_non_null(strstr(text, "(median of 4 similar jobs)"));
	free(text);
	json_object_set_new(
		plan, "warnings",
		json_pack("[s, s]", "no snapshot is taken first", "a \x1b[31mdeprecation"));
	text = ctl_format_plan(plan);
	assert_non_null(strstr(text, "Warnings: - no snapshot is taken first\n          - a "));
	assert_null(strchr(text, '\x1b'));
	free(text);
	json_decref(plan);
}

int main(void)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_age),
		cmocka_unit_test(test_duration),
		cmocka_unit_test(test_parse_time),
		cmocka_unit_test(test_when),
		cmocka_unit_test(test_parse_duration),
		cmocka_unit_test(test_format_quantities),
		cmocka_unit_test(test_printable_and_abbrev),
		cmocka_unit_test(test_table_aligns),
		cmocka_unit_test(test_table_without_header_and_short_rows),
		cmocka_unit_test(test_table_counts_characters),
		cmocka_unit_test(test_format_plan),
		cmocka_unit_test(test_args_mixed),
		cmocka_unit_test(test_args_errors_name_the_flag),
		cmocka_unit_test(test_args_help),
		cmocka_unit_test(test_config_precedence),
		cmocka_unit_test(test_config_path),
		cmocka_unit_test(test_config_parse),
		cmocka_unit_test(test_config_load),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
