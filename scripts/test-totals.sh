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
done
echo "$passed passed, $failed failed, $skipped skipped"
