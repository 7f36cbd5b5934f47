#include "fuzz/support.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool contract = true;

void support_init(void)
{
	const char *v = getenv("FUZZ_CONTRACT");

	contract = !(v && strcmp(v, "0") == 0);
}

void support_expect(bool cond, const char *fmt, ...)
{
	va_list ap;

	if (cond || !contract)
		return;
	fputs("contract broken: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\n(set FUZZ_CONTRACT=0 to look for crashes only)\n", stderr);
	abort();
}
