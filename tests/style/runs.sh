#!/bin/sh
# Every integration program of Makefile.am's INTEGRATION_TESTS is run by
# check-integration: it is listed in INTEGRATION_RUNS, whole or in shards.
set -eu
mk=${srcdir:-.}/Makefile.am
[ -f "$mk" ] || mk=$(dirname "$0")/../../Makefile.am
list()
{
	sed -n "/^$1 = /,/[^\\\\]\$/p" "$mk" | tr ' \t\\' '\n\n\n' | sed -n 's/:.*//; /^tests\//p' | sort -u
}
missing=$(list INTEGRATION_TESTS | while read -r t; do
	list INTEGRATION_RUNS | grep -qx "$t" || echo "$t"
done)
if [ -n "$missing" ]; then
	echo "not in INTEGRATION_RUNS, so never run: $missing" >&2
	exit 1
fi
echo "every integration program runs"
