#!/usr/bin/env bash
# Bio's head bookkeeping is private to mpath::Head: code outside the head that writes it must not
# compile (seed 001: the range is checked once, at the head; seed 000: nothing per path on a Bio).
# A control file that only reads the public accessors must compile, so a broken include path
# cannot pass for the check.
# Usage: bio_private_check.sh CXX SOURCE_DIR
set -euo pipefail
cxx=$1
src=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

compile() {  # compile FILE → exit status; stderr in FILE.err
  "$cxx" -std=c++20 -fsyntax-only -I"$src/src" -I"$src/include" "$1" 2>"$1.err"
}

cat >"$work/reads.cc" <<'CC'
#include "blk/bio.h"
int main() {
  nvmpath::blk::Bio bio;
  return bio.state() == nvmpath::blk::BioState::kIdle && bio.failovers() == 0 ? 0 : 1;
}
CC
if ! compile "$work/reads.cc"; then
  echo "FAIL: a file that only reads Bio's accessors does not compile:" >&2
  cat "$work/reads.cc.err" >&2
  exit 1
fi

status=0
for write in 'bio.range_checked_ = true;' 'bio.state_ = nvmpath::blk::BioState::kDone;' \
             'bio.head_ticket_.Release();' 'bio.failed_slots_ = 1;' 'bio.next_ = nullptr;'; do
  cat >"$work/writes.cc" <<CC
#include "blk/bio.h"
void OutsideTheHead(nvmpath::blk::Bio& bio) { $write }
CC
  if compile "$work/writes.cc"; then
    echo "FAIL: '$write' compiles outside mpath::Head" >&2
    status=1
  elif ! grep -q "private" "$work/writes.cc.err"; then
    echo "FAIL: '$write' fails to compile, but not for being private:" >&2
    cat "$work/writes.cc.err" >&2
    status=1
  else
    echo "ok: '$write' is refused (private)"
  fi
done
exit $status
