#!/usr/bin/env bash
# A private, throwaway PostgreSQL for tests and the dev stack.
#
#   tests/pg.sh start DIR     initdb DIR/data if needed, start, print the URL
#   tests/pg.sh stop DIR      fast shutdown (nothing to do if not running)
#   tests/pg.sh restart DIR   fast shutdown and start again on the same port
#   tests/pg.sh url DIR       print the URL of a started server
#   tests/pg.sh status DIR    exit 0 if running, 3 if not
#   tests/pg.sh psql DIR ARG...  run psql against it as the superuser
#   tests/pg.sh destroy DIR   stop and remove DIR
#
# start prints exactly one line on stdout, a libpq URI
# (postgresql://postgres@127.0.0.1:PORT/postgres), and writes it to DIR/url.
# Everything else goes to stderr.  Trust authentication on 127.0.0.1 only:
# never point this at data that matters.
#
# Environment:
#   PORT          the TCP port (default: a free one in 20000-40000, then the
#                 same one on every later start of DIR)
#   PG_SUPERUSER  the superuser's name (default postgres)
#   PG_BINDIR     where initdb and pg_ctl live (default: the newest
#                 /usr/lib/postgresql/*/bin, else $PATH)
#
# PostgreSQL refuses to run as root.  Run as root, this script runs the
# server as the postgres account: DIR is then owned by postgres, and every
# folder above it must be enterable by postgres (/tmp is; /root is not).
set -eu
set -o pipefail

PROG=tests/pg.sh
SUPERUSER=${PG_SUPERUSER:-postgres}
RUN_AS=postgres

usage()
{
	cat >&2 <<EOF
usage: $PROG start|stop|restart|url|status|destroy DIR
       $PROG psql DIR [psql arguments]
EOF
	exit 2
}

die()
{
	echo "$PROG: $*" >&2
	exit 1
}

# The server's log, for the reader of an error.
log_tail()
{
	if [ -s "$DIR/log" ]; then
		echo "--- last lines of $DIR/log ---" >&2
		tail -n 30 "$DIR/log" >&2 || true
		echo "---" >&2
	fi
}

die_log()
{
	echo "$PROG: $*" >&2
	log_tail
	exit 1
}

find_bindir()
{
	local d
	if [ -n "${PG_BINDIR:-}" ]; then
		[ -x "$PG_BINDIR/pg_ctl" ] || die "PG_BINDIR=$PG_BINDIR has no pg_ctl"
		BINDIR=$PG_BINDIR
		return
	fi
	BINDIR=
	# Newest major version first (sort -V: 9.6 < 15 < 16).
	for d in $(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V -r); do
		if [ -x "$d/pg_ctl" ] && [ -x "$d/initdb" ]; then
			BINDIR=$d
			return
		fi
	done
	d=$(command -v pg_ctl 2>/dev/null || true)
	[ -n "$d" ] || die "no PostgreSQL server found (install postgresql, or set PG_BINDIR)"
	BINDIR=$(dirname "$d")
}

is_root()
{
	[ "$(id -u)" -eq 0 ]
}

# Run a server program as the account that owns the data.  From DIR, so
# that a current folder the account cannot enter does not matter.
as_owner()
{
	if is_root; then
		(cd "$DIR" && runuser -u "$RUN_AS" -- "$@")
	else
		(cd "$DIR" && "$@")
	fi
}

