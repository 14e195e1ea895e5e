#!/usr/bin/env bash
# Side-by-side benchmark: tokensmith and node-oidc-provider, same client, scope, resource
# and ES256 keys, driven by wrk, alternating A B A B, with 1 and 2 worker processes.
#
# Usage: bench/run.sh [scenario...]      (default: every comparison scenario; "all": every scenario)
#
# Comparison scenarios (both servers):
#   cc_jwt              client_credentials -> ES256 JWT access token
#   cc_opaque           client_credentials -> opaque access token (tokensmith: stored in SQLite;
#                       node-oidc-provider: in memory)
#   introspection       POST introspection of one opaque access token
#   refresh_sqlite      refresh_token grant with rotation, pre-created refresh tokens
#                       (tokensmith on SQLite; node in memory)
#   refresh_postgresql  the same, tokensmith on PostgreSQL
#   authorization_code  redemption of pre-created codes (PKCE S256; access, refresh and ID token)
#   discovery           GET /.well-known/openid-configuration
#   jwks                GET the JWK Set
# tokensmith only:
#   scale               refresh and introspection on PostgreSQL: a server on an empty database
#                       against one on a database holding 1,000,000 refresh-token families
#   rss                 worker RSS at the start and end of 1,000,000 cc_jwt requests
#   profile             py-spy profile of a worker under cc_jwt load (BENCH_PROFILE_SCENARIOS)
#
# Environment:
#   TOKENSMITH_BIN      tokensmith executable (default: `tokensmith` on PATH, else .venv/bin/tokensmith)
#   BENCH_DURATION      seconds per measured run                          (default 15)
#   BENCH_RUNS          measured runs per server                          (default 3)
#   BENCH_WARMUP        warm-up seconds per server                        (default 5)
#   BENCH_CONNECTIONS   open connections                                  (default 32)
#   BENCH_THREADS       wrk threads                                       (default 2)
#   BENCH_WORKERS       worker counts to measure, both servers            (default "1 2")
#   BENCH_SERVERS       servers to compare                                (default "tokensmith node")
#   BENCH_SEED_RATE_TOKENSMITH / BENCH_SEED_RATE_NODE   single-use values (codes, refresh
#                       tokens) pre-created per measured second           (default 9000 / 6000)
#   BENCH_PG_ADMIN_URL  psql URL used to (re)create the bench database
#                       (default postgresql://postgres@127.0.0.1:5432/postgres)
#   BENCH_PG_DATABASE   database tokensmith uses in the PostgreSQL scenarios (default
#                       tokensmith_bench; dropped and created at each start; scale uses
#                       <name>_empty and <name>_full)
#   BENCH_SCALE_FAMILIES   refresh-token families the scale scenario loads (default 1000000)
#   BENCH_SCALE_SEED_RATE  refresh tokens pre-created per measured second in scale (default 4000)
#   BENCH_RSS_REQUESTS     requests of the rss scenario                    (default 1000000)
#   BENCH_PROFILE_SECONDS  py-spy sampling time of the profile scenario    (default 20)
#   BENCH_PROFILE_SCENARIOS  comparison scenarios to profile (default cc_jwt)
#   BENCH_RESULTS       folder for the raw wrk output and tables (default bench/results/<UTC time>)
#   BENCH_SOURCE        benchmark other code than the installed package: a git revision
#                       (e.g. HEAD: exported with git archive, so uncommitted edits stay out)
#                       or a folder holding src/tokensmith; it goes first on PYTHONPATH
#   BENCH_KEEP=1        keep the temp dir (configs, data folders, server logs)
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(dirname "$BENCH_DIR")"

DURATION="${BENCH_DURATION:-15}"
RUNS="${BENCH_RUNS:-3}"
WARMUP="${BENCH_WARMUP:-5}"
CONNECTIONS="${BENCH_CONNECTIONS:-32}"
THREADS="${BENCH_THREADS:-2}"
WORKERS_LIST="${BENCH_WORKERS:-1 2}"
SERVERS="${BENCH_SERVERS:-tokensmith node}"
SEED_RATE_TOKENSMITH="${BENCH_SEED_RATE_TOKENSMITH:-9000}"
SEED_RATE_NODE="${BENCH_SEED_RATE_NODE:-6000}"
PG_ADMIN_URL="${BENCH_PG_ADMIN_URL:-postgresql://postgres@127.0.0.1:5432/postgres}"
PG_DATABASE="${BENCH_PG_DATABASE:-tokensmith_bench}"
PG_DATABASE_BASE="$PG_DATABASE"
SCALE_FAMILIES="${BENCH_SCALE_FAMILIES:-1000000}"
RSS_REQUESTS="${BENCH_RSS_REQUESTS:-1000000}"
PROFILE_SECONDS="${BENCH_PROFILE_SECONDS:-20}"
RESULTS="${BENCH_RESULTS:-$BENCH_DIR/results/$(date -u +%Y%m%dT%H%M%SZ)}"
STARTUP_TIMEOUT=120

