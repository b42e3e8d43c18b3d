#!/usr/bin/env bash
# Real Apache Kafka for tests: one KRaft node (broker+controller) on 127.0.0.1, run
# straight from the Maven jars (no Docker, no tarball download).
#
#   kafka.sh fetch         resolve the jars into $KAFKA_LIB (needs mvn + Maven Central, once), then
#                          record class-data-sharing archives so later starts are ~2 s quicker
#   kafka.sh check         exit 0 when the jars are fetched and a java runs them (never downloads;
#                          exit 3: no jars, 4: no java); prints KAFKA_LIB, KAFKA_JAVA, KAFKA_VERSION
#   kafka.sh start DIR     fresh data under DIR, free ports, format, start in background,
#                          wait until it answers; prints KAFKA_ADDR=127.0.0.1:PORT; pid in DIR/kafka.pid.
#                          With KAFKA_KEEP_DATA=1 and a DIR that an earlier start formatted: the same
#                          ports and the same data (no format), as after an outage
#   kafka.sh restart DIR   stop, then start with KAFKA_KEEP_DATA=1
#   kafka.sh stop DIR      SIGTERM the pid in DIR/kafka.pid (only if it is our kafka.Kafka), then SIGKILL after 30s
#   kafka.sh status DIR    prints KAFKA_ADDR=... and exits 0 if running
#
# Env: KAFKA_VERSION (4.4.0)  KAFKA_LIB (~/.cache/kafka-lib/$KAFKA_VERSION)
#      KAFKA_HEAP_OPTS (-Xmx512m -Xms128m)  KAFKA_START_TIMEOUT (120 s)  KAFKA_LOG_LEVEL (INFO)
#      KAFKA_JAVA (java binary; default: first of $JAVA_HOME/bin/java, java, /usr/lib/jvm/*/bin/java that runs Kafka)
#      KAFKA_WATCH_PID (start: SIGTERM the broker once this process is gone; tests pass their own pid)
#      KAFKA_CDS (1; 0: no class-data-sharing archives)
# Typical use:  out=$(scripts/kafka/kafka.sh start "$tmp/kafka") || exit 1; export "$out"
#               go test ./...; scripts/kafka/kafka.sh stop "$tmp/kafka"
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
KAFKA_VERSION=${KAFKA_VERSION:-4.4.0}
KAFKA_LIB=${KAFKA_LIB:-${XDG_CACHE_HOME:-$HOME/.cache}/kafka-lib/$KAFKA_VERSION}
KAFKA_HEAP_OPTS=${KAFKA_HEAP_OPTS:--Xmx512m -Xms128m}
KAFKA_START_TIMEOUT=${KAFKA_START_TIMEOUT:-120}
KAFKA_LOG_LEVEL=${KAFKA_LOG_LEVEL:-INFO}
KAFKA_CDS=${KAFKA_CDS:-1}
CDS=$KAFKA_LIB/.cds

