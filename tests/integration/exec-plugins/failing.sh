#!/bin/sh
# A plugin that fails as aws eks get-token does when its session is over.
echo "error: profile prod: the SSO session has expired" >&2
echo "run aws sso login --profile prod" >&2
exit 3
