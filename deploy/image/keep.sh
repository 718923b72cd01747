#!/bin/sh
# keep.sh DEST FILE...: copies each FILE and every library it links (as ldd resolves them) into
# DEST, each in the canonical form of the directory it was found in and under the name the
# dynamic linker asks for. The image's last stage is then a slim Debian with DEST laid over it:
# the plugins the service can load and what they link, without the rest of what the GStreamer
# packages bring.
set -eu
dest=$1
shift
for file in "$@"; do
  echo "$file"
  ldd "$file" | awk '/=> \// { print $3 } /^[[:space:]]*\/[^ ]*ld-linux/ { print $1 }'
done | sort -u | while read -r path; do
  # The directory the linker found it in (canonical: /lib is /usr/lib), not its target's: a
  # library chosen by update-alternatives (libblas) links into a directory of its own.
  dir=$(readlink -f "$(dirname "$path")")
  mkdir -p "$dest$dir"
  cp -L "$path" "$dest$dir/$(basename "$path")"
done
