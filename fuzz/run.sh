#!/usr/bin/env bash
# Runs every fuzz target for a bounded time (seconds, default 60) and prints its execution count.
# cargo-fuzz needs nightly features: RUSTC_BOOTSTRAP=1 lets the stable toolchain build them, with
# coverage instrumentation and no sanitizer. Installs cargo-fuzz when it is missing.
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-60}
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
export RUSTC_BOOTSTRAP=1
# Seeds for the manifest target: playlists and a DASH manifest naming other schemes.
mkdir -p corpus/manifest
printf '#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\nfile:///etc/passwd\n#EXT-X-ENDLIST\n' > corpus/manifest/seed-file
printf '#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\nrtmp://127.0.0.1:1/app/x\n#EXTINF:2.0,\nudp://127.0.0.1:1\n#EXT-X-ENDLIST\n' > corpus/manifest/seed-net
printf '#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nsrt://127.0.0.1:1\n' > corpus/manifest/seed-variant
printf '<?xml version="1.0"?><MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" mediaPresentationDuration="PT2S"><BaseURL>file:///etc/</BaseURL><Period><AdaptationSet mimeType="video/mp2t"><Representation id="v" bandwidth="1"><BaseURL>passwd</BaseURL></Representation></AdaptationSet></Period></MPD>' > corpus/manifest/seed-dash
for target in query seconds url_policy pipeline_file manifest; do
  mkdir -p "corpus/$target"
  result=$(cargo fuzz run --sanitizer none "$target" "corpus/$target" -- -max_total_time="$seconds" 2>&1 \
    | grep -E "^Done|panicked|SUMMARY" || true)
  echo "$target: $result"
  case "$result" in *panicked*|*SUMMARY*) exit 1 ;; esac
done
