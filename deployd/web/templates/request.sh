#!/usr/bin/env bash
# deployd deploy helper: asks deployd to deploy, prints the log as the deploy runs,
# and exits 0 only when the deploy succeeded.
#   curl -sSL "{{URL}}/s" | bash -s -- "$DEPLOY_TOKEN"
# Exit codes: 0 deployed, 1 the deploy failed or was refused, 2 bad usage or no curl,
# 3 the request itself failed (no answer, timeout, stream cut off).
set -u -o pipefail

base_url="{{URL}}"
timeout="${DEPLOYD_TIMEOUT:-{{TIMEOUT}}}"
token="${1:-${DEPLOY_TOKEN:-}}"

red() { printf '\033[31m%s\033[0m\n' "$*"; }
green() { printf '\033[32m%s\033[0m\n' "$*"; }

if [ -z "$token" ]; then
  red "No deploy token given: pass it as the first argument or in DEPLOY_TOKEN."
  exit 2
fi
if ! command -v curl >/dev/null 2>&1; then
  red "curl is needed to send the deploy request; install it first."
  exit 2
fi

headers=$(mktemp)
trap 'rm -f "$headers"' EXIT

# Prints the log as it arrives; returns 0 when its last line says the deploy
# succeeded, 1 when it says it failed, 4 when the log ended without a verdict.
follow() {
  local line="" last=""
  while IFS= read -r line || [ -n "$line" ]; do
    printf '%s\n' "$line"
    last="$line"
  done
  case "$last" in
    "Deploy succeeded"*) return 0 ;;
    "Deploy failed"*) return 1 ;;
    *) return 4 ;;
  esac
}

echo "Sending the deploy request to $base_url; the log follows while the deploy runs."
# The token goes to curl on its own stdin, so it never shows in the process list,
# and curl cannot read this script when it arrives on bash's stdin.
curl -sS -N -L -X POST --connect-timeout 30 -m "$timeout" \
  -H @- -H "Accept: text/plain" -D "$headers" \
  "$base_url/v1/deploy" <<<"X-Deploy-Token: $token" | follow
results=("${PIPESTATUS[@]}")
curl_status=${results[0]}
verdict=${results[1]}

http_status=$(grep -aE '^HTTP/' "$headers" | tail -n 1 | awk '{print $2}')
deploy_id=$(grep -aiE '^x-deploy-id:' "$headers" | tail -n 1 | awk '{print $2}' | tr -d '\r')

if [ -z "$http_status" ]; then
  red "The deploy request failed: no answer from $base_url (curl exit code $curl_status)."
  exit 3
fi
if [ "$http_status" != "200" ]; then
  red "The deploy request was refused with HTTP status $http_status."
  exit 1
fi
if [ "$verdict" -eq 0 ]; then
  green "Deployment successful (deploy $deploy_id)."
  exit 0
fi
if [ "$verdict" -eq 1 ]; then
  red "Deployment failed (deploy $deploy_id)."
  exit 1
fi
if [ "$curl_status" -eq 28 ]; then
  red "No result within $timeout s; the deploy goes on at the server: ask $base_url/v1/deploys/$deploy_id"
else
  red "The log ended before the deploy did (curl exit code $curl_status); ask $base_url/v1/deploys/$deploy_id"
fi
exit 3
