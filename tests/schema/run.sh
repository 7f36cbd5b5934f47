#!/usr/bin/env bash
# The schema test: render a cluster for every supported major version
# (2, 5, 6, 7, 8) with host and with rack placement, plus a few variants,
# and validate every object against the Kubernetes 1.29 standalone-strict
# schemas.  Prints one line per object and, last, "N passed, N failed".
#
#   tests/schema/run.sh [RENDER_CLI]
#
# RENDER_CLI (or $ESAAS_RENDER_CLI) is the built tests/schema/render_cli;
# without it, $ESAAS_BUILDDIR/tests/schema/render_cli (default build/) is
# used if present, else the program is compiled into a temporary folder.
# The validator needs python3 with jsonschema (the image's pyenv python3,
# or Debian's python3-jsonschema for /usr/bin/python3); where neither is
# there, the test is skipped (exit 77), which dev/test counts as a failure.
# The schemas are tests/reference/k8s-schema/v1.29.0-standalone-strict
# (tests/reference/README.md gives their source); $ESAAS_K8S_SCHEMA_DIR
# overrides that.

set -u
set -o pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
TMP=$(mktemp -d "${TMPDIR:-/tmp}/esaas-schema.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

PYTHON=
for py in python3 /usr/bin/python3; do
	if command -v "$py" >/dev/null 2>&1 && "$py" -c 'import jsonschema' 2>/dev/null; then
		PYTHON=$py
		break
	fi
done
if [ -z "$PYTHON" ]; then
	echo "skip: no python3 with the jsonschema module (apt-get install python3-jsonschema)" >&2
	exit 77
fi

CLI=${1:-${ESAAS_RENDER_CLI:-}}
if [ -z "$CLI" ]; then
	BUILT=${ESAAS_BUILDDIR:-$ROOT/build}/tests/schema/render_cli
	if [ -x "$BUILT" ]; then
		CLI=$BUILT
	else
		CLI=$TMP/render_cli
		# shellcheck disable=SC2046
		if ! ${CC:-cc} -std=gnu11 -D_GNU_SOURCE -I"$ROOT" -o "$CLI" \
			"$ROOT/tests/schema/render_cli.c" "$ROOT/kube/render.c" \
			"$ROOT/kube/render_quota.c" "$ROOT/kube/render_yaml.c" "$ROOT/kube/spec.c" \
			"$ROOT/es/version.c" "$ROOT/common/util.c" "$ROOT/common/log.c" \
			$(pkg-config --cflags --libs jansson yaml-0.1); then
			echo "0 passed, 1 failed"
			exit 1
		fi
	fi
fi

PASSED=0
FAILED=0

# spec_for MAJOR SPREAD [CLIENTS]: a spec using version-appropriate plugins
# and both kinds of settings.
spec_for()
{
	local version plugins static='"thread_pool.write.queue_size": 1000'
	case $1 in
	2)
		version=2.4.6 plugins='"analysis-icu", "mapper-attachments"'
		static='"threadpool.index.queue_size": 1000'
		;;
	5)
		version=5.6.16 plugins='"analysis-icu", "ingest-attachment"'
		static='"thread_pool.bulk.queue_size": 1000'
		;;
	6) version=6.8.23 plugins='"analysis-icu", "repository-s3"' ;;
	7) version=7.17.10 plugins='"analysis-icu", "repository-s3"' ;;
	8) version=8.17.0 plugins='"analysis-icu", "discovery-ec2"' ;;
	9) version=9.5.2 plugins='"analysis-icu", "discovery-ec2"' ;;
	*) version=$1 plugins='"analysis-phonetic"' ;;
	esac
	cat <<JSON
{
  "name": "logs",
  "version": "$version",
  "masters": {"replicas": 3, "cpu": "500m", "memory": "1Gi"},
  "data": {"replicas": 3, "cpu": "2", "memory": "4Gi", "disk": "50Gi", "heap": "1536m"},
  "clients": {"replicas": ${3:-2}, "cpu": "1", "memory": "2Gi"},
  "plugins": [$plugins],
  "config": {
    $static,
    "indices.memory.index_buffer_size": "20%",
    "action.destructive_requires_name": true,
    "cluster.routing.allocation.disk.watermark.low": "85%"
  },
  "placement": {"spread": "$2"}
}
JSON
}

# check NAME SPEC_FILE [render_cli options...]
check()
{
	local name=$1 spec=$2 out=$TMP/$1.json summary
	shift 2

	if ! "$CLI" "$@" "$spec" >"$out" 2>"$TMP/$name.err"; then
		echo "$name: FAIL render: $(cat "$TMP/$name.err")"
		FAILED=$((FAILED + 1))
		return
	fi
	"$PYTHON" "$HERE/validate.py" --label "$name" "$out" >"$TMP/$name.log"
	case $? in
	0 | 1) ;;
	77)
		echo "skip: the validator cannot run here" >&2
		exit 77
		;;
	esac
	# Every line but the validator's own count, which is summed instead.
	sed '$d' "$TMP/$name.log"
	summary=$(tail -n 1 "$TMP/$name.log")
	if [[ $summary =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
		PASSED=$((PASSED + BASH_REMATCH[1]))
		FAILED=$((FAILED + BASH_REMATCH[2]))
	else
		echo "$name: FAIL the validator did not finish"
		FAILED=$((FAILED + 1))
	fi
}

for major in 2 5 6 7 8 9; do
	for spread in host rack; do
		spec_for "$major" "$spread" >"$TMP/es$major-$spread.spec.json"
		check "es$major-$spread" "$TMP/es$major-$spread.spec.json" -t acme \
			-n node-1 -n node-2 -n node-3
	done
done

# Variants: a zen2 first boot, 7.x before node.roles, no clients with a
# mirror registry, a custom rack label, Kibana (in the quota too) with the
# pods that wipe a deleted cluster's hosts.  Every version's render has its
# StorageClass and PersistentVolumes on three hosts.
spec_for 7 host >"$TMP/boot.spec.json"
check es7-first-boot "$TMP/boot.spec.json" -t acme \
	-m es-master-0-es-acme-logs -m es-master-1-es-acme-logs -m es-master-2-es-acme-logs
spec_for 7.5.2 rack >"$TMP/es75.spec.json"
check es7.5-rack "$TMP/es75.spec.json" -t acme
spec_for 8 host 0 >"$TMP/noclients.spec.json"
check es8-no-clients "$TMP/noclients.spec.json" -t team-b -g registry.local:5000
spec_for 2 rack >"$TMP/rack.spec.json"
check es2-custom-rack "$TMP/rack.spec.json" -t acme -r failure-domain.example.com/rack
spec_for 8 host | sed 's/^  "placement"/  "kibana": {"replicas": 2},\n  "placement"/' \
	>"$TMP/kibana.spec.json"
check es8-kibana-wipe "$TMP/kibana.spec.json" -t acme -w node-1 -w node-2
# A cluster created before the claims: its data paths stay hostPath volumes.
check es7-host-path-data "$TMP/boot.spec.json" -t acme -H
# vm.max_map_count raised from the utility image (kubernetes.tune_hosts).
check es7-tune-hosts "$TMP/boot.spec.json" -t acme -T

echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
