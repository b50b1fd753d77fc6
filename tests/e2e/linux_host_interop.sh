#!/usr/bin/env bash
# The Linux kernel host (6.1, native multipath, in a QEMU guest from shared/peers/linux-nvme)
# against `nvmpath target --config examples/two-ports.json`:
#   1. discover, connect through both ports → one subsystem, two live controllers, paths
#      optimized + non-optimized; 4 MiB written with O_DIRECT reads back identical;
#   2. ANA failover: while the guest re-reads and compares 4 MiB every second, target-ctl makes
#      port 1 inaccessible and port 2 optimized, then back; the host's path states must follow
#      and no read may mismatch.
# Slow (two guest boots, ~1 min) and needs the peers' image: runs only with NVMPATH_LINUX_PEERS=1,
# otherwise exits 77 (CTest: skipped).
# Usage: linux_host_interop.sh NVMPATH_BINARY REPO_ROOT
set -euo pipefail
NVMPATH=${1:?nvmpath binary}
ROOT=${2:?repo root}
if [ "${NVMPATH_LINUX_PEERS:-0}" != 1 ]; then
  echo "skipped: set NVMPATH_LINUX_PEERS=1 to boot the Linux host (shared/peers/linux-nvme)"
  exit 77
fi
PEERS=$(cd "$ROOT/.." && pwd)/shared/peers/linux-nvme
[ -x "$PEERS/kernel-host.sh" ] || { echo "FAIL: $PEERS/kernel-host.sh not found"; exit 1; }
DIR=$(mktemp -d)
PID=""
cleanup() {
  if [ -n "$PID" ]; then kill "$PID" 2>/dev/null; wait "$PID" 2>/dev/null || true; fi
  rm -rf "$DIR"
}
trap cleanup EXIT
SOCK="$DIR/control.sock"
# The guest reaches this machine's 127.0.0.1:4420/4421 as 10.0.2.2 (QEMU user networking).
sed "s|/tmp/nvmpath-target.sock|$SOCK|" "$ROOT/examples/two-ports.json" > "$DIR/t.json"
"$NVMPATH" target --config "$DIR/t.json" > "$DIR/target.log" 2>&1 &
PID=$!
for _ in $(seq 50); do [ -S "$SOCK" ] && break; sleep 0.1; done
[ -S "$SOCK" ] || { cat "$DIR/target.log"; echo "FAIL: target did not start"; exit 1; }
NQN=nqn.2026-11.io.nvmpath:demo

"$PEERS/kernel-host.sh" -p 4420,4421 -n "$NQN" -s "$PEERS/guest-scripts/connect-io.sh" \
  > "$DIR/connect.log" 2>&1 || { cat "$DIR/connect.log"; echo "FAIL: connect-io"; exit 1; }
grep -q "OK: data read back equals data written" "$DIR/connect.log" || { echo "FAIL: no data check"; exit 1; }
[ "$(grep -c 'tcp traddr=.* live' "$DIR/connect.log")" -ge 2 ] || { echo "FAIL: not two live controllers"; exit 1; }
echo "PASS: connect through both ports, I/O verified"

cat > "$DIR/failover.sh" <<'GUEST'
set -e
connect_all
wait_for /dev/nvme0n1 20
dd if=/dev/urandom of=/tmp/pattern bs=1M count=4 2>/dev/null
dd if=/tmp/pattern of=/dev/nvme0n1 bs=1M count=4 oflag=direct 2>/dev/null
i=0
while [ $i -lt 14 ]; do
  dd if=/dev/nvme0n1 of=/tmp/readback bs=1M count=4 iflag=direct 2>/dev/null
  cmp /tmp/pattern /tmp/readback || { echo "MISMATCH at $i"; exit 1; }
  echo "t=$i $(for p in /sys/block/nvme0c*n1; do echo -n "$(basename $p)=$(cat $p/ana_state) "; done)"
  i=$((i+1)); sleep 1
done
echo "FAILOVER: PASS"
GUEST
( sleep 9
  "$NVMPATH" target-ctl --socket "$SOCK" ana-set --port 1 --group 1 inaccessible
  "$NVMPATH" target-ctl --socket "$SOCK" ana-set --port 2 --group 1 optimized
  sleep 5
  "$NVMPATH" target-ctl --socket "$SOCK" ana-set --port 1 --group 1 optimized
  "$NVMPATH" target-ctl --socket "$SOCK" ana-set --port 2 --group 1 non-optimized ) > "$DIR/ctl.log" 2>&1 &
CTL=$!
"$PEERS/kernel-host.sh" -p 4420,4421 -n "$NQN" -s "$DIR/failover.sh" > "$DIR/failover.log" 2>&1 \
  || { cat "$DIR/failover.log"; echo "FAIL: failover script"; exit 1; }
wait "$CTL"
grep -q "FAILOVER: PASS" "$DIR/failover.log" || { echo "FAIL: failover"; exit 1; }
grep -q "=inaccessible" "$DIR/failover.log" || { echo "FAIL: the host never saw port 1 inaccessible"; exit 1; }
grep -E "^t=" "$DIR/failover.log"
echo "PASS: ANA failover and failback under the Linux host, no mismatch"
