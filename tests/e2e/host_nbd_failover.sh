#!/usr/bin/env bash
# `nvmpath host` through NBD with real clients while paths fail: qemu-img writes 64 MiB random
# images into a head and compares them back, nbdcopy reads one out, while the target disables
# port 1 and brings it back, flips ANA states and drops connections. Every image must compare
# identical and no client may see an error. Then: a path given up after ctrl_loss_tmo is made
# again when its port answers (and serves alone), and SIGTERM stops the host with exit 0.
# Usage: host_nbd_failover.sh NVMPATH_BINARY
set -euo pipefail
NVMPATH=$(realpath "$1")
for tool in qemu-img nbdcopy nbdinfo fio; do
  command -v $tool > /dev/null || { echo "SKIP: $tool not installed (scripts/setup installs it)"; exit 77; }
done
WORK=$(mktemp -d /tmp/nvmpath-nbd-e2e.XXXXXX)
. "$(dirname "$0")/host_lib.sh"
trap 'cleanup_pids; rm -rf "$WORK"' EXIT

start_target 128MiB
start_host host --nbd "unix:$WORK/nbd.sock" --ctrl-loss-tmo 3
URI="nbd+unix:///nvmpath0n1?socket=$WORK/nbd.sock"
grep -q "^nvmpath0n1  $NQN  nsid 1  128.0 MiB" "$WORK/host.out" || die "head line: $(cat "$WORK/host.out")"

# ---- failover under qemu-img ----
play_faults 1 &
FAULTS=$!
rounds=0
while kill -0 "$FAULTS" 2> /dev/null || [ $rounds -lt 2 ]; do
  head -c 64M /dev/urandom > "$WORK/src.img"
  qemu-img convert -n -f raw -O raw "$WORK/src.img" "$URI" 2> "$WORK/qemu.err" \
    || die "qemu-img convert failed in round $rounds: $(cat "$WORK/qemu.err")"
  qemu-img compare -f raw -F raw "$WORK/src.img" "$URI" > "$WORK/compare.out" 2>&1 \
    || die "round $rounds: $(cat "$WORK/compare.out")"
  rounds=$((rounds + 1))
done
wait "$FAULTS" || die "a target-ctl fault command failed"
nbdcopy "$URI" "$WORK/back.img" || die "nbdcopy failed"
head -c 64M "$WORK/back.img" | cmp - "$WORK/src.img" || die "nbdcopy read back different data"
echo "qemu-img: $rounds rounds of 64 MiB identical through the faults"

# nbdinfo lists the head; fio's nbd engine writes and verifies (behind the image) while
# connections drop.
nbdinfo --list "nbd+unix:///?socket=$WORK/nbd.sock" > "$WORK/list.out" || die "nbdinfo failed"
grep -q 'export="nvmpath0n1"' "$WORK/list.out" || die "nbdinfo: $(cat "$WORK/list.out")"
(sleep 0.5; ctl port-drop 1; sleep 0.5; ctl ana-set --port 1 --group 1 inaccessible; sleep 0.5;
 ctl ana-set --port 1 --group 1 optimized) &
FAULTS=$!
fio --name=verify --ioengine=nbd --uri="$URI" --rw=randwrite --bs=4k --iodepth=16 \
  --offset=64M --size=32M --verify=crc32c --do_verify=1 --verify_state_save=0 --output="$WORK/fio.out" || die "fio: $(cat "$WORK/fio.out")"
wait "$FAULTS" || die "a target-ctl fault command failed"
grep -q 'err= 0' "$WORK/fio.out" || die "fio reported errors: $(cat "$WORK/fio.out")"
echo "fio: 32 MiB written and verified through a dropped connection and an ANA flip"

# No request of any client was answered with an error.
if grep -E "nbd .*failed:" "$WORK/host.err"; then die "the NBD export answered an error"; fi

# ---- a lost path stays wanted ----
ctl port-disable 1
wait_for_line "$WORK/host.err" "127.0.0.1:$P1 given up" 20 || die "controller on port 1 not given up: $(tail "$WORK/host.err")"
ctl port-enable 1
wait_for_line "$WORK/host.err" "127.0.0.1:$P1 answers again: new controller" 20 \
  || die "port 1 not made again: $(tail "$WORK/host.err")"
wait_for_line "$WORK/host.err" "ctrl 127.0.0.1:$P1: connecting -> live" 20 || die "port 1 not live again"
sleep 1
ctl port-disable 2  # the new controller alone serves the head now
nbdcopy "$URI" "$WORK/back2.img" || die "nbdcopy through the re-made path failed"
head -c 64M "$WORK/back2.img" | cmp - "$WORK/src.img" || die "the re-made path read different data"
ctl port-enable 2
echo "lost path made again and serving"

# ---- stop ----
rc=0
stop_pid "$HOST_PID" || rc=$?
[ $rc -eq 0 ] || die "host exited $rc on SIGTERM: $(tail -3 "$WORK/host.err")"
grep -q "nvmpath host: stopped" "$WORK/host.err" || die "no clean stop message"
[ ! -e "$WORK/nbd.sock" ] || die "the NBD socket file was left behind"
stop_pid "$TARGET_PID" || true
echo PASS
