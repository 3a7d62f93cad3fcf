#!/usr/bin/env bash
# Docket's production topology, natively on loopback: PostgreSQL (Debian's
# package, a private cluster under .data/cluster/pg), the real Temporal
# server (go.temporal.io/server, built into .tools/temporal-server/) with its
# schema applied by its own SQL tool, the Temporal Web UI (ui-server, built
# into .tools/temporal-ui/), two workers and two API replicas.
#
#   cluster.sh up            start everything, print the URLs, wait; Ctrl-C stops all
#   cluster.sh start         the same, but return once everything is up (detached)
#   cluster.sh stop          stop everything (also stops a waiting `up`)
#   cluster.sh status        what runs, with pids
#   cluster.sh env           the addresses, as KEY=VALUE lines (for chaos)
#   cluster.sh start-one NAME | stop-one NAME | kill-one NAME [SIGNAL] | pid NAME
#                            control one component: postgres, temporal, ui,
#                            worker-1, worker-2, api-1, api-2 (chaos uses these)
#
# `make cluster`, `make cluster-stop` and `make chaos` call it after building
# the binaries. State and logs live in .data/cluster/ and survive restarts;
# delete that folder to start afresh. Ports (all on 127.0.0.1) can be moved
# with DOCKET_CLUSTER_PG_PORT (15432), DOCKET_CLUSTER_TEMPORAL_PORT (17233),
# DOCKET_CLUSTER_UI_PORT (18233) and DOCKET_CLUSTER_API_PORTS ("18080 18081");
# the Temporal server's internal ports are 1693x/1723x (cluster/config/temporal.yaml).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

export DOCKET_CLUSTER_DIR="$ROOT/cluster"
DATA=${DOCKET_CLUSTER_DATA:-$ROOT/.data/cluster}
RUN=$DATA/run
LOGS=$DATA/logs
PGDATA=$DATA/pg
PGSOCK=$DATA/pgsock

export DOCKET_CLUSTER_PG_PORT=${DOCKET_CLUSTER_PG_PORT:-15432}
export DOCKET_CLUSTER_TEMPORAL_PORT=${DOCKET_CLUSTER_TEMPORAL_PORT:-17233}
export DOCKET_CLUSTER_UI_PORT=${DOCKET_CLUSTER_UI_PORT:-18233}
# api-1's codec-only listener, which the Web UI decodes payloads through
# (cluster/config/ui.yaml): the UI cannot send an API key.
export DOCKET_CLUSTER_CODEC_PORT=${DOCKET_CLUSTER_CODEC_PORT:-18090}
read -r -a API_PORTS <<<"${DOCKET_CLUSTER_API_PORTS:-18080 18081}"
# Prometheus metrics: each process its own port on 127.0.0.1 (/metrics),
# the server's set in cluster/config/temporal.yaml. The APIs' listeners
# (DOCKET_METRICS_ADDR) need no key; GET /metrics on the API ports needs
# one with the metrics scope.
export DOCKET_CLUSTER_TEMPORAL_METRICS_PORT=${DOCKET_CLUSTER_TEMPORAL_METRICS_PORT:-19233}
read -r -a API_METRICS_PORTS <<<"${DOCKET_CLUSTER_API_METRICS_PORTS:-19080 19081}"
read -r -a WORKER_METRICS_PORTS <<<"${DOCKET_CLUSTER_WORKER_METRICS_PORTS:-19091 19092}"
TEMPORAL_ADDR=127.0.0.1:$DOCKET_CLUSTER_TEMPORAL_PORT
NAMESPACE=default
TASK_QUEUE=${DOCKET_TASK_QUEUE:-docket}
RETENTION=${DOCKET_CLUSTER_RETENTION:-72h}
# The APIs serve with keys (auth on, as in production): the keys file and
# the secret of the cluster's one key, made on first start (or from
# DOCKET_CLUSTER_API_KEY when that is set), live under the data folder.
KEYS_FILE=$DATA/keys.json
KEY_FILE=$DATA/api-key
# Payloads and blobs are encrypted with this key ring, made on first start
# (or the file DOCKET_CLUSTER_ENCRYPTION_KEYS_FILE names).
RING_FILE=${DOCKET_CLUSTER_ENCRYPTION_KEYS_FILE:-$DATA/encryption-keys.json}
# Webhook deliveries to a job's notify URL (when the tenant has no endpoint
# there) are signed with this secret, made on first start; the workers read
# it from the file (DOCKET_WEBHOOK_SECRET_FILE), so it is in no environment.
WEBHOOK_SECRET_FILE=$DATA/webhook-secret
# Hosts the APIs and workers may reach although they are loopback or
# private (DOCKET_FETCH_ALLOW_HOSTS): none unless DOCKET_CLUSTER_FETCH_ALLOW_HOSTS
# names some. `make chaos CHAOS_FLAGS=-webhooks` sets 127.0.0.1, where its
# webhook receiver listens, and restarts the APIs and workers with it.
FETCH_ALLOW_HOSTS=${DOCKET_CLUSTER_FETCH_ALLOW_HOSTS:-}
# Docket's custom search attributes, all Keyword (job.StatusSearchAttribute
# and job.TenantSearchAttribute; tools/deploytest checks this list).
SEARCH_ATTRIBUTES=(DocketStatus DocketTenant)

