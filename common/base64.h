/*
 * Base64 of RFC 4648: the standard alphabet, with padding.
 *
 * The decoder is strict, because what it reads (the *-data fields of a
 * kubeconfig) is written by programs: a character outside the alphabet, a
 * missing or misplaced '=', or non-zero bits in the last character before
 * the padding are refused rather than guessed at.  The only leniency is the
 * one kubectl has: CR and LF are skipped wherever they are, so a value
 * folded over several lines still decodes.
 */
#ifndef ESAAS_BASE64_H
#define ESAAS_BASE64_H

#include <stdbool.h>
#include <stddef.h>

#include "common/util.h"

/*
 * Decode len bytes of in.  On success *out is a new buffer (the caller
 * frees it) of *outlen bytes plus a terminating NUL that *outlen does not
 * count, so text decodes straight into a C string.  On failure returns
 * false, leaves *out and *outlen alone, and, when pos is not NULL, sets
 * *pos to the offset in `in` of the first byte at fault.
 */
bool base64_decode(const char *in, size_t len, unsigned char **out, size_t *outlen,
		   size_t *pos) MUST_CHECK;

/* The padded encoding of len bytes of data, as a new string. */
char *base64_encode(const void *data, size_t len);

/*
 * The URL-safe alphabet of RFC 4648 section 5 ('-' and '_' for '+' and
 * '/'), without padding, as JWS (RFC 7515) and API tokens use it.  The
 * decoder is as strict as base64_decode(), and stricter: '=', CR and LF
 * are refused, as is a length that leaves one character over.  Same
 * contract for out, outlen and pos.
 */
bool base64url_decode(const char *in, size_t len, unsigned char **out, size_t *outlen,
		      size_t *pos) MUST_CHECK;

/* The unpadded URL-safe encoding of len bytes of data, as a new string. */
char *base64url_encode(const void *data, size_t len);

#endif
