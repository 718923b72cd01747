#!/bin/bash
# corpus.sh DIR: writes a small file of each kind the conformance corpus reads (tests/conformance.rs
# makes and checks them in full), as ffmpeg writes them, for the image's own check: smoke.sh asks
# the finished image for a thumbnail and the metadata of each, so a decoder, demuxer or library
# the image left out fails its build. Each line: the file, then ffmpeg's inputs and options.
set -euo pipefail
dir=$1
mkdir -p "$dir"
cd "$dir"
picture=(-f lavfi -i "testsrc2=size=320x180:rate=25:duration=2")
tone=(-f lavfi -i "sine=frequency=440:sample_rate=48000:duration=2")
make() {
  local file=$1
  shift
  ffmpeg -loglevel error -y "$@" "$file"
}
x264=(-c:v libx264 -preset veryfast -pix_fmt yuv420p)
x265=(-c:v libx265 -x265-params log-level=error -tag:v hvc1)
make h264-aac.mp4 "${picture[@]}" "${tone[@]}" "${x264[@]}" -c:a aac
make hevc.mp4 "${picture[@]}" "${tone[@]}" "${x265[@]}" -pix_fmt yuv420p -c:a aac
make hevc-10bit-pq.mp4 "${picture[@]}" "${x265[@]}" -pix_fmt yuv420p10le \
  -color_primaries bt2020 -color_trc smpte2084 -colorspace bt2020nc
make av1-opus.mp4 "${picture[@]}" "${tone[@]}" -c:v libaom-av1 -cpu-used 8 -row-mt 1 -b:v 200k -c:a libopus
make vp9-opus.webm "${picture[@]}" "${tone[@]}" -c:v libvpx-vp9 -deadline realtime -cpu-used 8 -b:v 300k -c:a libopus
make vp8-live.webm "${picture[@]}" "${tone[@]}" -c:v libvpx -deadline realtime -b:v 300k -c:a libopus -f webm -live 1
make fragmented.mp4 "${picture[@]}" "${tone[@]}" "${x264[@]}" -c:a aac -movflags frag_keyframe+empty_moov
make h264-aac.ts "${picture[@]}" "${tone[@]}" "${x264[@]}" -c:a aac -output_ts_offset 1.4
make h264-vorbis.mkv "${picture[@]}" "${tone[@]}" "${x264[@]}" -c:a libvorbis
make prores-pcm.mov "${picture[@]}" "${tone[@]}" -c:v prores_ks -c:a pcm_s16le
make mjpeg-pcm.avi "${picture[@]}" "${tone[@]}" -c:v mjpeg -q:v 3 -c:a pcm_s16le
make theora-vorbis.ogv "${picture[@]}" "${tone[@]}" -c:v libtheora -q:v 7 -c:a libvorbis
make mpeg2-mp2.mpg "${picture[@]}" "${tone[@]}" -c:v mpeg2video -b:v 1M -c:a mp2
make mpeg4-mp3.avi "${picture[@]}" "${tone[@]}" -c:v mpeg4 -q:v 4 -c:a libmp3lame
make animation.gif -f lavfi -i "testsrc2=size=160x90:rate=10:duration=2"
make cover.png -f lavfi -i "color=c=0x3366cc:size=160x160" -frames:v 1
make cover.mp3 "${tone[@]}" -i cover.png -map 0 -map 1 -c:a libmp3lame -c:v mjpeg \
  -disposition:v attached_pic -id3v2_version 3
make cover.m4a "${tone[@]}" -i cover.png -map 0 -map 1 -c:a aac -c:v png -disposition:v attached_pic
make cover.flac "${tone[@]}" -i cover.png -map 0 -map 1 -c:a flac -c:v png -disposition:v attached_pic
rm cover.png
ls -l
