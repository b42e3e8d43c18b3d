#!/usr/bin/env bash
# Apache Kafka (scripts/kafka/kafka.sh) next to kfake (scripts/kfake) on this machine: the
# broker's start time, its RSS, and the smoke check's figures (smoke/: 10,000 x 1 KiB
# produced with acks=all, consumed back in a group, a two-member rebalance). Prints one
# Markdown row per broker and run, for docs/BENCHMARKS.md.
#
#   scripts/kafka/bench.sh [RUNS]        (default 3; needs kafka.sh fetch done, and Go)
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
RUNS=${1:-3}
tmp=$(mktemp -d)
kfake_pid=""
cleanup() {
  "$HERE/kafka.sh" stop "$tmp/apache" >/dev/null 2>&1 || true
  if [[ -n $kfake_pid ]]; then kill "$kfake_pid" 2>/dev/null || true; wait "$kfake_pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN{printf "%.2f", b-a}'; }
mib() { awk '/^'"$2"':/{printf "%d", $2/1024}' "/proc/$1/status"; }   # PID VmRSS|VmHWM
answers() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
(cd "$HERE/smoke" && go build -o "$tmp/smoke" .)
(cd "$HERE/../kfake" && go build -o "$tmp/kfake" .)

# row BROKER START_S PID ADDR: run the smoke check and print the table row
row() {
  local rss out kv kvs
  local -A r=()
  rss=$(mib "$3" VmRSS)
  out=$("$tmp/smoke" -addr "$4") || { echo "$out" >&2; echo "smoke check failed against $1" >&2; exit 1; }
  read -r -a kvs <<<"$(sed -n 's/^RESULT //p' <<<"$out")"
  for kv in "${kvs[@]}"; do r[${kv%%=*}]=${kv#*=}; done
  printf '| %s | %s s | %s MiB | %s MiB | %s msg/s (%s MB/s) | %s s | %s s | %s s | %s s |\n' "$1" "$2" "$rss" "$(mib "$3" VmHWM)" \
    "${r[produce_msg_s]}" "${r[produce_mb_s]}" "${r[coordinator_s]}" "${r[consume_s]}" "${r[rebalance_join_s]}" "${r[rebalance_leave_s]}"
}

echo "| broker | start (ready to serve) | RSS after start | peak RSS after the smoke check | produce 10,000 x 1 KiB, acks=all | first group coordinator | consume 10,000 in a group (incl. join) | rebalance: 2nd member joins | rebalance: member leaves |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
version=$("$HERE/kafka.sh" check | sed -n 's/^KAFKA_VERSION=//p')
apache() { # LABEL, then env for kafka.sh
  local label=$1 t0 out start
  shift
  rm -rf "$tmp/apache"
  t0=$(now)
  out=$(env "$@" "$HERE/kafka.sh" start "$tmp/apache" 2>/dev/null)
  start=$(since "$t0")
  row "$label" "$start" "$(cat "$tmp/apache/kafka.pid")" "${out#KAFKA_ADDR=}"
  "$HERE/kafka.sh" stop "$tmp/apache" 2>/dev/null
}
for _ in $(seq 1 "$RUNS"); do
  apache "Apache Kafka $version (format+start)" KAFKA_CDS=1
  apache "Apache Kafka $version (format+start, KAFKA_CDS=0)" KAFKA_CDS=0

  port=$(free_port)
  t0=$(now)
  "$tmp/kfake" -port "$port" >"$tmp/kfake.log" 2>&1 &
  kfake_pid=$!
  until answers "$port"; do sleep 0.02; done
  start=$(since "$t0")
  row "kfake (scripts/kfake)" "$start" "$kfake_pid" "127.0.0.1:$port"
  kill "$kfake_pid"; wait "$kfake_pid" 2>/dev/null || true; kfake_pid=""
done
echo
echo "load average (1, 5, 15 min) before: $load_before, after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "$(nproc) cores, $(uname -m), java: $("$HERE/kafka.sh" check | sed -n 's/^KAFKA_JAVA=//p') ($(java -version 2>&1 | head -n1)), $(go version | cut -d' ' -f3), $(date -u +%Y-%m-%d)"
