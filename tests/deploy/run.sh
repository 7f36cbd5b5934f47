#!/usr/bin/env bash
# The deployment test: validate deploy/kubernetes/ against the Kubernetes
# 1.29 schemas, prove the ClusterRole is exactly what kube/resources.c
# issues, check that the manifests fit together, and check and test the
# alerting rules of deploy/prometheus/ with promtool (tests/deploy/check.py).
# Prints one line per check and, last, "N passed, N failed".
#
#   tests/deploy/run.sh
#
# $srcdir (or $ESAAS_SRCDIR) is the source tree, default this script's;
# the schemas are $srcdir/tests/reference (see its README.md);
# $ESAAS_BUILDDIR/esaasd (default $srcdir/build), or $ESAAS_ESAASD, is run
# with --check-config on the ConfigMap's file when it exists.
# Needs python3 with jsonschema and yaml (the image's pyenv python3, or
# Debian's python3-jsonschema and python3-yaml for /usr/bin/python3); where
# neither is there, the test is skipped (exit 77).

set -u

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
srcdir=${srcdir:-${ESAAS_SRCDIR:-$(cd "$HERE/../.." && pwd)}}
srcdir=$(cd "$srcdir" && pwd)

PYTHON=
for py in python3 /usr/bin/python3; do
	if command -v "$py" >/dev/null 2>&1 && "$py" -c 'import jsonschema, yaml' 2>/dev/null; then
		PYTHON=$py
		break
	fi
done
if [ -z "$PYTHON" ]; then
	echo "skip: no python3 with the jsonschema and yaml modules" \
		"(apt-get install python3-jsonschema python3-yaml)" >&2
	exit 77
fi

exec "$PYTHON" "$HERE/check.py" --root "$srcdir"
