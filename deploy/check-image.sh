#!/usr/bin/env bash
# Runs the portal from the image built by deploy/build-image.sh and checks that it serves:
#
#   deploy/check-image.sh [IMAGE]          # default localhost/backlot-portal:latest
#
# It creates a working container from the image, starts the image's entrypoint and command
# with `buildah run` (chroot isolation shares the host's network, so the portal listens on a
# free 127.0.0.1 port, set through APP_CONFIG_backend_listen_*), then runs the image's own
# HEALTHCHECK prober inside the container until readiness answers 200 (bounded by
# BACKLOT_IMAGE_READY_TIMEOUT, default 120 s), probes liveness and the sign-in page, and checks
# the size limit (BACKLOT_IMAGE_MAX_BYTES, default 60000000). The portal is stopped with
# SIGTERM (it drains and exits) and the working container removed, also on failure.
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE=${1:-${BACKLOT_IMAGE:-localhost/backlot-portal:latest}}
READY_TIMEOUT=${BACKLOT_IMAGE_READY_TIMEOUT:-120}
MAX_BYTES=${BACKLOT_IMAGE_MAX_BYTES:-60000000}
BUILDAH=(buildah --storage-driver "${BUILDAH_STORAGE_DRIVER:-vfs}")
PROBE=/usr/local/bin/backlot-probe

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() {
  local p
  for _ in $(seq 1 50); do
    p=$((20000 + RANDOM % 20000))
    port_open "$p" || { echo "$p"; return 0; }
  done
  echo "check-image.sh: no free port found" >&2
  return 1
}

SIZE=$("${BUILDAH[@]}" inspect --type image --format '{{.Manifest}}' "$IMAGE" |
  grep -o '"size":[0-9]*' | awk -F: '{ s += $2 } END { print s + 0 }')
[ "${SIZE:-0}" -gt 0 ] || { echo "check-image.sh: no image $IMAGE" >&2; exit 1; }
MB=$(awk -v b="$SIZE" 'BEGIN { printf "%.1f", b / 1000000 }')
if [ "$SIZE" -gt "$MAX_BYTES" ]; then
  echo "check-image.sh: $IMAGE is $SIZE bytes ($MB MB), over the limit of $MAX_BYTES" >&2
  exit 1
fi
echo "image $IMAGE: $SIZE bytes ($MB MB), limit $MAX_BYTES"

# The entrypoint and command the image declares (buildah run does not apply them itself).
mapfile -t ENTRY < <("${BUILDAH[@]}" inspect --type image \
  --format '{{range .Docker.Config.Entrypoint}}{{println .}}{{end}}{{range .Docker.Config.Cmd}}{{println .}}{{end}}' \
  "$IMAGE" | sed '/^$/d')
[ "${#ENTRY[@]}" -gt 0 ] || { echo "check-image.sh: $IMAGE has no entrypoint" >&2; exit 1; }
USER_SPEC=$("${BUILDAH[@]}" inspect --type image --format '{{.Docker.Config.User}}' "$IMAGE")
case "$USER_SPEC" in
  "" | 0 | 0:* | root | root:*) echo "check-image.sh: $IMAGE runs as root" >&2; exit 1 ;;
esac

PORT=$(free_port)
CONTAINER=$("${BUILDAH[@]}" from --name "backlot-image-check-$$" "$IMAGE")
PORTAL_PGID=""
LOG=$(mktemp "${TMPDIR:-/tmp}/backlot-image-check.XXXXXX")
cleanup() {
  if [ -n "$PORTAL_PGID" ]; then
    # The portal and the buildah process that runs it are one process group (setsid below).
    kill -TERM -- "-$PORTAL_PGID" 2>/dev/null || true
    for _ in $(seq 1 100); do
      kill -0 -- "-$PORTAL_PGID" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL -- "-$PORTAL_PGID" 2>/dev/null || true
  fi
  "${BUILDAH[@]}" rm "$CONTAINER" >/dev/null 2>&1 || true
  rm -f "$LOG"
}
trap cleanup EXIT

in_container() {
  "${BUILDAH[@]}" run --isolation chroot "$CONTAINER" -- "$@"
}

echo "starting ${ENTRY[*]} (as $USER_SPEC) on 127.0.0.1:$PORT"
STARTED=$(date +%s%N)
setsid "${BUILDAH[@]}" run --isolation chroot \
  --env APP_CONFIG_backend_listen_host=127.0.0.1 \
  --env "APP_CONFIG_backend_listen_port=$PORT" \
  --env "APP_CONFIG_backend_baseUrl=http://127.0.0.1:$PORT" \
  --env "APP_CONFIG_app_baseUrl=http://127.0.0.1:$PORT" \
  "$CONTAINER" -- "${ENTRY[@]}" >"$LOG" 2>&1 &
PORTAL_PGID=$!

BASE=http://127.0.0.1:$PORT
deadline=$(($(date +%s) + READY_TIMEOUT))
until BACKLOT_PROBE_TIMEOUT_MS=2000 in_container "$PROBE" "$BASE/.backstage/health/v1/readiness" 2>/dev/null; do
  if ! kill -0 "$PORTAL_PGID" 2>/dev/null; then
    echo "check-image.sh: the portal exited before it was ready; its output:" >&2
    cat "$LOG" >&2
    exit 1
  fi
  if [ "$(date +%s)" -ge "$deadline" ]; then
    echo "check-image.sh: readiness did not answer 200 within ${READY_TIMEOUT}s; output:" >&2
    cat "$LOG" >&2
    exit 1
  fi
  sleep 0.5
done
READY_MS=$((($(date +%s%N) - STARTED) / 1000000))
echo "readiness answered 200 after ${READY_MS} ms"

# The image's HEALTHCHECK command as a runtime runs it (on this run's port instead of 7007),
# then a page of the app.
mapfile -t HEALTHCHECK < <("${BUILDAH[@]}" inspect --type image \
  --format '{{range .Docker.Config.Healthcheck.Test}}{{println .}}{{end}}' "$IMAGE" | sed '/^$/d')
if [ "${HEALTHCHECK[0]:-}" != CMD ] || [ "${#HEALTHCHECK[@]}" -lt 2 ]; then
  echo "check-image.sh: $IMAGE has no exec-form HEALTHCHECK: ${HEALTHCHECK[*]:-none}" >&2
  exit 1
fi
mapfile -t HEALTH_CMD < <(printf '%s\n' "${HEALTHCHECK[@]:1}" | sed "s#^http://127.0.0.1:7007/#$BASE/#")
in_container "${HEALTH_CMD[@]}"
in_container "$PROBE" "$BASE/signin"
echo "HEALTHCHECK (${HEALTHCHECK[*]:1}) and /signin answered 200"

kill -TERM "$PORTAL_PGID"
for _ in $(seq 1 100); do
  kill -0 "$PORTAL_PGID" 2>/dev/null || break
  sleep 0.1
done
if kill -0 "$PORTAL_PGID" 2>/dev/null; then
  echo "check-image.sh: the portal did not stop within 10 s of SIGTERM" >&2
  exit 1
fi
wait "$PORTAL_PGID" || true
PORTAL_PGID=""
if port_open "$PORT"; then
  echo "check-image.sh: port $PORT still open after the portal stopped" >&2
  exit 1
fi
echo "the portal stopped on SIGTERM"
