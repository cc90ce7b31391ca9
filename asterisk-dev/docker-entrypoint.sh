#!/bin/sh
# Renders the configuration with the settings of .env (render.sh, as rootfs.sh does), then starts Asterisk
# in the foreground as its own user.
set -eu
home=${ASTERISK_HOME:-/srv/callcenter/dev}
mkdir -p "$home"/spool/monitor "$home"/spool/voicemail "$home"/log "$home"/run "$home"/lib "$home"/cache
sh /srv/callcenter/render.sh /srv/callcenter/templates "$home/etc/asterisk"
chown -R asterisk:asterisk "$home"
exec /usr/sbin/asterisk -f -vvv -U asterisk -G asterisk -C "$home/etc/asterisk/asterisk.conf"