COMPARISONS="cc_jwt cc_opaque introspection refresh_sqlite refresh_postgresql authorization_code discovery jwks"
TOKENSMITH_ONLY="scale rss profile"

CLIENT_ID="bench-client"
CLIENT_SECRET="bench-secret-0123456789abcdef0123456789"
RESOURCE="https://api.example.test"
RESOURCE_ENC="https%3A%2F%2Fapi.example.test"
SCOPE="api:read"
REDIRECT_URI="http://127.0.0.1:9/callback"
REDIRECT_URI_ENC="http%3A%2F%2F127.0.0.1%3A9%2Fcallback"
CODE_VERIFIER="bench-code-verifier-0123456789-0123456789-0123456789"
AUTH="Basic $(printf '%s:%s' "$CLIENT_ID" "$CLIENT_SECRET" | base64 | tr -d '\n')"

log() { printf '[bench %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { printf '[bench] error: %s\n' "$*" >&2; exit 1; }

for v in DURATION RUNS WARMUP CONNECTIONS THREADS SEED_RATE_TOKENSMITH SEED_RATE_NODE \
  SCALE_FAMILIES RSS_REQUESTS PROFILE_SECONDS; do
  [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || die "BENCH_$v must be a positive integer (got '${!v}')"
done
for w in $WORKERS_LIST; do [[ "$w" =~ ^[1-9][0-9]*$ ]] || die "BENCH_WORKERS: '$w' is no count"; done
for s in $SERVERS; do [[ "$s" == tokensmith || "$s" == node ]] || die "BENCH_SERVERS: unknown '$s'"; done

SCENARIOS=("$@")
((${#SCENARIOS[@]})) || read -r -a SCENARIOS <<<"$COMPARISONS"
[[ "${SCENARIOS[*]}" != all ]] || read -r -a SCENARIOS <<<"$COMPARISONS $TOKENSMITH_ONLY"
for s in "${SCENARIOS[@]}"; do
  [[ " $COMPARISONS $TOKENSMITH_ONLY " == *" $s "* ]] || die "unknown scenario '$s' (known: $COMPARISONS $TOKENSMITH_ONLY)"
done

# ---------------------------------------------------------------- tools

if ! command -v wrk >/dev/null 2>&1; then
  [[ "$(id -u)" == 0 ]] || die "wrk is not installed (apt-get install wrk, as root)"
  log "installing wrk"
  export DEBIAN_FRONTEND=noninteractive
  timeout 600 apt-get update -qq >&2
  timeout 600 apt-get install -y -qq wrk >&2
fi
for tool in wrk curl python3 timeout setsid getconf; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool not found"
done

if [[ -n "${TOKENSMITH_BIN:-}" ]]; then
  TS_BIN="$TOKENSMITH_BIN"
elif command -v tokensmith >/dev/null 2>&1; then
  TS_BIN="$(command -v tokensmith)"
elif [[ -x "$REPO_ROOT/.venv/bin/tokensmith" ]]; then
  TS_BIN="$REPO_ROOT/.venv/bin/tokensmith"
else
  die "tokensmith not found: set TOKENSMITH_BIN, put it on PATH, or create .venv at the repo root"
fi
[[ -x "$TS_BIN" ]] || die "$TS_BIN is not executable"
TS_BIN="$(cd "$(dirname "$TS_BIN")" && pwd)/$(basename "$TS_BIN")"
# The interpreter tokensmith runs on: the seeding helper imports tokensmith with it.
TS_PYTHON="$(head -1 "$TS_BIN" | sed -n 's/^#![[:space:]]*\([^[:space:]]*\).*/\1/p')"
[[ -x "$TS_PYTHON" ]] || die "cannot find the Python interpreter of $TS_BIN"

# describe_python: the interpreter's real executable and how it was built. How CPython
# was compiled moves every figure: a libpython.so build without --enable-optimizations
# (pyenv's default) ran tokensmith about 8% slower here than Debian's python3.11 package.
describe_python() {
  "$TS_PYTHON" - <<'PY' 2>/dev/null || echo "unknown"
import os, sys, sysconfig
flags = sysconfig.get_config_var("CONFIG_ARGS") or ""
maps = open("/proc/self/maps").read()
linked = "executable linked to libpython.so" if "libpython3" in maps else "libpython in the executable"
optimized = "with" if "--enable-optimizations" in flags else "without"
print(f"{os.path.realpath(sys.executable)}, {linked}, configured {optimized} --enable-optimizations")
PY
}

needs_node=0
for s in "${SCENARIOS[@]}"; do
  [[ " $COMPARISONS " == *" $s "* && " $SERVERS " == *" node "* ]] && needs_node=1
done
if ((needs_node)); then
  command -v node >/dev/null 2>&1 || die "node not found (node-oidc-provider needs Node.js 20 or later)"
  if [[ ! -d "$BENCH_DIR/oidc-provider/node_modules/oidc-provider" ]]; then
    log "installing oidc-provider from the npm registry into bench/oidc-provider"
    (cd "$BENCH_DIR/oidc-provider" && timeout 600 npm ci --no-audit --no-fund >&2) \
      || die "npm ci failed in bench/oidc-provider"
  fi
  NODE_VERSION="$(node --version)"
  OP_VERSION="$(node -p "require('$BENCH_DIR/oidc-provider/node_modules/oidc-provider/package.json').version")"
fi

CLK_TCK="$(getconf CLK_TCK)"

describe_code() {
  local pkg commit dirty
  if [[ -n "${SOURCE_LABEL:-}" ]]; then echo "$SOURCE_LABEL"; return; fi
  pkg="$(timeout 20 "$TS_PYTHON" -c 'import os, tokensmith; print(os.path.dirname(tokensmith.__file__))' 2>/dev/null)" \
    || { echo "unknown"; return; }
  if commit="$(git -C "$pkg" rev-parse --short HEAD 2>/dev/null)"; then
    dirty="$(git -C "$pkg" status --porcelain -- . 2>/dev/null | head -1)"
    echo "$pkg (commit $commit${dirty:+, with uncommitted changes})"
  else
    echo "$pkg (not a git checkout)"
  fi
}

# ---------------------------------------------------------------- process handling

WORK="$(mktemp -d "${TMPDIR:-/tmp}/tokensmith-bench.XXXXXX")"
mkdir -p "$RESULTS"

if [[ -n "${BENCH_SOURCE:-}" ]]; then
  if [[ -d "$BENCH_SOURCE/src/tokensmith" ]]; then
    SOURCE_DIR="$(cd "$BENCH_SOURCE" && pwd)"
    SOURCE_LABEL="$SOURCE_DIR (folder)"
  else
    commit="$(git -C "$REPO_ROOT" rev-parse --short "$BENCH_SOURCE^{commit}")" \
      || die "BENCH_SOURCE: '$BENCH_SOURCE' is neither a folder with src/tokensmith nor a git revision"
    SOURCE_DIR="$WORK/source"; mkdir -p "$SOURCE_DIR"
    git -C "$REPO_ROOT" archive "$commit" src | tar -x -C "$SOURCE_DIR"
    SOURCE_LABEL="commit $commit (git archive export, working tree changes left out)"
  fi
  export PYTHONPATH="$SOURCE_DIR/src${PYTHONPATH:+:$PYTHONPATH}"
fi
declare -A PID URL DIR TOKENS OFFSET STATIC_TOKEN
WRK_PID=""
FAILED=0

stop_server() {  # stop_server <name>: the whole process group (setsid made the server its leader)
  local pid="${PID[$1]:-}"
  [[ -n "$pid" ]] || return 0
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM -- "-$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
  PID[$1]=""
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [[ -n "$WRK_PID" ]]; then
    kill -TERM "$WRK_PID" 2>/dev/null || true
    wait "$WRK_PID" 2>/dev/null || true
  fi
  for name in "${!PID[@]}"; do stop_server "$name"; done
  if [[ "${BENCH_KEEP:-0}" == 1 ]]; then log "kept $WORK"; else rm -rf "$WORK"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_until_up() {  # wait_until_up <name> <ready-file or "">
  local name="$1" ready="$2" deadline=$((SECONDS + STARTUP_TIMEOUT))
  until [[ -z "$ready" || -f "$ready" ]] \
    && curl -sf --max-time 2 -o /dev/null "${URL[$name]}/.well-known/openid-configuration"; do
    if ! kill -0 "${PID[$name]}" 2>/dev/null; then
      tail -40 "${DIR[$name]}/server.log" >&2
      die "$name exited during start-up"
    fi
    ((SECONDS < deadline)) || { tail -40 "${DIR[$name]}/server.log" >&2; die "$name not up after ${STARTUP_TIMEOUT}s"; }
    sleep 0.2
  done
}

reset_pg_database() {
  command -v psql >/dev/null 2>&1 || die "psql not found (needed for the PostgreSQL scenarios)"
  psql -q -v ON_ERROR_STOP=1 "$PG_ADMIN_URL" -c "DROP DATABASE IF EXISTS $PG_DATABASE WITH (FORCE)" \
    -c "CREATE DATABASE $PG_DATABASE" >/dev/null || die "cannot (re)create database $PG_DATABASE"
}

pg_sqlalchemy_url() {  # postgresql://user@host:port/x -> postgresql+asyncpg://user@host:port/$PG_DATABASE
  local base="${PG_ADMIN_URL%/*}"
  echo "postgresql+asyncpg://${base#postgresql://}/$PG_DATABASE"
}

# start_tokensmith <name> <workers> <format jwt|opaque> <database sqlite|postgresql>
start_tokensmith() {
  local name="$1" workers="$2" format="$3" database="$4" dir port
  dir="$WORK/$name"; mkdir -p "$dir"
  port="$(free_port)"
  URL[$name]="http://127.0.0.1:$port"
  DIR[$name]="$dir"
  {
    printf 'issuer = "%s"\n' "${URL[$name]}"
    [[ "$database" == postgresql ]] && printf 'database_url = "%s"\n' "$(pg_sqlalchemy_url)"
    cat <<EOF
create_demo_client = false
authorization_code_lifetime = 3600

[[clients]]
client_id = "$CLIENT_ID"
client_secret = "$CLIENT_SECRET"
token_endpoint_auth_method = "client_secret_basic"
grant_types = ["client_credentials", "authorization_code", "refresh_token"]
scopes = ["openid", "offline_access", "$SCOPE"]
redirect_uris = ["$REDIRECT_URI"]
require_consent = false

[[api_resources]]
audience = "$RESOURCE"
scopes = ["api:read", "api:write"]
access_token_format = "$format"

[[users]]
username = "bench-user"
password = "bench-user-password-0123456789"
EOF
  } >"$dir/tokensmith.toml"
  [[ "$database" == postgresql ]] && reset_pg_database
  (cd "$dir" && exec setsid "$TS_BIN" serve --config "$dir/tokensmith.toml" --port "$port" \
    --workers "$workers") >"$dir/server.log" 2>&1 &
  PID[$name]=$!
  wait_until_up "$name" ""
  log "$name: tokensmith, $workers worker(s), $format tokens, $database, on ${URL[$name]}"
}

# start_node <name> <workers> <format> <codes> <refresh tokens> <access token 0|1>
start_node() {
  local name="$1" workers="$2" format="$3" dir port
  dir="$WORK/$name"; mkdir -p "$dir"
  port="$(free_port)"
  URL[$name]="http://127.0.0.1:$port"
  DIR[$name]="$dir"
  (cd "$BENCH_DIR/oidc-provider" && exec setsid env NODE_ENV=production PORT="$port" WORKERS="$workers" \
    CLIENT_ID="$CLIENT_ID" CLIENT_SECRET="$CLIENT_SECRET" RESOURCE="$RESOURCE" SCOPE="$SCOPE" \
    REDIRECT_URI="$REDIRECT_URI" CODE_VERIFIER="$CODE_VERIFIER" TOKEN_FORMAT="$format" \
    SEED_DIR="$dir" SEED_CODES="$4" SEED_REFRESH_TOKENS="$5" SEED_ACCESS_TOKEN="$6" \
    node server.js) >"$dir/server.log" 2>&1 &
  PID[$name]=$!
  wait_until_up "$name" "$dir/ready"
  log "$name: node-oidc-provider $OP_VERSION, $workers worker(s), $format tokens, in memory, on ${URL[$name]}"
}

# ---------------------------------------------------------------- measuring

# CPU ticks (utime+stime) of every process in a server's process group.
group_ticks() {
  # A process may exit between the glob and the read: cat then fails, and pipefail must not care.
  { cat /proc/[0-9]*/stat 2>/dev/null || true; } | awk -v pg="$1" '
    { sub(/^.*\) /, ""); if ($3 == pg) t += $12 + $13 } END { print t + 0 }'
}

# "pid rss_kib" of every process in a server's process group.
group_rss() {
  local pid
  for stat in /proc/[0-9]*/stat; do
    pid="${stat#/proc/}"; pid="${pid%/stat}"
    [[ "$(awk '{ sub(/^.*\) /, ""); print $3 }' "$stat" 2>/dev/null)" == "$1" ]] || continue
    awk -v p="$pid" '/^VmRSS:/ { print p, $2 }' "/proc/$pid/status" 2>/dev/null || true
  done
}

host_ticks() { awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat; }

# CPU seconds used by this shell's finished children (wrk), via `times` (must run in this shell).
children_cpu() {
  times >"$WORK/times.txt"
  awk 'NR == 2 { split($1, u, /[ms]/); split($2, s, /[ms]/)
    printf "%.3f\n", u[1] * 60 + u[2] + s[1] * 60 + s[2] }' "$WORK/times.txt"
}

field() { sed -n "s/.*[[:space:]]$1=\([^[:space:]]*\).*/\1/p" "$2" | tail -1; }

# Request shape per scenario and server: sets REQ_PATH REQ_METHOD REQ_BODY REQ_EXPECT.
request_shape() {  # request_shape <scenario> <tokensmith|node> <name>
  REQ_METHOD=POST REQ_PATH=/token
  case "$1" in
    cc_jwt | cc_opaque | rss)
      REQ_BODY="grant_type=client_credentials&scope=$SCOPE&resource=$RESOURCE_ENC"
      REQ_EXPECT='"access_token"' ;;
    introspection | scale_introspection)
      [[ "$2" == node ]] && REQ_PATH=/token/introspection || REQ_PATH=/introspect
      REQ_BODY="token=${STATIC_TOKEN[$3]}"
      REQ_EXPECT='"active":true' ;;
    refresh_sqlite | refresh_postgresql | scale_refresh)
      REQ_BODY="grant_type=refresh_token&refresh_token={token}"
      REQ_EXPECT='"refresh_token"' ;;
    authorization_code)
      REQ_BODY="grant_type=authorization_code&code={token}&redirect_uri=$REDIRECT_URI_ENC&code_verifier=$CODE_VERIFIER"
      REQ_EXPECT='"id_token"' ;;
    discovery)
      REQ_METHOD=GET REQ_PATH=/.well-known/openid-configuration REQ_BODY="" REQ_EXPECT='"issuer"' ;;
    jwks)
      REQ_METHOD=GET REQ_BODY="" REQ_EXPECT='"keys"'
      [[ "$2" == node ]] && REQ_PATH=/jwks || REQ_PATH=/.well-known/jwks.json ;;
    *) die "no request shape for $1" ;;
  esac
}

