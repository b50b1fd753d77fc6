#!/usr/bin/env bash
# Stopping `nvmpath host`: SIGTERM while a client has thousands of writes in flight through NBD
# ends with exit 0, and every write the client saw acknowledged reads back after a restart of the
# host. A second signal while the stop waits (the target stalled) exits at once with a message.
# Usage: host_stop.sh NVMPATH_BINARY
set -euo pipefail
NVMPATH=$(realpath "$1")
command -v qemu-io > /dev/null || { echo "SKIP: qemu-io not installed (scripts/setup installs it)"; exit 77; }
WORK=$(mktemp -d /tmp/nvmpath-stop-e2e.XXXXXX)
. "$(dirname "$0")/host_lib.sh"
trap 'cleanup_pids; rm -rf "$WORK"' EXIT

start_target 256MiB
start_host host1 --nbd "unix:$WORK/nbd.sock"
URI="nbd+unix:///nvmpath0n1?socket=$WORK/nbd.sock"

# 4096 writes of 64 KiB, each block with its own pattern, all submitted at once.
N=4096
args=()
for ((i = 0; i < N; i++)); do args+=(-c "aio_write -P $((i % 255 + 1)) $((i * 65536)) 64k"); done
args+=(-c aio_flush)
# qemu-io waits for its requests forever once the server is gone: the timeout ends it (and
# stdbuf keeps each acknowledgement it printed).
timeout -s KILL 20 stdbuf -oL qemu-io -f raw "${args[@]}" "$URI" > "$WORK/writes.out" 2>&1 &
WRITER=$!
# Stop once the writes flow: some acknowledged, most still to come or in flight.
for ((t = 0; t < 400; t++)); do
  [ "$(grep -c '^wrote' "$WORK/writes.out" || true)" -ge 100 ] && break
  sleep 0.05
done
rc=0
stop_pid "$HOST_PID" || rc=$?
[ $rc -eq 0 ] || die "host exited $rc on SIGTERM: $(tail -3 "$WORK/host1.err")"
wait "$WRITER" || true
acked=$(grep -c '^wrote 65536/65536 bytes at offset' "$WORK/writes.out" || true)
echo "SIGTERM with writes in flight: $acked of $N acknowledged before the stop"
[ "$acked" -gt 0 ] || die "no write was acknowledged before the stop: $(head -3 "$WORK/writes.out")"

start_host host2 --nbd "unix:$WORK/nbd.sock"
reads=()
for offset in $(sed -n 's/^wrote 65536.65536 bytes at offset \([0-9]*\)$/\1/p' "$WORK/writes.out"); do
  i=$((offset / 65536))
  reads+=(-c "read -P $((i % 255 + 1)) $offset 64k")
done
[ ${#reads[@]} -eq $((acked * 2)) ] || die "parsed ${#reads[@]} words for $acked writes"
qemu-io -f raw "${reads[@]}" "$URI" > "$WORK/reads.out" 2>&1 || die "reading back failed: $(head -3 "$WORK/reads.out")"
if grep -q -i 'fail\|error' "$WORK/reads.out"; then
  die "an acknowledged write did not read back: $(grep -i -m3 'fail\|error' "$WORK/reads.out")"
fi
verified=$(grep -c '^read 65536/65536 bytes at offset' "$WORK/reads.out" || true)
[ "$verified" -eq "$acked" ] || die "$verified of $acked acknowledged writes read back"
echo "every acknowledged write reads back after a restart ($verified checked)"

# A second signal while the stop waits for I/O the stalled target holds.
ctl stall on
qemu-io -f raw -c "write -P 7 0 64k" "$URI" > /dev/null 2>&1 &
WRITER=$!
sleep 0.5
kill -TERM "$HOST_PID"
wait_for_line "$WORK/host2.err" "stopping" 10 || die "no stop message"
sleep 0.5
kill -0 "$HOST_PID" 2> /dev/null || die "the host stopped while the target held a write"
kill -TERM "$HOST_PID"
rc=0
wait "$HOST_PID" || rc=$?
[ $rc -eq 130 ] || die "second signal: exit $rc, expected 130"
grep -q "again: exiting at once" "$WORK/host2.err" || die "no message for the second signal"
kill "$WRITER" 2> /dev/null || true
ctl stall off
echo "a second signal exits at once (130)"

# No path left at all: the stop does not wait forever for the heads' flush; it names the head.
start_host host3 --nbd "unix:$WORK/nbd.sock"
stop_pid "$TARGET_PID" || true
sleep 0.5
start=$SECONDS
rc=0
stop_pid "$HOST_PID" || rc=$?
[ $rc -eq 1 ] || die "stop with no path left: exit $rc, expected 1: $(tail -3 "$WORK/host3.err")"
[ $((SECONDS - start)) -le 20 ] || die "stop with no path left took $((SECONDS - start)) s"
grep -q "flush at stop failed: nvmpath0n1: not done after 10s (paths: 127.0.0.1:$P1" "$WORK/host3.err" \
  || die "the unflushed head is not named: $(tail -3 "$WORK/host3.err")"
echo "stop with no path left: the head is named after the bound, exit 1"
echo PASS
