#!/usr/bin/env bash
# Prints one line, "N passed, N failed, N skipped", summed over the .trx files under $1.
set -euo pipefail
passed=0 failed=0 skipped=0
shopt -s nullglob globstar
for trx in "$1"/**/*.trx; do
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -1)
  value() { echo "$counters" | grep -o " $1=\"[0-9]*\"" | grep -o '[0-9]*' || echo 0; }
  total=$(value total) executed=$(value executed) p=$(value passed) f=$(value failed)
  e=$(value error) t=$(value timeout) a=$(value aborted)
  passed=$((passed + p))
  failed=$((failed + f + e + t + a))
  skipped=$((skipped + total - executed))
  # A run that did not complete (a test host that crashed or never started, a fixture whose cleanup
  # threw) counts as one failure when no test in it failed: `dotnet test` fails the same way.
  outcome=$(grep -o '<ResultSummary outcome="[A-Za-z]*"' "$trx" | head -1 | grep -o '"[A-Za-z]*"' | tr -d '"' || true)
  if [ -n "$outcome" ] && [ "$outcome" != Completed ] && [ "$outcome" != Passed ] && [ $((f + e + t + a)) -eq 0 ]; then
    failed=$((failed + 1))
    echo "trulayer: the test run in $trx ended $outcome: $(grep -o '<Text>[^<]*' "$trx" | head -1 | cut -c7-)" >&2
  fi
done
echo "$passed passed, $failed failed, $skipped skipped"
