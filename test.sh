#!/usr/bin/env bash
# Runs every test of the solution against real servers it starts itself (PostgreSQL, the dev Kafka
# broker, the services). Installs missing system packages first. Ends with one line:
# "N passed, N failed, N skipped". Extra arguments go to `dotnet test` (e.g. --filter).
set -uo pipefail
cd "$(dirname "$0")"
# --browser: Debian's chromium too, for the dashboard's browser tests.
scripts/prerequisites.sh --browser || exit $?

results=artifacts/test-results
rm -rf "$results"
status=0
if dotnet build Trulayer.sln -c Release -v quiet -nologo; then
  dotnet test Trulayer.sln -c Release --no-build --logger trx --results-directory "$results" "$@" || status=$?
else
  status=1
  echo "trulayer: the build failed" >&2
fi

scripts/test-totals.sh "$results"
exit $status
