#!/usr/bin/env bash
# A throwaway ClickHouse server on loopback for the ClickHouse sink tests.
#
# Sourced by .ci/run:
#   source .ci/clickhouse.sh
#   clickhouse_start        # exports OKTAFLOW_TEST_CLICKHOUSE_URL=http://127.0.0.1:PORT
#   ...                     # cargo test --workspace
#   clickhouse_stop         # kills the server, removes its data directory
#
# Or by hand: `bash .ci/clickhouse.sh start` prints the URL, pid and data directory;
# `bash .ci/clickhouse.sh stop PID DIR` stops it.
#
# The server runs as the current user from a temporary directory with its own minimal
# config (HTTP on a free loopback port, no TCP/interserver ports beyond loopback), so it
# never touches /etc/clickhouse-server or /var/lib/clickhouse. Installs the Debian package
# `clickhouse-server` with apt-get when no server binary is found.

CLICKHOUSE_PID=""
CLICKHOUSE_DIR=""

clickhouse__binary() {
    if command -v clickhouse-server >/dev/null 2>&1; then
        command -v clickhouse-server
    elif [[ -x /usr/sbin/clickhouse-server ]]; then
        echo /usr/sbin/clickhouse-server
    elif command -v clickhouse >/dev/null 2>&1; then
        echo "$(command -v clickhouse) server"
    else
        return 1
    fi
}

clickhouse__free_port() {
    local port
    while :; do
        port=$((20000 + RANDOM % 40000))
        # Free when nothing answers a connection attempt.
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return
        fi
    done
}

clickhouse_start() {
    local server
    if ! server=$(clickhouse__binary); then
        echo "+ clickhouse-server not found: installing the Debian package" >&2
        local sudo=""
        [[ $(id -u) -ne 0 ]] && sudo="sudo"
        $sudo apt-get update -qq >&2
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends clickhouse-server >&2
        server=$(clickhouse__binary) || { echo "clickhouse.sh: clickhouse-server still missing after apt-get install" >&2; return 1; }
    fi

    CLICKHOUSE_DIR=$(mktemp -d "${TMPDIR:-/tmp}/oktaflow-clickhouse.XXXXXX")
    local http_port tcp_port
    http_port=$(clickhouse__free_port)
    tcp_port=$(clickhouse__free_port)
    mkdir -p "$CLICKHOUSE_DIR/data" "$CLICKHOUSE_DIR/tmp" "$CLICKHOUSE_DIR/user_files" "$CLICKHOUSE_DIR/log"
    cat >"$CLICKHOUSE_DIR/config.xml" <<EOF
<?xml version="1.0"?>
<yandex>
    <logger>
        <level>warning</level>
        <log>$CLICKHOUSE_DIR/log/server.log</log>
        <errorlog>$CLICKHOUSE_DIR/log/server.err.log</errorlog>
        <size>10M</size>
        <count>1</count>
    </logger>
    <listen_host>127.0.0.1</listen_host>
    <http_port>$http_port</http_port>
    <tcp_port>$tcp_port</tcp_port>
    <max_connections>256</max_connections>
    <max_concurrent_queries>64</max_concurrent_queries>
    <mark_cache_size>268435456</mark_cache_size>
    <uncompressed_cache_size>268435456</uncompressed_cache_size>
    <path>$CLICKHOUSE_DIR/data/</path>
    <tmp_path>$CLICKHOUSE_DIR/tmp/</tmp_path>
    <user_files_path>$CLICKHOUSE_DIR/user_files/</user_files_path>
    <users_config>$CLICKHOUSE_DIR/users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>UTC</timezone>
    <mlock_executable>false</mlock_executable>
</yandex>
EOF
    cat >"$CLICKHOUSE_DIR/users.xml" <<EOF
<?xml version="1.0"?>
<yandex>
    <profiles><default><max_memory_usage>2000000000</max_memory_usage></default></profiles>
    <users>
        <default>
            <password></password>
            <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
    </users>
    <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
EOF
    # shellcheck disable=SC2086 # "$server" may be "clickhouse server"
    (cd "$CLICKHOUSE_DIR" && exec $server --config-file="$CLICKHOUSE_DIR/config.xml" \
        >"$CLICKHOUSE_DIR/log/stdout.log" 2>&1) &
    CLICKHOUSE_PID=$!

    local url="http://127.0.0.1:$http_port"
    local i
    for i in $(seq 1 150); do
        if [[ $(curl -fsS --max-time 2 "$url/?query=SELECT%201" 2>/dev/null) == "1" ]]; then
            export OKTAFLOW_TEST_CLICKHOUSE_URL="$url"
            echo "+ clickhouse-server pid $CLICKHOUSE_PID on $url (data in $CLICKHOUSE_DIR)" >&2
            return 0
        fi
        if ! kill -0 "$CLICKHOUSE_PID" 2>/dev/null; then
            break
        fi
        sleep 0.2
    done
    echo "clickhouse.sh: the server did not answer SELECT 1 on $url; its log:" >&2
    tail -n 30 "$CLICKHOUSE_DIR"/log/*.log >&2 || true
    clickhouse_stop
    return 1
}

clickhouse_stop() {
    if [[ -n $CLICKHOUSE_PID ]] && kill -0 "$CLICKHOUSE_PID" 2>/dev/null; then
        kill "$CLICKHOUSE_PID" 2>/dev/null || true
        local i
        for i in $(seq 1 50); do
            kill -0 "$CLICKHOUSE_PID" 2>/dev/null || break
            sleep 0.2
        done
        kill -9 "$CLICKHOUSE_PID" 2>/dev/null || true
        wait "$CLICKHOUSE_PID" 2>/dev/null || true
    fi
    CLICKHOUSE_PID=""
    if [[ -n $CLICKHOUSE_DIR && -d $CLICKHOUSE_DIR ]]; then
        rm -rf "$CLICKHOUSE_DIR"
    fi
    CLICKHOUSE_DIR=""
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
    set -euo pipefail
    case "${1:-}" in
        start)
            clickhouse_start
            echo "OKTAFLOW_TEST_CLICKHOUSE_URL=$OKTAFLOW_TEST_CLICKHOUSE_URL"
            echo "pid=$CLICKHOUSE_PID dir=$CLICKHOUSE_DIR"
            # Keep the server running after this script exits.
            disown "$CLICKHOUSE_PID" 2>/dev/null || true
            ;;
        stop)
            CLICKHOUSE_PID=${2:?usage: clickhouse.sh stop PID DIR}
            CLICKHOUSE_DIR=${3:?usage: clickhouse.sh stop PID DIR}
            clickhouse_stop
            ;;
        *)
            echo "usage: $0 start | stop PID DIR" >&2
            exit 2
            ;;
    esac
fi