TEMPORAL_SERVER_VERSION=${TEMPORAL_SERVER_VERSION:-v1.29.1}
TOOLS=$ROOT/.tools
SERVER=$TOOLS/temporal-server/bin/server
SQL_TOOL=$TOOLS/temporal-server/bin/temporal-sql-tool
UI_SERVER=$TOOLS/temporal-ui/bin/server
CLI=$TOOLS/bin/temporal
BIN=$ROOT/bin

WORKERS=(worker-1 worker-2)
APIS=(api-1 api-2)
COMPONENTS=(postgres temporal ui "${WORKERS[@]}" "${APIS[@]}")

log() { echo "cluster: $*" >&2; }
die() { echo "cluster: $*" >&2; exit 1; }

# --- PostgreSQL ---------------------------------------------------------

PGBIN=
find_pgbin() {
  local d dirs
  mapfile -t dirs < <(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V -r)
  for d in "${dirs[@]}"; do
    if [[ -x $d/initdb && -x $d/pg_ctl && -x $d/postgres ]]; then PGBIN=$d; return 0; fi
  done
  return 1
}

ensure_postgres_installed() {
  find_pgbin && return 0
  if [[ $(id -u) -ne 0 ]]; then
    die "PostgreSQL is not installed and installing it needs root: sudo apt-get install -y postgresql"
  fi
  log "installing PostgreSQL from Debian's packages (apt-get install -y postgresql)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >"$LOGS/apt.log" 2>&1 || { tail -20 "$LOGS/apt.log" >&2; die "apt-get update failed"; }
  apt-get install -y -qq postgresql >>"$LOGS/apt.log" 2>&1 || { tail -20 "$LOGS/apt.log" >&2; die "apt-get install postgresql failed"; }
  # Debian starts its own cluster on 5432; ours is private and elsewhere,
  # so leave the system one as the package set it up.
  find_pgbin || die "postgresql installed but no initdb found under /usr/lib/postgresql"
}

# PostgreSQL refuses to run as root: as root, its files belong to the
# package's `postgres` user and it runs through runuser.
PGUSER_OS=
as_pg() {
  if [[ -n $PGUSER_OS ]]; then runuser -u "$PGUSER_OS" -- "$@"; else "$@"; fi
}
pg_owner() {
  if [[ $(id -u) -ne 0 ]]; then PGUSER_OS=; return; fi
  PGUSER_OS=postgres
  if ! id "$PGUSER_OS" >/dev/null 2>&1; then
    log "creating the system user $PGUSER_OS to run PostgreSQL"
    useradd --system --no-create-home --shell /usr/sbin/nologin "$PGUSER_OS"
  fi
}

