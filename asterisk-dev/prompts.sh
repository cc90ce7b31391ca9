#!/bin/sh
# Speaks prompts.txt (beside this script) into DIR/NAME.wav with espeak-ng and sox: 8 kHz, mono, 16 bit.
# Existing files are kept, so a site's own recordings are never overwritten.
set -eu
dir=$1
list=$(dirname "$0")/prompts.txt
mkdir -p "$dir"
voice=cmn
espeak-ng --voices=cmn 2>/dev/null | grep -q cmn || voice=zh
grep -v '^#' "$list" | while IFS='|' read -r name text; do
    [ -n "$name" ] || continue
    [ -s "$dir/$name.wav" ] && continue
    espeak-ng -v "$voice" -s 150 -w "$dir/$name.raw.wav" "$text" 2>/dev/null
    sox -q "$dir/$name.raw.wav" -r 8000 -c 1 -b 16 "$dir/$name.wav" norm -3
    rm -f "$dir/$name.raw.wav"
done
# Asterisk runs as its own user: the prompts must be readable whatever umask the caller had
chmod -R a+rX "$dir"
