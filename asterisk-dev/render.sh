#!/bin/sh
# Renders the configuration templates (SRC/*.conf) into DST with the settings of the environment.
# Only the variables listed here are substituted, so Asterisk's own ${VAR} dialplan syntax stays intact.
# Used by rootfs.sh (inside the Debian root) and by the Docker entrypoint.
set -eu
src=$1 dst=$2
: "${AMI_USER:=cti}" "${AMI_PERMIT:=127.0.0.1/255.255.255.255}" "${CTI_HOST:=127.0.0.1}" "${CTI_AGI_PORT:=4573}"
: "${AMI_PORT:=5038}" "${HTTP_PORT:=8088}" "${HTTPS_PORT:=8089}" "${SIP_PORT:=5060}"
: "${RTP_START:=20000}" "${RTP_END:=20099}" "${BIND_ADDR:=127.0.0.1}" "${ASTERISK_HOME:=/srv/callcenter/dev}"
: "${AST_MODDIR:=$(ls -d /usr/lib/*/asterisk/modules /usr/lib/asterisk/modules 2>/dev/null | head -n 1)}"
: "${AMI_SECRET:?set AMI_SECRET}" "${WEBRTC_PASSWORD:?set WEBRTC_PASSWORD}" "${VOICEMAIL_PIN:?set VOICEMAIL_PIN}"
export AMI_USER AMI_SECRET AMI_PERMIT WEBRTC_PASSWORD VOICEMAIL_PIN CTI_HOST CTI_AGI_PORT AMI_PORT HTTP_PORT \
    HTTPS_PORT SIP_PORT RTP_START RTP_END BIND_ADDR ASTERISK_HOME AST_MODDIR
vars='${AMI_USER} ${AMI_SECRET} ${AMI_PERMIT} ${WEBRTC_PASSWORD} ${VOICEMAIL_PIN} ${CTI_HOST} ${CTI_AGI_PORT}
${AMI_PORT} ${HTTP_PORT} ${HTTPS_PORT} ${SIP_PORT} ${RTP_START} ${RTP_END} ${BIND_ADDR} ${ASTERISK_HOME} ${AST_MODDIR}'
mkdir -p "$dst" "$ASTERISK_HOME/keys"
for template in "$src"/*.conf; do
    envsubst "$vars" <"$template" >"$dst/$(basename "$template")"
done
chmod 600 "$dst/manager.conf" "$dst/pjsip.conf" "$dst/voicemail.conf"
if [ ! -f "$ASTERISK_HOME/keys/asterisk.pem" ]; then
    # self-signed certificate for https/wss (browsers accept it once)
    openssl req -x509 -newkey rsa:2048 -nodes -days 825 -subj "/CN=${BIND_ADDR}" \
        -addext "subjectAltName=IP:${BIND_ADDR},DNS:localhost" \
        -keyout "$ASTERISK_HOME/keys/asterisk.key" -out "$ASTERISK_HOME/keys/asterisk.crt" 2>/dev/null
    cat "$ASTERISK_HOME/keys/asterisk.key" "$ASTERISK_HOME/keys/asterisk.crt" >"$ASTERISK_HOME/keys/asterisk.pem"
fi
