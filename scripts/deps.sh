#!/usr/bin/env bash
# Installs, with apt-get, the Debian/Ubuntu packages pythumbio needs that are not installed yet:
# GStreamer's development files (to build) and the plugins its pipelines and tests use.
# Sourced by run.sh and test.sh; safe to run again (it installs nothing when all is there).
set -euo pipefail

PYTHUMBIO_PACKAGES=(
  pkg-config
  libgstreamer1.0-dev
  libgstreamer-plugins-base1.0-dev
  gstreamer1.0-plugins-base   # uridecodebin, appsink, videoconvert, videoscale, videorate, compositor, opusenc
  gstreamer1.0-plugins-good   # vp8enc, vp9enc, webmmux, jpegenc, pngenc, souphttpsrc, qtdemux, videoflip
  gstreamer1.0-plugins-bad    # webpenc, av1enc, av1parse, h264parse
  gstreamer1.0-libav          # the decoders (H.264, AAC, ...)
)
# The tests also make their own media with x264enc and avenc_aac, and with ffmpeg (other muxers'
# habits: TS start offsets, HLS segments), and drive the playground in headless Chromium through
# chromedriver; gst-launch-1.0 and gst-inspect-1.0 (gstreamer1.0-tools) run what `check --render`
# prints and describe the plugin.
PYTHUMBIO_TEST_PACKAGES=(gstreamer1.0-plugins-ugly gstreamer1.0-tools ffmpeg chromium chromium-driver)

install_missing() {
  local missing=()
  for package in "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "installing: ${missing[*]}" >&2
  local sudo=()
  [ "$(id -u)" -ne 0 ] && sudo=(sudo)
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

if ! command -v cargo >/dev/null; then
  echo "cargo is not on PATH: install Rust (https://rustup.rs) first" >&2
  exit 1
fi
