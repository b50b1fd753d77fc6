#!/usr/bin/env bash
# A file system on a head, through `nvmpath host --fuse` → loop device → ext4, while the target
# fails paths under it:
#   1. `nvmpath target` serves a 256 MiB memory namespace on two fixed free ports of 127.0.0.1
#      (ANA group 1 optimized on port 1, non-optimized on port 2); `nvmpath host` connects through
#      both and mounts its heads at $DIR/mnt;
#   2. losetup on $DIR/mnt/nvmpath0n1, mkfs.ext4, mount; files written from /dev/urandom
#      (200 files of 4 KiB..1 MiB in nested directories, rewritten with new sizes until the storm
#      ends; syncfs every 20 writes, so the writes reach the head while the paths change) and
#      earlier files read back with O_DIRECT and checked against their SHA-256. Meanwhile
#      target-ctl, one event a second: disables port 1 and enables it again, makes port 1
#      inaccessible and optimized again, port 2 inaccessible and non-optimized again, drops the
#      connections of port 1, of port 2, then of both at once;
#   3. sync, umount, `fsck.ext4 -fn` clean; the loop device is detached and attached again (so
#      nothing is read from its page cache), mount, `sha256sum -c` matches every file;
#   4. umount, losetup -d, SIGTERM the host: exit code 0 and the FUSE mount gone. The host's log
#      must show no failed request of its exports, and the kernel log (when readable) no I/O error
#      or ext4 error on the loop device.
# Needs root, /dev/fuse, losetup, mkfs.ext4 and a free loop device; exits 77 (CTest: skipped)
# without them. Takes ~12 s.
# Usage: host_fuse_ext4.sh NVMPATH_BINARY
set -euo pipefail
NVMPATH=${1:?nvmpath binary}
NQN=nqn.2026-11.io.nvmpath:fuse-ext4
FILES=200

