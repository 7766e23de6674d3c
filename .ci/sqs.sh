#!/usr/bin/env bash
# A throwaway SQS-compatible server (moto in server mode) on loopback for the SQS source tests.
#
# Sourced by .ci/run:
#   source .ci/sqs.sh
#   sqs_start               # exports OKTAFLOW_TEST_SQS_URL=http://127.0.0.1:PORT
#   ...                     # cargo test --workspace --tests -- --ignored
#   sqs_stop                # kills the server, removes its log directory
#
# Or by hand: `bash .ci/sqs.sh start` prints the URL and pid; `bash .ci/sqs.sh stop PID DIR`
# stops it.
#
# moto[server] is installed from PyPI into a virtual environment under
# ${OKTAFLOW_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/oktaflow}/moto-venv when it is not
# there yet (the package registry must be reachable the first time; nothing else is needed
# at run time). Override the version with OKTAFLOW_MOTO_VERSION (a pip requirement suffix,
# e.g. "==5.1.4").

SQS_PID=""
SQS_DIR=""

sqs__venv() {
    echo "${OKTAFLOW_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/oktaflow}/moto-venv"
}

# A port the kernel hands out for a loopback bind (so neither a listener nor an outgoing
# connection holds it now).
sqs__free_port() {
    "$(sqs__venv)/bin/python" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

sqs_install() {
    local venv
    venv=$(sqs__venv)
    if [[ -x $venv/bin/moto_server ]]; then
        return 0
    fi
    echo "+ moto_server not found in $venv: installing moto[server] from PyPI" >&2
    local python
    python=$(command -v python3 || command -v python) || {
        echo "sqs.sh: python3 is needed to run moto" >&2
        return 1
    }
    mkdir -p "$(dirname "$venv")"
    "$python" -m venv "$venv" >&2 || { echo "sqs.sh: cannot create the virtual environment $venv" >&2; return 1; }
    "$venv/bin/pip" install -q "moto[server]${OKTAFLOW_MOTO_VERSION:-}" >&2 || {
        echo "sqs.sh: pip install moto[server] failed" >&2
        return 1
    }
}

sqs_start() {
    sqs_install || return 1
    local venv port attempt i url
    venv=$(sqs__venv)
    SQS_DIR=$(mktemp -d "${TMPDIR:-/tmp}/oktaflow-sqs.XXXXXX")
    # Another process may take the port between the choice and the bind: try three ports.
    for attempt in 1 2 3; do
        port=$(sqs__free_port) || { echo "sqs.sh: no free port" >&2; sqs_stop; return 1; }
        "$venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$SQS_DIR/moto.log" 2>&1 &
        SQS_PID=$!
        url="http://127.0.0.1:$port"
        for i in $(seq 1 150); do
            if curl -fsS --max-time 2 "$url/moto-api/" >/dev/null 2>&1; then
                export OKTAFLOW_TEST_SQS_URL="$url"
                echo "+ moto_server pid $SQS_PID on $url (log in $SQS_DIR)" >&2
                return 0
            fi
            if ! kill -0 "$SQS_PID" 2>/dev/null; then
                break
            fi
            sleep 0.2
        done
        if kill -0 "$SQS_PID" 2>/dev/null || ! grep -q "in use" "$SQS_DIR/moto.log"; then
            break
        fi
        echo "+ moto_server: port $port was taken (attempt $attempt); trying another" >&2
    done
    echo "sqs.sh: moto_server did not answer on $url; its log:" >&2
    tail -n 30 "$SQS_DIR/moto.log" >&2 || true
    sqs_stop
    return 1
}

sqs_stop() {
    if [[ -n $SQS_PID ]] && kill -0 "$SQS_PID" 2>/dev/null; then
        kill "$SQS_PID" 2>/dev/null || true
        local i
        for i in $(seq 1 50); do
            kill -0 "$SQS_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -9 "$SQS_PID" 2>/dev/null || true
        wait "$SQS_PID" 2>/dev/null || true
    fi
    SQS_PID=""
    if [[ -n $SQS_DIR && -d $SQS_DIR ]]; then
        rm -rf "$SQS_DIR"
    fi
    SQS_DIR=""
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
    set -euo pipefail
    case "${1:-}" in
        start)
            sqs_start
            echo "OKTAFLOW_TEST_SQS_URL=$OKTAFLOW_TEST_SQS_URL"
            echo "pid=$SQS_PID dir=$SQS_DIR"
            disown "$SQS_PID" 2>/dev/null || true
            ;;
        stop)
            SQS_PID=${2:?usage: sqs.sh stop PID DIR}
            SQS_DIR=${3:?usage: sqs.sh stop PID DIR}
            sqs_stop
            ;;
        *)
            echo "usage: $0 start | stop PID DIR" >&2
            exit 2
            ;;
    esac
fi
