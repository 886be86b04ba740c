#!/usr/bin/env bash
# Builds the portal's runtime image FROM scratch around a binary built on this host, with
# buildah (no base image is pulled). The result is the image deploy/Containerfile builds
# where base images can be pulled: the same rootfs (deploy/rootfs.sh) and the same config.
#
#   deploy/build-image.sh                  # cargo build --release --example portal, then the image
#   BACKLOT_PORTAL_BIN=path/to/portal deploy/build-image.sh   # use this binary, build nothing
#
# Environment:
#   CARGO_TARGET_DIR         where cargo builds (default ./target); the probe is built there too
#   BACKLOT_IMAGE            image name (default localhost/backlot-portal:latest)
#   BACKLOT_IMAGE_FEATURES   cargo features of the portal (default postgres,redis,s3)
#   BACKLOT_IMAGE_MAX_BYTES  size limit; the build fails above it (default 60000000, 60 MB)
#   BUILDAH_STORAGE_DRIVER   buildah storage driver (default vfs: works without overlay/fuse)
#
# Prints the image's size (bytes and MB) as its last line: `image size: N bytes (M MB)`.
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE=${BACKLOT_IMAGE:-localhost/backlot-portal:latest}
FEATURES=${BACKLOT_IMAGE_FEATURES:-postgres,redis,s3}
MAX_BYTES=${BACKLOT_IMAGE_MAX_BYTES:-60000000}
TARGET_DIR=${CARGO_TARGET_DIR:-target}
BUILDAH=(buildah --storage-driver "${BUILDAH_STORAGE_DRIVER:-vfs}")
APP_UID=10001
PORT=7007

command -v buildah >/dev/null || { echo "build-image.sh: buildah is not installed" >&2; exit 1; }

# --- the binaries -----------------------------------------------------------------------------
if [ -n "${BACKLOT_PORTAL_BIN:-}" ]; then
  PORTAL=$BACKLOT_PORTAL_BIN
else
  echo "== cargo build --release --example portal --features $FEATURES"
  cargo build --release --example portal --features "$FEATURES"
  PORTAL=$TARGET_DIR/release/examples/portal
fi
[ -x "$PORTAL" ] || { echo "build-image.sh: no portal binary at $PORTAL" >&2; exit 1; }

PROBE=$TARGET_DIR/backlot-probe/backlot-probe
if [ ! -x "$PROBE" ] || [ deploy/probe.rs -nt "$PROBE" ]; then
  echo "== rustc deploy/probe.rs (static)"
  mkdir -p "$(dirname "$PROBE")"
  rustc --edition 2024 -O -C panic=abort -C strip=symbols -C target-feature=+crt-static \
    deploy/probe.rs -o "$PROBE"
fi

# --- the rootfs -------------------------------------------------------------------------------
WORK=$(mktemp -d "${TMPDIR:-/tmp}/backlot-image.XXXXXX")
CONTAINER=""
cleanup() {
  if [ -n "$CONTAINER" ]; then
    "${BUILDAH[@]}" umount "$CONTAINER" >/dev/null 2>&1 || true
    "${BUILDAH[@]}" rm "$CONTAINER" >/dev/null 2>&1 || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

echo "== rootfs"
deploy/rootfs.sh "$WORK/rootfs" "$PORTAL" "$PROBE"
echo "shared libraries:"
(cd "$WORK/rootfs" && find lib lib64 usr/lib -type f 2>/dev/null | sed "s/^/  \//" | sort) || true

# --- the image --------------------------------------------------------------------------------
echo "== buildah: $IMAGE"
OLD_ID=$("${BUILDAH[@]}" images --quiet --no-trunc "$IMAGE" 2>/dev/null || true)
CONTAINER=$("${BUILDAH[@]}" from --format docker --name "backlot-image-build-$$" scratch)
MNT=$("${BUILDAH[@]}" mount "$CONTAINER")
# cp -a keeps owners and modes (the data dir belongs to the non-root user; /tmp is 1777).
cp -a "$WORK/rootfs/." "$MNT/"
"${BUILDAH[@]}" umount "$CONTAINER" >/dev/null

VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
REVISION=$(git rev-parse HEAD 2>/dev/null || echo unknown)
"${BUILDAH[@]}" config \
  --env PATH=/usr/local/bin \
  --env SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
  --workingdir /app \
  --user "$APP_UID:$APP_UID" \
  --port "$PORT/tcp" \
  --volume /var/lib/backlot \
  --entrypoint '["/usr/local/bin/portal"]' \
  --cmd '["--config","/app/app-config.yaml","--config","/app/app-config.container.yaml"]' \
  --healthcheck 'CMD /usr/local/bin/backlot-probe http://127.0.0.1:7007/.backstage/health/v1/liveness' \
  --healthcheck-interval 30s \
  --healthcheck-timeout 5s \
  --healthcheck-start-period 10s \
  --healthcheck-retries 3 \
  --stop-signal SIGTERM \
  --created-by "deploy/build-image.sh" \
  --label org.opencontainers.image.title=backlot-portal \
  --label "org.opencontainers.image.version=$VERSION" \
  --label "org.opencontainers.image.revision=$REVISION" \
  --label org.opencontainers.image.licenses=Apache-2.0 \
  "$CONTAINER"
"${BUILDAH[@]}" commit --quiet --format docker --rm "$CONTAINER" "$IMAGE" >/dev/null
CONTAINER=""

# A replaced image of the same name would stay in storage as a full vfs copy: remove it.
NEW_ID=$("${BUILDAH[@]}" images --quiet --no-trunc "$IMAGE")
if [ -n "$OLD_ID" ] && [ "$OLD_ID" != "$NEW_ID" ]; then
  "${BUILDAH[@]}" rmi "$OLD_ID" >/dev/null 2>&1 || true
fi

# --- the size ---------------------------------------------------------------------------------
# The image's size: its config plus its one layer, uncompressed (the sizes in its manifest).
SIZE=$("${BUILDAH[@]}" inspect --type image --format '{{.Manifest}}' "$IMAGE" |
  grep -o '"size":[0-9]*' | awk -F: '{ s += $2 } END { print s + 0 }')
if [ "${SIZE:-0}" -le 0 ]; then
  echo "build-image.sh: could not read the size of $IMAGE" >&2
  exit 1
fi
MB=$(awk -v b="$SIZE" 'BEGIN { printf "%.1f", b / 1000000 }')
echo "image: $IMAGE ($NEW_ID)"
if [ "$SIZE" -gt "$MAX_BYTES" ]; then
  echo "build-image.sh: image size $SIZE bytes ($MB MB) is over the limit of $MAX_BYTES bytes" >&2
  exit 1
fi
echo "image size: $SIZE bytes ($MB MB)"
