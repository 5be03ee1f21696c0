#!/usr/bin/env bash
# The real PC/SC peer stack for softcard's end-to-end tests: Debian's pcscd with the
# vsmartcard vpcd reader driver, run in the foreground with a private configuration,
# without systemd. Needs root (pcscd's socket is /run/pcscd/pcscd.comm).
#
#   scripts/peer-stack.sh install   apt-get install the packages the tests use
#   scripts/peer-stack.sh start     start pcscd + vpcd, wait until its readers are listed
#   scripts/peer-stack.sh stop      stop the pcscd this script started (by its PID)
#   scripts/peer-stack.sh status    show what runs and the readers
#
# Readers: "Virtual PCD 00 00" takes a card at 127.0.0.1:$SOFTCARD_VPCD_PORT,
# "Virtual PCD 00 01" at the next port. Environment:
#   SOFTCARD_PEER_DIR   state folder (default ${TMPDIR:-/tmp}/softcard-peer-stack)
#   SOFTCARD_VPCD_PORT  first vpcd port (default 35963)
#   SOFTCARD_PEER_WAIT  seconds to wait for the readers (default 20)
#   SOFTCARD_PCSCD_ARGS extra pcscd arguments (e.g. "--debug --apdu")
#   SOFTCARD_VPCD_NAME  the readers' name without the numbers (default "Virtual PCD"; the
#                       YubiKey suites use "Yubico YubiKey OTP+FIDO+CCID", a YubiKey's)
set -euo pipefail

DIR=${SOFTCARD_PEER_DIR:-${TMPDIR:-/tmp}/softcard-peer-stack}
PORT=${SOFTCARD_VPCD_PORT:-35963}
WAIT=${SOFTCARD_PEER_WAIT:-20}
NAME=${SOFTCARD_VPCD_NAME:-Virtual PCD}
PIDFILE=$DIR/pcscd.pid
LOG=$DIR/pcscd.log
DRIVER=/usr/lib/pcsc/drivers/serial/libifdvpcd.so
RUN=/run/pcscd
PACKAGES=(pcscd vsmartcard-vpcd opensc pcsc-tools yubico-piv-tool python3-pyscard softhsm2
          libpcsclite-dev openssl)

say() { printf 'peer-stack: %s\n' "$*" >&2; }
fail() { say "error: $*"; exit 1; }

# A live process (not a zombie) whose command line mentions pcscd.
is_pcscd() {
    local state
    state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
    [ -n "$state" ] && [ "$state" != Z ] && tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -q pcscd
}

# A live process (not a zombie), whatever it runs yet.
is_alive() {
    local state
    state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
    [ -n "$state" ] && [ "$state" != Z ]
}

# A pcscd started by this script with this state folder (found by its command line, even
# when the PID file was lost).
ours_by_cmdline() {
    tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -qF -- "--config $DIR/reader.conf.d"
}

our_pid() { [ -s "$PIDFILE" ] && tr -dc 0-9 <"$PIDFILE"; }

readers_listed() {
    timeout 5 pcsc_scan -r 2>/dev/null | grep -qF "$NAME 00 00"
}

