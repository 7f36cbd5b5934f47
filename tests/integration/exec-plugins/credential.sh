#!/bin/sh
# An exec credential plugin as the clouds' are (aws eks get-token,
# gke-gcloud-auth-plugin): prints an ExecCredential on standard output.
#
#   PLUGIN_TOKEN          the token; or
#   PLUGIN_TOKEN_FILE     a file to read it from (a rotating service-account token)
#   PLUGIN_FIRST_TOKEN    given instead on the first run (a stale one, say)
#   PLUGIN_CERT_FILE, PLUGIN_KEY_FILE
#                         PEM files given as clientCertificateData and
#                         clientKeyData (with no token unless one is set)
#   PLUGIN_LIFE_MS        when set, expirationTimestamp is that long from now
#   PLUGIN_API_VERSION    the ExecCredential's (client.authentication.k8s.io/v1)
#   PLUGIN_RUNS           a file that gets a line per run
#   PLUGIN_INFO           a file that gets $KUBERNETES_EXEC_INFO
#   PLUGIN_ENV            a file that gets the environment's names
set -e
runs=0
if [ -n "$PLUGIN_RUNS" ]; then
	if [ -f "$PLUGIN_RUNS" ]; then
		runs=$(wc -l <"$PLUGIN_RUNS")
	fi
	echo run >>"$PLUGIN_RUNS"
fi
if [ -n "$PLUGIN_INFO" ]; then
	printf '%s\n' "$KUBERNETES_EXEC_INFO" >"$PLUGIN_INFO"
fi
if [ -n "$PLUGIN_ENV" ]; then
	env | sed 's/=.*//' >"$PLUGIN_ENV"
fi
token=$PLUGIN_TOKEN
if [ -n "$PLUGIN_TOKEN_FILE" ]; then
	token=$(cat "$PLUGIN_TOKEN_FILE")
fi
if [ "$runs" -eq 0 ] && [ -n "$PLUGIN_FIRST_TOKEN" ]; then
	token=$PLUGIN_FIRST_TOKEN
fi
expiry=
if [ -n "$PLUGIN_LIFE_MS" ]; then
	end=$(($(date +%s%N) + PLUGIN_LIFE_MS * 1000000))
	at=$(date -u -d "@$((end / 1000000000)).$(printf %09d $((end % 1000000000)))" \
		+%Y-%m-%dT%H:%M:%S.%NZ)
	expiry=", \"expirationTimestamp\": \"$at\""
fi
status=
if [ -n "$token" ]; then
	status="\"token\": \"$token\""
fi
if [ -n "$PLUGIN_CERT_FILE" ]; then
	# PEM in a JSON string: each line ends in \n.
	cert=$(awk '{ printf "%s\\n", $0 }' "$PLUGIN_CERT_FILE")
	key=$(awk '{ printf "%s\\n", $0 }' "$PLUGIN_KEY_FILE")
	status="$status${status:+, }\"clientCertificateData\": \"$cert\", \"clientKeyData\": \"$key\""
fi
printf '{"kind": "ExecCredential", "apiVersion": "%s", "status": {%s%s}}\n' \
	"${PLUGIN_API_VERSION:-client.authentication.k8s.io/v1}" "$status" "$expiry"
