#!/usr/bin/env bash
# Runs gosec (version pinned in tools/go.mod; see tools/gosec/main.go for why it is built
# from there rather than `go install`ed) over the repository, with the project's policy:
#
#   scripts/gosec.sh [extra gosec flags]      (from anywhere; scans the whole repo)
#
# Policy, enforced here so a developer runs exactly what CI runs:
#  - every rule is on; test files (_test.go) are not scanned, as gosec's default;
#  - a suppression must name its rule(s) and say why, on the line it suppresses:
#        x := uint16(n) // #nosec G115 -- n <= 65535: checked by the caller (dialer.go:54)
#    a bare `#nosec`, or one without `-- justification`, is an error and suppresses nothing;
#  - path-based exclusions are listed below, each with its reason. Keep the list short.
#
# Exit status: 0 clean, 1 findings or errors (the report says which), 2 usage.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cache=${FIC_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/fastimagecache-tools}
mkdir -p "$cache/bin"
# Built every time: the Go build cache makes a rebuild take a second or two, and a stale
# binary can never survive a bump of tools/go.mod.
go build -C "$repo/tools" -o "$cache/bin/gosec" ./gosec

exclusions=(
  # internal/fixture builds test images, hostile ones on purpose: it truncates integers
  # into header fields to make files that lie. Its inputs are the tests' own parameters
  # (and the demo command's constants), never data from outside. Other rules still apply.
  '/internal/fixture/.*:G115'
)
cd "$repo"
exec "$cache/bin/gosec" -nosec-require-rules -nosec-require-justification \
  -exclude-rules="$(IFS=';'; echo "${exclusions[*]}")" "$@" ./...
