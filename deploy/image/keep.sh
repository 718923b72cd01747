#!/bin/sh
# keep.sh DEST FILE...: copies each FILE and every library it links (as ldd resolves them) into
# DEST, each in its canonical directory and under the name the dynamic linker asks for. The
# image's last stage is then a slim Debian with DEST laid over it: the plugins the service can
# load and what they link, without the rest of what the GStreamer packages bring.
set -eu
dest=$1
shift
for file in "$@"; do
  echo "$file"
  ldd "$file" | awk '/=> \// { print $3 } /^[[:space:]]*\/[^ ]*ld-linux/ { print $1 }'
done | sort -u | while read -r path; do
  dir=$(dirname "$(readlink -f "$path")")
  mkdir -p "$dest$dir"
  cp -L "$path" "$dest$dir/$(basename "$path")"
done
