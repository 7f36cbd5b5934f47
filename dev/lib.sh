# shellcheck shell=bash
# What dev/run and dev/test share: messages, Debian packages, building.
# Sourced, never run.  Sets ESAAS_ROOT, the top of the checkout.

ESAAS_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ESAAS_JOBS=${ESAAS_JOBS:-2}

# The Debian 12 packages that building, testing and running esaas need.
ESAAS_DEB_PACKAGES=(
	build-essential autoconf automake libtool pkg-config
	libevent-dev libpq-dev libcurl4-openssl-dev libjansson-dev
	libyaml-dev libcmocka-dev libssl-dev
	postgresql postgresql-contrib
	curl valgrind openssl systemd # systemd-analyze verifies the unit (tests/deploy)
	clang libclang-rt-14-dev clang-format python3-jsonschema python3-yaml
	prometheus # promtool checks /metrics (tests/integration/test_monitor)
	chromium nodejs nginx-light
)
# The job viewer's browser tests drive chromium from node.  Some nodejs
# builds (NodeSource's) bring npm and conflict with Debian's npm package.
command -v npm >/dev/null 2>&1 || ESAAS_DEB_PACKAGES+=(npm)

say()
{
	if [ -t 2 ]; then
		printf '\033[1m==> %s\033[0m\n' "$*" >&2
	else
		printf '==> %s\n' "$*" >&2
	fi
}

note()
{
	printf '    %s\n' "$*" >&2
}

warn()
{
	printf '%s: warning: %s\n' "${0##*/}" "$*" >&2
}

die()
{
	printf '%s: %s\n' "${0##*/}" "$*" >&2
	exit 1
}

is_root()
{
	[ "$(id -u)" -eq 0 ]
}

# --- Debian packages --------------------------------------------------------

# Print the packages of ESAAS_DEB_PACKAGES that are not installed.
esaas_missing_packages()
{
	local p status
	for p in "${ESAAS_DEB_PACKAGES[@]}"; do
		status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
		case $status in
		*" ok installed") ;;
		*) echo "$p" ;;
		esac
	done
}

# Install what is missing; nothing at all (not even apt-get update) when
# everything is there.
esaas_install_packages()
{
	local missing sudo=()
	if ! command -v dpkg-query >/dev/null 2>&1; then
		warn "not a Debian system: install by hand the equivalents of: ${ESAAS_DEB_PACKAGES[*]}"
		return 0
	fi
	mapfile -t missing < <(esaas_missing_packages)
	[ "${#missing[@]}" -gt 0 ] || return 0

	if ! is_root; then
		if command -v sudo >/dev/null 2>&1; then
			sudo=(sudo)
		else
			die "missing packages: ${missing[*]}; run as root, or install them: apt-get install ${missing[*]}"
		fi
	fi
	say "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	"${sudo[@]}" apt-get update -q </dev/null ||
		die "apt-get update failed"
	"${sudo[@]}" apt-get install -y -q -o Dpkg::Options::=--force-confdef \
		-o Dpkg::Options::=--force-confold "${missing[@]}" </dev/null ||
		die "apt-get install ${missing[*]} failed"
}

# --- building ---------------------------------------------------------------

# Generate configure when it is missing or older than configure.ac.
esaas_bootstrap()
{
	local root=$ESAAS_ROOT
	if [ -x "$root/configure" ] && [ "$root/configure" -nt "$root/configure.ac" ] &&
		[ -f "$root/Makefile.in" ] && [ "$root/Makefile.in" -nt "$root/Makefile.am" ]; then
		return 0
	fi
	say "bootstrap (autoreconf)"
	"$root/bootstrap"
}

# Configure in BUILDDIR (out of the source tree) with the given arguments,
# unless it already is, with the same arguments.
esaas_configure()
{
	local builddir=$1
	shift
	local args="$*" root=$ESAAS_ROOT

	# Automake refuses a build folder when the source tree itself is
	# configured (./configure && make by hand): undo that first.
	if [ -f "$root/config.status" ]; then
		say "the source tree is configured in place; make distclean there first"
		make -C "$root" distclean >/dev/null 2>&1 ||
			rm -f "$root/config.status" "$root/config.h" "$root/stamp-h1"
	fi

	mkdir -p "$builddir"
	if [ -f "$builddir/config.status" ] && [ -f "$builddir/Makefile" ] &&
		[ "$builddir/config.status" -nt "$root/configure" ] &&
		[ "$(cat "$builddir/.esaas-configure-args" 2>/dev/null)" = "$args" ]; then
		return 0
	fi
	say "configure ${builddir#"$root"/}${args:+ ($args)}"
	rm -f "$builddir/.esaas-configure-args"
	if ! (cd "$builddir" && "$root/configure" "$@") >"$builddir/configure.out" 2>&1; then
		tail -n 40 "$builddir/configure.out" >&2
		warn "configure failed; see $builddir/config.log"
		return 1
	fi
	printf '%s\n' "$args" >"$builddir/.esaas-configure-args"
}

# bootstrap + configure + make in BUILDDIR.
esaas_build()
{
	local builddir=$1
	shift
	esaas_bootstrap || return 1
	esaas_configure "$builddir" "$@" || return 1
	say "make -j$ESAAS_JOBS (${builddir#"$ESAAS_ROOT"/})"
	make -C "$builddir" -j"$ESAAS_JOBS" --no-print-directory
}

# The list of unit test programs of a configured BUILDDIR, one path a line
# relative to it: from `make print-unit-tests` when the Makefile has it,
# else the tests/unit/test_* programs that are there.
esaas_unit_tests()
{
	local builddir=$1 list
	if list=$(make -s -C "$builddir" --no-print-directory print-unit-tests 2>/dev/null) &&
		[ -n "$list" ]; then
		# Only program paths: a Makefile regenerating itself prints too.
		printf '%s\n' "$list" | tr ' ' '\n' | grep -E '^tests/unit/test_[A-Za-z0-9_]+$'
		return 0
	fi
	(cd "$builddir" && find tests/unit -maxdepth 1 -type f -name 'test_*' \
		! -name '*.*' -perm -u+x 2>/dev/null | sort)
}

# --- the private PostgreSQL ---------------------------------------------------

# Where the dev PostgreSQL keeps its data: .dev/pg in the checkout, unless
# the server's account (postgres, when we are root) cannot reach it there.
esaas_dev_pg_dir()
{
	local dev=$ESAAS_ROOT/.dev
	mkdir -p "$dev"
	if ! is_root || runuser -u postgres -- test -x "$dev" 2>/dev/null; then
		echo "$dev/pg"
	else
		echo "/tmp/esaas-dev-pg-$(id -u)"
	fi
}
