#!/usr/bin/env bash
# Installs what Trulayer needs from Debian when it is missing: librdkafka (Kafka clients and the dev
# broker) and PostgreSQL's server binaries; with --browser also Debian's chromium, which the dashboard's
# browser tests drive (tests/Dashboard.Tests). As root it installs them; otherwise it says what to run.
set -euo pipefail

browser=false
if [ "${1:-}" = "--browser" ]; then
  browser=true
fi

if ! command -v dotnet >/dev/null 2>&1; then
  echo "trulayer: the .NET 10 SDK is missing: install it from https://dot.net (dotnet on PATH)" >&2
  exit 2
fi

missing=()
if ! ldconfig -p 2>/dev/null | grep -q 'librdkafka\.so\.1 ' && [ ! -e /usr/lib/x86_64-linux-gnu/librdkafka.so.1 ]; then
  missing+=(librdkafka1)
fi
if ! compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; then
  missing+=(postgresql)
fi

if [ "$browser" = true ] && [ ! -x /usr/bin/chromium ]; then
  missing+=(chromium)
fi

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "trulayer: missing ${missing[*]}: install with: sudo apt-get install -y ${missing[*]}" >&2
  exit 2
fi

echo "trulayer: installing ${missing[*]} from Debian" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq "${missing[@]}" >/dev/null
