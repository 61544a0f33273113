#!/usr/bin/env bash
# Builds and runs the whole stack: PostgreSQL, the dev Kafka broker and the five services, with the
# gateway on http://127.0.0.1:8080 (which also serves the dashboard: it prints its URL) and OTLP/gRPC on
# 127.0.0.1:4317. Installs missing system packages first. Ctrl+C stops everything. Options go to the AppHost (./run.sh --help).
set -euo pipefail
cd "$(dirname "$0")"
scripts/prerequisites.sh
dotnet build AppHost -c Release -v quiet -nologo
# The AppHost runs as this process (not under `dotnet run`), so SIGTERM and Ctrl+C reach it directly.
exec dotnet artifacts/bin/AppHost/release/AppHost.dll "$@"
