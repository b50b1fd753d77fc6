# Shared by the `nvmpath host` end-to-end scripts: a target on two fixed free ports of 127.0.0.1,
# the host with its exports, and the faults the target plays. Source it after setting $NVMPATH
# (the binary) and $WORK (a scratch directory the caller removes).

NQN=nqn.2026-12.io.nvmpath:host-e2e
PIDS=()

die() { echo "FAIL: $*" >&2; exit 1; }

# Waits until FILE has a line matching REGEX (up to $3 seconds, default 20).
wait_for_line() {
  local file=$1 regex=$2 limit=${3:-20} i
  for ((i = 0; i < limit * 20; i++)); do
    grep -qE "$regex" "$file" 2>/dev/null && return 0
    sleep 0.05
  done
  return 1
}

# start_target SIZE BACKEND: writes $WORK/target.json and starts `nvmpath target` on two free
# ports (found by a first start on port 0: a port that is re-enabled re-binds its configured
# number, so the numbers must be fixed). Sets P1, P2, TARGET_PID, TSOCK.
start_target() {
  local size=$1 backend=${2:-memory} p1=${3:-0} p2=${4:-0}
  TSOCK=$WORK/target.sock
  local ns="{\"nsid\": 1, \"backend\": \"$backend\", \"size\": \"$size\", \"block_size\": 512, \"ana_group\": 1"
  [ "$backend" = file ] && ns="$ns, \"path\": \"$WORK/ns1.img\""
  ns="$ns}"
  cat > "$WORK/target.json" <<JSON
{
  "ports": [{"id": 1, "address": "127.0.0.1", "port": $p1},
            {"id": 2, "address": "127.0.0.1", "port": $p2}],
  "subsystems": [{"nqn": "$NQN", "allowed_hosts": [], "namespaces": [$ns]}],
  "ana": [{"port": 1, "group": 1, "state": "optimized"},
          {"port": 2, "group": 1, "state": "non-optimized"}],
  "control_socket": "$TSOCK"
}
JSON
  # Emptied here, not by the child's redirection: the wait below must not read the last run's.
  : > "$WORK/target.out"
  "$NVMPATH" target --config "$WORK/target.json" > "$WORK/target.out" 2> "$WORK/target.err" &
  TARGET_PID=$!
  PIDS+=("$TARGET_PID")
  wait_for_line "$WORK/target.out" '^control socket' || die "target did not start: $(cat "$WORK/target.err")"
  P1=$(sed -n 's/^listening on 127.0.0.1:\([0-9]*\) (port 1)$/\1/p' "$WORK/target.out")
  P2=$(sed -n 's/^listening on 127.0.0.1:\([0-9]*\) (port 2)$/\1/p' "$WORK/target.out")
  if [ "$p1" = 0 ]; then
    stop_pid "$TARGET_PID"
    start_target "$size" "$backend" "$P1" "$P2"
  fi
}

# start_host NAME ARGS...: `nvmpath host` on the target's two paths; waits for "ready".
# Sets HOST_PID; output in $WORK/NAME.out and .err.
start_host() {
  local name=$1
  shift
  : > "$WORK/$name.out"
  "$NVMPATH" host --nqn "$NQN" --path "127.0.0.1:$P1" --path "127.0.0.1:$P2" \
    --reconnect-delay 1 --keep-alive-tmo 2 "$@" > "$WORK/$name.out" 2> "$WORK/$name.err" &
  HOST_PID=$!
  PIDS+=("$HOST_PID")
  wait_for_line "$WORK/$name.out" '^ready$' 30 || die "host did not start: $(cat "$WORK/$name.err")"
}

ctl() { "$NVMPATH" target-ctl --socket "$TSOCK" "$@" > /dev/null; }

# The faults every export test plays, about a second apart: port 1 down and up, ANA flips on both
# ports, connections dropped on each port and then on both.
play_faults() {
  local pause=${1:-1}
  ctl port-disable 1; sleep "$pause"; ctl port-enable 1; sleep "$pause"
  ctl ana-set --port 1 --group 1 inaccessible; sleep "$pause"
  ctl ana-set --port 1 --group 1 optimized; sleep "$pause"
  ctl ana-set --port 2 --group 1 inaccessible; sleep "$pause"
  ctl ana-set --port 2 --group 1 non-optimized; sleep "$pause"
  ctl port-drop 1; sleep "$pause"
  ctl port-drop 2; sleep "$pause"
  ctl port-drop 1; ctl port-drop 2; sleep "$pause"
}

# SIGTERM to a process this script started; waits for it and returns its exit code.
stop_pid() {
  local pid=$1 rc=0
  kill -TERM "$pid" 2>/dev/null || return 0
  wait "$pid" || rc=$?
  return $rc
}

cleanup_pids() {
  local pid
  for pid in "${PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
}