# Make DIR an absolute path to a folder that the server's account owns
# and can reach.
prepare_dir()
{
	case $DIR in
	/*) ;;
	*) DIR=$PWD/$DIR ;;
	esac
	DIR=${DIR%/}
	[ ! -L "$DIR" ] || die "$DIR is a symbolic link; refusing to use it"

	if is_root; then
		id -u "$RUN_AS" >/dev/null 2>&1 ||
			die "running as root, but there is no '$RUN_AS' account to run PostgreSQL (install postgresql)"
		if [ ! -d "$DIR" ]; then
			install -d -o "$RUN_AS" -g "$(id -gn "$RUN_AS")" -m 700 "$DIR"
		else
			local owner
			owner=$(stat -c %U "$DIR")
			case $owner in
			"$RUN_AS") ;;
			root) chown "$RUN_AS:$(id -gn "$RUN_AS")" "$DIR" ;;
			*) die "$DIR belongs to $owner; use a folder of your own" ;;
			esac
		fi
		# access(2) checks every folder on the way, not just the last.
		if ! runuser -u "$RUN_AS" -- test -x "$DIR" -a -w "$DIR"; then
			die "the '$RUN_AS' account cannot enter $DIR (a folder above it is private, e.g. /root);" \
				"put the data somewhere it can reach, e.g. DIR=\$(mktemp -d /tmp/esaas-pg.XXXXXX)"
		fi
	else
		mkdir -p "$DIR"
		[ -w "$DIR" ] || die "cannot write to $DIR"
	fi
}

is_running()
{
	[ -f "$DIR/data/PG_VERSION" ] &&
		as_owner "$BINDIR/pg_ctl" -D "$DIR/data" status >/dev/null 2>&1
}

port_is_free()
{
	local p=$1
	if command -v ss >/dev/null 2>&1; then
		[ -z "$(ss -Hltn "sport = :$p" 2>/dev/null)" ] || return 1
	fi
	# Also nobody answering (ss may be missing or see another namespace).
	! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null
}

pick_port()
{
	local p _
	for _ in $(seq 1 200); do
		p=$((20000 + RANDOM % 20001))
		if port_is_free "$p"; then
			echo "$p"
			return 0
		fi
	done
	die "no free TCP port found in 20000-40000"
}

do_initdb()
{
	[ ! -e "$DIR/data" ] || die "$DIR/data exists but is not a PostgreSQL data folder; remove it"
	echo "$PROG: initdb $DIR/data ($BINDIR)" >&2
	if ! as_owner "$BINDIR/initdb" -D "$DIR/data" --nosync --auth=trust \
		-U "$SUPERUSER" -E UTF8 --locale=C >"$DIR/initdb.log" 2>&1; then
		cat "$DIR/initdb.log" >&2
		rm -rf "$DIR/data"
		die "initdb failed"
	fi

	# A unix socket path is limited to 107 bytes; over that, TCP only.
	local sockdir=""
	if [ $((${#DIR} + 20)) -lt 100 ]; then
		sockdir=$DIR/run
		as_owner mkdir -p -m 700 "$sockdir"
	fi

	# Speed over durability (a crash loses the data, which is fine here),
	# but synchronous_commit stays on: tests see the real commit path.
	# The port is not here: it is given at every start.
	as_owner tee -a "$DIR/data/postgresql.conf" >/dev/null <<EOF

# --- written by $PROG: a throwaway server for tests ---
listen_addresses = '127.0.0.1'
unix_socket_directories = '$sockdir'
max_connections = 200
fsync = off
full_page_writes = off
synchronous_commit = on
shared_buffers = 64MB
max_wal_size = 1GB
log_min_messages = warning
log_line_prefix = '%m [%p] %q%u@%d '
log_timezone = 'UTC'
timezone = 'UTC'
EOF
}

write_url()
{
	URL="postgresql://$SUPERUSER@127.0.0.1:$1/postgres"
	echo "$URL" >"$DIR/url.tmp"
	mv -f "$DIR/url.tmp" "$DIR/url"
}

server_start()
{
	local port fixed=0 attempt
	if [ -n "${PORT:-}" ]; then
		port=$PORT
		fixed=1
	elif [ -s "$DIR/port" ]; then
		port=$(cat "$DIR/port")
		port_is_free "$port" || port=$(pick_port)
	else
		port=$(pick_port)
	fi
	case $port in
	'' | *[!0-9]*) die "bad port '$port'" ;;
	esac

	for attempt in 1 2 3 4 5; do
		# In a session of its own: a Ctrl-C meant for the caller (a
		# test, dev/run) must not reach the postmaster, for which SIGINT
		# means "fast shutdown".
		if as_owner setsid -w "$BINDIR/pg_ctl" -D "$DIR/data" -l "$DIR/log" -w -t 60 \
			-o "-p $port" start >"$DIR/pg_ctl.log" 2>&1; then
			echo "$port" >"$DIR/port"
			write_url "$port"
			return 0
		fi
		# Someone took the port between the check and the start: another.
		if [ "$fixed" -eq 0 ] && [ "$attempt" -lt 5 ]; then
			case $(tail -n 20 "$DIR/log" 2>/dev/null || true) in
			*"could not bind"* | *"Address already in use"*)
				port=$(pick_port)
				continue
				;;
			esac
		fi
		break
	done
	cat "$DIR/pg_ctl.log" >&2 || true
	die_log "PostgreSQL did not start in $DIR (port $port)"
}

cmd_start()
{
	prepare_dir
	if is_running; then
		[ -s "$DIR/url" ] || write_url "$(cat "$DIR/port")"
		cat "$DIR/url"
		return 0
	fi
	[ -f "$DIR/data/PG_VERSION" ] || do_initdb
	server_start
	echo "$URL"
}

cmd_stop()
{
	[ -d "$DIR" ] || return 0
	[ -f "$DIR/data/PG_VERSION" ] || return 0
	is_running || return 0
	if ! as_owner "$BINDIR/pg_ctl" -D "$DIR/data" -m fast -w -t 60 stop \
		>"$DIR/pg_ctl.log" 2>&1; then
		cat "$DIR/pg_ctl.log" >&2 || true
		as_owner "$BINDIR/pg_ctl" -D "$DIR/data" -m immediate -w stop >/dev/null 2>&1 ||
			die_log "PostgreSQL in $DIR did not stop"
		echo "$PROG: fast shutdown timed out; stopped with immediate mode" >&2
	fi
}

cmd_restart()
{
	prepare_dir
	[ -f "$DIR/data/PG_VERSION" ] || die "no server in $DIR (run start first)"
	cmd_stop
	if [ -z "${PORT:-}" ] && [ -s "$DIR/port" ]; then
		PORT=$(cat "$DIR/port")
	fi
	server_start
	echo "$URL"
}

cmd_url()
{
	[ -s "$DIR/url" ] || die "no server started in $DIR"
	cat "$DIR/url"
}

cmd_status()
{
	if [ -d "$DIR" ] && is_running; then
		echo "running: $(cat "$DIR/url" 2>/dev/null)" >&2
		return 0
	fi
	echo "not running" >&2
	return 3
}

cmd_psql()
{
	[ -s "$DIR/port" ] || die "no server started in $DIR"
	exec "$BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 \
		-p "$(cat "$DIR/port")" -U "$SUPERUSER" "$@"
}

cmd_destroy()
{
	[ -e "$DIR" ] || return 0
	cmd_stop
	rm -rf -- "$DIR"
}

[ $# -ge 2 ] || usage
CMD=$1
DIR=$2
shift 2
[ -n "$DIR" ] || usage
case $DIR in
/*) ;;
*) DIR=$PWD/$DIR ;;
esac
find_bindir

case $CMD in
start) [ $# -eq 0 ] || usage; cmd_start ;;
stop) [ $# -eq 0 ] || usage; cmd_stop ;;
restart) [ $# -eq 0 ] || usage; cmd_restart ;;
url) [ $# -eq 0 ] || usage; cmd_url ;;
status) [ $# -eq 0 ] || usage; cmd_status ;;
psql) cmd_psql "$@" ;;
destroy) [ $# -eq 0 ] || usage; cmd_destroy ;;
*) usage ;;
esac