pg_prepare_dirs() {
  mkdir -p "$PGDATA" "$PGSOCK"
  touch "$LOGS/postgres.log"
  if [[ -n $PGUSER_OS ]]; then chown "$PGUSER_OS" "$PGDATA" "$PGSOCK" "$LOGS/postgres.log"; fi
  chmod 700 "$PGDATA" "$PGSOCK"
}

pg_running() { [[ -n $PGBIN ]] && as_pg "$PGBIN/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1; }

start_postgres() {
  ensure_postgres_installed
  pg_owner
  pg_prepare_dirs
  if [[ ! -s $PGDATA/PG_VERSION ]]; then
    log "initialising a private PostgreSQL cluster in $PGDATA"
    as_pg "$PGBIN/initdb" -D "$PGDATA" --username=postgres --encoding=UTF8 --locale=C \
      --auth-local=trust --auth-host=scram-sha-256 >>"$LOGS/postgres.log" 2>&1 \
      || { tail -20 "$LOGS/postgres.log" >&2; die "initdb failed"; }
  fi
  if pg_running; then return 0; fi
  port_free "$DOCKET_CLUSTER_PG_PORT" || die "port $DOCKET_CLUSTER_PG_PORT (PostgreSQL) is in use; set DOCKET_CLUSTER_PG_PORT"
  # Only loopback TCP, and the socket in a private folder.
  as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -l "$LOGS/postgres.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $DOCKET_CLUSTER_PG_PORT -k $PGSOCK" start >/dev/null \
    || { tail -20 "$LOGS/postgres.log" >&2; die "PostgreSQL did not start"; }
}

stop_postgres() {
  find_pgbin || return 0
  pg_owner
  [[ -s $PGDATA/PG_VERSION ]] || return 0
  if pg_running; then as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -m fast -w -t 60 stop >/dev/null || true; fi
}

psql_admin() { # psql_admin DB SQL: one value out
  as_pg "$PGBIN/psql" -h "$PGSOCK" -p "$DOCKET_CLUSTER_PG_PORT" -U postgres -d "$1" \
    -v ON_ERROR_STOP=1 -tAq -c "$2"
}

# --- Temporal schema, namespace, search attributes ------------------------

schema_root() {
  local dir
  dir="$(go env GOMODCACHE)/go.temporal.io/server@$TEMPORAL_SERVER_VERSION/schema"
  if [[ ! -d $dir ]]; then
    (cd /tmp && GOFLAGS=-mod=mod go mod download "go.temporal.io/server@$TEMPORAL_SERVER_VERSION") >&2
  fi
  [[ -d $dir/postgresql/v12 ]] || die "schema files not found in $dir"
  echo "$dir"
}

sql_tool() {
  SQL_PLUGIN=postgres12 SQL_HOST=127.0.0.1 SQL_PORT=$DOCKET_CLUSTER_PG_PORT \
    SQL_USER=temporal SQL_PASSWORD=temporal "$SQL_TOOL" "$@" >>"$LOGS/schema.log" 2>&1 \
    || { tail -20 "$LOGS/schema.log" >&2; die "temporal-sql-tool $* failed"; }
}

setup_schema() {
  local root db dir
  root=$(schema_root)
  if [[ $(psql_admin postgres "SELECT count(*) FROM pg_roles WHERE rolname = 'temporal'") != 1 ]]; then
    psql_admin postgres "CREATE ROLE temporal LOGIN CREATEDB PASSWORD 'temporal'" >/dev/null
  fi
  for db in temporal temporal_visibility; do
    dir=temporal
    [[ $db == temporal_visibility ]] && dir=visibility
    sql_tool --db "$db" create-database --defaultdb postgres
    if [[ $(psql_admin "$db" "SELECT to_regclass('public.schema_version') IS NOT NULL") != t ]]; then
      log "setting up the $db schema (temporal-sql-tool, $root/postgresql/v12/$dir)"
      sql_tool --db "$db" setup-schema -v 0.0
    fi
    # Idempotent: applies only the versions the database lacks.
    sql_tool --db "$db" update-schema -d "$root/postgresql/v12/$dir/versioned"
  done
}

temporal_cli() {
  env -u TEMPORAL_API_KEY -u TEMPORAL_TLS -u TEMPORAL_PROFILE -u TEMPORAL_CONFIG_FILE \
    "$CLI" "$@" --address "$TEMPORAL_ADDR"
}

setup_namespace() {
  local i
  if ! temporal_cli operator namespace describe --namespace "$NAMESPACE" >/dev/null 2>&1; then
    log "registering namespace $NAMESPACE (retention $RETENTION)"
    temporal_cli operator namespace create --namespace "$NAMESPACE" --retention "$RETENTION" >/dev/null
  fi
  for i in $(seq 1 60); do
    temporal_cli operator namespace describe --namespace "$NAMESPACE" >/dev/null 2>&1 && break
    sleep 1
  done
  local attr
  for attr in "${SEARCH_ATTRIBUTES[@]}"; do
    if ! temporal_cli operator search-attribute list --namespace "$NAMESPACE" 2>/dev/null | grep -qw "$attr"; then
      log "creating search attribute $attr (Keyword)"
      for i in $(seq 1 30); do
        temporal_cli operator search-attribute create --namespace "$NAMESPACE" \
          --name "$attr" --type Keyword >/dev/null 2>&1 && break
        sleep 1
      done
    fi
  done
  for attr in "${SEARCH_ATTRIBUTES[@]}"; do
    for i in $(seq 1 60); do
      temporal_cli operator search-attribute list --namespace "$NAMESPACE" 2>/dev/null | grep -qw "$attr" && continue 2
      sleep 1
    done
    die "search attribute $attr was not registered"
  done
}

# --- processes ---------------------------------------------------------------

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

http_ok() { # http_ok PORT PATH: a 200 from 127.0.0.1:PORT
  local line
  exec 3<>"/dev/tcp/127.0.0.1/$1" || return 1
  printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' "$2" >&3
  IFS= read -r -t 5 line <&3 || true
  exec 3>&- 3<&-
  [[ $line == *" 200 "* ]]
}

binary_of() {
  case $1 in
    temporal) echo "$SERVER" ;;
    ui) echo "$UI_SERVER" ;;
    worker-*) echo "$BIN/worker" ;;
    api-*) echo "$BIN/docket-api" ;;
    *) die "unknown component $1" ;;
  esac
}