skip() { echo "skipped: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root (losetup, mount)"
[ -c /dev/fuse ] || skip "no /dev/fuse"
for tool in losetup mkfs.ext4 fsck.ext4 sha256sum mountpoint; do
  command -v "$tool" > /dev/null || skip "$tool not found"
done
losetup -f > /dev/null 2>&1 || skip "no free loop device (losetup -f)"

DIR=$(mktemp -d)
TARGET_PID="" HOST_PID="" STORM_PID="" LOOP=""
# exited_within SECONDS PID: true once PID has exited (not reaped), false after SECONDS.
exited_within() {
  for _ in $(seq $(($1 * 10))); do
    kill -0 "$2" 2> /dev/null || return 0
    sleep 0.1
  done
  return 1
}
cleanup() {
  set +e
  [ -n "$STORM_PID" ] && kill "$STORM_PID" 2> /dev/null && wait "$STORM_PID" 2> /dev/null
  mountpoint -q "$DIR/fs" && umount -l "$DIR/fs"
  [ -n "$LOOP" ] && losetup -d "$LOOP" 2> /dev/null
  if [ -n "$HOST_PID" ]; then
    # A second signal makes a host whose clean stop hangs exit at once.
    kill "$HOST_PID" 2> /dev/null
    exited_within 10 "$HOST_PID" || kill "$HOST_PID" 2> /dev/null
    wait "$HOST_PID" 2> /dev/null
  fi
  mountpoint -q "$DIR/mnt" && umount -l "$DIR/mnt"
  if [ -n "$TARGET_PID" ]; then kill "$TARGET_PID" 2> /dev/null; wait "$TARGET_PID" 2> /dev/null; fi
  rm -rf "$DIR"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*"
  for f in target.log ctl.log host.out host.err; do
    [ -s "$DIR/$f" ] && { echo "--- $f (last 40 lines)"; tail -n 40 "$DIR/$f"; }
  done
  exit 1
}
ctl() { "$NVMPATH" target-ctl --socket "$DIR/ctl.sock" "$@"; }

# --- 1. the target on two fixed free ports, then the host --------------------------------------
# A re-enabled port binds its configured number again, so the ports must be fixed. Free ones come
# from a first start with port 0; another process may take one before the second start, so retry.
target_config() {  # PORT1 PORT2
  cat << EOF
{
  "ports": [
    {"id": 1, "address": "127.0.0.1", "port": $1},
    {"id": 2, "address": "127.0.0.1", "port": $2}
  ],
  "subsystems": [
    {"nqn": "$NQN",
     "namespaces": [{"nsid": 1, "backend": "memory", "size": "256MiB", "block_size": 512, "ana_group": 1}]}
  ],
  "ana": [
    {"port": 1, "group": 1, "state": "optimized"},
    {"port": 2, "group": 1, "state": "non-optimized"}
  ],
  "control_socket": "$DIR/ctl.sock"
}
EOF
}
start_target() {  # PORT1 PORT2; sets TARGET_PID; returns 1 if it did not come up
  target_config "$1" "$2" > "$DIR/target.json"
  rm -f "$DIR/ctl.sock"
  "$NVMPATH" target --config "$DIR/target.json" > "$DIR/target.log" 2>&1 &
  TARGET_PID=$!
  for _ in $(seq 100); do
    grep -q '^control socket' "$DIR/target.log" && return 0
    kill -0 "$TARGET_PID" 2> /dev/null || break
    sleep 0.05
  done
  kill "$TARGET_PID" 2> /dev/null; wait "$TARGET_PID" 2> /dev/null || true
  TARGET_PID=""
  return 1
}
stop_target() { kill "$TARGET_PID"; wait "$TARGET_PID" || true; TARGET_PID=""; }
bound_port() { sed -n "s/^listening on 127\.0\.0\.1:\([0-9]*\) (port $1)\$/\1/p" "$DIR/target.log"; }

PORT1="" PORT2=""
for _ in 1 2 3 4 5; do
  start_target 0 0 || fail "the target did not start"
  p1=$(bound_port 1) p2=$(bound_port 2)
  stop_target
  [ -n "$p1" ] && [ -n "$p2" ] || fail "no bound ports in the target's output"
  if start_target "$p1" "$p2"; then PORT1=$p1 PORT2=$p2; break; fi
done
[ -n "$PORT1" ] || fail "the target could not bind two fixed free ports (5 tries)"

mkdir "$DIR/mnt" "$DIR/fs"
# NVMPATH_LOG=debug: the FUSE export logs a failed request only at debug level.
NVMPATH_LOG=debug "$NVMPATH" host --nqn "$NQN" --path "127.0.0.1:$PORT1" --path "127.0.0.1:$PORT2" \
  --reconnect-delay 1 --keep-alive-tmo 2 --fuse "$DIR/mnt" > "$DIR/host.out" 2> "$DIR/host.err" &
HOST_PID=$!
for _ in $(seq 300); do
  grep -qx ready "$DIR/host.out" && break
  kill -0 "$HOST_PID" 2> /dev/null || fail "the host exited before ready"
  sleep 0.1
done
grep -qx ready "$DIR/host.out" || fail "the host did not print ready in 30 s"
grep -q "^nvmpath0n1  $NQN  nsid 1 .*live optimized, .*live non-optimized" "$DIR/host.out" \
  || fail "no head nvmpath0n1 with an optimized and a non-optimized live path"
grep -qx "fuse: heads are files in $DIR/mnt" "$DIR/host.out" || fail "no fuse line"
[ "$(stat -c %s "$DIR/mnt/nvmpath0n1")" = $((256 << 20)) ] || fail "$DIR/mnt/nvmpath0n1 is not 256 MiB"
echo "PASS: target on 127.0.0.1:$PORT1 and :$PORT2, host ready, $DIR/mnt/nvmpath0n1 is 256 MiB"

# --- 2. ext4 on a loop device on the head, files written and read while paths fail ----------------
DMESG_FROM=$(dmesg 2> /dev/null | wc -l) || DMESG_FROM=""
LOOP=$(losetup -f --show "$DIR/mnt/nvmpath0n1")
LOOPS=$(basename "$LOOP")
mkfs.ext4 -q "$LOOP"
mount "$LOOP" "$DIR/fs"

storm() {
  set -e
  ev() { echo "$(date +%T.%N | cut -c1-12) $*"; ctl "$@"; sleep 1; }
  sleep 0.5
  ev port-disable 1
  ev port-enable 1
  ev ana-set --port 1 --group 1 inaccessible
  ev ana-set --port 1 --group 1 optimized
  ev ana-set --port 2 --group 1 inaccessible
  ev ana-set --port 2 --group 1 non-optimized
  ev port-drop 1
  ev port-drop 2
  echo "$(date +%T.%N | cut -c1-12) port-drop 1 and 2"
  ctl port-drop 1 & ctl port-drop 2; wait $!
  sleep 1.5
  echo done
}
storm > "$DIR/ctl.log" 2>&1 &
STORM_PID=$!

# The workload runs until the storm is over (and for at least $FILES writes): each step writes
# one file from /dev/urandom (4 KiB .. 1 MiB in 4 KiB steps; after the first $FILES steps it
# rewrites file ((step - 1) % $FILES) + 1 with a new size and content), syncfs every 20 steps so
# the writes reach the head while the paths change, and reads one earlier file back with
# O_DIRECT (past the page cache, through the head) and checks its SHA-256. At most $FILES files
# of 1 MiB: 200 MiB, within the ~214 MiB the file system has free.
SEED=${NVMPATH_TEST_SEED:-$$}
RANDOM=$SEED
declare -A SUM
step=0 reads=0 bytes=0 longest=0 t0=$(date +%s%N)
while :; do
  t=$(date +%s%N)
  [ $((t - t0)) -gt "$longest" ] && longest=$((t - t0))
  if [ $((t - t0)) -gt 500000000 ]; then
    echo "  step $step ended $(date -d @$((t / 1000000000)) +%T).$(printf %03d $((t / 1000000 % 1000))) after $(((t - t0) / 1000000)) ms" >> "$DIR/slow.log"
  fi
  t0=$t
  if [ "$step" -ge "$FILES" ] && ! kill -0 "$STORM_PID" 2> /dev/null; then break; fi
  step=$((step + 1))
  n=$(((step - 1) % FILES + 1))
  name="d$((n % 4))/e$((n % 7))/f$n"
  mkdir -p "$DIR/fs/${name%/*}"
  blocks=$((RANDOM % 256 + 1))
  dd if=/dev/urandom of="$DIR/fs/$name" bs=4k count=$blocks status=none || fail "writing $name"
  SUM[$name]=$(sha256sum < "$DIR/fs/$name" | cut -d' ' -f1)
  bytes=$((bytes + blocks * 4096))
  if [ $((step % 20)) = 0 ]; then sync -f "$DIR/fs" || fail "syncfs after $step writes"; fi
  if [ "$step" -gt 1 ]; then
    m=$((RANDOM % (step < FILES ? step - 1 : FILES) + 1))
    [ "$m" = "$n" ] && continue
    other="d$((m % 4))/e$((m % 7))/f$m"
    got=$(dd if="$DIR/fs/$other" iflag=direct bs=1M status=none | sha256sum | cut -d' ' -f1) \
      || fail "reading $other with O_DIRECT"
    [ "$got" = "${SUM[$other]}" ] || fail "$other read back with O_DIRECT differs from what was written"
    reads=$((reads + 1))
  fi
done
wait "$STORM_PID" || fail "target-ctl failed"
STORM_PID=""
grep -qx done "$DIR/ctl.log" || fail "the storm did not finish"
for name in "${!SUM[@]}"; do echo "${SUM[$name]}  $name"; done | sort -k2 > "$DIR/sums"
[ "$(wc -l < "$DIR/sums")" = "$FILES" ] || fail "expected $FILES files"
echo "PASS: $step file writes ($((bytes >> 20)) MiB, sizes from seed $SEED), $reads O_DIRECT reads checked, longest step $((longest / 1000000)) ms, under the storm:"
grep -v '^done$' "$DIR/ctl.log" | sed 's/^/  /'
[ -s "$DIR/slow.log" ] && { echo "steps that took over 500 ms:"; cat "$DIR/slow.log"; }

# --- 3. fsck, fresh loop device, every file checked ---------------------------------------------
sync
umount "$DIR/fs"
fsck.ext4 -fn "$LOOP" > "$DIR/fsck.log" 2>&1 || { cat "$DIR/fsck.log"; fail "fsck.ext4 -fn found errors"; }
losetup -d "$LOOP"
LOOP=$(losetup -f --show "$DIR/mnt/nvmpath0n1")
[ "$(basename "$LOOP")" = "$LOOPS" ] || LOOPS="$LOOPS|$(basename "$LOOP")"
mount "$LOOP" "$DIR/fs"
(cd "$DIR/fs" && sha256sum --quiet -c "$DIR/sums") || fail "sha256sum -c: files differ after remount"
echo "PASS: fsck.ext4 -fn clean; after remount on a new loop device all $FILES files match"
umount "$DIR/fs"
losetup -d "$LOOP"
LOOP=""

# --- 4. clean stop, logs ------------------------------------------------------------------------
# losetup -d lets go of the file once the loop device is closed; wait for that before stopping.
for _ in $(seq 50); do
  losetup -j "$DIR/mnt/nvmpath0n1" | grep -q . || break
  sleep 0.1
done
kill -TERM "$HOST_PID"
exited_within 30 "$HOST_PID" || fail "the host did not stop within 30 s of SIGTERM"
rc=0
wait "$HOST_PID" || rc=$?
HOST_PID=""
[ "$rc" = 0 ] || fail "the host exited with $rc after SIGTERM"
grep -q "nvmpath host: stopped" "$DIR/host.err" || fail "the host did not log its clean stop"
! mountpoint -q "$DIR/mnt" || fail "$DIR/mnt is still mounted after the host stopped"
grep -q " $DIR/mnt " /proc/mounts && fail "$DIR/mnt is still in /proc/mounts"
# The exports' failed requests: "fuse export: nvmpath0n1: <status>" (debug level), NBD's
# "nbd PEER: HEAD CMD at OFF of LEN bytes failed: ...", a head's failed flush at stop.
if grep -E "fuse export: nvmpath0n1: |nbd .* bytes failed: |flush at stop: " "$DIR/host.err"; then
  fail "the host's exports failed requests (above)"
fi
echo "PASS: the host stopped on SIGTERM (exit 0), $DIR/mnt unmounted, no failed request in its log"
if [ -n "$DMESG_FROM" ] && dmesg > "$DIR/dmesg" 2> /dev/null; then
  # "I/O error, dev loopN", "Buffer I/O error on dev loopN", "EXT4-fs error (device loopN)", ...
  if tail -n +"$((DMESG_FROM + 1))" "$DIR/dmesg" | grep -E "($LOOPS)([^0-9]|\$)" | grep -iE "error|abort"; then
    fail "the kernel logged I/O or ext4 errors on ${LOOPS//|/ or } (above)"
  fi
  echo "PASS: no I/O or ext4 error on ${LOOPS//|/ or } in the kernel log"
else
  echo "note: dmesg not readable, kernel log not checked"
fi
stop_target
echo "PASS"
