#include "common/base64.h"

#include <stdint.h>
#include <stdlib.h>

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* The 6-bit value of c, or -1 for a byte outside the alphabet. */
static int sextet(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

static bool skipped(char c)
{
	return c == '\r' || c == '\n';
}

bool base64_decode(const char *in, size_t len, unsigned char **out, size_t *outlen, size_t *pos)
{
	/* Every 4 characters make 3 bytes; CR/LF only shrink the result. */
	unsigned char *buf = xmalloc(len / 4 * 3 + 1);
	size_t n = 0;
	uint32_t acc = 0;
	int have = 0; /* sextets in acc */
	int pads = 0;
	size_t bad = 0;
	size_t last = 0;      /* offset of the last character taken */
	size_t last_data = 0; /* offset of the last one that is not '=' */

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];
		int v;

		if (skipped((char)c))
			continue;
		if (c == '=') {
			/* Only after two or three characters of a quantum. */
			if (pads == 0 && have < 2) {
				bad = i;
				goto failed;
			}
			pads++;
			have++;
			last = i;
			if (have == 4)
				break;
			continue;
		}
		/* Nothing but padding after the first '='. */
		if (pads > 0 || (v = sextet(c)) < 0) {
			bad = i;
			goto failed;
		}
		acc = acc << 6 | (uint32_t)v;
		last = i;
		last_data = i;
		if (++have == 4) {
			buf[n++] = (unsigned char)(acc >> 16);
			buf[n++] = (unsigned char)(acc >> 8);
			buf[n++] = (unsigned char)acc;
			acc = 0;
			have = 0;
		}
	}
	if (pads > 0) {
		/* The padded quantum ended the input: only CR/LF may follow. */
		for (size_t i = last + 1; i < len; i++) {
			if (!skipped(in[i])) {
				bad = i;
				goto failed;
			}
		}
		if (have != 4) {
			bad = len;
			goto failed;
		}
		/* "xx==" carries 1 byte, "xxx=" 2; the bits left over must be 0. */
		if (pads == 2) {
			if (acc & 0xf)
				goto trailing;
			buf[n++] = (unsigned char)(acc >> 4);
		} else {
			if (acc & 0x3)
				goto trailing;
			buf[n++] = (unsigned char)(acc >> 10);
			buf[n++] = (unsigned char)(acc >> 2);
		}
	} else if (have != 0) {
		bad = len;
		goto failed;
	}
	buf[n] = '\0';
	*out = buf;
	*outlen = n;
	return true;

trailing:
	/* The character before the padding has bits set that encode nothing. */
	bad = last_data;
failed:
	if (pos)
		*pos = bad;
	free(buf);
	return false;
}

char *base64_encode(const void *data, size_t len)
{
	const unsigned char *p = data;
	char *s = xmalloc((len + 2) / 3 * 4 + 1);
	size_t n = 0;
	size_t i;

	for (i = 0; i + 3 <= len; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];

		s[n++] = alphabet[v >> 18];
		s[n++] = alphabet[(v >> 12) & 63];
		s[n++] = alphabet[(v >> 6) & 63];
		s[n++] = alphabet[v & 63];
	}
	if (i < len) {
		uint32_t v = (uint32_t)p[i] << 16;

		if (i + 1 < len)
			v |= (uint32_t)p[i + 1] << 8;
		s[n++] = alphabet[v >> 18];
		s[n++] = alphabet[(v >> 12) & 63];
		s[n++] = i + 1 < len ? alphabet[(v >> 6) & 63] : '=';
		s[n++] = '=';
	}
	s[n] = '\0';
	return s;
}

static int url_sextet(unsigned char c)
{
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	if (c == '+' || c == '/')
		return -1;
	return sextet(c);
}

bool base64url_decode(const char *in, size_t len, unsigned char **out, size_t *outlen, size_t *pos)
{
	unsigned char *buf;
	size_t n = 0;
	uint32_t acc = 0;
	int have = 0;
	size_t bad;

	/* 4n+1 characters would carry 6 bits of a byte: never a valid encoding. */
	if (len % 4 == 1) {
		if (pos)
			*pos = len;
		return false;
	}
	buf = xmalloc(len / 4 * 3 + 3);
	for (size_t i = 0; i < len; i++) {
		int v = url_sextet((unsigned char)in[i]);

		if (v < 0) {
			bad = i;
			goto failed;
		}
		acc = acc << 6 | (uint32_t)v;
		if (++have == 4) {
			buf[n++] = (unsigned char)(acc >> 16);
			buf[n++] = (unsigned char)(acc >> 8);
			buf[n++] = (unsigned char)acc;
			acc = 0;
			have = 0;
		}
	}
	/* Two characters make 1 byte, three 2; the bits left over must be 0. */
	if (have == 2) {
		if (acc & 0xf) {
			bad = len - 1;
			goto failed;
		}
		buf[n++] = (unsigned char)(acc >> 4);
	} else if (have == 3) {
		if (acc & 0x3) {
			bad = len - 1;
			goto failed;
		}
		buf[n++] = (unsigned char)(acc >> 10);
		buf[n++] = (unsigned char)(acc >> 2);
	}
	buf[n] = '\0';
	*out = buf;
	*outlen = n;
	return true;

failed:
	if (pos)
		*pos = bad;
	free(buf);
	return false;
}

/* The standard encoding, translated and cut before its padding. */
char *base64url_encode(const void *data, size_t len)
{
	char *s = base64_encode(data, len);
	size_t n = 0;

	for (char *p = s; *p && *p != '='; p++, n++) {
		if (*p == '+')
			*p = '-';
		else if (*p == '/')
			*p = '_';
	}
	s[n] = '\0';
	return s;
}