metrics_port() { # api-N or worker-N -> its metrics port
  local n=${1##*-}
  case $1 in
    api-*) echo "${API_METRICS_PORTS[$((n - 1))]}" ;;
    worker-*) echo "${WORKER_METRICS_PORTS[$((n - 1))]}" ;;
  esac
}

api_port() { # api-N -> its port
  local n=${1#api-}
  [[ $n =~ ^[0-9]+$ && $n -ge 1 && $n -le ${#API_PORTS[@]} ]] || die "unknown component $1"
  echo "${API_PORTS[$((n - 1))]}"
}

pid_of() { # the pid of a running component, or nothing
  local name=$1 pid exe
  if [[ $name == postgres ]]; then
    find_pgbin || return 0
    pg_owner
    pg_running || return 0
    head -1 "$PGDATA/postmaster.pid" 2>/dev/null || true
    return 0
  fi
  [[ -f $RUN/$name.pid ]] || return 0
  pid=$(<"$RUN/$name.pid")
  exe=$(readlink "/proc/$pid/exe" 2>/dev/null || true)
  # Guard against a recycled pid: it must still run the component's binary.
  if [[ -n $exe && ${exe% (deleted)} == "$(readlink -f "$(binary_of "$name")")" ]]; then echo "$pid"; fi
}

launch() { # launch NAME CMD...: in its own session, so Ctrl-C reaches only this script
  local name=$1
  shift
  echo "=== $(date -u +%FT%TZ) start: $*" >>"$LOGS/$name.log"
  setsid "$@" </dev/null >>"$LOGS/$name.log" 2>&1 &
  echo $! >"$RUN/$name.pid"
  # Not this shell's job: no "Killed" notice when chaos kills it.
  disown $! 2>/dev/null || true
}

# The environment of Docket's processes in the cluster: this cluster's
# address, whatever TEMPORAL_* settings the caller's shell has for another;
# the cluster's own data folder, whose blobs/ the API replicas and workers
# share (uploads, document outputs); every worker serves every role, so that
# either can take over the other's steps.
DOCKET_ENV=(env -u TEMPORAL_API_KEY -u TEMPORAL_TLS -u TEMPORAL_PROFILE -u TEMPORAL_CONFIG_FILE
  -u TEMPORAL_TLS_CLIENT_CERT_PATH -u TEMPORAL_TLS_CLIENT_KEY_PATH -u TEMPORAL_TLS_SERVER_CA_CERT_PATH
  TEMPORAL_ADDRESS="$TEMPORAL_ADDR" TEMPORAL_NAMESPACE="$NAMESPACE" DOCKET_TASK_QUEUE="$TASK_QUEUE"
  DOCKET_DATA_DIR="$DATA" DOCKET_WORKER_ROLES=all DOCKET_ENCRYPTION_KEYS_FILE="$RING_FILE")
if [[ -n $FETCH_ALLOW_HOSTS ]]; then DOCKET_ENV+=(DOCKET_FETCH_ALLOW_HOSTS="$FETCH_ALLOW_HOSTS"); fi

wait_ready() { # wait_ready NAME PID
  local name=$1 pid=$2 i
  for i in $(seq 1 240); do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -20 "$LOGS/$name.log" >&2
      die "$name exited during start; see $LOGS/$name.log"
    fi
    case $name in
      temporal) temporal_cli operator cluster health >/dev/null 2>&1 && return 0 ;;
      ui) http_ok "$DOCKET_CLUSTER_UI_PORT" / 2>/dev/null && return 0 ;;
      api-*) http_ok "$(api_port "$name")" /readyz 2>/dev/null && return 0 ;;
      worker-*)
        # Ready once Temporal lists this process among the task queue's pollers.
        temporal_cli task-queue describe --namespace "$NAMESPACE" --task-queue "$TASK_QUEUE" -o json 2>/dev/null \
          | grep -q "\"worker-$pid@" && return 0 ;;
    esac
    sleep 0.5
  done
  die "$name did not become ready in 120 s; see $LOGS/$name.log"
}

