#!/usr/bin/env bash
# Asterisk 22 without Docker: Debian's own `asterisk` package in a Debian root (debootstrap), run under
# chroot on this machine's loopback with the call center's configuration (etc/asterisk, rendered).
#
#   asterisk-dev/rootfs.sh up       build the root once (cached), render the config, start, wait for FullyBooted
#   asterisk-dev/rootfs.sh down     stop Asterisk (by pid) and unmount what `up` mounted
#   asterisk-dev/rootfs.sh status   is it running; its version and ports
#   asterisk-dev/rootfs.sh cli [CMD]  the Asterisk CLI (`-rx CMD` when CMD is given)
#   asterisk-dev/rootfs.sh env      the CC_… settings that point the product at it (CC_TEST_…: the tests)
#   asterisk-dev/rootfs.sh build    only build (or check) the cached root
#
# Needs root (debootstrap, chroot, mount). Settings, all optional, each with its default:
#   CC_ASTERISK_ROOTFS    /var/cache/callcenter/asterisk-sid   the cached Debian root (outside the checkout)
#   CC_ASTERISK_INSTANCE  dev                                 instance name: its config, spool, logs, secrets
#   CC_ASTERISK_PORT_OFFSET 0                                 added to every port below (a second instance)
#   AMI_PORT 5038, HTTP_PORT 8088, HTTPS_PORT 8089 (WSS), SIP_PORT 5060, RTP_START 20000, RTP_END 20099
#   CTI_HOST 127.0.0.1, CTI_AGI_PORT 4573                     where the product's FastAGI server listens
#   AMI_USER cti; AMI_SECRET, WEBRTC_PASSWORD, VOICEMAIL_PIN  generated once per instance when not set
#   DEBIAN_MIRROR                                             default: the machine's apt sources
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=${CC_ASTERISK_ROOTFS:-/var/cache/callcenter/asterisk-sid}
INSTANCE=${CC_ASTERISK_INSTANCE:-dev}
OFFSET=${CC_ASTERISK_PORT_OFFSET:-0}
SUITE=sid
# The version the project's AMI transcripts were recorded on; a root with another version is rebuilt.
WANT_VERSION=${CC_ASTERISK_VERSION:-22.10.1}
PACKAGES=asterisk,asterisk-core-sounds-en-wav,asterisk-moh-opsound-wav,espeak-ng,sox,openssl,gettext-base
HOME_IN_ROOT=/srv/callcenter/$INSTANCE
HOME_ON_HOST=$ROOT$HOME_IN_ROOT
# the instance's secrets, beside its folder: that folder belongs to the asterisk user, this file stays root's
STATE=$ROOT/srv/callcenter/$INSTANCE.env
if [ -f "$HOME_ON_HOST/instance.env" ] && [ ! -f "$STATE" ]; then
    mv "$HOME_ON_HOST/instance.env" "$STATE" && chown 0:0 "$STATE"
fi

say() { printf 'asterisk-dev: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }
need_root() { [ "$(id -u)" = 0 ] || die "needs root (debootstrap, chroot, mount); run it with sudo"; }

mirror() {
    if [ -n "${DEBIAN_MIRROR:-}" ]; then echo "$DEBIAN_MIRROR"; return; fi
    local uri
    uri=$(grep -hs -E '^(URIs:|deb )' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list \
            /etc/apt/sources.list 2>/dev/null | grep -v -- '-security' | head -n 1 |
          sed -E 's/^URIs:[[:space:]]*//; s/^deb[[:space:]]+(\[[^]]*\][[:space:]]+)?//' | awk '{print $1}')
    echo "${uri:-http://deb.debian.org/debian}"
}

root_version() {
    chroot "$ROOT" dpkg-query -W -f '${Version}' asterisk 2>/dev/null || true
}

build() {
    need_root
    if [ -f "$ROOT/.callcenter-ready" ]; then
        local have; have=$(root_version)
        case "$have" in
            *:"$WANT_VERSION"+*|*:"$WANT_VERSION"-*|"$WANT_VERSION"*) return 0 ;;
        esac
        say "cached root has asterisk $have, not $WANT_VERSION: rebuilding"
        down_all
        rm -rf "$ROOT"
    fi
    command -v debootstrap >/dev/null 2>&1 || {
        say "installing debootstrap"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
    }
    local tmp="$ROOT.tmp.$$" started=$SECONDS
    rm -rf "$tmp"; mkdir -p "$(dirname "$ROOT")"
    say "building the Debian $SUITE root in $ROOT (about a minute or three)"
    debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$tmp" "$(mirror)" >"$tmp.log" 2>&1 ||
        { tail -n 20 "$tmp.log" >&2; die "debootstrap failed (log: $tmp.log)"; }
    rm -f "$tmp.log"
    mv "$tmp" "$ROOT"
    touch "$ROOT/.callcenter-ready"
    say "root ready: asterisk $(root_version) in $((SECONDS - started)) s"
    case "$(root_version)" in
        *"$WANT_VERSION"*) ;;
        *) say "warning: Debian $SUITE now carries asterisk $(root_version), not $WANT_VERSION" ;;
    esac
}