# One request by curl before any load: a 200 with the expected body, or stop.
check_first_response() {  # check_first_response <name> <scenario> <kind>
  local name="$1" body code out="$WORK/check.$1.json" token=""
  request_shape "$2" "$3" "$name"
  body="$REQ_BODY"
  if [[ "$body" == *"{token}"* ]]; then
    token="$(sed -n "$((${OFFSET[$name]} + 1))p" "${TOKENS[$name]}")"
    body="${body/\{token\}/$token}"
    OFFSET[$name]=$((${OFFSET[$name]} + 1))
  fi
  if [[ "$REQ_METHOD" == GET ]]; then
    code="$(curl -sS --max-time 10 -o "$out" -w '%{http_code}' "${URL[$name]}$REQ_PATH")" || die "$name: request failed"
  else
    code="$(curl -sS --max-time 10 -o "$out" -w '%{http_code}' -H "Authorization: $AUTH" \
      -H 'Content-Type: application/x-www-form-urlencoded' --data "$body" "${URL[$name]}$REQ_PATH")" \
      || die "$name: request failed"
  fi
  [[ "$code" == 200 ]] || die "$name $2: first response is HTTP $code: $(head -c 500 "$out")"
  grep -qF "$REQ_EXPECT" "$out" || die "$name $2: first response lacks $REQ_EXPECT: $(head -c 500 "$out")"
  log "$name $2: first response HTTP 200 with $REQ_EXPECT ($(wc -c <"$out") bytes)"
}

