#!/usr/bin/env bash
# Runs a command (the test suite) with the real Asterisk of rootfs.sh up and its CC_TEST_… settings exported.
# A PBX this script started is stopped again when the command ends. Without root there is no chroot:
# the command runs without the PBX (its `asterisk` tests skip, saying why), except in CI (CI=true),
# where that is an error.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
if [ "$(id -u)" != 0 ]; then
    if [ "${CI:-}" = true ]; then echo "asterisk-dev: CI needs root to run the real Asterisk" >&2; exit 1; fi
    echo "asterisk-dev: not root, so no real Asterisk: the asterisk tests will skip" >&2
    exec "$@"
fi
started=0
if ! bash "$HERE/rootfs.sh" status >/dev/null 2>&1; then
    bash "$HERE/rootfs.sh" up
    started=1
fi
eval "$(bash "$HERE/rootfs.sh" env | grep '^export CC_TEST_')"
[ "$started" = 1 ] && trap 'bash "$HERE/rootfs.sh" down' EXIT
"$@"
