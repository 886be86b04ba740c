#!/usr/bin/env bash
# A git server for the scaffolder's publish tests: nginx + fcgiwrap in front of
# `git http-backend`, on 127.0.0.1 only.
#
#   start.sh PORT ROOT USER PASS
#
# - Repositories live in ROOT/repos/<owner>/<repo>.git; http://127.0.0.1:PORT/<owner>/<repo>(.git)
#   is their smart-HTTP URL. Reads (clone, fetch) are anonymous; pushes need HTTP basic auth
#   as USER:PASS (or x-access-token:PASS, oauth2:PASS, as GitHub and GitLab take tokens). The
#   first authenticated push to a missing repository creates it (so does an authenticated GET
#   of its info/refs?service=git-receive-pack, which is how a test's fake API creates one).
# - http://127.0.0.1:PORT/<owner>/<repo>/raw/branch/<branch>/<path> serves one file anonymously
#   (Gitea's raw URL shape).
# - nginx and fcgiwrap run in the background; their PIDs are in ROOT/nginx.pid and
#   ROOT/fcgiwrap.pid (stop.sh ROOT stops them).
set -euo pipefail

if [ $# -ne 4 ]; then
  echo "usage: $0 PORT ROOT USER PASS" >&2
  exit 2
fi
PORT=$1
ROOT=$2
GUSER=$3
GPASS=$4
HERE=$(cd "$(dirname "$0")" && pwd)

case "$PORT" in (*[!0-9]*|'') echo "PORT must be a number" >&2; exit 2;; esac
case "$GUSER" in (*:*|'') echo "USER must be non-empty without ':'" >&2; exit 2;; esac

NGINX=$(command -v nginx || echo /usr/sbin/nginx)
FCGIWRAP=$(command -v fcgiwrap || echo /usr/sbin/fcgiwrap)
for b in "$NGINX" "$FCGIWRAP" git openssl; do
  command -v "$b" >/dev/null 2>&1 || { echo "missing $b (apt-get install nginx fcgiwrap git openssl)" >&2; exit 1; }
done

mkdir -p "$ROOT/repos" "$ROOT/tmp" "$ROOT/logs"
ROOT=$(cd "$ROOT" && pwd)

# The password file: apr1 hashes (nginx reads them), written fresh each start. PASS is also
# accepted as a token the way GitHub (user x-access-token) and GitLab (user oauth2) take one.
HASH=$(openssl passwd -apr1 "$GPASS")
{
  printf '%s:%s\n' "$GUSER" "$HASH"
  printf 'x-access-token:%s\n' "$HASH"
  printf 'oauth2:%s\n' "$HASH"
} > "$ROOT/htpasswd"
chmod 600 "$ROOT/htpasswd"

# fcgiwrap, on a unix socket in ROOT; it runs the CGI scripts below.
SOCK="$ROOT/fcgiwrap.sock"
if [ -f "$ROOT/fcgiwrap.pid" ] && kill -0 "$(cat "$ROOT/fcgiwrap.pid")" 2>/dev/null; then
  kill "$(cat "$ROOT/fcgiwrap.pid")" || true
  sleep 0.2
fi
rm -f "$SOCK"
nohup "$FCGIWRAP" -c 4 -s "unix:$SOCK" >"$ROOT/logs/fcgiwrap.log" 2>&1 &
echo $! > "$ROOT/fcgiwrap.pid"
for _ in $(seq 1 50); do [ -S "$SOCK" ] && break; sleep 0.1; done
[ -S "$SOCK" ] || { echo "fcgiwrap did not start" >&2; cat "$ROOT/logs/fcgiwrap.log" >&2; exit 1; }

USER_LINE=""
# As root, nginx would run its worker as nobody, who cannot read ROOT: keep the caller's user.
[ "$(id -u)" = 0 ] && USER_LINE="user root;"

cat > "$ROOT/nginx.conf" <<CONF
$USER_LINE
worker_processes 1;
daemon off;
pid $ROOT/nginx.pid;
error_log $ROOT/logs/error.log warn;
events { worker_connections 256; }
http {
  access_log $ROOT/logs/access.log;
  client_body_temp_path $ROOT/tmp/body;
  proxy_temp_path $ROOT/tmp/proxy;
  fastcgi_temp_path $ROOT/tmp/fastcgi;
  uwsgi_temp_path $ROOT/tmp/uwsgi;
  scgi_temp_path $ROOT/tmp/scgi;
  client_max_body_size 64m;

  # Pushes (receive-pack, its ref advertisement included) need a password; reads do not.
  map \$request_uri \$git_realm {
    default off;
    "~git-receive-pack" "git";
  }

  server {
    listen 127.0.0.1:$PORT;
    server_name localhost;

    location ~ ^/[^/]+/[^/]+/raw/branch/ {
      include /etc/nginx/fastcgi_params;
      fastcgi_param SCRIPT_FILENAME $HERE/raw.cgi;
      fastcgi_param PATH_INFO \$uri;
      fastcgi_param GIT_PROJECT_ROOT $ROOT/repos;
      fastcgi_pass unix:$SOCK;
    }

    location ~ ^/[^/]+/[^/]+/(HEAD|info/refs|objects/|git-upload-pack|git-receive-pack) {
      auth_basic \$git_realm;
      auth_basic_user_file $ROOT/htpasswd;
      include /etc/nginx/fastcgi_params;
      fastcgi_param SCRIPT_FILENAME $HERE/git.cgi;
      fastcgi_param PATH_INFO \$uri;
      fastcgi_param REMOTE_USER \$remote_user;
      fastcgi_param GIT_PROJECT_ROOT $ROOT/repos;
      fastcgi_param GIT_HTTP_EXPORT_ALL 1;
      fastcgi_read_timeout 300s;
      fastcgi_pass unix:$SOCK;
    }

    location / { return 404; }
  }
}
CONF

if [ -f "$ROOT/nginx.pid" ] && kill -0 "$(cat "$ROOT/nginx.pid")" 2>/dev/null; then
  kill "$(cat "$ROOT/nginx.pid")" || true
  sleep 0.3
fi
"$NGINX" -t -c "$ROOT/nginx.conf" -p "$ROOT" >"$ROOT/logs/nginx-check.log" 2>&1 \
  || { cat "$ROOT/logs/nginx-check.log" >&2; exit 1; }
nohup "$NGINX" -c "$ROOT/nginx.conf" -p "$ROOT" >"$ROOT/logs/nginx.log" 2>&1 &
NGINX_PID=$!
for _ in $(seq 1 50); do
  (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
  sleep 0.1
done
(exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null || { echo "nginx did not start" >&2; cat "$ROOT/logs/nginx.log" "$ROOT/logs/error.log" >&2 || true; exit 1; }
echo "$NGINX_PID" > "$ROOT/nginx.pid"
echo "git server on http://127.0.0.1:$PORT (root $ROOT)"