# measure <name> <scenario> <kind> <label> <seconds>: one wrk run; appends a row to runs.tsv
# unless label is "warmup". Prints req/s to stderr.
measure() {
  local name="$1" scenario="$2" kind="$3" label="$4" seconds="$5" out pgid
  local t0 t1 ticks0 ticks1 host0 host1 cpu0 cpu1
  out="$RESULTS/$scenario.$name.$label.txt"
  pgid="${PID[$name]}"
  request_shape "$scenario" "$kind" "$name"
  t0="$(date +%s.%N)"; ticks0="$(group_ticks "$pgid")"; host0="$(host_ticks)"; children_cpu >"$WORK/cpu0"
  BENCH_METHOD="$REQ_METHOD" BENCH_AUTH="$AUTH" BENCH_BODY="$REQ_BODY" BENCH_EXPECT="$REQ_EXPECT" \
    BENCH_TOKENS="${TOKENS[$name]:-}" BENCH_OFFSET="${OFFSET[$name]:-0}" BENCH_THREADS_TOTAL="$THREADS" \
    timeout $((seconds + 60)) wrk -t"$THREADS" -c"$CONNECTIONS" -d"${seconds}s" --timeout 10s --latency \
    -s "$BENCH_DIR/request.lua" "${URL[$name]}$REQ_PATH" >"$out" 2>&1 &
  WRK_PID=$!
  if ! wait "$WRK_PID"; then WRK_PID=""; cat "$out" >&2; die "wrk failed"; fi
  WRK_PID=""
  children_cpu >"$WORK/cpu1"; host1="$(host_ticks)"; ticks1="$(group_ticks "$pgid")"; t1="$(date +%s.%N)"
  grep -q BENCH_RESULT "$out" || { cat "$out" >&2; die "no BENCH_RESULT in wrk output"; }
  kill -0 "$pgid" 2>/dev/null || { tail -40 "${DIR[$name]}/server.log" >&2; die "$name died during $label"; }
  [[ -z "${TOKENS[$name]:-}" ]] || OFFSET[$name]="$(field next_offset "$out")"

  local rps p50 p99 non2xx bad exhausted sockerr srv wrkc other
  rps="$(field rps "$out")"; p50="$(field p50_us "$out")"; p99="$(field p99_us "$out")"
  non2xx="$(field non2xx "$out")"; bad="$(field bad_body "$out")"; exhausted="$(field exhausted "$out")"
  sockerr=$(( $(field connect_err "$out") + $(field read_err "$out") + $(field write_err "$out") + $(field timeout_err "$out") ))
  read -r srv wrkc other < <(awk -v a="$ticks0" -v b="$ticks1" -v hz="$CLK_TCK" -v c0="$(<"$WORK/cpu0")" \
    -v c1="$(<"$WORK/cpu1")" -v h0="$host0" -v h1="$host1" -v t0="$t0" -v t1="$t1" \
    'BEGIN { w = t1 - t0; srv = 100 * (b - a) / hz / w; wrk = 100 * (c1 - c0) / w
             other = 100 * (h1 - h0) / hz / w - srv - wrk; if (other < 0) other = 0
             printf "%.0f %.0f %.0f\n", srv, wrk, other }')
  log "$scenario $name $label: $rps req/s, p99 $((p99 / 1000)) ms, server CPU $srv%, other $other%, non-2xx $non2xx, bad $bad, socket errors $sockerr"
  ((exhausted == 0)) || log "warning: $name ran out of pre-created values ($exhausted reused): raise BENCH_SEED_RATE_*"
  ((other < 25)) || log "warning: other processes used $other% of a core: figures are disturbed"
  [[ "$(field statuses "$out")" == "-" ]] || log "non-2xx by status: $(field statuses "$out"); $(grep -m1 'first bad' "$out" || true)"
  if [[ "$label" != warmup && "$label" != profiled ]]; then
    FAILED=$((FAILED + non2xx + bad + sockerr))
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$scenario" "${WORKERS_NOW:-1}" "$kind" \
      "$label" "$rps" "$p50" "$p99" "$srv" "$wrkc" "$other" "$non2xx" "$bad" "$sockerr" >>"$RESULTS/runs.tsv"
  fi
  LAST_RPS="$rps"
}