# --- instance settings ---------------------------------------------------------------------------------
load_settings() {
    AMI_PORT=${AMI_PORT:-$((5038 + OFFSET))}
    HTTP_PORT=${HTTP_PORT:-$((8088 + OFFSET))}
    HTTPS_PORT=${HTTPS_PORT:-$((8089 + OFFSET))}
    SIP_PORT=${SIP_PORT:-$((5060 + OFFSET))}
    # 100 RTP ports per offset step (50 SIP calls): offsets up to 450 stay below 65535
    RTP_START=${RTP_START:-$((20000 + OFFSET * 100))}
    RTP_END=${RTP_END:-$((RTP_START + 99))}
    CTI_HOST=${CTI_HOST:-127.0.0.1}
    CTI_AGI_PORT=${CTI_AGI_PORT:-$((4573 + OFFSET))}
    BIND_ADDR=${BIND_ADDR:-127.0.0.1}
    AMI_USER=${AMI_USER:-cti}
    AMI_PERMIT=${AMI_PERMIT:-127.0.0.1/255.255.255.255}
    # secrets: the environment wins; otherwise those generated at the instance's first start
    local saved_ami="" saved_webrtc="" saved_pin=""
    if [ -f "$STATE" ]; then
        saved_ami=$(sed -n 's/^AMI_SECRET=//p' "$STATE")
        saved_webrtc=$(sed -n 's/^WEBRTC_PASSWORD=//p' "$STATE")
        saved_pin=$(sed -n 's/^VOICEMAIL_PIN=//p' "$STATE")
    fi
    AMI_SECRET=${AMI_SECRET:-${saved_ami:-$(random_token)}}
    WEBRTC_PASSWORD=${WEBRTC_PASSWORD:-${saved_webrtc:-$(random_token)}}
    VOICEMAIL_PIN=${VOICEMAIL_PIN:-${saved_pin:-$(random_pin)}}
    ASTERISK_HOME=$HOME_IN_ROOT
    export AMI_USER AMI_SECRET AMI_PERMIT WEBRTC_PASSWORD VOICEMAIL_PIN CTI_HOST CTI_AGI_PORT AMI_PORT \
        HTTP_PORT HTTPS_PORT SIP_PORT RTP_START RTP_END BIND_ADDR ASTERISK_HOME
}

random_token() { od -An -N16 -tx1 /dev/urandom | tr -d ' \n'; }
random_pin() { od -An -N4 -tu4 /dev/urandom | tr -d ' \n' | cut -c1-6; }

save_settings() {
    (umask 077; cat >"$STATE") <<EOF
AMI_SECRET=$AMI_SECRET
WEBRTC_PASSWORD=$WEBRTC_PASSWORD
VOICEMAIL_PIN=$VOICEMAIL_PIN
AMI_PORT=$AMI_PORT
HTTPS_PORT=$HTTPS_PORT
CTI_AGI_PORT=$CTI_AGI_PORT
EOF
    chown 0:0 "$STATE"
}

# --- mounts, process -----------------------------------------------------------------------------------
mount_root() {
    mountpoint -q "$ROOT/proc" || mount -t proc proc "$ROOT/proc"
    mountpoint -q "$ROOT/dev" || mount --bind /dev "$ROOT/dev"
}

