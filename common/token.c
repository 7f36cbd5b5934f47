#include "common/token.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "common/base64.h"
#include "common/log.h"

static const char *const role_names[] = {
	[TOKEN_ROLE_VIEWER] = "viewer",
	[TOKEN_ROLE_MEMBER] = "member",
	[TOKEN_ROLE_ONCALL] = "oncall",
	[TOKEN_ROLE_ADMIN] = "admin",
};

static const char hexdigits[] = "0123456789abcdef";

const char *token_role_name(enum token_role role)
{
	if ((size_t)role >= ARRAY_SIZE(role_names))
		return "unknown";
	return role_names[role];
}

bool token_role_parse(const char *s, enum token_role *out)
{
	if (!s)
		return false;
	for (size_t i = 0; i < ARRAY_SIZE(role_names); i++) {
		if (strcmp(s, role_names[i]) == 0) {
			*out = (enum token_role)i;
			return true;
		}
	}
	return false;
}

static void log_crypto_error(const char *what)
{
	unsigned long e = ERR_get_error();
	char buf[256];

	ERR_error_string_n(e, buf, sizeof(buf));
	log_error("%s: %s", what, e ? buf : "unknown libcrypto error");
	ERR_clear_error();
}

bool token_create(struct token_new *out)
{
	unsigned char idbytes[TOKEN_ID_LEN / 2];
	unsigned char secret[TOKEN_SECRET_BYTES];
	char *enc = NULL;
	size_t n = 0;

	memset(out, 0, sizeof(*out));
	if (RAND_bytes(idbytes, sizeof(idbytes)) != 1 || RAND_bytes(secret, sizeof(secret)) != 1) {
		log_crypto_error("cannot make an API token: RAND_bytes");
		goto failed;
	}
	for (size_t i = 0; i < sizeof(idbytes); i++) {
		out->id[2 * i] = hexdigits[idbytes[i] >> 4];
		out->id[2 * i + 1] = hexdigits[idbytes[i] & 0xf];
	}
	out->id[TOKEN_ID_LEN] = '\0';
	enc = base64url_encode(secret, sizeof(secret));
	if (strlen(enc) != TOKEN_SECRET_LEN)
		goto failed;
	memcpy(out->token, TOKEN_PREFIX, sizeof(TOKEN_PREFIX) - 1);
	n = sizeof(TOKEN_PREFIX) - 1;
	memcpy(out->token + n, out->id, TOKEN_ID_LEN);
	n += TOKEN_ID_LEN;
	out->token[n++] = '_';
	memcpy(out->token + n, enc, TOKEN_SECRET_LEN);
	n += TOKEN_SECRET_LEN;
	out->token[n] = '\0';
	if (!token_hash(enc, TOKEN_SECRET_LEN, out->hash))
		goto failed;
	OPENSSL_cleanse(secret, sizeof(secret));
	OPENSSL_cleanse(enc, TOKEN_SECRET_LEN);
	free(enc);
	return true;

failed:
	OPENSSL_cleanse(secret, sizeof(secret));
	if (enc) {
		OPENSSL_cleanse(enc, strlen(enc));
		free(enc);
	}
	token_new_clear(out);
	return false;
}

void token_new_clear(struct token_new *t)
{
	OPENSSL_cleanse(t, sizeof(*t));
}

static bool is_hex_lower(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static bool is_base64url(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_';
}

bool token_parse(const char *token, char id[TOKEN_ID_LEN + 1], const char **secret,
		 size_t *secret_len)
{
	const size_t plen = sizeof(TOKEN_PREFIX) - 1;
	const char *p;

	if (!token || strlen(token) != TOKEN_LEN || strncmp(token, TOKEN_PREFIX, plen) != 0)
		return false;
	p = token + plen;
	for (size_t i = 0; i < TOKEN_ID_LEN; i++) {
		if (!is_hex_lower(p[i]))
			return false;
	}
	if (p[TOKEN_ID_LEN] != '_')
		return false;
	for (size_t i = TOKEN_ID_LEN + 1; i < TOKEN_ID_LEN + 1 + TOKEN_SECRET_LEN; i++) {
		if (!is_base64url(p[i]))
			return false;
	}
	memcpy(id, p, TOKEN_ID_LEN);
	id[TOKEN_ID_LEN] = '\0';
	*secret = p + TOKEN_ID_LEN + 1;
	*secret_len = TOKEN_SECRET_LEN;
	return true;
}

bool token_hash(const char *secret, size_t len, unsigned char out[TOKEN_HASH_LEN])
{
	unsigned int n = 0;

	if (EVP_Digest(secret, len, out, &n, EVP_sha256(), NULL) != 1 || n != TOKEN_HASH_LEN) {
		log_crypto_error("cannot hash an API token: EVP_Digest");
		return false;
	}
	return true;
}

bool token_secret_matches(const char *secret, size_t len, const unsigned char *stored,
			  size_t stored_len)
{
	unsigned char h[TOKEN_HASH_LEN];
	bool ok;

	if (stored_len != TOKEN_HASH_LEN || !token_hash(secret, len, h))
		return false;
	ok = CRYPTO_memcmp(h, stored, TOKEN_HASH_LEN) == 0;
	OPENSSL_cleanse(h, sizeof(h));
	return ok;
}

void token_hash_to_text(const unsigned char hash[TOKEN_HASH_LEN], char out[2 * TOKEN_HASH_LEN + 3])
{
	out[0] = '\\';
	out[1] = 'x';
	for (size_t i = 0; i < TOKEN_HASH_LEN; i++) {
		out[2 + 2 * i] = hexdigits[hash[i] >> 4];
		out[3 + 2 * i] = hexdigits[hash[i] & 0xf];
	}
	out[2 + 2 * TOKEN_HASH_LEN] = '\0';
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

bool token_hash_from_text(const char *text, unsigned char out[TOKEN_HASH_LEN])
{
	if (!text || strlen(text) != 2 + 2 * TOKEN_HASH_LEN || text[0] != '\\' || text[1] != 'x')
		return false;
	for (size_t i = 0; i < TOKEN_HASH_LEN; i++) {
		int hi = hexval(text[2 + 2 * i]);
		int lo = hexval(text[3 + 2 * i]);

		if (hi < 0 || lo < 0)
			return false;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return true;
}
