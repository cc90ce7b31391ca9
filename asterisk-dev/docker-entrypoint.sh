#!/bin/sh
# Renders /etc/asterisk from the templates with the secrets of the environment, then starts Asterisk.
# Only the listed variables are substituted, so Asterisk's own ${VAR} dialplan syntax stays intact.
set -eu
: "${AMI_USER:=cti}"
: "${AMI_SECRET:?set AMI_SECRET (see .env.example)}"
: "${WEBRTC_PASSWORD:?set WEBRTC_PASSWORD (see .env.example)}"
: "${VOICEMAIL_PIN:?set VOICEMAIL_PIN (see .env.example)}"
: "${CTI_HOST:=127.0.0.1}"
: "${AMI_PERMIT:=127.0.0.1/255.255.255.255}"
export AMI_USER AMI_SECRET WEBRTC_PASSWORD VOICEMAIL_PIN CTI_HOST AMI_PERMIT
vars='${AMI_USER} ${AMI_SECRET} ${WEBRTC_PASSWORD} ${VOICEMAIL_PIN} ${CTI_HOST} ${AMI_PERMIT}'
for template in /etc/asterisk-templates/*.conf; do
    envsubst "$vars" < "$template" > "/etc/asterisk/$(basename "$template")"
done
chmod 600 /etc/asterisk/manager.conf /etc/asterisk/pjsip.conf /etc/asterisk/voicemail.conf
if [ ! -f /etc/asterisk/keys/asterisk.pem ]; then
    # self-signed certificate for https/wss on 8089 (browsers must accept it once)
    openssl req -x509 -newkey rsa:2048 -nodes -days 825 -subj "/CN=${CTI_HOST}" \
        -keyout /etc/asterisk/keys/asterisk.key -out /etc/asterisk/keys/asterisk.crt 2>/dev/null
    cat /etc/asterisk/keys/asterisk.key /etc/asterisk/keys/asterisk.crt > /etc/asterisk/keys/asterisk.pem
fi
exec "$@"