cmd_install() {
    local missing=() p
    for p in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    if [ ${#missing[@]} -eq 0 ]; then say "packages already installed"; return 0; fi
    [ "$(id -u)" = 0 ] || fail "installing packages needs root"
    say "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

cmd_start() {
    [ "$(id -u)" = 0 ] || fail "pcscd must run as root"
    command -v pcscd >/dev/null || fail "pcscd is not installed: run '$0 install'"
    command -v pcsc_scan >/dev/null || fail "pcsc_scan is not installed: run '$0 install'"
    [ -e "$DRIVER" ] || fail "$DRIVER is missing: run '$0 install'"
    mkdir -p "$DIR"

    local pid other
    pid=$(our_pid || true)
    if [ -n "$pid" ] && is_pcscd "$pid"; then say "already running (pid $pid)"; return 0; fi
    rm -f "$PIDFILE"

    # pcscd's socket path is fixed: one pcscd per machine. Leave other people's alone.
    if [ -s "$RUN/pcscd.pid" ]; then
        other=$(tr -dc 0-9 <"$RUN/pcscd.pid")
        if [ -n "$other" ] && is_pcscd "$other" && ! ours_by_cmdline "$other"; then
            fail "a pcscd this script did not start is running (pid $other); stop it first"
        fi
    fi
    for other in $(pgrep -x pcscd || true); do
        # A stopped pcscd may linger as a zombie until it is reaped: that one does not count.
        is_pcscd "$other" || continue
        if ours_by_cmdline "$other"; then
            # Ours, though its PID file is gone (an interrupted start or stop): adopt it.
            echo "$other" >"$PIDFILE"
            if readers_listed; then say "already running (pid $other)"; return 0; fi
            say "restarting an unresponsive pcscd of ours (pid $other)"
            cmd_stop
            continue
        fi
        fail "a pcscd this script did not start is running (pid $other); stop it first"
    done
    rm -f "$RUN/pcscd.comm" "$RUN/pcscd.pid"
    mkdir -p "$RUN"

    # A private reader configuration: pcscd --config replaces /etc/reader.conf.d.
    mkdir -p "$DIR/reader.conf.d"
    printf 'FRIENDLYNAME "%s"\nDEVICENAME   /dev/null:%s\nLIBPATH      %s\nCHANNELID    %s\n' \
        "$NAME" "$PORT" "$DRIVER" "$PORT" >"$DIR/reader.conf.d/vpcd"

    # shellcheck disable=SC2086
    setsid pcscd --foreground --config "$DIR/reader.conf.d" ${SOFTCARD_PCSCD_ARGS:-} \
        </dev/null >"$LOG" 2>&1 &
    pid=$!
    echo "$pid" >"$PIDFILE"
    say "pcscd started (pid $pid, log $LOG)"

    # Until it has exec'd, the child's command line is still this script's: wait for the
    # process to end or to run, never mistake the one for the other.
    local deadline=$((SECONDS + WAIT))
    until readers_listed; do
        if ! is_alive "$pid"; then tail -5 "$LOG" >&2 || true; rm -f "$PIDFILE"; fail "pcscd exited"; fi
        if [ $SECONDS -ge "$deadline" ]; then cmd_stop; fail "readers not listed after ${WAIT}s"; fi
        sleep 0.2
    done
    say "readers: $(timeout 5 pcsc_scan -r 2>/dev/null | grep -F "$NAME" | tr '\n' ' ')"
}

cmd_stop() {
    local pid other
    pid=$(our_pid || true)
    if [ -z "$pid" ]; then
        for other in $(pgrep -x pcscd || true); do
            if is_pcscd "$other" && ours_by_cmdline "$other"; then pid=$other; fi
        done
    fi
    if [ -z "$pid" ]; then say "not started by this script: nothing to stop"; return 0; fi
    if ! is_pcscd "$pid"; then say "pcscd (pid $pid) already gone"; rm -f "$PIDFILE"; return 0; fi
    kill -TERM "$pid"
    local i
    for i in $(seq 50); do is_pcscd "$pid" || break; sleep 0.1; done
    if is_pcscd "$pid"; then say "pcscd ignored SIGTERM; killing it"; kill -KILL "$pid" || true; sleep 0.2; fi
    # After a kill pcscd leaves its files; remove them only if they are its own.
    if [ -e "$RUN/pcscd.pid" ] && [ "$(tr -dc 0-9 <"$RUN/pcscd.pid" 2>/dev/null || true)" = "$pid" ]; then
        rm -f "$RUN/pcscd.comm" "$RUN/pcscd.pid"
    fi
    rm -f "$PIDFILE"
    say "pcscd (pid $pid) stopped"
}

cmd_status() {
    local pid
    pid=$(our_pid || true)
    if [ -n "$pid" ] && is_pcscd "$pid"; then
        echo "pcscd running, pid $pid"
        timeout 5 pcsc_scan -r 2>/dev/null || true
    else
        echo "pcscd not running (from this script)"
        return 1
    fi
}

case ${1:-} in
    install) cmd_install ;;
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    *) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
