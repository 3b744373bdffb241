#!/usr/bin/env bash
# Installs versitygw (a real S3 server, used by the S3 tests: s3_*_test.go) into the tools
# cache if it is not there yet, and prints the binary's path. The tests start it themselves
# (posix backend in a temp dir, static credentials, 127.0.0.1, a free port) and find it
# through FASTIMAGECACHE_VERSITYGW:
#
#   export FASTIMAGECACHE_VERSITYGW=$(scripts/versitygw.sh)
#
# Pin: bump VERSION here (and in README's "Many servers, one cache") to upgrade.
set -euo pipefail
VERSION=v1.8.0
dir="${FASTIMAGECACHE_TOOLS:-$HOME/.cache/fastimagecache-tools}/versitygw"
bin="$dir/versitygw"
stamp="$dir/VERSION"
if [ ! -x "$bin" ] || { [ -f "$stamp" ] && [ "$(cat "$stamp")" != "$VERSION" ]; }; then
  mkdir -p "$dir"
  echo "installing versitygw $VERSION into $dir" >&2
  GOBIN="$dir" GOFLAGS= go install "github.com/versity/versitygw/cmd/versitygw@$VERSION" >&2
  echo "$VERSION" >"$stamp"
fi
echo "$bin"
