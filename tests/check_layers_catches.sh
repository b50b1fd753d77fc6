#!/usr/bin/env bash
# scripts/check-layers fires: a copy of src/ with one upward include (blk/ including mpath/) and
# one across (host/ including target/) must fail, naming both files; the real tree must pass.
# Usage: check_layers_catches.sh PROJECT_DIR
set -euo pipefail
root=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp -r "$root/src" "$tmp/"
echo '#include "mpath/head.h"' >> "$tmp/src/blk/bio.h"
echo '#include "target/target.h"' >> "$tmp/src/host/path_ns.cc"
if "$root/scripts/check-layers" "$tmp/src" 2> "$tmp/err"; then
  echo "FAIL: check-layers passed a tree with upward includes" >&2
  exit 1
fi
grep -q 'blk/bio.h:[0-9]* includes mpath/' "$tmp/err" || { cat "$tmp/err" >&2; exit 1; }
grep -q 'host/path_ns.cc:[0-9]* includes target/' "$tmp/err" || { cat "$tmp/err" >&2; exit 1; }
"$root/scripts/check-layers" "$root/src"
echo PASS
