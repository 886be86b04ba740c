#!/bin/sh
# CGI in front of `git http-backend`: maps /<owner>/<repo>[.git]/<git path> to
# $GIT_PROJECT_ROOT/<owner>/<repo>.git and, for an authenticated push to a repository that does
# not exist yet, creates it as a bare repository whose HEAD follows the first branch pushed.
set -eu

fail() {
  printf 'Status: %s\r\nContent-Type: text/plain\r\n\r\n%s\n' "$1" "$2"
  exit 0
}

name_ok() {
  # Letters, digits, '.', '_' and '-'; not starting with '.' or '-'; at most 100 characters.
  case "$1" in
    ''|.*|-*|*[!A-Za-z0-9._-]*) return 1 ;;
  esac
  [ "${#1}" -le 100 ]
}

path=${PATH_INFO:-}
rest=${path#/}
owner=${rest%%/*}
rest=${rest#*/}
repo=${rest%%/*}
tail=${rest#*/}
repo=${repo%.git}
name_ok "$owner" || fail "404 Not Found" "no such repository"
name_ok "$repo" || fail "404 Not Found" "no such repository"

dir="$GIT_PROJECT_ROOT/$owner/$repo.git"
pushing=0
case "$tail?${QUERY_STRING:-}" in
  git-receive-pack\?*|info/refs\?service=git-receive-pack*) pushing=1 ;;
esac

if [ ! -d "$dir" ]; then
  if [ "$pushing" = 1 ] && [ -n "${REMOTE_USER:-}" ]; then
    mkdir -p "$GIT_PROJECT_ROOT/$owner"
    git init -q --bare "$dir"
    git -C "$dir" config http.receivepack true
    cat > "$dir/hooks/post-receive" <<'HOOK'
#!/bin/sh
# HEAD follows the first branch pushed while it points nowhere.
if ! git rev-parse -q --verify HEAD >/dev/null; then
  while read -r _old _new ref; do
    case "$ref" in refs/heads/*) git symbolic-ref HEAD "$ref"; break ;; esac
  done
fi
HOOK
    chmod +x "$dir/hooks/post-receive"
  else
    fail "404 Not Found" "no such repository"
  fi
fi

PATH_INFO="/$owner/$repo.git/$tail"
export PATH_INFO GIT_PROJECT_ROOT GIT_HTTP_EXPORT_ALL
exec git http-backend
