#!/usr/bin/env bash
# Persistent discovery (`nvmpath host --discovery ADDR:PORT --persistent`): the host stays
# connected to the target's discovery controller and follows its log while fio writes and
# verifies through the NBD export. The target adds a port at run time → the host connects it and
# sends I/O through it; the target removes a port → the host drains that path and drops it. Zero
# I/O errors throughout, data verified.
# Usage: host_discovery.sh NVMPATH_BINARY
set -euo pipefail
NVMPATH=$(realpath "$1")
for tool in fio jq; do
  command -v $tool > /dev/null || { echo "SKIP: $tool not installed (scripts/setup installs it)"; exit 77; }
done
WORK=$(mktemp -d /tmp/nvmpath-discovery-e2e.XXXXXX)
. "$(dirname "$0")/host_lib.sh"
trap 'cleanup_pids; rm -rf "$WORK"' EXIT

start_target 128MiB
HSOCK=$WORK/host.sock
: > "$WORK/host.out"
# The discovery controller is reached through port 2, which stays; the paths come from its log.
"$NVMPATH" host --nqn "$NQN" --discovery "127.0.0.1:$P2" --persistent --policy round-robin \
  --reconnect-delay 1 --keep-alive-tmo 2 --nbd "unix:$WORK/nbd.sock" --control-socket "$HSOCK" \
  > "$WORK/host.out" 2> "$WORK/host.err" &
HOST_PID=$!
PIDS+=("$HOST_PID")
wait_for_line "$WORK/host.out" '^ready$' 30 || die "host did not start: $(cat "$WORK/host.err")"
URI="nbd+unix:///nvmpath0n1?socket=$WORK/nbd.sock"
hctl() { "$NVMPATH" host-ctl --socket "$HSOCK" "$@"; }
paths() { hctl list-subsys --json | jq -r '[.[0].Subsystems[0].Paths[].Name] | sort | join(" ")'; }
# Waits up to $2 seconds for `paths` to print $1; prints how long it took (ms).
wait_paths() {
  local want=$1 limit=$2 start i
  start=$(date +%s%N)
  for ((i = 0; i < limit * 20; i++)); do
    [ "$(paths)" = "$want" ] && { echo $(( ($(date +%s%N) - start) / 1000000 )); return 0; }
    sleep 0.05
  done
  return 1
}
want=$(printf '%s\n' "127.0.0.1:$P1" "127.0.0.1:$P2" | sort | tr '\n' ' ' | sed 's/ $//')
[ "$(paths)" = "$want" ] || die "paths from the log at start: $(paths)"

fio_round() {
  fio --name=verify --ioengine=nbd --uri="$URI" --rw=randwrite --bs=4k --iodepth=16 \
    --offset="$1"M --size=32M --verify=crc32c --do_verify=1 --verify_state_save=0 \
    --output="$WORK/fio.$1.out" || die "fio at $1M: $(cat "$WORK/fio.$1.out")"
  grep -q 'err= 0' "$WORK/fio.$1.out" || die "fio at $1M reported errors: $(cat "$WORK/fio.$1.out")"
}

# ---- a port added at run time ----
fio_round 0 &
FIO=$!
"$NVMPATH" target-ctl --socket "$TSOCK" port-add 3 127.0.0.1:0 > /dev/null
P3=$("$NVMPATH" target-ctl --socket "$TSOCK" --json state | jq -r '.ports[] | select(.id == 3) | .port')
want=$(printf '%s\n' "127.0.0.1:$P1" "127.0.0.1:$P2" "127.0.0.1:$P3" | sort | tr '\n' ' ' | sed 's/ $//')
ms=$(wait_paths "$want" 5) || die "the host did not connect port 3 within 5 s: $(paths); $(tail -5 "$WORK/host.err")"
wait "$FIO"
fio_round 32
ios=$(hctl stats --json | jq --arg p "127.0.0.1:$P3" '[.heads[0].paths[] | select(.path == $p) | .ios] | add // 0')
[ "$ios" -gt 0 ] || die "no I/O went through the added path"
echo "port added: connected ${ms} ms after port-add, $ios I/Os through it"

# ---- a port removed at run time ----
fio_round 64 &
FIO=$!
sleep 0.3
"$NVMPATH" target-ctl --socket "$TSOCK" port-remove 1 > /dev/null
want=$(printf '%s\n' "127.0.0.1:$P2" "127.0.0.1:$P3" | sort | tr '\n' ' ' | sed 's/ $//')
ms=$(wait_paths "$want" 15) || die "the host did not drop port 1 within 15 s: $(paths); $(tail -5 "$WORK/host.err")"
wait "$FIO"
grep -q "127.0.0.1:$P1 left the log of $NQN: path removed" "$WORK/host.err" \
  || die "no removal logged: $(tail -5 "$WORK/host.err")"
if grep -E "nbd .*failed:" "$WORK/host.err"; then die "the NBD export answered an error"; fi
hctl stats --json | jq -e '.heads[0] | .errors == 0 and .no_path == 0' > /dev/null \
  || die "errors after the port changes: $(hctl stats --json)"
echo "port removed: path drained and gone ${ms} ms after port-remove; zero errors"

rc=0
stop_pid "$HOST_PID" || rc=$?
[ $rc -eq 0 ] || die "host exited $rc on SIGTERM: $(tail -3 "$WORK/host.err")"
stop_pid "$TARGET_PID" || true
echo PASS
