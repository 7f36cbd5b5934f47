#!/bin/sh
# The tree matches its .clang-format: every C file of the project, checked
# with clang-format 14 (Debian 12's), which is the version the style was
# written for; another version formats differently, so without 14 the test
# is skipped (exit 77), and dev/test counts a skip under CI as a failure.
# On failure it prints the command that fixes the files.

srcdir=${srcdir:-$(dirname "$0")/../..}
cd "$srcdir" || exit 99

fmt=
for f in clang-format-14 clang-format; do
	if command -v "$f" >/dev/null 2>&1 &&
		"$f" --version 2>/dev/null | grep -q 'version 14\.'; then
		fmt=$f
		break
	fi
done
if [ -z "$fmt" ]; then
	echo "skip: no clang-format 14 (apt-get install clang-format)" >&2
	exit 77
fi

# Tracked files in a checkout, every C file of the tree in a release tarball
# (a worktree's .git is a file; an unpacked tarball inside a checkout is not
# its top level).
if command -v git >/dev/null 2>&1 &&
	[ "$(git rev-parse --show-toplevel 2>/dev/null)" = "$(pwd -P)" ]; then
	files=$(git ls-files '*.c' '*.h' | sort -u)
else
	files=$(find api bench cli common engine es fuzz kube monitor sim states storage tests workflows \
		-path '*/node_modules' -prune -o \( -name '*.c' -o -name '*.h' \) -print |
		grep -v '/migrations\.c$' | sort)
fi

bad=0
for f in $files; do
	if ! "$fmt" --dry-run --Werror "$f" >/dev/null 2>&1; then
		echo "not formatted: $f"
		bad=$((bad + 1))
	fi
done
if [ "$bad" -gt 0 ]; then
	echo "$bad file(s) differ from .clang-format; fix with: $fmt -i FILE..."
	exit 1
fi
echo "every C file matches .clang-format ($(echo "$files" | wc -l) files)"
