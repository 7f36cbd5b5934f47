#!/usr/bin/env bash
# Run the integration test programs, up to ESAAS_TEST_JOBS (8) at a time.
# Each program has its own PostgreSQL, esaas-sim and esaasd, so they do not
# share state; their clusters run side by side, and the programs mostly
# wait on them (pods take their probes' seconds to be Ready), so more run
# at once than there are cores.  PROGRAM:i/n runs one shard of a long
# program (ESAAS_TEST_SHARD, tests/integration/harness.h).  A program's
# output is printed whole once it ends, with its time, so the cmocka
# summaries stay readable and countable.  The exit status is 1 if any
# program failed.
#
#   tests/run-integration.sh BUILDDIR PROGRAM[:i/n]...
set -u

builddir=$1
shift
jobs=${ESAAS_TEST_JOBS:-8}
case $jobs in
'' | *[!0-9]* | 0)
	echo "ESAAS_TEST_JOBS: a positive number is expected, not '$jobs'" >&2
	exit 2
	;;
esac

logs=$(mktemp -d /tmp/esaas-it-logs.XXXXXX)
trap 'rm -rf "$logs"' EXIT

run_one()
{
	local t=$1 log start rc
	log=$logs/$(echo "$t" | tr /: __)
	start=$(date +%s)
	case $t in
	*:*) ESAAS_TEST_SHARD=${t#*:} "$builddir/${t%%:*}" >"$log.out" 2>&1 & ;;
	*) "$builddir/$t" >"$log.out" 2>&1 & ;;
	esac
	echo $! >"$log.pid"
	wait $!
	rc=$?
	echo "$rc $(($(date +%s) - start))" >"$log.rc"
}

# Start programs in the order given (the longest are best listed first),
# keeping at most $jobs running; report each as it ends.
declare -A running=()
pending=("$@")
failed=0
report()
{
	local t=$1 log rc secs
	log=$logs/$(echo "$t" | tr /: __)
	read -r rc secs <"$log.rc"
	echo "--- $t (${secs}s, exit $rc)"
	cat "$log.out"
	[ "$rc" -eq 0 ] || failed=1
}
# Stopped (a timeout): show what the running programs printed so far.
# shellcheck disable=SC2317  # runs from the trap
interrupted()
{
	local pid t
	for pid in "${!running[@]}"; do
		t=${running[$pid]}
		kill "$(cat "$logs/$(echo "$t" | tr /: __).pid" 2>/dev/null)" 2>/dev/null
		echo "--- $t (interrupted)"
		cat "$logs/$(echo "$t" | tr /: __).out" 2>/dev/null
	done
	exit 1
}
trap interrupted TERM INT
while [ ${#pending[@]} -gt 0 ] || [ ${#running[@]} -gt 0 ]; do
	while [ ${#pending[@]} -gt 0 ] && [ ${#running[@]} -lt "$jobs" ]; do
		t=${pending[0]}
		pending=("${pending[@]:1}")
		run_one "$t" &
		running[$!]=$t
	done
	wait -n -p done_pid
	t=${running[$done_pid]}
	unset "running[$done_pid]"
	report "$t"
done
exit $failed
