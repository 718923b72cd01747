#!/bin/bash
# smoke.sh [CORPUS]: run inside the finished image at build time. Starts the service, then asks
# for a thumbnail, a WebM stream and the metadata of its built-in sample and of each file in
# CORPUS (made by corpus.sh, read as file:// sources): a plugin or library the image dropped but
# needs fails the build here.
set -euo pipefail
corpus=${1:-}
export PYTHUMBIO_HOST=127.0.0.1 PYTHUMBIO_PORT=8000
[ -n "$corpus" ] && export PYTHUMBIO_FILE_ROOT=$corpus
pythumbio &
service=$!
trap 'kill "$service"' EXIT
for _ in $(seq 50); do pythumbio health 2>/dev/null && break; sleep 0.2; done
# GET PATH: the response's status line and first bytes of the body, over bash's /dev/tcp.
get() {
  exec 3<>/dev/tcp/127.0.0.1/8000
  printf 'GET %s HTTP/1.0\r\nHost: smoke\r\n\r\n' "$1" >&3
  head -c 400000 <&3 | tr -d '\0' | tr -c '[:print:]\n' '.' > /tmp/answer
  exec 3>&-
  head -n 1 /tmp/answer | grep -q ' 200 ' || { echo "$1: $(head -n 1 /tmp/answer)" >&2; exit 1; }
}
# check NAME URL: a thumbnail, a one-second stream and the metadata of URL (percent-encoded).
check() {
  get "/thumb?url=$2&time=1"
  grep -qi '^content-type: image/jpeg' /tmp/answer || { echo "$1: /thumb: not a JPEG" >&2; exit 1; }
  get "/webm?url=$2&duration=1"
  grep -qi '^content-type: video/webm' /tmp/answer && grep -q 'webm' /tmp/answer \
    || { echo "$1: /webm: not WebM" >&2; exit 1; }
  get "/meta?url=$2"
  grep -q '"codec_type": "video"' /tmp/answer || { echo "$1: /meta: no video stream" >&2; exit 1; }
  echo "$1: thumbnail, stream and metadata: good"
}
check sample "http%3A%2F%2F127.0.0.1%3A8000%2Fsample.webm"
if [ -n "$corpus" ]; then
  for file in "$corpus"/*; do
    check "$(basename "$file")" "file%3A%2F%2F${file//\//%2F}"
  done
fi