start_one() {
  local name=$1 pid port
  mkdir -p "$RUN" "$LOGS"
  if [[ $name == postgres ]]; then start_postgres; return; fi
  pid=$(pid_of "$name")
  if [[ -n $pid ]]; then return 0; fi
  [[ -x $(binary_of "$name") ]] || die "$(binary_of "$name") is missing: run make cluster (it builds it)"
  case $name in
    temporal)
      port_free "$DOCKET_CLUSTER_TEMPORAL_PORT" || die "port $DOCKET_CLUSTER_TEMPORAL_PORT (Temporal) is in use; set DOCKET_CLUSTER_TEMPORAL_PORT"
      port_free "$DOCKET_CLUSTER_TEMPORAL_METRICS_PORT" || die "port $DOCKET_CLUSTER_TEMPORAL_METRICS_PORT (Temporal metrics) is in use; set DOCKET_CLUSTER_TEMPORAL_METRICS_PORT"
      launch temporal "$SERVER" --root "$ROOT" --config cluster/config --env temporal --allow-no-auth start ;;
    ui)
      port_free "$DOCKET_CLUSTER_UI_PORT" || die "port $DOCKET_CLUSTER_UI_PORT (Web UI) is in use; set DOCKET_CLUSTER_UI_PORT"
      launch ui "$UI_SERVER" --root "$ROOT" --config cluster/config --env ui start ;;
    worker-*)
      ensure_ring
      ensure_webhook_secret
      port=$(metrics_port "$name")
      port_free "$port" || die "port $port ($name metrics) is in use; set DOCKET_CLUSTER_WORKER_METRICS_PORTS"
      launch "$name" "${DOCKET_ENV[@]}" DOCKET_LOG_LEVEL=info DOCKET_METRICS_ADDR="127.0.0.1:$port" \
        DOCKET_WEBHOOK_SECRET_FILE="$WEBHOOK_SECRET_FILE" "$BIN/worker" ;;
    api-*)
      port=$(api_port "$name")
      port_free "$port" || die "port $port ($name) is in use; set DOCKET_CLUSTER_API_PORTS"
      ensure_key
      ensure_ring
      local codec=()
      if [[ $name == api-1 ]]; then
        port_free "$DOCKET_CLUSTER_CODEC_PORT" || die "port $DOCKET_CLUSTER_CODEC_PORT (codec) is in use; set DOCKET_CLUSTER_CODEC_PORT"
        codec=(DOCKET_CODEC_ADDR="127.0.0.1:$DOCKET_CLUSTER_CODEC_PORT"
          DOCKET_CORS_ORIGINS="http://127.0.0.1:$DOCKET_CLUSTER_UI_PORT,http://localhost:$DOCKET_CLUSTER_UI_PORT")
      fi
      local metrics
      metrics=$(metrics_port "$name")
      port_free "$metrics" || die "port $metrics ($name metrics) is in use; set DOCKET_CLUSTER_API_METRICS_PORTS"
      launch "$name" "${DOCKET_ENV[@]}" DOCKET_HTTP_ADDR="127.0.0.1:$port" DOCKET_API_KEYS_FILE="$KEYS_FILE" \
        DOCKET_METRICS_ADDR="127.0.0.1:$metrics" "${codec[@]}" "$BIN/docket-api" ;;
  esac
  wait_ready "$name" "$(<"$RUN/$name.pid")"
}

