#!/usr/bin/env bash
# `nvmpath host --config`: two subsystems of one target in one config file; their heads are
# nvmpath0n1 and nvmpath1n1 (S: the index in the config), both exported over NBD, each holding
# its own data.
# Usage: host_config.sh NVMPATH_BINARY
set -euo pipefail
NVMPATH=$(realpath "$1")
for tool in nbdinfo nbdcopy; do
  command -v $tool > /dev/null || { echo "SKIP: $tool not installed (scripts/setup installs it)"; exit 77; }
done
WORK=$(mktemp -d /tmp/nvmpath-config-e2e.XXXXXX)
. "$(dirname "$0")/host_lib.sh"
trap 'cleanup_pids; rm -rf "$WORK"' EXIT

cat > "$WORK/target.json" <<JSON
{
  "ports": [{"id": 1, "address": "127.0.0.1", "port": 0}],
  "subsystems": [
    {"nqn": "nqn.2026-12.io.nvmpath:a", "allowed_hosts": [],
     "namespaces": [{"nsid": 1, "backend": "memory", "size": "8MiB", "block_size": 512}]},
    {"nqn": "nqn.2026-12.io.nvmpath:b", "allowed_hosts": [],
     "namespaces": [{"nsid": 1, "backend": "memory", "size": "16MiB", "block_size": 4096}]}
  ],
  "control_socket": "$WORK/target.sock"
}
JSON
: > "$WORK/target.out"
"$NVMPATH" target --config "$WORK/target.json" > "$WORK/target.out" 2> "$WORK/target.err" &
TARGET_PID=$!
PIDS+=("$TARGET_PID")
wait_for_line "$WORK/target.out" '^control socket' || die "target: $(cat "$WORK/target.err")"
PORT=$(sed -n 's/^listening on 127.0.0.1:\([0-9]*\) (port 1)$/\1/p' "$WORK/target.out")

cat > "$WORK/host.json" <<JSON
{
  "io_threads": 2,
  "exports": {"nbd": ["unix:$WORK/nbd.sock"]},
  "subsystems": [
    {"nqn": "nqn.2026-12.io.nvmpath:a", "paths": ["127.0.0.1:$PORT"], "policy": "round-robin"},
    {"nqn": "nqn.2026-12.io.nvmpath:b", "paths": ["127.0.0.1:$PORT"], "reconnect_delay": "500ms"}
  ]
}
JSON
: > "$WORK/host.out"
"$NVMPATH" host --config "$WORK/host.json" > "$WORK/host.out" 2> "$WORK/host.err" &
HOST_PID=$!
PIDS+=("$HOST_PID")
wait_for_line "$WORK/host.out" '^ready$' 30 || die "host: $(cat "$WORK/host.err")"
grep -q '^nvmpath0n1  nqn.2026-12.io.nvmpath:a  nsid 1  8.0 MiB (16384 x 512 B)' "$WORK/host.out" \
  || die "head lines: $(cat "$WORK/host.out")"
grep -q '^nvmpath1n1  nqn.2026-12.io.nvmpath:b  nsid 1  16.0 MiB (4096 x 4096 B)' "$WORK/host.out" \
  || die "head lines: $(cat "$WORK/host.out")"

nbdinfo --list "nbd+unix:///?socket=$WORK/nbd.sock" > "$WORK/list.out"
for name in nvmpath0n1 nvmpath1n1; do
  grep -q "export=\"$name\"" "$WORK/list.out" || die "$name not listed: $(cat "$WORK/list.out")"
done
nbdinfo "nbd+unix:///nvmpath1n1?socket=$WORK/nbd.sock" | grep -q 'block_size_minimum: 4096' \
  || die "nvmpath1n1 does not say its 4096-byte blocks"

head -c 8M /dev/urandom > "$WORK/a.img"
head -c 16M /dev/urandom > "$WORK/b.img"
nbdcopy "$WORK/a.img" "nbd+unix:///nvmpath0n1?socket=$WORK/nbd.sock"
nbdcopy "$WORK/b.img" "nbd+unix:///nvmpath1n1?socket=$WORK/nbd.sock"
nbdcopy "nbd+unix:///nvmpath0n1?socket=$WORK/nbd.sock" "$WORK/a.back"
nbdcopy "nbd+unix:///nvmpath1n1?socket=$WORK/nbd.sock" "$WORK/b.back"
cmp "$WORK/a.img" "$WORK/a.back" || die "subsystem a read back different data"
cmp "$WORK/b.img" "$WORK/b.back" || die "subsystem b read back different data"

rc=0
stop_pid "$HOST_PID" || rc=$?
[ $rc -eq 0 ] || die "host exited $rc on SIGTERM"
stop_pid "$TARGET_PID" || true
echo PASS
