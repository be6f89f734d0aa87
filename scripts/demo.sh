#!/usr/bin/env bash
# Runs the demo: hived, four services (gateway → orders → {inventory, payments})
# each with its hive-agent, and a traffic generator. Ctrl-C stops everything.
#
#   scripts/demo.sh [build-dir]
#
# Ports: hived on $HIVE_DEMO_PORT (default 7070), the services on the four
# ports after it. State lives in .demo/ and starts fresh each run.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
port=${HIVE_DEMO_PORT:-7070}
state=$PWD/.demo
hived_url=http://127.0.0.1:$port

for bin in hived/hived agents/hive-agent hivectl/hivectl demo/hive-demo-service demo/hive-demo-traffic; do
  [[ -x $build/$bin ]] || { echo "demo: $build/$bin is missing; run 'make demo'" >&2; exit 1; }
done

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for p in $port $((port + 1)) $((port + 2)) $((port + 3)) $((port + 4)); do
  if port_busy "$p"; then
    echo "demo: port $p is in use (another demo running?). Stop it or set HIVE_DEMO_PORT." >&2
    exit 1
  fi
done

rm -rf "$state"
mkdir -p "$state"/{data,logs,config,agents,spool,out}

# Children run in their own sessions, so Ctrl-C reaches only this script,
# which then stops them in order: traffic, agents (they deregister),
# services, and hived last.
declare -A group=()
order=(traffic agents services hived)
stopping=0
stop_all() {
  ((stopping)) && return
  stopping=1
  echo
  echo "demo: stopping…"
  for g in "${order[@]}"; do
    local members=${group[$g]:-}
    [[ -n $members ]] || continue
    # shellcheck disable=SC2086  # a group is a list of pids
    kill -TERM $members 2>/dev/null || true
    for pid in $members; do wait "$pid" 2>/dev/null || true; done
  done
  [[ -n ${tail_pid:-} ]] && kill "$tail_pid" 2>/dev/null
  echo "demo: stopped. Each process's output is in .demo/out/"
}
trap stop_all INT TERM EXIT

start() {  # start GROUP NAME CMD...
  local g=$1 name=$2
  shift 2
  setsid "$@" >"$state/out/$name.out" 2>"$state/out/$name.err" &
  group[$g]="${group[$g]:-} $!"
}

wait_http() {  # wait_http URL WHAT
  for _ in $(seq 1 100); do
    curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "demo: $2 did not come up; see .demo/out/" >&2
  exit 1
}

echo "demo: starting hived on $hived_url"
start hived hived "$build/hived/hived" --listen "127.0.0.1:$port" --data-dir "$state/data"
wait_http "$hived_url/readyz" hived

ctl() { HIVE_ADDR=$hived_url "$build/hivectl/hivectl" "$@"; }
# Starting configuration: payments declines a few requests so there are
# failing traces to look at from the first minute.
ctl config push application --profile demo latency_ms=0 --message "demo defaults" >/dev/null
ctl config push payments --profile demo failure_rate=0.02 --message "demo: a little failure" >/dev/null

services=(gateway orders inventory payments)
declare -A svc_port=([gateway]=$((port + 1)) [orders]=$((port + 2)) [inventory]=$((port + 3)) [payments]=$((port + 4)))
declare -A upstreams=(
  [gateway]="--upstream orders=http://127.0.0.1:${svc_port[orders]}"
  [orders]="--upstream inventory=http://127.0.0.1:${svc_port[inventory]} --upstream payments=http://127.0.0.1:${svc_port[payments]}"
  [inventory]=""
  [payments]=""
)

for s in "${services[@]}"; do
  p=${svc_port[$s]}
  # shellcheck disable=SC2086  # upstream flags are meant to split
  start services "$s" "$build/demo/hive-demo-service" --name "$s" --listen "127.0.0.1:$p" \
    --log-file "$state/logs/$s.log" --config "$state/config/$s.json" ${upstreams[$s]}
  cat >"$state/agents/$s.yaml" <<YAML
service: $s
instance: $s-1
version: 1.0.0
address: 127.0.0.1
port: $p
control_plane: $hived_url
heartbeat_interval: 5s
health:
  http: http://127.0.0.1:$p/health
  interval: 5s
  timeout: 2s
logs:
  - path: $state/logs/$s.log
    format: json
config:
  profile: demo
  file: $state/config/$s.json
spool:
  dir: $state/spool/$s-1
YAML
done
for s in "${services[@]}"; do wait_http "http://127.0.0.1:${svc_port[$s]}/health" "$s"; done
for s in "${services[@]}"; do start agents "agent-$s" "$build/agents/hive-agent" --config "$state/agents/$s.yaml"; done

start traffic traffic "$build/demo/hive-demo-traffic" --target "http://127.0.0.1:${svc_port[gateway]}" --rps 20

cat <<MSG

  hive demo is running.

    dashboard   $hived_url/
    services    $build/hivectl/hivectl services
    a trace     $build/hivectl/hivectl trace <trace_id>     (failed trace ids: tail -f .demo/out/traffic.out)
    break it    $build/hivectl/hivectl config push payments --profile demo failure_rate=0.3
    heal it     $build/hivectl/hivectl config rollback payments --profile demo

  (hivectl talks to $hived_url; export HIVE_ADDR=$hived_url if you changed the port)
  Press Ctrl-C to stop every process.

MSG
tail -n +1 -f "$state/out/traffic.out" &
tail_pid=$!
# Returns when hived exits on its own (or when Ctrl-C runs the trap).
# shellcheck disable=SC2086
wait ${group[hived]} || true
