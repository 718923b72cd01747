#!/usr/bin/env bash
# The benchmark, side by side with the ffmpeg CLI, in one command:
#   bench/run.sh           full run (about 15 minutes on 2 cores)
#   bench/run.sh --quick   fewer runs and shorter load phases (about 5 minutes)
#   bench/run.sh --only quality,thumbnails   those phases alone, printed (BENCHMARKS.md is kept)
# Installs what is missing (nginx, hyperfine, wrk, ffmpeg), makes its media under target/bench,
# starts nginx on 127.0.0.1:18080 and the release build on 127.0.0.1:18000, and writes
# BENCHMARKS.md. Only loopback addresses are used.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
install_missing "${PYTHUMBIO_PACKAGES[@]}" "${PYTHUMBIO_TEST_PACKAGES[@]}" gstreamer1.0-tools nginx-light hyperfine wrk ffmpeg procps python3-venv python3-numpy python3-pil

ROOT=$(pwd)
BENCH_DIR=$ROOT/target/bench
mkdir -p "$BENCH_DIR/media" "$BENCH_DIR/tmp"
cargo build --release --locked

# The media: 720p30 H.264 + AAC, 5 minutes, a keyframe every 2 s, moov first; the same with moov
# at the end; 1080p30, 60 s. 8-bit 4:2:0 (High profile), as cameras and encoders deliver video:
# left to itself, videoconvert hands x264enc 10-bit 4:4:4, which costs several times as much to
# decode and which no phone or browser makes.
make() { # name width height seconds faststart
  local out="$BENCH_DIR/media/$1"
  [ -s "$out" ] && return 0
  echo "making $1" >&2
  gst-launch-1.0 -q -e \
    videotestsrc num-buffers=$(($4 * 30)) pattern=smpte horizontal-speed=4 ! "video/x-raw,width=$2,height=$3,framerate=30/1" \
      ! videoconvert ! video/x-raw,format=I420 ! x264enc speed-preset=veryfast bitrate=$(($2 * $3 * 3 / 1000)) key-int-max=60 bframes=2 \
      ! h264parse ! queue ! mux. \
    audiotestsrc num-buffers=$(($4 * 48000 / 1024)) samplesperbuffer=1024 wave=ticks ! audio/x-raw,rate=48000,channels=2 \
      ! audioconvert ! avenc_aac bitrate=128000 ! aacparse ! queue ! mux. \
    mp4mux name=mux faststart="$5" ! filesink location="$out.partial"
  mv "$out.partial" "$out"
}
make 720p-5min.mp4 1280 720 300 true
make 720p-5min-moov-end.mp4 1280 720 300 false
make 1080p-60s.mp4 1920 1080 60 true
# For the quality rows, a clip as a camera gives it, made by ffmpeg: 640x360 of moving detail
# with a little grain, H.264 at high quality.
if [ ! -s "$BENCH_DIR/media/sd-grain.mp4" ]; then
  ffmpeg -v error -f lavfi -i "testsrc2=size=640x360:rate=30:duration=30,noise=alls=4:allf=t" \
    -c:v libx264 -preset veryfast -crf 16 -pix_fmt yuv420p -g 60 -movflags +faststart \
    -y "$BENCH_DIR/media/sd-grain.partial.mp4"
  mv "$BENCH_DIR/media/sd-grain.partial.mp4" "$BENCH_DIR/media/sd-grain.mp4"
fi

# HEVC as phones and cameras write it (x265, B-frames, 8-bit 4:2:0, tagged BT.709) at 1080p and
# 2160p, and AV1 (SVT-AV1) at 1080p: 10 s each of moving detail with a little grain, a keyframe
# every 2 s, AAC or Opus audio.
large() { # name size encoder-args...
  local out="$BENCH_DIR/media/$1" size=$2
  shift 2
  [ -s "$out" ] && return 0
  echo "making $(basename "$out")" >&2
  ffmpeg -v error -f lavfi -i "testsrc2=size=$size:rate=30:duration=10,noise=alls=3:allf=t" \
    -f lavfi -i "sine=frequency=440:sample_rate=48000:duration=10" "$@" -pix_fmt yuv420p \
    -colorspace bt709 -color_primaries bt709 -color_trc bt709 -movflags +faststart -y "${out%.mp4}.partial.mp4"
  mv "${out%.mp4}.partial.mp4" "$out"
}
HEVC=(-c:v libx265 -preset veryfast -x265-params log-level=error:keyint=60:min-keyint=60 -crf 24 -tag:v hvc1 -c:a aac -b:a 128k)
large hevc-1080p.mp4 1920x1080 "${HEVC[@]}"
large hevc-2160p.mp4 3840x2160 "${HEVC[@]}"
large av1-1080p.mp4 1920x1080 -c:v libsvtav1 -preset 10 -g 60 -crf 35 -svtav1-params lp=2 -c:a libopus -b:a 96k

# The peer a user would install instead: thumbor with thumbor-video-engine, from PyPI, in a
# virtualenv of its own, on 127.0.0.1:18002.
if [ ! -x "$BENCH_DIR/thumbor/bin/thumbor" ]; then
  python3 -m venv "$BENCH_DIR/thumbor"
  "$BENCH_DIR/thumbor/bin/pip" install -q thumbor==7.8.0 thumbor-video-engine==1.3.1
fi

sed "s#BENCH_DIR#$BENCH_DIR#g" bench/nginx.conf > "$BENCH_DIR/nginx.conf"
: > "$BENCH_DIR/access.log"
nginx -c "$BENCH_DIR/nginx.conf" &
NGINX=$!
# No in-memory cache: every request is measured cold, as ffmpeg always is (304s have their own row).
# The origin is on 127.0.0.1, which the source policy refuses unless told otherwise.
# The origin cache is off too, but for the scrub row's second service on :18001, which keeps
# origin bytes across requests as a default install does.
PYTHUMBIO_ALLOW_LOOPBACK=true PYTHUMBIO_CACHE_MB=0 PYTHUMBIO_ORIGIN_CACHE_MB=0 PYTHUMBIO_HOST=127.0.0.1 PYTHUMBIO_PORT=18000 RUST_LOG=warn target/release/pythumbio &
SERVICE=$!
PYTHUMBIO_ALLOW_LOOPBACK=true PYTHUMBIO_CACHE_MB=0 PYTHUMBIO_HOST=127.0.0.1 PYTHUMBIO_PORT=18001 RUST_LOG=warn target/release/pythumbio &
CACHED=$!
(cd "$BENCH_DIR/tmp" && exec "$BENCH_DIR/thumbor/bin/thumbor" -i 127.0.0.1 -p 18002 -l warning -c "$ROOT/bench/thumbor.conf") &
PEER=$!
trap 'kill $NGINX $SERVICE $CACHED $PEER 2>/dev/null || true' EXIT
for _ in $(seq 50); do
  curl -sf http://127.0.0.1:18000/healthz >/dev/null && curl -sf http://127.0.0.1:18001/healthz >/dev/null \
    && curl -sf -o /dev/null http://127.0.0.1:18080/720p-5min.mp4 -r 0-0 \
    && curl -s -o /dev/null http://127.0.0.1:18002/healthcheck && break
  sleep 0.2
done

python3 bench/compare.py --service-pid "$SERVICE" --bench-dir "$BENCH_DIR" "$@"