seconds_total() { echo $((WARMUP + RUNS * DURATION)); }

# ---------------------------------------------------------------- comparison scenarios

scenario_setup() {  # scenario_setup <scenario>: sets FORMAT, DATABASE, SEED
  FORMAT=jwt DATABASE=sqlite SEED=""
  case "$1" in
    cc_opaque | introspection) FORMAT=opaque ;;
    refresh_postgresql) DATABASE=postgresql SEED=refresh_tokens ;;
    refresh_sqlite) SEED=refresh_tokens ;;
    authorization_code) SEED=codes ;;
  esac
}

# prepare_tokensmith <name> <scenario> <workers> <seconds of load>: start it, pre-create values
prepare_tokensmith() {
  local name="$1" n
  scenario_setup "$2"
  TOKENS[$name]=""; OFFSET[$name]=0
  start_tokensmith "$name" "$3" "$FORMAT" "$DATABASE"
  if [[ -n "$SEED" ]]; then
    n=$((SEED_RATE_TOKENSMITH * $4 + 1))
    "$TS_PYTHON" "$BENCH_DIR/seed_tokensmith.py" --config "${DIR[$name]}/tokensmith.toml" \
      "$SEED" "$n" "${DIR[$name]}/$SEED.txt" || die "seeding $name failed"
    TOKENS[$name]="${DIR[$name]}/$SEED.txt"
  elif [[ "$2" == introspection ]]; then
    curl -sSf -u "$CLIENT_ID:$CLIENT_SECRET" -d "grant_type=client_credentials&scope=$SCOPE&resource=$RESOURCE_ENC" \
      "${URL[$name]}/token" | python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])' \
      >"${DIR[$name]}/access_token.txt" || die "$name: no access token to introspect"
    STATIC_TOKEN[$name]="$(<"${DIR[$name]}/access_token.txt")"
  fi
}

