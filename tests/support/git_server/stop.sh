#!/usr/bin/env bash
# Stops the git server start.sh started in ROOT (by the PIDs it recorded).
set -u
ROOT=${1:?usage: stop.sh ROOT}
for f in nginx.pid fcgiwrap.pid; do
  if [ -f "$ROOT/$f" ]; then
    kill "$(cat "$ROOT/$f")" 2>/dev/null || true
    rm -f "$ROOT/$f"
  fi
done
