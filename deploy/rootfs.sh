#!/usr/bin/env bash
# Lays out the runtime image's whole filesystem in a directory, for a `FROM scratch` image:
#
#   deploy/rootfs.sh ROOTFS PORTAL_BINARY PROBE_BINARY
#
# Used by both deploy/Containerfile (in its build stage) and deploy/build-image.sh (on the
# host), so the two produce the same image. ROOTFS must not exist yet. Run from the repository
# root (it copies app-config.yaml, deploy/app-config.container.yaml and examples/demo-catalog).
#
# Layout (see docs/deployment.md):
#   /usr/local/bin/portal          the portal example, symbols stripped
#   /usr/local/bin/backlot-probe   the static health prober (deploy/probe.rs)
#   /lib..., /lib64/ld-linux-*     exactly the shared libraries `ldd` lists, and the loader
#   /etc/ssl/certs/ca-certificates.crt, /etc/passwd, /etc/group, /etc/nsswitch.conf
#   /app/app-config.yaml, /app/app-config.container.yaml, /app/examples/demo-catalog/
#   /var/lib/backlot               the data dir (backend.dataDir), owned by backlot (10001)
#   /tmp                           mode 1777 (scaffolder workspaces, temporary files)
set -euo pipefail

if [ "$#" -ne 3 ]; then
  echo "usage: $0 ROOTFS PORTAL_BINARY PROBE_BINARY" >&2
  exit 2
fi
ROOTFS=$1
PORTAL=$2
PROBE=$3
APP_UID=10001
CA_BUNDLE=${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}

for f in "$PORTAL" "$PROBE" "$CA_BUNDLE" app-config.yaml deploy/app-config.container.yaml \
  examples/demo-catalog/all.yaml; do
  [ -e "$f" ] || { echo "rootfs.sh: missing $f" >&2; exit 1; }
done
if [ -e "$ROOTFS" ]; then
  echo "rootfs.sh: $ROOTFS already exists" >&2
  exit 1
fi

mkdir -p "$ROOTFS"/{usr/local/bin,etc/ssl/certs,app/examples,var/lib/backlot,tmp}
chmod 1777 "$ROOTFS/tmp"

# The binaries. Stripping is best effort (the build stage and CI hosts have binutils).
install -m 0755 "$PORTAL" "$ROOTFS/usr/local/bin/portal"
install -m 0755 "$PROBE" "$ROOTFS/usr/local/bin/backlot-probe"
if command -v strip >/dev/null 2>&1; then
  strip --strip-unneeded "$ROOTFS/usr/local/bin/portal"
fi

# Shared libraries: every path ldd resolves for either binary (the probe is static, so this
# is the portal's), at the same path, plus the dynamic loader. Symlinks are resolved (cp -L):
# the image holds the files under the names the binary asks for.
copy_libs() {
  ldd "$1" 2>/dev/null | awk '
    $2 == "=>" && $3 ~ /^\// { print $3 }
    $1 ~ /^\// { print $1 }' | sort -u
}
for bin in "$ROOTFS/usr/local/bin/portal" "$ROOTFS/usr/local/bin/backlot-probe"; do
  while read -r lib; do
    [ -n "$lib" ] || continue
    mkdir -p "$ROOTFS$(dirname "$lib")"
    cp -L "$lib" "$ROOTFS$lib"
  done < <(copy_libs "$bin")
done

# CA certificates (reqwest and sqlx carry webpki roots; git, and SSL_CERT_FILE users, need these).
install -m 0644 "$CA_BUNDLE" "$ROOTFS/etc/ssl/certs/ca-certificates.crt"

# Users: root (for tools that look it up) and the non-root user the image runs as.
cat >"$ROOTFS/etc/passwd" <<EOF
root:x:0:0:root:/root:/sbin/nologin
backlot:x:$APP_UID:$APP_UID:backlot portal:/var/lib/backlot:/sbin/nologin
EOF
cat >"$ROOTFS/etc/group" <<EOF
root:x:0:
backlot:x:$APP_UID:
EOF
# glibc reads this for host lookups (nss files/dns are built into libc since 2.34).
printf 'passwd: files\ngroup: files\nhosts: files dns\n' >"$ROOTFS/etc/nsswitch.conf"
chmod 0644 "$ROOTFS"/etc/{passwd,group,nsswitch.conf}

# The config and the demo data the default config reads (relative to the working dir /app).
install -m 0644 app-config.yaml "$ROOTFS/app/app-config.yaml"
install -m 0644 deploy/app-config.container.yaml "$ROOTFS/app/app-config.container.yaml"
cp -R examples/demo-catalog "$ROOTFS/app/examples/demo-catalog"
chmod -R u=rwX,go=rX "$ROOTFS/app"

chown -R "$APP_UID:$APP_UID" "$ROOTFS/var/lib/backlot"
chmod 0750 "$ROOTFS/var/lib/backlot"
