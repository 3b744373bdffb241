#!/usr/bin/env bash
# Runs govulncheck with an offline copy of the Go vulnerability database, so that it needs
# no network but the Go module proxy (CI cannot reach the vulnerability database service).
#
#   bash scripts/vulndb.sh [govulncheck flags] [packages]   packages default to ./..., relative
#                                                           to the current folder (CI: the repo root)
#   bash scripts/vulndb.sh --db                             print the database folder, building it if needed
#
# The database is built from the OSV entries (data/osv) of the golang.org/x/vulndb module,
# fetched through the Go module proxy and verified against the Go checksum database like any
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
  # Outside any module: the download does not touch this repo's go.mod or go.sum.
  (cd "$tmp" && go mod download "golang.org/x/vulndb@$VULNDB_VERSION")
  src="$(go env GOMODCACHE)/golang.org/x/vulndb@$VULNDB_VERSION/data/osv"
  # A pseudo-version carries its commit time: use it as the database's "last modified"
  # (the entries in the repository carry no modified time of their own).
  ts=${VULNDB_VERSION##*.0-}
  ts=${ts%%-*}
  if [[ $ts =~ ^[0-9]{14}$ ]]; then
    modified=(-modified "${ts:0:4}-${ts:4:2}-${ts:6:2}T${ts:8:2}:${ts:10:2}:${ts:12:2}Z")
  fi
  go run -C "$repo/tools" ./vulndbindex -osv "$src" -out "$tmp/db" "${modified[@]}"
  # Refuse a database that would silently check nothing.
  if ! grep -q '"path":"stdlib"' "$tmp/db/index/modules.json"; then
    echo "vulndb: no standard library entries in $src" >&2
    rm -rf "$tmp"
    return 1
  fi
  mv -T "$tmp/db" "$db" 2>/dev/null || [ -f "$db/index/modules.json" ] # a concurrent run may have won
  rm -rf "$tmp"
}
# selftest proves that this govulncheck, with this database, finds a known reachable
# vulnerability: a throwaway module that calls tiff.Decode of golang.org/x/image v0.17.0
# must be reported for GO-2024-2937 (fixed in v0.18.0). It guards against the quiet failure
# of an offline database, a run that passes because it checked nothing. It runs once per
# database and govulncheck version (a stamp in the database folder records the pass),
# about 10 s and a 5 MB download.
selftest() {
  local stamp="$db/.selftest-ok-govulncheck-$GOVULNCHECK_VERSION" probe out rc=0
  [ -f "$stamp" ] && return 0
  probe=$(mktemp -d)
  cat >"$probe/go.mod" <<'MOD'
module vulndbselftest

go 1.26.0

require golang.org/x/image v0.17.0
MOD
  cat >"$probe/go.sum" <<'SUM'
golang.org/x/image v0.17.0 h1:nTRVVdajgB8zCMZVsViyzhnMKPwYeroEERRC64JuLco=
golang.org/x/image v0.17.0/go.mod h1:4yyo5vMFQjVjUcVk4jEQcU9MGy/rulF5WvUILseCM2E=
SUM
  cat >"$probe/main.go" <<'GO'
package main

import (
	"bytes"

	"golang.org/x/image/tiff"
)

func main() { _, _ = tiff.Decode(bytes.NewReader(nil)) }
GO
  out=$("$bin/govulncheck" -C "$probe" -db "file://$db" ./... 2>&1) || rc=$?
  rm -rf "$probe"
  if [ "$rc" -ne 3 ] || ! grep -q 'GO-2024-2937' <<<"$out"; then
    printf 'vulndb self-test failed: govulncheck exited %s and did not report GO-2024-2937 for a\nmodule calling golang.org/x/image@v0.17.0 tiff.Decode. Its output:\n%s\n' "$rc" "$out" >&2
    return 1
  fi
  echo "vulndb self-test passed: GO-2024-2937 found in a throwaway module (database $VULNDB_VERSION, govulncheck $GOVULNCHECK_VERSION)"
  touch "$stamp"
}

build_db
if [ "${1-}" = "--db" ]; then
  echo "$db"
  exit 0
fi
if [ ! -x "$bin/govulncheck" ]; then
  (cd / && GOBIN="$bin" go install "golang.org/x/vuln/cmd/govulncheck@$GOVULNCHECK_VERSION")
fi
selftest
[ $# -gt 0 ] || set -- ./...
exec "$bin/govulncheck" -db "file://$db" "$@"
