#!/usr/bin/env bash
# Runs govulncheck with an offline copy of the Go vulnerability database, so that it needs
# no network but the Go module proxy (CI cannot reach the vulnerability database service).
#
#   scripts/vulndb.sh [govulncheck flags and packages]   default: ./...  (run from the repo root)
#   scripts/vulndb.sh --db                               print the database folder, building it if needed
#
# The database is built from the OSV entries (data/osv) of the golang.org/x/vulndb module,
# fetched through the module proxy and checked against go.sum's checksum database like any
# module, by tools/vulndbindex into the v1 layout that `govulncheck -db file://...` reads.
# It is cached per version (and per generator source) under $FIC_TOOLS_CACHE, by default
# ~/.cache/fastimagecache-tools, so a second run only runs govulncheck.
#
# govulncheck exits 3 when the code calls a vulnerable function (of a dependency or of the
# standard library of the Go toolchain in use), 0 when vulnerable code is only required or
# imported but never reached, and 1 on error. CI fails on anything but 0.
#
# THE TWO PINS: the only place these versions are set. SECURITY.md says how to bump them.
VULNDB_VERSION=v0.0.0-20261105234957-e22db6528018 # golang.org/x/vulndb snapshot (a master pseudo-version)
GOVULNCHECK_VERSION=v1.9.0                        # golang.org/x/vuln/cmd/govulncheck release

set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cache=${FIC_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/fastimagecache-tools}
gen=$(cat "$repo/tools/vulndbindex/main.go" "$repo/tools/go.sum" | sha256sum | cut -c1-12)
db="$cache/vulndb/$VULNDB_VERSION-$gen"
bin="$cache/govulncheck/$GOVULNCHECK_VERSION"

build_db() {
  [ -f "$db/index/modules.json" ] && return 0
  mkdir -p "$cache/vulndb"
  local tmp src ts modified=()
  tmp=$(mktemp -d "$cache/vulndb/.build.XXXXXX")
  trap 'rm -rf "$tmp"' RETURN
  # Outside any module: the download does not touch this repo's go.mod or go.sum.
  (cd "$tmp" && go mod download "golang.org/x/vulndb@$VULNDB_VERSION")
  src="$(go env GOMODCACHE)/golang.org/x/vulndb@$VULNDB_VERSION/data/osv"
  # A pseudo-version carries its commit time: use it as the database's "last modified",
  # which govulncheck prints (the entries in the repository carry no modified time).
  ts=${VULNDB_VERSION##*.0-}
  ts=${ts%%-*}
  if [[ $ts =~ ^[0-9]{14}$ ]]; then
    modified=(-modified "${ts:0:4}-${ts:4:2}-${ts:6:2}T${ts:8:2}:${ts:10:2}:${ts:12:2}Z")
  fi
  go run -C "$repo/tools" ./vulndbindex -osv "$src" -out "$tmp/db" "${modified[@]}"
  # Refuse a database that would silently check nothing.
  grep -q '"path":"stdlib"' "$tmp/db/index/modules.json" || { echo "vulndb: no stdlib entries in $src" >&2; return 1; }
  mv -T "$tmp/db" "$db" 2>/dev/null || [ -f "$db/index/modules.json" ] # a concurrent run may have won
}

build_db
if [ "${1-}" = "--db" ]; then
  echo "$db"
  exit 0
fi
if [ ! -x "$bin/govulncheck" ]; then
  (cd / && GOBIN="$bin" go install "golang.org/x/vuln/cmd/govulncheck@$GOVULNCHECK_VERSION")
fi
[ $# -gt 0 ] || set -- ./...
exec "$bin/govulncheck" -db "file://$db" "$@"