unmount_root() {
    # only when no instance of this root still runs
    local pidfile
    for pidfile in "$ROOT"/srv/callcenter/*/run/asterisk.pid; do
        [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null && return 0
    done
    mountpoint -q "$ROOT/dev" && umount "$ROOT/dev" || true
    mountpoint -q "$ROOT/proc" && umount "$ROOT/proc" || true
}

pid() {
    local file=$HOME_ON_HOST/run/asterisk.pid
    [ -f "$file" ] || return 1
    local p; p=$(cat "$file")
    kill -0 "$p" 2>/dev/null || return 1
    echo "$p"
}

render() {
    local etc=$HOME_ON_HOST/etc/asterisk
    rm -rf "$HOME_ON_HOST/templates"
    mkdir -p "$etc" "$HOME_ON_HOST"/{spool/monitor,spool/voicemail,log,run,lib,keys,cache}
    cp -r "$HERE/etc/asterisk" "$HOME_ON_HOST/templates"
    cp "$HERE/render.sh" "$HERE/prompts.sh" "$HERE/prompts.txt" "$HOME_ON_HOST/"
    chroot "$ROOT" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
        AMI_USER="$AMI_USER" AMI_SECRET="$AMI_SECRET" AMI_PERMIT="$AMI_PERMIT" \
        WEBRTC_PASSWORD="$WEBRTC_PASSWORD" VOICEMAIL_PIN="$VOICEMAIL_PIN" CTI_HOST="$CTI_HOST" \
        CTI_AGI_PORT="$CTI_AGI_PORT" AMI_PORT="$AMI_PORT" HTTP_PORT="$HTTP_PORT" HTTPS_PORT="$HTTPS_PORT" \
        SIP_PORT="$SIP_PORT" RTP_START="$RTP_START" RTP_END="$RTP_END" BIND_ADDR="$BIND_ADDR" \
        ASTERISK_HOME="$ASTERISK_HOME" \
        sh "$HOME_IN_ROOT/render.sh" "$HOME_IN_ROOT/templates" "$HOME_IN_ROOT/etc/asterisk"
    # prompts of the sample IVR flows (config/flows), spoken by espeak-ng into 8 kHz WAV, once per root
    chroot "$ROOT" sh "$HOME_IN_ROOT/prompts.sh" /usr/local/share/asterisk/sounds
    chroot "$ROOT" chown -R asterisk:asterisk "$HOME_IN_ROOT"
}

up() {
    need_root
    build
    mkdir -p "$HOME_ON_HOST"
    load_settings
    if p=$(pid); then
        say "already running (pid $p) on AMI 127.0.0.1:$AMI_PORT"
        wait_booted
        return 0
    fi
    save_settings
    render
    mount_root
    rm -f "$HOME_ON_HOST/run/asterisk.pid" "$HOME_ON_HOST/run/asterisk.ctl"
    [ -f "$HOME_ON_HOST/log/messages" ] && mv "$HOME_ON_HOST/log/messages" "$HOME_ON_HOST/log/messages.1"
    # every start is a clean PBX: no AstDB keys (device states, the dialer's busy-once marks) from an earlier run
    rm -f "$HOME_ON_HOST/lib/astdb.sqlite3"
    chroot "$ROOT" /usr/sbin/asterisk -C "$HOME_IN_ROOT/etc/asterisk/asterisk.conf" -U asterisk -G asterisk
    wait_booted
    say "Asterisk $(root_version) up: AMI 127.0.0.1:$AMI_PORT, WSS $BIND_ADDR:$HTTPS_PORT, SIP udp $SIP_PORT"
}

# Waits for the AMI login to report FullyBooted (the PBX has loaded every module and the dialplan).
wait_booted() {
    local deadline=$((SECONDS + ${CC_ASTERISK_BOOT_TIMEOUT:-90}))
    while ((SECONDS < deadline)); do
        if python3 "$HERE/ami_booted.py" 127.0.0.1 "$AMI_PORT" "$AMI_USER" "$AMI_SECRET" 2>/dev/null; then
            return 0
        fi
        pid >/dev/null || { tail -n 30 "$HOME_ON_HOST/log/messages" 2>/dev/null >&2 || true; die "Asterisk exited during start-up"; }
        sleep 0.5
    done
    die "no FullyBooted on AMI 127.0.0.1:$AMI_PORT within ${CC_ASTERISK_BOOT_TIMEOUT:-90} s (log: $HOME_ON_HOST/log/messages)"
}

down() {
    need_root
    local p
    if p=$(pid); then
        kill "$p"
        for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
        kill -0 "$p" 2>/dev/null && kill -9 "$p"
        say "stopped (pid $p)"
    else
        say "not running"
    fi
    unmount_root
}

down_all() {
    local pidfile
    for pidfile in "$ROOT"/srv/callcenter/*/run/asterisk.pid; do
        [ -f "$pidfile" ] || continue
        kill "$(cat "$pidfile")" 2>/dev/null || true
    done
    sleep 1
    unmount_root
}