stop_one() { # stop_one NAME: SIGTERM, then SIGKILL after a grace period
  local name=$1 pid i grace=40
  if [[ $name == postgres ]]; then stop_postgres; return; fi
  pid=$(pid_of "$name")
  if [[ -n $pid ]]; then
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < grace * 10; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      log "$name did not stop in ${grace}s; killing it"
      kill -KILL -- "-$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$RUN/$name.pid"
}

kill_one() { # kill_one NAME [SIGNAL]: signal the component's process group
  local name=$1 sig=${2:-KILL} pid i
  [[ $name != postgres ]] || die "use stop-one for postgres"
  pid=$(pid_of "$name")
  [[ -n $pid ]] || die "$name is not running"
  kill -"$sig" -- "-$pid"
  if [[ $sig == KILL || $sig == 9 ]]; then
    for ((i = 0; i < 100; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    rm -f "$RUN/$name.pid"
  fi
}

# --- the whole cluster -----------------------------------------------------------

check_tools() {
  local f
  for f in "$SERVER" "$SQL_TOOL" "$UI_SERVER" "$CLI" "$BIN/worker" "$BIN/docket-api"; do
    [[ -x $f ]] || die "$f is missing: run \`make cluster\`, which builds it"
  done
}

# ensure_key makes the cluster's API key on first start: the one given in
# DOCKET_CLUSTER_API_KEY, or a new one from `docket-api keys new`, for
# tenant "default" with every scope but admin. The secret is kept in
# $KEY_FILE (mode 0600) for `cluster.sh env` and printed once.
ensure_key() {
  [[ -s $KEYS_FILE && -s $KEY_FILE ]] && return 0
  mkdir -p "$DATA"
  local secret
  if [[ -n ${DOCKET_CLUSTER_API_KEY:-} ]]; then
    secret=$DOCKET_CLUSTER_API_KEY
    (umask 077 && printf '{"keys": [{"id": "cluster", "tenant": "default", "scopes": ["jobs:read", "jobs:write", "documents:read", "documents:write"], "sha256": "%s"}]}\n' \
      "$(printf '%s' "$secret" | sha256sum | cut -d' ' -f1)" >"$KEYS_FILE")
  else
    rm -f "$KEYS_FILE"
    # The whole output, then its first line (the secret): `| head -n1`
    # under pipefail fails whenever head exits before docket-api has
    # written the rest (SIGPIPE), which a loaded machine makes likely.
    local out
    out=$("$BIN/docket-api" keys new --id cluster --tenant default \
      --scopes jobs:read,jobs:write,documents:read,documents:write --file "$KEYS_FILE" 2>/dev/null) ||
      die "docket-api keys new failed"
    secret=${out%%$'\n'*}
    log "made the cluster's API key (shown once here; kept in ${KEY_FILE#"$ROOT"/}): $secret"
  fi
  (umask 077 && printf '%s\n' "$secret" >"$KEY_FILE")
}

# ensure_ring makes the cluster's encryption key ring on first start.
ensure_ring() {
  [[ -s $RING_FILE ]] && return 0
  mkdir -p "$(dirname "$RING_FILE")"
  "$BIN/docket-api" keyring new "$RING_FILE" >/dev/null || die "docket-api keyring new failed"
  log "made the encryption key ring ${RING_FILE#"$ROOT"/} (keep it: the cluster's jobs and blobs need it)"
}

# ensure_webhook_secret makes the cluster's webhook signing secret on first
# start (mode 0600; its path, not its content, is printed).
ensure_webhook_secret() {
  [[ -e $WEBHOOK_SECRET_FILE ]] && return 0
  mkdir -p "$(dirname "$WEBHOOK_SECRET_FILE")"
  "$BIN/docket-api" webhook-secret new "$WEBHOOK_SECRET_FILE" >/dev/null || die "docket-api webhook-secret new failed"
  log "made the webhook signing secret ${WEBHOOK_SECRET_FILE#"$ROOT"/} (receivers of notify URLs verify with it)"
}

start_all() {
  local name
  check_tools
  mkdir -p "$RUN" "$LOGS"
  start_one postgres
  setup_schema
  start_one temporal
  setup_namespace
  for name in ui "${WORKERS[@]}" "${APIS[@]}"; do start_one "$name"; done
}

stop_all() {
  local i
  # APIs and workers first, so that running activities can finish while the
  # server is still there; then the UI, the server, the database.
  for ((i = ${#COMPONENTS[@]} - 1; i >= 0; i--)); do stop_one "${COMPONENTS[$i]}"; done
}

print_urls() {
  cat <<MSG

Docket cluster is running (state and logs in ${DATA#"$ROOT"/}/).
  Jobs API      http://127.0.0.1:${API_PORTS[0]}   and   http://127.0.0.1:${API_PORTS[1]}   (docs: /docs)
  Temporal UI   http://127.0.0.1:$DOCKET_CLUSTER_UI_PORT  (decodes payloads through api-1's codec listener, 127.0.0.1:$DOCKET_CLUSTER_CODEC_PORT)
  Temporal      $TEMPORAL_ADDR  (namespace $NAMESPACE, task queue $TASK_QUEUE; server $TEMPORAL_SERVER_VERSION on PostgreSQL)
  PostgreSQL    127.0.0.1:$DOCKET_CLUSTER_PG_PORT  (user temporal, databases temporal and temporal_visibility)
  Workers       ${WORKERS[*]}
  Metrics       Temporal http://127.0.0.1:$DOCKET_CLUSTER_TEMPORAL_METRICS_PORT/metrics; api-1, api-2 http://127.0.0.1:${API_METRICS_PORTS[0]}/metrics, :${API_METRICS_PORTS[1]}; worker-1, worker-2 http://127.0.0.1:${WORKER_METRICS_PORTS[0]}/metrics, :${WORKER_METRICS_PORTS[1]}
  Blobs         ${DATA#"$ROOT"/}/blobs  (uploads and document outputs, shared by the APIs and workers)
  Logs          ${LOGS#"$ROOT"/}/{postgres,temporal,ui,worker-1,worker-2,api-1,api-2}.log
  Webhooks      notify URLs without an endpoint are signed with the secret in ${WEBHOOK_SECRET_FILE#"$ROOT"/}
  API key       in ${KEY_FILE#"$ROOT"/} (tenant default; keys file ${KEYS_FILE#"$ROOT"/}, add keys with bin/docket-api keys new --file)
  Try           curl -s -X POST 127.0.0.1:${API_PORTS[0]}/jobs -H "Authorization: Bearer \$(cat ${KEY_FILE#"$ROOT"/})" -H 'Content-Type: application/json' -d '{"type":"sum","input":{"start":1,"end":100}}'
  Chaos         make chaos        Stop: make cluster-stop (or Ctrl-C where \`make cluster\` runs)
MSG
}

status() {
  local name pid
  for name in "${COMPONENTS[@]}"; do
    pid=$(pid_of "$name")
    if [[ -n $pid ]]; then printf '%-10s running (pid %s)\n' "$name" "$pid"; else printf '%-10s down\n' "$name"; fi
  done
}

supervisor_pid() {
  local pid
  [[ -f $RUN/supervisor.pid ]] || return 0
  pid=$(<"$RUN/supervisor.pid")
  if kill -0 "$pid" 2>/dev/null && grep -q cluster.sh "/proc/$pid/cmdline" 2>/dev/null; then echo "$pid"; fi
}

cmd=${1:-up}
case $cmd in
  up)
    mkdir -p "$RUN" "$LOGS"
    [[ -z $(supervisor_pid) ]] || die "a cluster is already running in the foreground (pid $(supervisor_pid)); make cluster-stop stops it"
    echo $$ >"$RUN/supervisor.pid"
    stopping=0
    on_stop() {
      # Stop everything even when the terminal or a pipe reading our
      # output is gone (Ctrl-C on `make cluster | tee` kills tee first).
      trap '' INT TERM PIPE
      trap - EXIT
      set +e
      [[ $stopping == 1 ]] && return
      stopping=1
      echo
      log "stopping..."
      stop_all
      rm -f "$RUN/supervisor.pid"
      log "stopped."
    }
    trap 'on_stop; exit 0' INT TERM
    trap on_stop EXIT
    start_all
    print_urls
    echo "Press Ctrl-C to stop."
    # Components may be killed and restarted (chaos does): keep waiting.
    while true; do sleep 1 & wait $! || true; done
    ;;
  start)
    # A start that fails half-way stops what it started.
    on_start_exit() {
      local rc=$?
      if [[ $rc != 0 ]]; then stop_all; fi
    }
    trap on_start_exit EXIT
    start_all
    print_urls
    ;;
  stop)
    sup=$(supervisor_pid)
    if [[ -n $sup ]]; then
      kill -TERM "$sup"
      for _ in $(seq 1 1200); do kill -0 "$sup" 2>/dev/null || break; sleep 0.1; done
    fi
    stop_all
    log "stopped."
    ;;
  status) status ;;
  env)
    echo "TEMPORAL_ADDRESS=$TEMPORAL_ADDR"
    echo "TEMPORAL_NAMESPACE=$NAMESPACE"
    echo "DOCKET_TASK_QUEUE=$TASK_QUEUE"
    echo "DOCKET_CLUSTER_APIS=${APIS[*]}"
    echo "DOCKET_CLUSTER_API_URLS=$(for p in "${API_PORTS[@]}"; do printf 'http://127.0.0.1:%s ' "$p"; done | sed 's/ $//')"
    echo "DOCKET_CLUSTER_WORKERS=${WORKERS[*]}"
    [[ -s $KEY_FILE ]] && echo "DOCKET_CLUSTER_API_KEY=$(<"$KEY_FILE")"
    echo "DOCKET_CLUSTER_ENCRYPTION_KEYS_FILE=$RING_FILE"
    echo "DOCKET_CLUSTER_WEBHOOK_SECRET_FILE=$WEBHOOK_SECRET_FILE"
    ;;
  start-one) start_one "${2:?component}" ;;
  stop-one) stop_one "${2:?component}" ;;
  kill-one) kill_one "${2:?component}" "${3:-KILL}" ;;
  pid) pid_of "${2:?component}" ;;
  *) die "unknown command $cmd (up, start, stop, status, env, start-one, stop-one, kill-one, pid)" ;;
esac
