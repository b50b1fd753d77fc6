#!/usr/bin/env bash
# `nvmpath host --metrics` scraped for real: a scrape passes `promtool check metrics`; wrong
# path, wrong method and huge headers get 404, 405 and 431; then Debian's prometheus server
# scrapes the host every 250 ms (its own config, storage directory and free port on 127.0.0.1)
# while fio writes and verifies through the NBD export and the target drops port 1's connections
# and makes it ANA inaccessible; prometheus's query API must then show failovers away from port
# 1's path (> 0), the inaccessible state it went through, and the head's I/O; then both ports go
# down for 1.5 s and the head's time without a usable path must show it.
# Usage: host_metrics_prometheus.sh NVMPATH_BINARY
set -euo pipefail
NVMPATH=$(realpath "$1")
for tool in curl jq fio promtool prometheus; do
  command -v $tool > /dev/null || { echo "SKIP: $tool not installed (scripts/setup installs it)"; exit 77; }
done
WORK=$(mktemp -d /tmp/nvmpath-metrics-e2e.XXXXXX)
. "$(dirname "$0")/host_lib.sh"
trap 'cleanup_pids; rm -rf "$WORK"' EXIT

start_target 64MiB
start_host host --nbd "unix:$WORK/nbd.sock" --metrics 127.0.0.1:0
URL=$(sed -n 's|^metrics: \(http://127.0.0.1:[0-9]*/metrics\)$|\1|p' "$WORK/host.out")
[ -n "$URL" ] || die "no metrics line: $(cat "$WORK/host.out")"
HOSTPORT=${URL#http://}
HOSTPORT=${HOSTPORT%/metrics}
PATH1="127.0.0.1:$P1"

# ---- one scrape, checked ----
curl -sS --fail "$URL" > "$WORK/scrape.txt" || die "scrape failed"
promtool check metrics < "$WORK/scrape.txt" > "$WORK/promtool.out" 2>&1 \
  || die "promtool: $(cat "$WORK/promtool.out")"
grep -q "^nvmpath_path_ana_state{subsystem=\"$NQN\",head=\"nvmpath0n1\",path=\"$PATH1\",state=\"optimized\"} 1$" \
  "$WORK/scrape.txt" || die "port 1's path is not shown optimized: $(grep ana_state "$WORK/scrape.txt")"
grep -q "^nvmpath_head_capacity_bytes{subsystem=\"$NQN\",head=\"nvmpath0n1\"} 67108864$" \
  "$WORK/scrape.txt" || die "capacity: $(grep capacity "$WORK/scrape.txt")"
echo "scrape: $(grep -c '^nvmpath_' "$WORK/scrape.txt") samples, promtool clean"

# ---- bad requests ----
code() { curl -s -o "$WORK/body" -w '%{http_code}' "$@"; }
[ "$(code "http://$HOSTPORT/nope")" = 404 ] || die "wrong path: $(cat "$WORK/body")"
grep -q "serves only /metrics" "$WORK/body" || die "404 body: $(cat "$WORK/body")"
[ "$(code -X POST --data x "$URL")" = 405 ] || die "POST: $(cat "$WORK/body")"
[ "$(code -H "X-Big: $(head -c 40000 /dev/zero | tr '\0' a)" "$URL")" = 431 ] || die "huge header"
echo "bad requests: 404, 405, 431"

# ---- prometheus scraping while port 1 fails ----
PROM_PID=
for attempt in 1 2 3 4 5; do
  PP=$((20000 + RANDOM % 20000))
  (exec 3<> "/dev/tcp/127.0.0.1/$PP") 2> /dev/null && continue  # taken
  cat > "$WORK/prometheus.yml" <<YAML
global:
  scrape_interval: 500ms
  scrape_timeout: 450ms
scrape_configs:
  - job_name: nvmpath
    static_configs:
      - targets: ["$HOSTPORT"]
YAML
  prometheus --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/prom-data" \
    --web.listen-address="127.0.0.1:$PP" --log.level=warn > "$WORK/prom.log" 2>&1 &
  PROM_PID=$!
  PIDS+=("$PROM_PID")
  for ((i = 0; i < 200; i++)); do
    curl -sf "http://127.0.0.1:$PP/-/ready" > /dev/null 2>&1 && break
    kill -0 "$PROM_PID" 2> /dev/null || break
    sleep 0.05
  done
  curl -sf "http://127.0.0.1:$PP/-/ready" > /dev/null 2>&1 && break
  stop_pid "$PROM_PID" || true
  PROM_PID=
done
[ -n "$PROM_PID" ] || die "prometheus did not start: $(tail -5 "$WORK/prom.log")"

# query EXPR: the value of a one-element instant vector ("" if empty).
query() {
  curl -sS --fail -G --data-urlencode "query=$1" "http://127.0.0.1:$PP/api/v1/query" \
    | jq -r 'if .status == "success" and (.data.result | length) == 1 then .data.result[0].value[1] else "" end'
}
wait_query() {  # EXPR JQ_TEST SECONDS: until the value passes the test
  local v i
  for ((i = 0; i < $3 * 10; i++)); do
    v=$(query "$1")
    [ -n "$v" ] && jq -e "$2" <<< "$v" > /dev/null && return 0
    sleep 0.1
  done
  echo "last value of $1: '${v}'" >&2
  return 1
}
wait_query 'up{job="nvmpath"}' '. == 1' 20 || die "prometheus does not scrape the host: $(tail -5 "$WORK/prom.log")"
FAILOVERS="nvmpath_path_failovers_total{job=\"nvmpath\",path=\"$PATH1\"}"
[ "$(query "$FAILOVERS")" = 0 ] || die "failovers before any fault: $(query "$FAILOVERS")"

URI="nbd+unix:///nvmpath0n1?socket=$WORK/nbd.sock"
(sleep 1; ctl port-drop 1; sleep 1; ctl ana-set --port 1 --group 1 inaccessible; sleep 1.5
 ctl ana-set --port 1 --group 1 optimized; sleep 1; ctl port-drop 1) &
FAULTS=$!
fio --name=verify --ioengine=nbd --uri="$URI" --rw=randwrite --bs=4k --iodepth=16 --size=48M \
  --time_based --runtime=6 --verify=crc32c --do_verify=1 --verify_state_save=0 \
  --output="$WORK/fio.out" || die "fio: $(cat "$WORK/fio.out")"
wait "$FAULTS" || die "a target-ctl fault command failed"
grep -q 'err= 0' "$WORK/fio.out" || die "fio reported errors: $(cat "$WORK/fio.out")"

# Over the whole run, not only now: a path that leaves its head and comes back starts its
# counters again, and a busy machine may miss a scrape.
wait_query "max_over_time($FAILOVERS[2m])" '. > 0' 10 || die "prometheus saw no failover on $PATH1"
seen=$(query "max_over_time(nvmpath_path_ana_state{path=\"$PATH1\",state=\"inaccessible\"}[1m])")
[ "$seen" = 1 ] || die "prometheus never saw $PATH1 inaccessible (got '$seen')"
ios=$(query "nvmpath_head_completed_ios_total{job=\"nvmpath\",head=\"nvmpath0n1\"}")
jq -e '. > 1000' <<< "$ios" > /dev/null || die "head completed I/Os: '$ios'"
errors=$(query "nvmpath_head_errors_total{job=\"nvmpath\",head=\"nvmpath0n1\"}")
[ "$errors" = 0 ] || die "the head reported application errors: '$errors'"
echo "prometheus: $(query "max_over_time($FAILOVERS[2m])") failovers away from $PATH1, inaccessible seen, $ios I/Os, 0 errors"

# Both ports down for 1.5 s: the head's time without a usable path grows by at least that much.
NOPATH="nvmpath_head_no_usable_path_seconds_total{job=\"nvmpath\",head=\"nvmpath0n1\"}"
[ "$(query "$NOPATH")" = 0 ] || die "time without a usable path before the outage: $(query "$NOPATH")"
ctl port-disable 1; ctl port-disable 2; sleep 1.5; ctl port-enable 1; ctl port-enable 2
wait_query "nvmpath_head_usable_paths{job=\"nvmpath\",head=\"nvmpath0n1\"}" '. == 2' 20 \
  || die "paths not back: $(tail -3 "$WORK/host.err")"
wait_query "$NOPATH" '. >= 1.5 and . < 30' 10 || die "time without a usable path not counted"
echo "prometheus: $(query "$NOPATH") s without a usable path"

stop_pid "$PROM_PID" || true
rc=0
stop_pid "$HOST_PID" || rc=$?
[ $rc -eq 0 ] || die "host exited $rc on SIGTERM: $(tail -3 "$WORK/host.err")"
stop_pid "$TARGET_PID" || true
echo PASS
