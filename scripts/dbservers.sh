#!/usr/bin/env bash
# Throwaway MariaDB and PostgreSQL servers for the test suite.
#
#   scripts/dbservers.sh start    start both (idempotent), wait until they answer
#   scripts/dbservers.sh stop     shut both down and delete their data
#   scripts/dbservers.sh status   show whether they run (exit 0 only if both do)
#   scripts/dbservers.sh env      print `export SYNCD_TEST_*_URL=...` lines:
#                                 eval "$(scripts/dbservers.sh env)"
#
# The servers listen on 127.0.0.1 only, on non-default ports, with their data,
# sockets, pid files and logs under $SYNCD_DBSERVERS_DIR (default
# <repo>/.dbservers). They are plain processes, not system services, and are
# tuned for speed, not durability: never point them at data you want to keep.
#
# Environment:
#   SYNCD_DBSERVERS_DIR        state directory (default <repo>/.dbservers)
#   SYNCD_MARIADB_PORT         MariaDB TCP port (default 33306)
#   SYNCD_POSTGRESQL_PORT      PostgreSQL TCP port (default 54329)
#   SYNCD_DBSERVERS_USER       login created on both servers (default syncd)
#   SYNCD_DBSERVERS_PASSWORD   its password (default syncd-test-pw)
#   SYNCD_DBSERVERS_TIMEOUT    seconds to wait for a server to answer (default 60)
#   PG_BINDIR                  PostgreSQL binaries (default: newest
#                              /usr/lib/postgresql/*/bin, else from PATH)
#
# When run as root, PostgreSQL runs as the `postgres` user and MariaDB as
# `mysql` (both servers refuse to run as root otherwise). If those users cannot
# reach the state directory (e.g. it lives under a mode-700 home) or its path is
# too long for a unix socket, the server's files go to a directory under /tmp
# instead, linked from the state directory.

set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STATE_DIR=${SYNCD_DBSERVERS_DIR:-$REPO/.dbservers}
MARIADB_PORT=${SYNCD_MARIADB_PORT:-33306}
POSTGRESQL_PORT=${SYNCD_POSTGRESQL_PORT:-54329}
DB_USER=${SYNCD_DBSERVERS_USER:-syncd}
DB_PASSWORD=${SYNCD_DBSERVERS_PASSWORD:-syncd-test-pw}
TIMEOUT=${SYNCD_DBSERVERS_TIMEOUT:-60}
HOST=127.0.0.1

# Unix socket paths are limited to ~107 bytes; keep well below that.
MAX_BASE_LEN=80

