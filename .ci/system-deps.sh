#!/usr/bin/env bash
# Debian packages the product needs: ffmpeg (audio), chromium (browser tests), node/npm (browser libraries),
# fonts-noto-cjk (Chinese text in the browser tests and screenshots: without a CJK font it renders as boxes).
#
# Another apt or dpkg process (an unattended upgrade, a second checkout's script) may hold the apt locks:
# then this waits for them, up to CC_APT_LOCK_WAIT_S seconds (default 600), instead of failing at once.
set -euo pipefail
LOCK_WAIT_S=${CC_APT_LOCK_WAIT_S:-600}

installed() { dpkg-query -W -f '${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

need=()
command -v ffmpeg >/dev/null 2>&1 || need+=(ffmpeg)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v npm >/dev/null 2>&1 || need+=(npm)
installed fonts-noto-cjk || need+=(fonts-noto-cjk)
[ ${#need[@]} -gt 0 ] || exit 0

SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo

# Runs an apt-get command; while it fails because another process holds a lock, waits and tries again.
# (DPkg::Lock::Timeout makes apt wait for the dpkg lock itself; `apt-get update` takes the lists lock,
# which that option does not cover, hence the retry on apt's "Could not get lock" message.)
apt_retry() {
  local deadline=$((SECONDS + LOCK_WAIT_S)) err status
  err=$(mktemp)
  while true; do
    status=0
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout="$LOCK_WAIT_S" "$@" 2>"$err" || status=$?
    if [ "$status" = 0 ]; then rm -f "$err"; return 0; fi
    if grep -qiE 'could not get lock|unable to lock|is another process using it' "$err" &&
       ((SECONDS < deadline)); then
      echo "system-deps: apt is busy (another process holds its lock); waiting" >&2
      sleep 5
      continue
    fi
    cat "$err" >&2; rm -f "$err"
    return "$status"
  done
}

apt_retry update -qq
apt_retry install -y -qq "${need[@]}" >/dev/null
