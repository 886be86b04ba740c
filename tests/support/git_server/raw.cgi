#!/bin/sh
# CGI serving one file of a branch, anonymously, at
# /<owner>/<repo>/raw/branch/<branch>/<path> (Gitea's raw URL shape).
set -eu

fail() {
  printf 'Status: %s\r\nContent-Type: text/plain\r\n\r\n%s\n' "$1" "$2"
  exit 0
}

name_ok() {
  case "$1" in
    ''|.*|-*|*[!A-Za-z0-9._-]*) return 1 ;;
  esac
  [ "${#1}" -le 100 ]
}

path=${PATH_INFO:-}
rest=${path#/}
owner=${rest%%/*}; rest=${rest#*/}
repo=${rest%%/*}; rest=${rest#*/}
repo=${repo%.git}
case "$rest" in raw/branch/*) rest=${rest#raw/branch/} ;; *) fail "404 Not Found" "not found" ;; esac
branch=${rest%%/*}
file=${rest#*/}
[ "$file" != "$rest" ] || fail "404 Not Found" "not found"
name_ok "$owner" && name_ok "$repo" && name_ok "$branch" || fail "404 Not Found" "not found"

# The file path: plain segments only (no empty, '.', '..' or leading '-'), printable, bounded.
[ "${#file}" -le 1000 ] || fail "404 Not Found" "not found"
case "$file" in
  */|*//*|*[!A-Za-z0-9._/@+=,\ -]*) fail "404 Not Found" "not found" ;;
esac
old_ifs=$IFS; IFS=/
for seg in $file; do
  case "$seg" in ''|.|..|-*) IFS=$old_ifs; fail "404 Not Found" "not found" ;; esac
done
IFS=$old_ifs

dir="$GIT_PROJECT_ROOT/$owner/$repo.git"
[ -d "$dir" ] || fail "404 Not Found" "not found"
obj="refs/heads/$branch:$file"
[ "$(git --git-dir="$dir" cat-file -t "$obj" 2>/dev/null || true)" = blob ] || fail "404 Not Found" "not found"
printf 'Status: 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n'
exec git --git-dir="$dir" cat-file blob "$obj"