run_comparison() {  # run_comparison <scenario> <workers>
  local scenario="$1" workers="$2" names=() kind n
  WORKERS_NOW="$workers"
  for kind in $SERVERS; do
    local name="$kind-$scenario-w$workers"
    names+=("$name")
    if [[ "$kind" == tokensmith ]]; then
      prepare_tokensmith "$name" "$scenario" "$workers" "$(seconds_total)"
    else
      local codes=0 refresh=0 access=0
      scenario_setup "$scenario"
      TOKENS[$name]=""; OFFSET[$name]=0
      n=$((SEED_RATE_NODE * $(seconds_total) + 1))
      [[ "$SEED" == codes ]] && codes=$n
      [[ "$SEED" == refresh_tokens ]] && refresh=$n
      [[ "$scenario" == introspection ]] && access=1
      start_node "$name" "$workers" "$FORMAT" "$codes" "$refresh" "$access"
      [[ -n "$SEED" ]] && TOKENS[$name]="${DIR[$name]}/$SEED.txt"
      [[ "$scenario" == introspection ]] && STATIC_TOKEN[$name]="$(<"${DIR[$name]}/access_token.txt")"
    fi
  done
  for name in "${names[@]}"; do check_first_response "$name" "$scenario" "${name%%-*}"; done
  for name in "${names[@]}"; do measure "$name" "$scenario" "${name%%-*}" warmup "$WARMUP"; done
  for run in $(seq "$RUNS"); do
    for name in "${names[@]}"; do measure "$name" "$scenario" "${name%%-*}" "run$run" "$DURATION"; done
  done
  for name in "${names[@]}"; do stop_server "$name"; done
}

