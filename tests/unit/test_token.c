/* common/token.c: the API token format, its parsing, hashing and comparison, and roles. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "common/base64.h"
#include "common/token.h"
#include "common/util.h"

static void test_create_shape(void **state)
{
	struct token_new t;
	char id[TOKEN_ID_LEN + 1];
	const char *secret;
	size_t len;
	unsigned char *raw;
	size_t rawlen;

	assert_true(token_create(&t));
	assert_int_equal(strlen(t.token), TOKEN_LEN);
	assert_int_equal(strncmp(t.token, "esaas_", 6), 0);
	assert_int_equal(strlen(t.id), TOKEN_ID_LEN);
	assert_memory_equal(t.token + 6, t.id, TOKEN_ID_LEN);
	assert_int_equal(t.token[6 + TOKEN_ID_LEN], '_');

	assert_true(token_parse(t.token, id, &secret, &len));
	assert_string_equal(id, t.id);
	assert_int_equal(len, TOKEN_SECRET_LEN);
	assert_ptr_equal(secret, t.token + 6 + TOKEN_ID_LEN + 1);
	/* The secret is 32 bytes of base64url. */
	assert_true(base64url_decode(secret, len, &raw, &rawlen, NULL));
	assert_int_equal(rawlen, TOKEN_SECRET_BYTES);
	free(raw);

	/* The stored hash is SHA-256 of the secret's text, and it matches. */
	unsigned char h[TOKEN_HASH_LEN];
	assert_true(token_hash(secret, len, h));
	assert_memory_equal(h, t.hash, TOKEN_HASH_LEN);
	assert_true(token_secret_matches(secret, len, t.hash, TOKEN_HASH_LEN));

	token_new_clear(&t);
	assert_int_equal(t.token[0], '\0');
}

static void test_tokens_differ(void **state)
{
	struct token_new a, b;

	assert_true(token_create(&a));
	assert_true(token_create(&b));
	assert_string_not_equal(a.id, b.id);
	assert_string_not_equal(a.token, b.token);
	assert_memory_not_equal(a.hash, b.hash, TOKEN_HASH_LEN);
	token_new_clear(&a);
	token_new_clear(&b);
}

/* SHA-256 of "abc" (FIPS 180-2), so the hash is the one the database can recompute. */
static void test_hash_vector(void **state)
{
	static const unsigned char want[] = {
		0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40,
		0xde, 0x5d, 0xae, 0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17,
		0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad,
	};
	unsigned char h[TOKEN_HASH_LEN];
	char text[2 * TOKEN_HASH_LEN + 3];
	unsigned char back[TOKEN_HASH_LEN];

	assert_true(token_hash("abc", 3, h));
	assert_memory_equal(h, want, sizeof(want));
	token_hash_to_text(h, text);
	assert_string_equal(text,
			    "\\xba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	assert_true(token_hash_from_text(text, back));
	assert_memory_equal(back, h, TOKEN_HASH_LEN);
	/* PostgreSQL may answer in capitals; anything else is refused. */
	assert_true(token_hash_from_text(
		"\\xBA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD", back));
	assert_memory_equal(back, h, TOKEN_HASH_LEN);
	assert_false(token_hash_from_text("ba7816bf", back));
	assert_false(token_hash_from_text(
		"\\xba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015a", back));
	assert_false(token_hash_from_text(
		"\\xzz7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", back));
	assert_false(token_hash_from_text(NULL, back));
}

static void test_matches(void **state)
{
	struct token_new t;
	char id[TOKEN_ID_LEN + 1];
	const char *secret;
	size_t len;

	assert_true(token_create(&t));
	assert_true(token_parse(t.token, id, &secret, &len));
	assert_true(token_secret_matches(secret, len, t.hash, TOKEN_HASH_LEN));

	/* One character of the secret changed. */
	char *other = xstrdup(t.token);
	char *s = other + (secret - t.token);
	s[5] = s[5] == 'A' ? 'B' : 'A';
	assert_false(token_secret_matches(s, len, t.hash, TOKEN_HASH_LEN));
	/* One bit of the stored hash changed. */
	unsigned char h[TOKEN_HASH_LEN];
	memcpy(h, t.hash, sizeof(h));
	h[31] ^= 1;
	assert_false(token_secret_matches(secret, len, h, TOKEN_HASH_LEN));
	/* A stored hash of another length never matches, even as a prefix. */
	assert_false(token_secret_matches(secret, len, t.hash, TOKEN_HASH_LEN - 1));
	assert_false(token_secret_matches(secret, len, t.hash, 0));
	/* Another token's secret under this one's hash. */
	struct token_new u;
	assert_true(token_create(&u));
	const char *usecret;
	assert_true(token_parse(u.token, id, &usecret, &len));
	assert_false(token_secret_matches(usecret, len, t.hash, TOKEN_HASH_LEN));
	free(other);
	token_new_clear(&t);
	token_new_clear(&u);
}

static void test_parse_refuses(void **state)
{
	static const char *const bad[] = {
		"",
		"esaas_",
		"esaas_0123456789ab_",
		/* right length, wrong prefix */
		"esaaz_0123456789ab_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"ESAAS_0123456789ab_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		/* an id that is not lowercase hex */
		"esaas_0123456789AB_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"esaas_0123456789ag_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		/* no separator after the id */
		"esaas_0123456789abcAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		/* a secret outside base64url, one short, one long */
		"esaas_0123456789ab_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA+",
		"esaas_0123456789ab_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"esaas_0123456789ab_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		/* a JWT is not an API token */
		"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0.AAAA",
	};
	char id[TOKEN_ID_LEN + 1];
	const char *secret = NULL;
	size_t len = 0;

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		if (token_parse(bad[i], id, &secret, &len))
			fail_msg("token %zu was accepted", i);
	}
	assert_false(token_parse(NULL, id, &secret, &len));
	/* '_' and '-' in the secret are the secret's own. */
	assert_true(token_parse("esaas_0123456789ab_-_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA_",
				id, &secret, &len));
	assert_string_equal(id, "0123456789ab");
	assert_int_equal(secret[0], '-');
	assert_int_equal(secret[1], '_');
}

static void test_roles(void **state)
{
	static const char *const names[] = {"viewer", "member", "oncall", "admin"};
	enum token_role r;

	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		assert_true(token_role_parse(names[i], &r));
		assert_int_equal(r, (enum token_role)i);
		assert_string_equal(token_role_name(r), names[i]);
	}
	/* Ordered by what they may do. */
	assert_true(TOKEN_ROLE_VIEWER < TOKEN_ROLE_MEMBER &&
		    TOKEN_ROLE_MEMBER < TOKEN_ROLE_ONCALL && TOKEN_ROLE_ONCALL < TOKEN_ROLE_ADMIN);
	assert_false(token_role_parse("Admin", &r));
	assert_false(token_role_parse("root", &r));
	assert_false(token_role_parse("", &r));
	assert_false(token_role_parse(NULL, &r));
	assert_string_equal(token_role_name((enum token_role)42), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_shape),  cmocka_unit_test(test_tokens_differ),
		cmocka_unit_test(test_hash_vector),   cmocka_unit_test(test_matches),
		cmocka_unit_test(test_parse_refuses), cmocka_unit_test(test_roles),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
