#!/usr/bin/env bash
# scripts/check-layers fires: a copy of src/ with one upward include (blk/ including mpath/), one
# across (host/ including target/) and two test hooks called from production commands (cli/ and
# export/) must fail, naming every file; the real tree must pass.
# Usage: check_layers_catches.sh PROJECT_DIR
set -euo pipefail
root=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp -r "$root/src" "$tmp/"
echo '#include "mpath/head.h"' >> "$tmp/src/blk/bio.h"
echo '#include "target/target.h"' >> "$tmp/src/host/path_ns.cc"
echo 'void Sneak(nvmpath::mpath::Head& h) { (void)h.TEST_Stats(); }' >> "$tmp/src/cli/demo_tcp.cc"
echo 'void Sneak(nvmpath::host::PathNs& p) { (void)p.TEST_Counters (); }' >> "$tmp/src/export/head_table.cc"
if "$root/scripts/check-layers" "$tmp/src" 2> "$tmp/err"; then
  echo "FAIL: check-layers passed a tree with upward includes" >&2
  exit 1
fi
grep -q 'blk/bio.h:[0-9]* includes mpath/' "$tmp/err" || { cat "$tmp/err" >&2; exit 1; }
grep -q 'host/path_ns.cc:[0-9]* includes target/' "$tmp/err" || { cat "$tmp/err" >&2; exit 1; }
grep -q 'cli/demo_tcp.cc:[0-9]* calls the test hook TEST_Stats' "$tmp/err" || { cat "$tmp/err" >&2; exit 1; }
grep -q 'export/head_table.cc:[0-9]* calls the test hook TEST_Counters' "$tmp/err" || { cat "$tmp/err" >&2; exit 1; }
"$root/scripts/check-layers" "$root/src"
echo PASS