# ---------------------------------------------------------------- tokensmith-only scenarios

run_scale() {  # refresh and introspection on PostgreSQL: an empty database against SCALE_FAMILIES
  # Two servers side by side, alternating run by run like the comparisons, so a change in
  # the load of the machine hits both alike: one on an empty database, one on a database
  # holding SCALE_FAMILIES refresh-token families.
  local workers="${BENCH_SCALE_WORKERS:-1}" phase name run started n
  WORKERS_NOW="$workers"
  # Few enough refresh tokens that the "empty" database stays small next to the fill.
  n=$((${BENCH_SCALE_SEED_RATE:-4000} * $(seconds_total) + 2))
  for phase in empty full; do
    name="tokensmith-scale-$phase"
    OFFSET[$name]=0
    # Opaque access tokens, so both measured requests read the grants table.
    PG_DATABASE="${PG_DATABASE_BASE}_$phase" start_tokensmith "$name" "$workers" opaque postgresql
    if [[ "$phase" == full ]]; then
      started=$SECONDS
      "$TS_PYTHON" "$BENCH_DIR/seed_tokensmith.py" --config "${DIR[$name]}/tokensmith.toml" \
        families "$SCALE_FAMILIES" || die "loading $SCALE_FAMILIES families failed"
      log "loaded $SCALE_FAMILIES refresh-token families in $((SECONDS - started))s"
      echo "$SCALE_FAMILIES families loaded in $((SECONDS - started)) s" >"$RESULTS/scale_fill.txt"
    fi
    "$TS_PYTHON" "$BENCH_DIR/seed_tokensmith.py" --config "${DIR[$name]}/tokensmith.toml" \
      refresh_tokens "$n" "${DIR[$name]}/refresh_tokens.txt" || die "seeding $name failed"
    TOKENS[$name]="${DIR[$name]}/refresh_tokens.txt"
    curl -sSf -u "$CLIENT_ID:$CLIENT_SECRET" -d "grant_type=client_credentials&scope=$SCOPE&resource=$RESOURCE_ENC" \
      "${URL[$name]}/token" | python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])' \
      >"${DIR[$name]}/access_token.txt" || die "$name: no access token to introspect"
    STATIC_TOKEN[$name]="$(<"${DIR[$name]}/access_token.txt")"
    psql -At "${PG_ADMIN_URL%/*}/${PG_DATABASE_BASE}_$phase" -c "SELECT count(*) FROM grants" \
      >"$RESULTS/scale_rows_$phase.txt" 2>/dev/null || true
    log "scale $phase: $(cat "$RESULTS/scale_rows_$phase.txt" 2>/dev/null || echo '?') rows in grants"
    check_first_response "$name" scale_refresh tokensmith
    check_first_response "$name" scale_introspection tokensmith
  done
  for request in scale_refresh scale_introspection; do
    for phase in empty full; do measure "tokensmith-scale-$phase" "$request" tokensmith warmup "$WARMUP"; done
  done
  for run in $(seq "$RUNS"); do
    for request in scale_refresh scale_introspection; do
      for phase in empty full; do
        measure "tokensmith-scale-$phase" "$request" tokensmith "$phase-run$run" "$DURATION"
      done
    done
  done
  for phase in empty full; do stop_server "tokensmith-scale-$phase"; done
}

record_rss() {  # record_rss <name> <label> <requests so far>
  group_rss "${PID[$1]}" | while read -r pid rss; do
    printf '%s\t%s\t%s\t%s\n' "$2" "$3" "$pid" "$rss"
  done >>"$RESULTS/rss.tsv"
}