log() { printf 'dbservers: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

is_root() { [[ $(id -u) -eq 0 ]]; }

# Run a command as the given user when we are root, else as ourselves.
# Always from / so that the target user never trips over an unreadable cwd.
run_as() {
    local user=$1; shift
    if is_root && [[ $user != root ]]; then
        (cd / && runuser -u "$user" -- "$@")
    else
        (cd / && "$@")
    fi
}

# The OS user each server runs as.
service_user() {
    local kind=$1
    if ! is_root; then
        id -un
    elif [[ $kind == postgresql ]]; then
        id postgres >/dev/null 2>&1 || die "user 'postgres' does not exist (is PostgreSQL installed?)"
        echo postgres
    else
        if id mysql >/dev/null 2>&1; then echo mysql; else echo root; fi
    fi
}

# url-encode a string (for the password in the printed URLs)
urlencode() {
    local s=$1 out='' c i
    for ((i = 0; i < ${#s}; i++)); do
        c=${s:i:1}
        case $c in
            [A-Za-z0-9._~-]) out+=$c ;;
            *) out+=$(printf '%%%02X' "'$c") ;;
        esac
    done
    printf '%s' "$out"
}

sql_quote() { printf "'%s'" "${1//\'/\'\'}"; }

# --------------------------------------------------------------------------
# locating binaries

find_pg_bindir() {
    if [[ -n ${PG_BINDIR:-} ]]; then
        echo "$PG_BINDIR"
        return
    fi
    local d
    d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
    if [[ -n $d && -x $d/postgres ]]; then
        echo "$d"
        return
    fi
    if command -v pg_ctl >/dev/null 2>&1; then
        dirname "$(command -v pg_ctl)"
        return
    fi
    die "PostgreSQL server binaries not found (apt-get install postgresql, or set PG_BINDIR)"
}

find_cmd() {  # first of the given names found on PATH or in /usr/sbin, /usr/bin
    local n d
    for n in "$@"; do
        if command -v "$n" >/dev/null 2>&1; then command -v "$n"; return; fi
        for d in /usr/sbin /usr/bin /usr/local/sbin /usr/local/bin; do
            if [[ -x $d/$n ]]; then echo "$d/$n"; return; fi
        done
    done
    return 1
}

mariadb_bins() {
    MARIADBD=$(find_cmd mariadbd mysqld) ||
        die "MariaDB server not found (apt-get install mariadb-server)"
    MARIADB_INSTALL_DB=$(find_cmd mariadb-install-db mysql_install_db) ||
        die "mariadb-install-db not found (apt-get install mariadb-server)"
    MARIADB=$(find_cmd mariadb mysql) || die "mariadb client not found"
    MARIADB_ADMIN=$(find_cmd mariadb-admin mysqladmin) || die "mariadb-admin not found"
}

# --------------------------------------------------------------------------
# per-server base directory

# Resolved base directory of a server (may be a link to /tmp, see header).
# Prints nothing if it does not exist.
existing_base() {
    local link=$STATE_DIR/$1
    if [[ -e $link ]]; then
        readlink -f "$link"
    fi
}

# Create (or reuse) the base directory of a server, owned by its user.
make_base() {
    local kind=$1 user=$2 link base
    link=$STATE_DIR/$kind
    if [[ -e $link ]]; then
        readlink -f "$link"
        return
    fi
    if [[ -L $link ]]; then rm -f "$link"; fi  # its /tmp directory is gone
    mkdir -p "$STATE_DIR"
    chmod 755 "$STATE_DIR" 2>/dev/null || true
    base=$(cd "$STATE_DIR" && pwd -P)/$kind
    mkdir -p "$base"
    if is_root; then chown "$user:" "$base"; fi
    if (( ${#base} > MAX_BASE_LEN )) || ! run_as "$user" test -w "$base" -a -x "$base"; then
        rm -rf "${base:?}"
        base=$(mktemp -d "${TMPDIR:-/tmp}/syncd-$kind.XXXXXX")
        chmod 755 "$base"
        if is_root; then chown "$user:" "$base"; fi
        ln -s "$base" "$link"
        log "$kind: $STATE_DIR is not usable by '$user' (or too long a path); using $base"
    fi
    echo "$base"
}

remove_base() {
    local link=$STATE_DIR/$1 target
    [[ -e $link || -L $link ]] || return 0
    if [[ -L $link ]]; then
        target=$(readlink -f "$link" || true)
        [[ -n $target && -d $target ]] && rm -rf "${target:?}"
        rm -f "$link"
    else
        rm -rf "${link:?}"
    fi
}

# true if the process exists and is not a zombie
pid_alive() {
    local pid=${1:-} st
    [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 1
    st=$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1) || return 0
    [[ $st != Z ]]
}

read_pid() {  # first line of a pid file, if any
    [[ -f $1 ]] && head -n 1 "$1" 2>/dev/null | tr -dc '0-9' || true
}

log_tail() {
    local f=$1
    log "---- last lines of $f ----"
    if [[ -f $f ]]; then tail -n 40 "$f" >&2; else log "(no log file)"; fi
    log "----"
}

# --------------------------------------------------------------------------
# MariaDB

mariadb_paths() {
    MB_BASE=$1
    MB_DATA=$MB_BASE/data
    MB_SOCK=$MB_BASE/mysqld.sock
    MB_PID=$MB_BASE/mysqld.pid
    MB_LOG=$MB_BASE/mysqld.log
}

mariadb_server_opts() {
    local user=$1
    MB_OPTS=(
        --no-defaults
        --datadir="$MB_DATA"
        --socket="$MB_SOCK"
        --pid-file="$MB_PID"
        --log-error="$MB_LOG"
        --port="$MARIADB_PORT"
        --bind-address="$HOST"
        --skip-name-resolve
        --character-set-server=utf8mb4
        --collation-server=utf8mb4_unicode_ci
        --skip-log-bin
        --innodb-buffer-pool-size=128M
        --innodb-log-file-size=32M
        --innodb-flush-log-at-trx-commit=2
        --innodb-doublewrite=0
        --sync-binlog=0
        --performance-schema=OFF
        --max-connections=300
        --skip-symbolic-links
    )
    if is_root; then MB_OPTS+=(--user="$user"); fi
}

mariadb_ping() {
    "$MARIADB_ADMIN" --no-defaults --protocol=socket --socket="$MB_SOCK" -uroot \
        --connect-timeout=2 ping >/dev/null 2>&1
}

mariadb_running() {  # needs mariadb_paths; true if the server process is alive
    pid_alive "$(read_pid "$MB_PID")"
}

start_mariadb() {
    local user base deadline child=
    mariadb_bins
    user=$(service_user mariadb)
    base=$(make_base mariadb "$user")
    mariadb_paths "$base"

    if mariadb_running && mariadb_ping; then
        log "mariadb: already running on $HOST:$MARIADB_PORT"
        return 0
    fi
    if mariadb_running; then
        # alive but not answering yet (e.g. another start in progress)
        log "mariadb: process exists, waiting for it to answer"
    else
        if [[ ! -f $MB_BASE/.ready ]]; then
            rm -rf "${MB_DATA:?}" "$MB_LOG"
            mkdir -p "$MB_DATA"
            if is_root; then chown "$user:" "$MB_DATA"; fi
            log "mariadb: initialising $MB_DATA"
            local install_opts=(--no-defaults --datadir="$MB_DATA" --auth-root-authentication-method=normal
                --skip-test-db --skip-name-resolve --innodb-log-file-size=32M --innodb-buffer-pool-size=128M)
            if is_root; then install_opts+=(--user="$user"); fi
            if ! (cd / && "$MARIADB_INSTALL_DB" "${install_opts[@]}") >"$MB_BASE/install.log" 2>&1; then
                log_tail "$MB_BASE/install.log"
                die "mariadb: mariadb-install-db failed"
            fi
        fi
        mariadb_server_opts "$user"
        log "mariadb: starting on $HOST:$MARIADB_PORT"
        # own session: not tied to the caller's terminal or process group
        (cd / && exec setsid "$MARIADBD" "${MB_OPTS[@]}") </dev/null >>"$MB_BASE/console.log" 2>&1 &
        child=$!
    fi

    deadline=$((SECONDS + TIMEOUT))
    until mariadb_ping; do
        if (( SECONDS >= deadline )); then
            log_tail "$MB_LOG"
            die "mariadb: no answer within ${TIMEOUT}s (log: $MB_LOG)"
        fi
        if [[ -n $child ]] && ! pid_alive "$child"; then
            log_tail "$MB_LOG"
            log_tail "$MB_BASE/console.log"
            die "mariadb: server exited during startup (log: $MB_LOG)"
        fi
        sleep 0.2
    done

    if [[ ! -f $MB_BASE/.ready ]]; then
        local u p
        u=$(sql_quote "$DB_USER")
        p=$(sql_quote "$DB_PASSWORD")
        "$MARIADB" --no-defaults --protocol=socket --socket="$MB_SOCK" -uroot <<SQL
CREATE USER IF NOT EXISTS $u@'127.0.0.1' IDENTIFIED BY $p;
CREATE USER IF NOT EXISTS $u@'localhost' IDENTIFIED BY $p;
GRANT ALL PRIVILEGES ON *.* TO $u@'127.0.0.1' WITH GRANT OPTION;
GRANT ALL PRIVILEGES ON *.* TO $u@'localhost' WITH GRANT OPTION;
-- root@<hostname> entries are useless (and logged as warnings) with --skip-name-resolve
DELETE FROM mysql.global_priv WHERE Host NOT IN ('localhost', '127.0.0.1', '::1');
DELETE FROM mysql.proxies_priv WHERE Host NOT IN ('localhost', '127.0.0.1', '::1');
FLUSH PRIVILEGES;
SQL
        touch "$MB_BASE/.ready"
    fi
    log "mariadb: ready on $HOST:$MARIADB_PORT (pid $(read_pid "$MB_PID"))"
}

stop_mariadb() {
    local base pid deadline
    base=$(existing_base mariadb)
    if [[ -z $base ]]; then
        remove_base mariadb
        return 0
    fi
    mariadb_paths "$base"
    pid=$(read_pid "$MB_PID")
    if pid_alive "$pid"; then
        log "mariadb: stopping (pid $pid)"
        mariadb_bins
        "$MARIADB_ADMIN" --no-defaults --protocol=socket --socket="$MB_SOCK" -uroot \
            --connect-timeout=5 shutdown >/dev/null 2>&1 || kill -TERM "$pid" 2>/dev/null || true
        deadline=$((SECONDS + 30))
        while pid_alive "$pid"; do
            if (( SECONDS >= deadline )); then
                log "mariadb: did not stop within 30s, killing"
                kill -KILL "$pid" 2>/dev/null || true
                sleep 0.5
                break
            fi
            sleep 0.1
        done
    fi
    remove_base mariadb
    log "mariadb: stopped, data removed"
}

status_mariadb() {
    local base
    base=$(existing_base mariadb)
    if [[ -n $base ]]; then
        mariadb_paths "$base"
        if mariadb_running; then
            echo "mariadb: running (pid $(read_pid "$MB_PID")) on $HOST:$MARIADB_PORT, data in $MB_DATA"
            return 0
        fi
    fi
    echo "mariadb: not running"
    return 1
}

# --------------------------------------------------------------------------
# PostgreSQL

pg_paths() {
    PG_BASE=$1
    PG_DATA=$PG_BASE/data
    PG_RUN=$PG_BASE/run
    PG_LOG=$PG_BASE/postgresql.log
}

pg_ready() {
    "$PG_BIN/pg_isready" -q -h "$PG_RUN" -p "$POSTGRESQL_PORT" -U postgres -d postgres -t 2 >/dev/null 2>&1
}

pg_pid() {  # postmaster pid, from its pid file
    [[ -f $PG_DATA/postmaster.pid ]] && head -n 1 "$PG_DATA/postmaster.pid" 2>/dev/null | tr -dc '0-9' || true
}

pg_running() { pid_alive "$(pg_pid)"; }

start_postgresql() {
    local user base deadline locale
    PG_BIN=$(find_pg_bindir)
    user=$(service_user postgresql)
    base=$(make_base postgresql "$user")
    pg_paths "$base"

    if pg_running && pg_ready; then
        log "postgresql: already running on $HOST:$POSTGRESQL_PORT"
        return 0
    fi
    if pg_running; then
        log "postgresql: process exists, waiting for it to answer"
    else
        if [[ ! -f $PG_BASE/.ready ]]; then
            rm -rf "${PG_DATA:?}" "$PG_LOG"
            mkdir -p "$PG_RUN"
            if is_root; then chown "$user:" "$PG_RUN"; fi
            locale=C
            if locale -a 2>/dev/null | grep -qiE '^c\.utf-?8$'; then locale=C.UTF-8; fi
            log "postgresql: initialising $PG_DATA"
            if ! run_as "$user" "$PG_BIN/initdb" -D "$PG_DATA" -U postgres -E UTF8 --locale="$locale" \
                --auth-local=trust --auth-host=scram-sha-256 --no-sync >"$PG_BASE/initdb.log" 2>&1; then
                log_tail "$PG_BASE/initdb.log"
                die "postgresql: initdb failed"
            fi
            run_as "$user" tee -a "$PG_DATA/postgresql.conf" >/dev/null <<CONF

# --- throwaway test server (scripts/dbservers.sh) ---
listen_addresses = '$HOST'
unix_socket_directories = '$PG_RUN'
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
wal_level = minimal
max_wal_senders = 0
logging_collector = off
log_min_messages = warning
CONF
        fi
        if [[ -f $PG_DATA/postmaster.pid ]]; then
            # left by a server that died (its pid is gone or a zombie, which
            # postgres itself would take for a live postmaster)
            log "postgresql: removing stale postmaster.pid and socket lock"
            rm -f "$PG_DATA/postmaster.pid" "$PG_RUN/.s.PGSQL.$POSTGRESQL_PORT" \
                "$PG_RUN/.s.PGSQL.$POSTGRESQL_PORT.lock"
        fi
        log "postgresql: starting on $HOST:$POSTGRESQL_PORT"
        # -W: do not wait here, we poll with pg_isready below
        if ! run_as "$user" "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -W \
            -o "-p $POSTGRESQL_PORT -k $PG_RUN" start >"$PG_BASE/pg_ctl.log" 2>&1; then
            log_tail "$PG_BASE/pg_ctl.log"
            log_tail "$PG_LOG"
            die "postgresql: pg_ctl start failed"
        fi
    fi

    deadline=$((SECONDS + TIMEOUT))
    until pg_ready; do
        if (( SECONDS >= deadline )); then
            log_tail "$PG_LOG"
            die "postgresql: no answer within ${TIMEOUT}s (log: $PG_LOG)"
        fi
        if (( SECONDS + TIMEOUT - deadline > 3 )) && ! pg_running; then
            log_tail "$PG_LOG"
            die "postgresql: server is not running (log: $PG_LOG)"
        fi
        sleep 0.2
    done

    if [[ ! -f $PG_BASE/.ready ]]; then
        local u p
        u=$(printf '"%s"' "${DB_USER//\"/\"\"}")
        p=$(sql_quote "$DB_PASSWORD")
        run_as "$user" "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_RUN" -p "$POSTGRESQL_PORT" \
            -U postgres -d postgres >/dev/null <<SQL
SET synchronous_commit = on;  -- durable even if the server is killed right away
CREATE ROLE $u LOGIN SUPERUSER CREATEDB CREATEROLE PASSWORD $p;
SQL
        touch "$PG_BASE/.ready"
    fi
    log "postgresql: ready on $HOST:$POSTGRESQL_PORT (pid $(pg_pid))"
}

stop_postgresql() {
    local base pid user deadline
    base=$(existing_base postgresql)
    if [[ -z $base ]]; then
        remove_base postgresql
        return 0
    fi
    pg_paths "$base"
    pid=$(pg_pid)
    if pid_alive "$pid"; then
        log "postgresql: stopping (pid $pid)"
        PG_BIN=$(find_pg_bindir)
        user=$(service_user postgresql)
        run_as "$user" "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w -t 30 stop >/dev/null 2>&1 ||
            kill -INT "$pid" 2>/dev/null || true
        deadline=$((SECONDS + 15))
        while pid_alive "$pid"; do
            if (( SECONDS >= deadline )); then
                log "postgresql: did not stop, killing"
                kill -KILL "$pid" 2>/dev/null || true
                sleep 0.5
                break
            fi
            sleep 0.1
        done
    fi
    remove_base postgresql
    log "postgresql: stopped, data removed"
}

status_postgresql() {
    local base
    base=$(existing_base postgresql)
    if [[ -n $base ]]; then
        pg_paths "$base"
        if pg_running; then
            echo "postgresql: running (pid $(pg_pid)) on $HOST:$POSTGRESQL_PORT, data in $PG_DATA"
            return 0
        fi
    fi
    echo "postgresql: not running"
    return 1
}

# --------------------------------------------------------------------------

write_env_file() {
    local pw
    pw=$(urlencode "$DB_PASSWORD")
    local user
    user=$(urlencode "$DB_USER")
    {
        echo "export SYNCD_TEST_MARIADB_URL=mysql+pymysql://$user:$pw@$HOST:$MARIADB_PORT/"
        echo "export SYNCD_TEST_POSTGRESQL_URL=postgresql+psycopg://$user:$pw@$HOST:$POSTGRESQL_PORT/postgres"
    } >"$1"
}

cmd_start() {
    local t0=$SECONDS rc_m=0 rc_p=0 pid_m pid_p
    mkdir -p "$STATE_DIR"
    # The two servers start in parallel; each prints its own progress.
    start_mariadb & pid_m=$!
    start_postgresql & pid_p=$!
    wait "$pid_m" || rc_m=$?
    wait "$pid_p" || rc_p=$?
    if (( rc_m != 0 || rc_p != 0 )); then
        die "start failed (mariadb: exit $rc_m, postgresql: exit $rc_p); 'scripts/dbservers.sh stop' cleans up"
    fi
    write_env_file "$STATE_DIR/env"
    log "both servers ready ($((SECONDS - t0))s); eval \"\$(scripts/dbservers.sh env)\" to use them"
}

cmd_stop() {
    local rc_m=0 rc_p=0
    stop_mariadb || rc_m=$?
    stop_postgresql || rc_p=$?
    rm -f "$STATE_DIR/env"
    rmdir "$STATE_DIR" 2>/dev/null || true
    (( rc_m == 0 && rc_p == 0 ))
}

cmd_status() {
    local rc=0
    status_mariadb || rc=3
    status_postgresql || rc=3
    return "$rc"
}

cmd_env() {
    # The ports/credentials the servers were started with win over the
    # current environment.
    if [[ -f $STATE_DIR/env ]]; then
        cat "$STATE_DIR/env"
    else
        log "note: servers are not running (scripts/dbservers.sh start)"
        local tmp
        tmp=$(mktemp)
        write_env_file "$tmp"
        cat "$tmp"
        rm -f "$tmp"
    fi
}

case ${1:-} in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    env) cmd_env ;;
    *)
        echo "usage: $0 start|stop|status|env" >&2
        exit 2
        ;;
esac