log() { echo "kafka.sh: $*" >&2; }
die() { log "$*"; exit 1; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN{printf "%.1f", b-a}'; }

cmd_fetch() {
  if [[ -f $KAFKA_LIB/.complete ]]; then warm; echo "KAFKA_LIB=$KAFKA_LIB"; return 0; fi
  command -v mvn >/dev/null || die "mvn not found"
  mkdir -p "$(dirname "$KAFKA_LIB")"
  local tmp t0 rc=0
  tmp=$(mktemp -d "$KAFKA_LIB.tmp.XXXXXX")
  t0=$(now)
  log "resolving org.apache.kafka:kafka_2.13:$KAFKA_VERSION with Maven ..."
  mvn -B -ntp -f "$HERE/pom.xml" -Dkafka.version="$KAFKA_VERSION" \
      org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies \
      -DincludeScope=runtime -DoutputDirectory="$tmp" >"$tmp/.mvn.log" 2>&1 || rc=$?
  if (( rc != 0 )) || ! compgen -G "$tmp/kafka_2.13-*.jar" >/dev/null; then
    grep -E 'ERROR|BUILD' "$tmp/.mvn.log" | head -n 8 >&2
    if grep -qiE 'Could not resolve host|UnknownHost|transfer failed|Connect(ion)? (refused|timed out)' "$tmp/.mvn.log"; then
      log "Maven Central is not reachable from this machine"
    fi
    rm -rf "$tmp"; die "fetch failed (mvn rc=$rc)"
  fi
  rm -f "$tmp/.mvn.log"
  rm -rf "$KAFKA_LIB"; mv "$tmp" "$KAFKA_LIB"; touch "$KAFKA_LIB/.complete"
  log "fetched $(find "$KAFKA_LIB" -maxdepth 1 -name '*.jar' | wc -l) jars, $(du -sh "$KAFKA_LIB" | cut -f1), in $(since "$t0")s"
  warm
  echo "KAFKA_LIB=$KAFKA_LIB"
}

# --- helpers ---------------------------------------------------------------------------

need_lib() { [[ -f $KAFKA_LIB/.complete ]] || cmd_fetch >&2; }

# main classes: detected in the jars rather than assumed (StorageTool may move between releases)
has_class() { local j; for j in "$KAFKA_LIB"/*.jar; do unzip -l "$j" "$1" >/dev/null 2>&1 && return 0; done; return 1; }
pick_classes() {
  if [[ -s $KAFKA_LIB/.storage-tool ]]; then STORAGE_TOOL=$(cat "$KAFKA_LIB/.storage-tool"); return 0; fi
  if ! command -v unzip >/dev/null; then STORAGE_TOOL=kafka.tools.StorageTool; return 0; fi
  has_class 'kafka/Kafka.class' || die "kafka.Kafka not found in $KAFKA_LIB"
  if   has_class 'kafka/tools/StorageTool.class';           then STORAGE_TOOL=kafka.tools.StorageTool
  elif has_class 'org/apache/kafka/tools/StorageTool.class'; then STORAGE_TOOL=org.apache.kafka.tools.StorageTool
  else die "no StorageTool class in $KAFKA_LIB (add org.apache.kafka:kafka-tools to pom.xml)"; fi
  echo "$STORAGE_TOOL" >"$KAFKA_LIB/.storage-tool.$$" && mv "$KAFKA_LIB/.storage-tool.$$" "$KAFKA_LIB/.storage-tool"
}

# first java that can load kafka.Kafka (Kafka 4.x needs 17+; a newer release may need 21/25)
pick_java() {
  if [[ -s $KAFKA_LIB/.java && -x $(cat "$KAFKA_LIB/.java") && -z ${KAFKA_JAVA:-} ]]; then
    JAVA=$(cat "$KAFKA_LIB/.java"); KAFKA_REAL_VERSION=$(cat "$KAFKA_LIB/.version" 2>/dev/null || true); return 0
  fi
  local c out cands=()
  [[ -n ${KAFKA_JAVA:-} ]] && cands+=("$KAFKA_JAVA")
  [[ -n ${JAVA_HOME:-} ]] && cands+=("$JAVA_HOME/bin/java")
  command -v java >/dev/null && cands+=("$(command -v java)")
  cands+=(/usr/lib/jvm/temurin-25*/bin/java /usr/lib/jvm/*/bin/java)
  for c in "${cands[@]}"; do
    [[ -x $c ]] || continue
    out=$("$c" -cp "$KAFKA_LIB/*" kafka.Kafka --version 2>&1) || true
    if grep -q 'UnsupportedClassVersionError\|Could not find or load main class' <<<"$out"; then
      log "skipping $c: $(grep -m1 -o 'UnsupportedClassVersionError.*\|Could not find.*' <<<"$out" | cut -c1-160)"
      continue
    fi
    JAVA=$c; KAFKA_REAL_VERSION=$(grep -m1 -oE '^[0-9]+\.[0-9]+\.[0-9]+[^ ]*' <<<"$out" || true)
    echo "$KAFKA_REAL_VERSION" >"$KAFKA_LIB/.version.$$" && mv "$KAFKA_LIB/.version.$$" "$KAFKA_LIB/.version"
    echo "$JAVA" >"$KAFKA_LIB/.java.$$" && mv "$KAFKA_LIB/.java.$$" "$KAFKA_LIB/.java"; return 0
  done
  die "no java found that runs kafka.Kafka (tried: ${cands[*]})"
}

# a port with nothing on it, below the ephemeral range so no outgoing connection holds it
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null || { command -v ss >/dev/null && [[ -n $(ss -Htan "( sport = :$1 )" 2>/dev/null) ]]; }; }
free_port() {
  local p
  for _ in $(seq 1 500); do
    p=$(( 20000 + RANDOM % 12000 ))
    [[ $p == "${1:-}" ]] && continue
    port_busy "$p" || { echo "$p"; return 0; }
  done
  die "no free port found"
}

# Kafka ApiVersions v0 request; ready when an answer with our correlation id comes back
probe() {
  local out
  out=$(timeout 3 bash -c 'exec 3<>/dev/tcp/127.0.0.1/'"$1"' || exit 1
        printf "\x00\x00\x00\x0b\x00\x12\x00\x00\x00\x00\x00\x07\x00\x01k" >&3
        head -c 8 <&3 | od -An -tx1' 2>/dev/null) || return 1
  [[ ${out//[$'\n' ]/} == *00000007 ]]
}

alive() { local s; s=$(ps -o stat= -p "$1" 2>/dev/null) && [[ -n $s && $s != Z* ]]; }   # a zombie is not alive

is_our_kafka() {
  [[ ${1:-} =~ ^[0-9]+$ ]] && alive "$1" &&
    tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -q 'kafka\.Kafka'
}

write_config() { # DIR PORT CPORT
  cat >"$1/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$3
controller.listener.names=CONTROLLER
listeners=PLAINTEXT://127.0.0.1:$2,CONTROLLER://127.0.0.1:$3
advertised.listeners=PLAINTEXT://127.0.0.1:$2
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$1/data
num.partitions=3
auto.create.topics.enable=true
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=2
log.cleaner.threads=1
EOF
  cat >"$1/log4j2.properties" <<EOF
status = warn
appender.out.type = Console
appender.out.name = out
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = $KAFKA_LOG_LEVEL
rootLogger.appenderRef.out.ref = out
logger.raftserver.name = kafka.server.KafkaRaftServer
logger.raftserver.level = INFO
EOF
}

# JVM: the broker's options; JVM_TOOL: the storage tool's (short-lived: C1 only). Each uses
# its class-data-sharing archive when one was recorded with this java (kafka.sh fetch).
jvm_opts() { # DIR
  local common=(-Djava.awt.headless=true -Dlog4j2.configurationFile="$1/log4j2.properties"
                -Dkafka.logs.dir="$1" -cp "$KAFKA_LIB/*")
  # shellcheck disable=SC2206
  JVM=($KAFKA_HEAP_OPTS -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExitOnOutOfMemoryError "${common[@]}")
  JVM_TOOL=(-Xmx256m -XX:TieredStopAtLevel=1 "${common[@]}")
  if [[ $KAFKA_CDS != 0 && $(cat "$CDS/java" 2>/dev/null) == "$JAVA" ]]; then
    [[ -f $CDS/broker.jsa ]] && JVM=(-XX:SharedArchiveFile="$CDS/broker.jsa" "${JVM[@]}")
    [[ -f $CDS/format.jsa ]] && JVM_TOOL=(-XX:SharedArchiveFile="$CDS/format.jsa" "${JVM_TOOL[@]}")
  fi
  return 0
}

# warm: record the classes a format and a broker start load (JDK dynamic CDS archives) once,
# so every later start maps them instead of parsing the jars again. Best effort.
warm() {
  [[ $KAFKA_CDS != 0 && ! -f $CDS/broker.jsa ]] || return 0
  pick_classes; pick_java
  local tmp pid port t0
  tmp=$(mktemp -d); t0=$(now)
  port=$(free_port); write_config "$tmp" "$port" "$(free_port "$port")"
  jvm_opts "$tmp"
  mkdir -p "$tmp/data"
  if "$JAVA" -XX:ArchiveClassesAtExit="$tmp/format.jsa" "${JVM_TOOL[@]}" "$STORAGE_TOOL" format \
       -t "$(head -c 16 /dev/urandom | base64 | tr '+/' 'ab' | tr -d '=\n' | sed 's/^-/a/')" \
       -c "$tmp/server.properties" >"$tmp/format.log" 2>&1; then
    ( cd "$tmp" && exec "$JAVA" -XX:ArchiveClassesAtExit="$tmp/broker.jsa" "${JVM[@]}" kafka.Kafka "$tmp/server.properties" \
        >"$tmp/kafka.log" 2>&1 </dev/null ) &
    pid=$!
    if ( wait_ready "$tmp" "$pid" "$port" ) >/dev/null 2>&1; then
      kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
      if [[ -s $tmp/format.jsa && -s $tmp/broker.jsa ]]; then
        mkdir -p "$CDS"; echo "$JAVA" >"$CDS/java"
        mv "$tmp/format.jsa" "$CDS/format.jsa"; mv "$tmp/broker.jsa" "$CDS/broker.jsa"
        log "class-data-sharing archives recorded in $(since "$t0")s ($CDS)"
      fi
    else
      kill -KILL "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true
    fi
  fi
  [[ -f $CDS/broker.jsa ]] || log "no class-data-sharing archives (starts take ~2 s longer): see $tmp"
  [[ -f $CDS/broker.jsa ]] && rm -rf "$tmp"
  return 0
}

# --- commands --------------------------------------------------------------------------

# ports of a previous start in DIR (its server.properties), when its data is formatted
previous_ports() { # DIR -> "PORT CPORT"
  [[ -f $1/data/meta.properties && -f $1/server.properties ]] || return 1
  local l
  l=$(grep -m1 '^listeners=' "$1/server.properties") || return 1
  [[ $l =~ PLAINTEXT://127\.0\.0\.1:([0-9]+),CONTROLLER://127\.0\.0\.1:([0-9]+) ]] || return 1
  echo "${BASH_REMATCH[1]} ${BASH_REMATCH[2]}"
}

listening() { command -v ss >/dev/null && [[ -n $(ss -Htln "( sport = :$1 )" 2>/dev/null) ]]; }

format() { # DIR: fresh data with a new cluster id
  local cid=-
  rm -rf "$1/data"; mkdir -p "$1/data"
  # cluster id: 16 random bytes, base64url, must not start with '-' (argparse would take it for a flag)
  while [[ $cid == -* ]]; do cid=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n'); done
  "$JAVA" "${JVM_TOOL[@]}" "$STORAGE_TOOL" format -t "$cid" -c "$1/server.properties" >"$1/format.log" 2>&1 ||
    { cat "$1/format.log" >&2; die "storage format failed"; }
}

# wait_ready DIR PID PORT: 0 ready, 1 exited with a port clash, dies otherwise
wait_ready() {
  local dir=$1 pid=$2 port=$3 deadline=$((SECONDS + KAFKA_START_TIMEOUT)) ready_at=""
  while :; do
    if ! alive "$pid"; then
      grep -q 'Address already in use' "$dir/kafka.log" && return 1
      tail -n 30 "$dir/kafka.log" >&2; rm -f "$dir/kafka.pid"; die "broker exited during startup (log: $dir/kafka.log)"
    fi
    if [[ -z $ready_at ]] && probe "$port"; then ready_at=$SECONDS; fi
    # answered ApiVersions: done once the 'started' line is logged (or 5 s later if logging is off)
    if [[ -n $ready_at ]] && { grep -q 'Kafka Server started' "$dir/kafka.log" || (( SECONDS - ready_at >= 5 )); }; then
      return 0
    fi
    if (( SECONDS >= deadline )); then
      tail -n 30 "$dir/kafka.log" >&2; kill "$pid" 2>/dev/null || true; rm -f "$dir/kafka.pid"
      die "not ready after ${KAFKA_START_TIMEOUT}s (log: $dir/kafka.log)"
    fi
    sleep 0.1
  done
}

# watch_parent WATCHED PID: SIGTERM the broker once the process WATCHED is gone (a test that was
# killed leaves no JVM behind); ends by itself when the broker stops first.
watch_parent() {
  ( while alive "$1" && alive "$2"; do sleep 1; done
    if alive "$2" && is_our_kafka "$2"; then
      kill -TERM "$2"; for _ in $(seq 1 100); do alive "$2" || exit 0; sleep 0.2; done; kill -KILL "$2"
    fi ) >/dev/null 2>&1 </dev/null &
}

# --- commands --------------------------------------------------------------------------

cmd_check() {
  [[ -f $KAFKA_LIB/.complete ]] || { log "no jars in $KAFKA_LIB: run kafka.sh fetch"; exit 3; }
  ( pick_java ) || exit 4
  pick_java
  echo "KAFKA_LIB=$KAFKA_LIB"; echo "KAFKA_JAVA=$JAVA"; echo "KAFKA_VERSION=${KAFKA_REAL_VERSION:-?}"
}

cmd_start() {
  local dir=${1:?usage: kafka.sh start DIR}
  mkdir -p "$dir"; dir=$(cd "$dir" && pwd)
  if [[ -f $dir/kafka.pid ]] && is_our_kafka "$(cat "$dir/kafka.pid")"; then
    die "already running: pid $(cat "$dir/kafka.pid"), $(cat "$dir/kafka.addr" 2>/dev/null)"
  fi
  need_lib; pick_classes; pick_java; jvm_opts "$dir"
  local attempt port cport pid t0 keep="" ports
  if [[ ${KAFKA_KEEP_DATA:-} == 1 ]] && ports=$(previous_ports "$dir"); then
    read -r port cport <<<"$ports"; keep=1
  fi
  for attempt in 1 2 3 4 5; do
    t0=$(now)
    if [[ -n $keep ]]; then
      # same address and data: wait (briefly) for whoever still listens on the ports
      for _ in $(seq 1 50); do listening "$port" || listening "$cport" || break; sleep 0.2; done
      write_config "$dir" "$port" "$cport"
    else
      port=$(free_port); cport=$(free_port "$port")
      write_config "$dir" "$port" "$cport"
      format "$dir"
    fi
    [[ -f $dir/kafka.log ]] && { cat "$dir/kafka.log" >>"$dir/kafka.old.log"; rm -f "$dir/kafka.log"; }
    ( cd "$dir" && exec "$JAVA" "${JVM[@]}" kafka.Kafka "$dir/server.properties" >"$dir/kafka.log" 2>&1 </dev/null ) &
    pid=$!
    echo "$pid" >"$dir/kafka.pid"
    wait_ready "$dir" "$pid" "$port" && break
    (( attempt < 5 )) || { tail -n 30 "$dir/kafka.log" >&2; rm -f "$dir/kafka.pid"; die "port clash 5 times (log: $dir/kafka.log)"; }
    log "port clash, retrying"; [[ -n $keep ]] && sleep 1
  done
  [[ -n ${KAFKA_WATCH_PID:-} ]] && watch_parent "$KAFKA_WATCH_PID" "$pid"
  echo "127.0.0.1:$port" >"$dir/kafka.addr"
  local how="format+start"; [[ -z $keep ]] || how="restart on the same data"
  log "Kafka ${KAFKA_REAL_VERSION:-?} ready in $(since "$t0")s ($how), pid $pid, rss $(($(ps -o rss= -p "$pid") / 1024)) MiB, java $JAVA"
  echo "KAFKA_ADDR=127.0.0.1:$port"
}

cmd_stop() {
  local dir=${1:?usage: kafka.sh stop DIR} pid
  [[ -f $dir/kafka.pid ]] || { log "no $dir/kafka.pid: nothing to stop"; return 0; }
  pid=$(cat "$dir/kafka.pid")
  if is_our_kafka "$pid"; then
    kill -TERM "$pid"
    for _ in $(seq 1 300); do alive "$pid" || break; sleep 0.1; done
    if alive "$pid"; then log "pid $pid still up after 30s: SIGKILL"; kill -KILL "$pid"; fi
    log "stopped pid $pid"
  else
    log "pid $pid is not a running kafka.Kafka: only removing the pid file"
  fi
  rm -f "$dir/kafka.pid"
}

cmd_status() {
  local dir=${1:?usage: kafka.sh status DIR}
  if [[ -f $dir/kafka.pid ]] && is_our_kafka "$(cat "$dir/kafka.pid")"; then
    echo "KAFKA_ADDR=$(cat "$dir/kafka.addr")"
  else
    log "not running"; return 1
  fi
}

case ${1:-} in
  fetch) cmd_fetch ;;
  start) shift; cmd_start "$@" ;;
  stop) shift; cmd_stop "$@" ;;
  restart) shift; cmd_stop "$@"; KAFKA_KEEP_DATA=1 cmd_start "$@" ;;
  status) shift; cmd_status "$@" ;;
  check) cmd_check ;;
  *) sed -n '2,24p' "$0" >&2; exit 2 ;;
esac
