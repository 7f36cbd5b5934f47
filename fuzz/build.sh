#!/bin/sh
# Build the libFuzzer targets with clang, outside the autotools build.
#
#   fuzz/build.sh [target...]        (default: every fuzz/fuzz_*.c)
#
# The library sources (the list of libesaas_a_SOURCES in Makefile.am) are
# compiled once with -fsanitize=fuzzer-no-link,address,undefined into an
# archive, and each target is linked against it with -fsanitize=fuzzer.
# Nothing is written outside $FUZZ_OUT.
#
# Environment:
#   CC          a clang with libFuzzer (clang)
#   FUZZ_OUT    build directory (fuzz/out)
#   FUZZ_JOBS   parallel compilers (2)
#   FUZZ_COVERAGE=1  build for source coverage (-fprofile-instr-generate)
#                    instead of fuzzing, into $FUZZ_OUT/coverage
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
CC=${CC:-clang}
OUT=${FUZZ_OUT:-$here/out}
JOBS=${FUZZ_JOBS:-2}
PKGS="libevent libpq libcurl jansson yaml-0.1 libcrypto"

if [ "${FUZZ_COVERAGE:-0}" = 1 ]; then
	OUT=$OUT/coverage
	# A plain main() that replays its arguments stands in for libFuzzer.
	SAN="-fprofile-instr-generate -fcoverage-mapping"
	SAN_LIB=$SAN
	SAN_LINK=$SAN
else
	SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
	SAN_LIB="$SAN -fsanitize=fuzzer-no-link"
	SAN_LINK="$SAN -fsanitize=fuzzer"
fi

# shellcheck disable=SC2086  # PKGS is a list
CFLAGS="-g -O1 -fno-omit-frame-pointer -D_GNU_SOURCE -std=gnu11
	-Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2
	-Wno-unused-parameter -I$top -I$OUT $(pkg-config --cflags $PKGS)"
# shellcheck disable=SC2086
LIBS="$(pkg-config --libs $PKGS) -levent_pthreads -lm"

mkdir -p "$OUT/obj"

# The library's .c files, as Makefile.am lists them.
lib_sources=$(cd "$top" && awk '
	/^libesaas_a_SOURCES[ \t]*=/ { on = 1; sub(/^[^=]*=/, "") }
	on { for (i = 1; i <= NF; i++) if ($i ~ /\.c$/) print $i; if ($0 !~ /\\$/) on = 0 }
' Makefile.am)
if [ -z "$lib_sources" ]; then
	echo "build.sh: no libesaas_a_SOURCES in $top/Makefile.am" >&2
	exit 1
fi

# config.h as configure would write it: the PACKAGE_* of AC_INIT.
name=$(sed -n 's/^AC_INIT(\[\([^]]*\)\], *\[\([^]]*\)\].*/\1/p' "$top/configure.ac")
version=$(sed -n 's/^AC_INIT(\[\([^]]*\)\], *\[\([^]]*\)\].*/\2/p' "$top/configure.ac")
awk -v name="$name" -v version="$version" '
	$1 == "#undef" {
		v["PACKAGE"] = v["PACKAGE_NAME"] = v["PACKAGE_TARNAME"] = name
		v["PACKAGE_VERSION"] = v["VERSION"] = version
		v["PACKAGE_STRING"] = name " " version
		v["PACKAGE_BUGREPORT"] = v["PACKAGE_URL"] = ""
		if ($2 in v) { printf "#define %s \"%s\"\n", $2, v[$2]; next }
	}
	{ print }
' "$top/config.h.in" >"$OUT/config.h"

# storage/migrations.c is generated, as the Makefile does.
mkdir -p "$OUT/storage"
(cd "$top" && sh storage/embed-migrations.sh storage/migrations/*.sql) \
	>"$OUT/storage/migrations.c.tmp"
mv "$OUT/storage/migrations.c.tmp" "$OUT/storage/migrations.c"

# The test build's workflows (only esaasd-test routes POST /api/v1/jobs),
# and what the targets share.
extra_sources="tests/testwf/testwf.c fuzz/support.c"

objects=
list=
for src in $lib_sources $extra_sources; do
	obj=$OUT/obj/$(echo "$src" | tr / _ | sed 's/\.c$/.o/')
	objects="$objects $obj"
	list="$list $top/$src:$obj"
done
obj=$OUT/obj/storage_migrations.o
objects="$objects $obj"
list="$list $OUT/storage/migrations.c:$obj"

echo "  CC      library ($(echo "$list" | wc -w) files)"
export CC CFLAGS SAN_LIB
# shellcheck disable=SC2086,SC2016  # the inner shell expands them
printf '%s\n' $list | xargs -P "$JOBS" -I{} sh -c '
	src=${1%%:*}; obj=${1#*:}
	# shellcheck disable=SC2086
	$CC $CFLAGS $SAN_LIB -c "$src" -o "$obj"
' sh {}

rm -f "$OUT/libesaas-fuzz.a"
# shellcheck disable=SC2086
ar rcs "$OUT/libesaas-fuzz.a" $objects

# The coverage build replays files with a main() of its own instead of libFuzzer's.
driver=
if [ "${FUZZ_COVERAGE:-0}" = 1 ]; then
	driver=$OUT/obj/replay.o
	# shellcheck disable=SC2086
	$CC $CFLAGS $SAN -c "$here/replay.c" -o "$driver"
fi

if [ $# -eq 0 ]; then
	for f in "$here"/fuzz_*.c; do
		set -- "$@" "$(basename "$f" .c)"
	done
fi
for t in "$@"; do
	t=${t%.c}
	echo "  CCLD    $t"
	# shellcheck disable=SC2086
	$CC $CFLAGS $SAN_LINK "$here/$t.c" $driver "$OUT/libesaas-fuzz.a" $LIBS -o "$OUT/$t"
done
