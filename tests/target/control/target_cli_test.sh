#!/bin/sh
# `nvmpath target` and `nvmpath target-ctl` as a user runs them.
#   target_cli_test.sh NVMPATH EXAMPLE_CONFIG MODE
# MODE socket-missing: target-ctl without a target prints the one clear line and fails.
# MODE bad-config:     a config error names the field and `nvmpath target` fails.
# MODE e2e:            the shipped example, moved to free ports (port 0) and a private control
#                      socket, runs in the background; target-ctl state / ana-set / ns-remove /
#                      port-disable / port-add / port-remove change what `state` shows, and
#                      their errors are one named line; SIGTERM stops it cleanly.
set -u
NVMPATH=$1
EXAMPLE=$2
MODE=$3
DIR=$(mktemp -d /tmp/nvmpath-cli-XXXXXX)
PID=
cleanup() {
  if [ -n "$PID" ]; then kill "$PID" 2>/dev/null; wait "$PID" 2>/dev/null; fi
  rm -rf "$DIR"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

case "$MODE" in
socket-missing)
  out=$("$NVMPATH" target-ctl --socket "$DIR/none.sock" state 2>&1) && fail "exit 0 without a target"
  expected="nvmpath target-ctl state: cannot connect to $DIR/none.sock: No such file or directory (is \`nvmpath target\` running?)"
  [ "$out" = "$expected" ] || fail "got: $out"
  # Errors are one line; bad params are named.
  out=$("$NVMPATH" target-ctl --socket "$DIR/none.sock" call state '{"a":' 2>&1) && fail "bad JSON accepted"
  echo "$out" | grep -q "params: malformed JSON at line 1, column 6" || fail "got: $out"
  ;;
bad-config)
  sed 's/"port": 4421/"port": 70000/' "$EXAMPLE" > "$DIR/bad.json"
  out=$("$NVMPATH" target --config "$DIR/bad.json" 2>&1)
  rc=$?
  [ $rc -eq 2 ] || fail "exit $rc, want 2 ($out)"
  [ "$out" = "nvmpath target: $DIR/bad.json: ports[1].port: 70000 is not a TCP port" ] || fail "got: $out"
  ;;
e2e)
  SOCK="$DIR/control.sock"
  sed -e 's/"port": 442[01]/"port": 0/' -e "s|/tmp/nvmpath-target.sock|$SOCK|" "$EXAMPLE" > "$DIR/t.json"
  "$NVMPATH" target --config "$DIR/t.json" > "$DIR/out" 2> "$DIR/err" &
  PID=$!
  i=0
  until grep -q "^control socket $SOCK" "$DIR/out" 2>/dev/null; do
    i=$((i + 1))
    [ $i -lt 100 ] || fail "target did not start: $(cat "$DIR/out" "$DIR/err")"
    kill -0 "$PID" 2>/dev/null || fail "target exited: $(cat "$DIR/err")"
    sleep 0.1
  done
  [ "$(grep -c '^listening on 127.0.0.1:[0-9]* (port [12])$' "$DIR/out")" -eq 2 ] || fail "ports: $(cat "$DIR/out")"
  ctl() { "$NVMPATH" target-ctl --socket "$SOCK" "$@"; }
  ana() { ctl state --json | jq -r ".ports[] | select(.id == $1) | .ana[] | select(.group == $2) | .state"; }
  [ "$(ana 2 1)" = "non-optimized" ] || fail "initial port 2 state: $(ana 2 1)"
  out=$(ctl ana-set --port 2 --group 1 inaccessible) || fail "ana-set failed"
  [ "$out" = "port 2 group 1: inaccessible" ] || fail "ana-set said: $out"
  [ "$(ana 2 1)" = "inaccessible" ] || fail "after ana-set: $(ana 2 1)"
  [ "$(ana 1 1)" = "optimized" ] || fail "port 1 changed: $(ana 1 1)"
  ctl ns-add --subsystem nqn.2026-11.io.nvmpath:demo --nsid 2 --size 1MiB > /dev/null || fail "ns-add"
  [ "$(ctl state --json | jq '.subsystems[0].namespaces | map(.nsid) | sort | join(",")')" = '"1,2"' ] || fail "ns-add not in state"
  ctl ns-remove --subsystem nqn.2026-11.io.nvmpath:demo --nsid 1 > /dev/null || fail "ns-remove"
  [ "$(ctl state --json | jq '.subsystems[0].namespaces | map(.nsid) | join(",")')" = '"2"' ] || fail "ns-remove not in state"
  ctl port-disable 2 > /dev/null || fail "port-disable"
  [ "$(ctl state --json | jq '.ports[] | select(.id == 2) | .enabled')" = "false" ] || fail "port 2 still enabled"
  out=$(ctl ns-remove --subsystem nqn.2026-11.io.nvmpath:demo --nsid 1 2>&1) && fail "second ns-remove succeeded"
  echo "$out" | grep -q "^nvmpath target-ctl ns-remove: not found: " || fail "ns-remove error: $out"
  # port-add on a free port (:0), over IPv6 when the host has ::1, else IPv4; then port-remove.
  addr="[::1]:0"; ip -6 addr show lo 2>/dev/null | grep -q "::1" || addr="127.0.0.1:0"
  out=$(ctl port-add 3 "$addr" --ana-state non-optimized) || fail "port-add: $out"
  echo "$out" | grep -Eq "^port 3: listening on (::1|127\.0\.0\.1), port [1-9][0-9]* \(ANA non-optimized\)$" || fail "port-add said: $out"
  [ "$(ana 3 1)" = "non-optimized" ] || fail "port 3 ANA: $(ana 3 1)"
  out=$(ctl port-add 3 127.0.0.1:0 2>&1) && fail "duplicate port-add succeeded"
  echo "$out" | grep -q "^nvmpath target-ctl port-add: already exists: port 3 exists (" || fail "duplicate port-add: $out"
  out=$(ctl port-add 4 ::1:4420 2>&1) && fail "unbracketed IPv6 accepted"
  echo "$out" | grep -q "address: '::1:4420': an IPv6 address goes in brackets, as \[::1\]:4420" || fail "bad address: $out"
  out=$(ctl port-remove 3) || fail "port-remove: $out"
  [ "$out" = "port 3: removed" ] || fail "port-remove said: $out"
  [ "$(ctl state --json | jq '[.ports[] | select(.id == 3)] | length')" = "0" ] || fail "port 3 still in state"
  out=$(ctl port-remove 3 2>&1) && fail "second port-remove succeeded"
  echo "$out" | grep -q "^nvmpath target-ctl port-remove: not found: port 3" || fail "port-remove error: $out"
  ctl state > "$DIR/state.pretty" || fail "state"
  [ "$(wc -l < "$DIR/state.pretty")" -gt 10 ] || fail "state is not pretty-printed"
  kill -TERM "$PID"
  wait "$PID"
  rc=$?
  PID=
  [ $rc -eq 0 ] || fail "target exit $rc after SIGTERM: $(cat "$DIR/err")"
  [ ! -e "$SOCK" ] || fail "control socket left behind"
  ;;
*)
  fail "unknown mode $MODE"
  ;;
esac
echo PASS
