#!/usr/bin/env bash
# Makes sure PostgreSQL (127.0.0.1:5432, database `test`) and Redis (127.0.0.1:6379) listen.
# Installs them with apt-get on a fresh machine; starts them when installed but stopped.
set -euo pipefail
SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
updated=0
apt_install() {
  [ $updated = 1 ] || { $SUDO apt-get update -qq; updated=1; }
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >/dev/null
}

if ! listening 6379; then
  command -v redis-server >/dev/null 2>&1 || apt_install redis-server
  $SUDO mkdir -p /var/lib/redis /var/log/redis
  $SUDO redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
fi

if ! listening 5432; then
  if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
    apt_install postgresql
  fi
  ver=$(ls /etc/postgresql | sort -V | tail -n 1)
  conf=/etc/postgresql/$ver/main
  if ! grep -q "^host all all 127.0.0.1/32 trust" "$conf/pg_hba.conf"; then
    $SUDO sed -i '1i host all all 127.0.0.1/32 trust\nlocal all all trust' "$conf/pg_hba.conf"
  fi
  $SUDO pg_ctlcluster --skip-systemctl-redirect "$ver" main start || $SUDO pg_ctlcluster "$ver" main start
fi

for _ in $(seq 1 30); do listening 5432 && listening 6379 && break; sleep 1; done
listening 5432 || { echo "PostgreSQL is not listening on 5432" >&2; exit 1; }
listening 6379 || { echo "Redis is not listening on 6379" >&2; exit 1; }
if ! psql -h 127.0.0.1 -U postgres -d test -c 'select 1' >/dev/null 2>&1; then
  psql -h 127.0.0.1 -U postgres -c 'create database test' >/dev/null 2>&1 || \
    $SUDO -u postgres psql -c 'create database test' >/dev/null
fi
echo "services: postgresql and redis listening"