status() {
    local p
    if [ -f "$STATE" ]; then load_settings; fi
    if p=$(pid); then
        echo "running: pid $p, asterisk $(root_version), instance $INSTANCE, AMI 127.0.0.1:${AMI_PORT:-?}"
    else
        echo "stopped (root: $([ -f "$ROOT/.callcenter-ready" ] && echo "built, asterisk $(root_version)" || echo "not built"))"
        return 3
    fi
}

cli() {
    need_root
    pid >/dev/null || die "not running (asterisk-dev/rootfs.sh up)"
    if [ $# -gt 0 ]; then
        chroot "$ROOT" /usr/sbin/asterisk -C "$HOME_IN_ROOT/etc/asterisk/asterisk.conf" -rx "$*"
    else
        chroot "$ROOT" /usr/sbin/asterisk -C "$HOME_IN_ROOT/etc/asterisk/asterisk.conf" -r
    fi
}

print_env() {
    [ -f "$STATE" ] || die "instance $INSTANCE was never started (asterisk-dev/rootfs.sh up)"
    load_settings
    cat <<EOF
export CC_AMI_HOST=127.0.0.1
export CC_AMI_PORT=$AMI_PORT
export CC_AMI_USER=$AMI_USER
export CC_AMI_SECRET=$AMI_SECRET
export CC_AMI_AUTH=md5
export CC_AGI_HOST=$CTI_HOST
export CC_AGI_PORT=$CTI_AGI_PORT
export CC_RECORDINGS_DIR=$HOME_ON_HOST/spool/monitor
export CC_VOICEMAIL_DIR=$HOME_ON_HOST/spool/voicemail
export CC_RECORDINGS_PBX_DIR=$HOME_IN_ROOT/spool/monitor
export CC_SIP_WSS_URL=wss://127.0.0.1:$HTTPS_PORT/ws
export CC_TEST_AMI=127.0.0.1:$AMI_PORT
export CC_TEST_AMI_USER=$AMI_USER
export CC_TEST_AMI_SECRET=$AMI_SECRET
export CC_TEST_AGI_PORT=$CTI_AGI_PORT
export CC_TEST_RECORDINGS_DIR=$HOME_ON_HOST/spool/monitor
export CC_TEST_RECORDINGS_PBX_DIR=$HOME_IN_ROOT/spool/monitor
export CC_TEST_VOICEMAIL_DIR=$HOME_ON_HOST/spool/voicemail
export CC_TEST_SIP_WSS_URL=wss://127.0.0.1:$HTTPS_PORT/ws
export CC_TEST_WEBRTC_PASSWORD=$WEBRTC_PASSWORD
export CC_TEST_VOICEMAIL_PIN=$VOICEMAIL_PIN
export CC_TEST_ASTERISK_HOME=$HOME_ON_HOST
export CC_TEST_ASTERISK_ROOTFS=$ROOT
export CC_TEST_ASTERISK_INSTANCE=$INSTANCE
EOF
}

case "${1:-}" in
    up) up ;;
    down) down ;;
    status) status ;;
    cli) shift; cli "$@" ;;
    env) print_env ;;
    build) build ;;
    *) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
