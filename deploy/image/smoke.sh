#!/bin/bash
# smoke.sh: run inside the finished image at build time. Starts the service, then asks for a
# thumbnail, a WebM stream and the metadata of its built-in sample: a plugin or library the image
# dropped but needs fails the build here.
set -euo pipefail
export PYTHUMBIO_HOST=127.0.0.1 PYTHUMBIO_PORT=8000
pythumbio &
service=$!
trap 'kill "$service"' EXIT
for _ in $(seq 50); do pythumbio health 2>/dev/null && break; sleep 0.2; done
sample="http%3A%2F%2F127.0.0.1%3A8000%2Fsample.webm"
# GET PATH: the response's status line and first bytes of the body, over bash's /dev/tcp.
get() {
  exec 3<>/dev/tcp/127.0.0.1/8000
  printf 'GET %s HTTP/1.0\r\nHost: smoke\r\n\r\n' "$1" >&3
  head -c 400000 <&3 | tr -d '\0' | tr -c '[:print:]\n' '.' > /tmp/answer
  exec 3>&-
  head -n 1 /tmp/answer | grep -q ' 200 ' || { echo "$1: $(head -n 1 /tmp/answer)" >&2; exit 1; }
}
get "/thumb?url=$sample&time=1"
grep -qi '^content-type: image/jpeg' /tmp/answer || { echo "/thumb: not a JPEG" >&2; exit 1; }
get "/webm?url=$sample&duration=1"
grep -qi '^content-type: video/webm' /tmp/answer && grep -q 'webm' /tmp/answer \
  || { echo "/webm: not WebM" >&2; exit 1; }
get "/meta?url=$sample"
grep -q '"codec_name": "vp8"' /tmp/answer || { echo "/meta: no VP8 stream" >&2; exit 1; }
echo "thumbnail, stream and metadata of the sample: good"
