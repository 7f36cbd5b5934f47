#!/bin/sh
# Every handler in states/ that takes a way out (step_branch) is listed in
# state_ways()'s table, so that registration checks each row running it
# against its enum.  A handler that branches without being listed would be
# given no ways by every row, and fail its job at run time instead.

srcdir=${srcdir:-$(dirname "$0")/../..}
cd "$srcdir" || exit 99

# "function" for each function of states/*.c that calls step_branch.
branching=$(awk '
	/^[a-z].*[a-z_0-9]+\(.*\)$/ && !/;$/ {
		fn = $0; sub(/\(.*/, "", fn); sub(/.* \**/, "", fn)
	}
	/step_branch\(/ && fn != "" { print fn }' states/*.c | sort -u)
# The handlers in the table: lines "{state_x, ENUM_WAYS},".
listed=$(sed -n 's/^[[:space:]]*{\(state_[a-z_0-9]*\), [A-Z_0-9]*_WAYS},.*/\1/p' states/*.c | sort -u)

if [ -z "$listed" ]; then
	echo "no state_ways() table found in states/"
	exit 1
fi
bad=0
for f in $branching; do
	if ! printf '%s\n' "$listed" | grep -qx "$f"; then
		echo "$f calls step_branch but is not in state_ways()'s table"
		bad=$((bad + 1))
	fi
done
[ "$bad" -eq 0 ] || exit 1
echo "every branching handler is declared: $(echo $branching)"