run_rss() {  # worker RSS over RSS_REQUESTS client_credentials requests
  local name=tokensmith-rss workers="${BENCH_RSS_WORKERS:-1}" total=0 chunk=0
  local chunk_seconds="${BENCH_RSS_CHUNK_SECONDS:-60}"
  WORKERS_NOW="$workers"
  start_tokensmith "$name" "$workers" jwt sqlite
  check_first_response "$name" rss tokensmith
  measure "$name" rss tokensmith warmup "$WARMUP"
  record_rss "$name" start 0
  while ((total < RSS_REQUESTS)); do
    chunk=$((chunk + 1))
    measure "$name" rss tokensmith "chunk$chunk" "$chunk_seconds"
    total=$((total + $(field requests "$RESULTS/rss.$name.chunk$chunk.txt")))
    record_rss "$name" "chunk$chunk" "$total"
  done
  log "rss: $total requests in $chunk chunks"
  stop_server "$name"
}

run_profile() {  # py-spy samples of the one worker under load, per BENCH_PROFILE_SCENARIOS
  local scenario name spy spy_pid
  spy="$(dirname "$TS_PYTHON")/py-spy"
  [[ -x "$spy" ]] || spy="$(command -v py-spy || true)"
  [[ -n "$spy" ]] || die "py-spy not found (pip install py-spy into tokensmith's environment)"
  WORKERS_NOW=1
  for scenario in ${BENCH_PROFILE_SCENARIOS:-cc_jwt}; do
    name="tokensmith-profile-$scenario"
    prepare_tokensmith "$name" "$scenario" 1 $((WARMUP + PROFILE_SECONDS + 2))
    check_first_response "$name" "$scenario" tokensmith
    measure "$name" "$scenario" tokensmith warmup "$WARMUP"
    # --gil: only the thread holding the GIL, i.e. the Python work; a database driver's
    # own threads waiting on SQLite or the network would otherwise look busy.
    "$spy" record --pid "${PID[$name]}" --duration "$PROFILE_SECONDS" --rate 250 --nonblocking --gil \
      --format raw --output "$RESULTS/profile.$scenario.raw" >"$WORK/py-spy.log" 2>&1 &
    spy_pid=$!
    measure "$name" "$scenario" tokensmith profiled $((PROFILE_SECONDS + 2))
    wait "$spy_pid" || { cat "$WORK/py-spy.log" >&2; die "py-spy failed"; }
    {
      echo "Profile of tokensmith under $scenario load, 1 worker: $LAST_RPS req/s while sampled."
      echo
      "$TS_PYTHON" "$BENCH_DIR/profile_summary.py" "$RESULTS/profile.$scenario.raw"
    } >"$RESULTS/profile.$scenario.md"
    stop_server "$name"
  done
}

# ---------------------------------------------------------------- main

h0="$(host_ticks)"; sleep 1; h1="$(host_ticks)"
idle_busy=$(( (h1 - h0) * 100 / CLK_TCK ))
((idle_busy < 20)) || log "warning: machine not idle before the benchmark (${idle_busy}% of a core busy)"

{
  echo "date:      $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "code:      $(describe_code)"
  echo "machine:   $(nproc) CPUs ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)), $(awk '/MemTotal/ { printf "%.0f GB", $2 / 1048576 }' /proc/meminfo) RAM, load before: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "software:  $("$TS_PYTHON" --version 2>&1), $(wrk --version 2>&1 | head -1 | cut -d' ' -f1-2)${NODE_VERSION:+, node $NODE_VERSION, oidc-provider $OP_VERSION}"
  echo "python:    $(describe_python)"
  echo "settings:  wrk -t$THREADS -c$CONNECTIONS, warm-up ${WARMUP}s, $RUNS runs x ${DURATION}s per server, alternating; workers: $WORKERS_LIST"
} >"$RESULTS/conditions.txt"
cat "$RESULTS/conditions.txt" >&2
log "results in $RESULTS"

for scenario in "${SCENARIOS[@]}"; do
  case "$scenario" in
    scale) run_scale ;;
    rss) run_rss ;;
    profile) run_profile ;;
    *) for workers in $WORKERS_LIST; do run_comparison "$scenario" "$workers"; done ;;
  esac
done

python3 "$BENCH_DIR/report.py" "$RESULTS" >"$RESULTS/table.md"
echo
cat "$RESULTS/conditions.txt"
echo
cat "$RESULTS/table.md"
for profile in "$RESULTS"/profile.*.md; do [[ ! -f "$profile" ]] || { echo; head -40 "$profile"; }; done

if ((FAILED > 0)); then
  log "error: $FAILED requests failed (non-2xx, unexpected body or socket errors): the figures are not valid"
  exit 3
fi
