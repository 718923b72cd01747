//! The conformance corpus: files as ffmpeg, phones, browsers and HLS packagers write them, each
//! run through every endpoint. A cell checks the output's pixels against the frame `ffmpeg -ss`
//! gives (rotation and pixel aspect applied), a stream's length and frame count, and `/meta`
//! field by field against `ffprobe`. The table it finds is docs/formats.md:
//! `PYTHUMBIO_WRITE_FORMATS=1 cargo test --test conformance` writes it there, and without it the
//! test fails when the page says anything else.

mod support;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use support::media::{media_dir, nearest, PALETTE};
use support::{ffmpeg, origin, Image, Service};

/// Seconds of every corpus file; second N is `PALETTE[N]`.
const SECONDS: usize = 6;

/// One file of the corpus.
struct Source {
    /// Its path under the origin.
    file: &'static str,
    /// What it is, as the Formats table says.
    what: &'static str,
    /// The file ffmpeg and ffprobe read instead, when they cannot read this one (an HLS
    /// playlist naming http segments) but it shows the same media.
    same_as: Option<fn() -> PathBuf>,
    /// The picture is a still (cover art): every time shows it.
    still: bool,
    make: Make,
}

/// How a corpus file is made.
enum Make {
    /// From the palette video at this size (and a sine tone with `audio`), by ffmpeg with these
    /// encoder and muxer arguments.
    Palette {
        size: &'static str,
        audio: bool,
        args: &'static [&'static str],
    },
    /// A tone with a cover picture, by ffmpeg with these arguments.
    Cover(&'static [&'static str]),
    /// Otherwise.
    By(fn() -> PathBuf),
}

impl Source {
    fn path(&self) -> PathBuf {
        match self.make {
            Make::Palette { size, audio, args } => palette_file(self.file, size, audio, args),
            Make::Cover(args) => with_cover(self.file, args),
            Make::By(make) => make(),
        }
    }
}

/// The colour graph of the corpus, `size` pictures at 25 fps.
fn graph(size: &str) -> String {
    ffmpeg::palette_graph(SECONDS, size)
}

/// A file made by ffmpeg from the palette video at `size` (and a sine tone with `audio`), with
/// the encoder and muxer arguments `args`.
fn palette_file(name: &str, size: &str, audio: bool, args: &[&str]) -> PathBuf {
    let graph = graph(size);
    let mut all = vec!["-f", "lavfi", "-i", &graph];
    let tone = format!("sine=f=440:d={SECONDS}");
    if audio {
        all.extend(["-f", "lavfi", "-i", &tone]);
    }
    all.extend(args);
    ffmpeg::made(name, &all)
}

/// An audio file with a cover picture of `PALETTE[3]`.
fn with_cover(name: &str, args: &[&str]) -> PathBuf {
    let [r, g, b] = PALETTE[3];
    let cover = media_dir().join("cover-art.png");
    let colour = format!("color=c=0x{r:02x}{g:02x}{b:02x}:s=300x300:d=1");
    ffmpeg::made_at(&cover, &["-f", "lavfi", "-i", &colour, "-frames:v", "1"]);
    let tone = format!("sine=f=440:d={SECONDS}");
    let cover = cover.to_str().unwrap().to_string();
    let mut all = vec![
        "-f", "lavfi", "-i", &tone, "-i", &cover, "-map", "0", "-map", "1",
    ];
    all.extend(args);
    ffmpeg::made(name, &all)
}

/// x264 as ffmpeg's users run it: `medium` (B-frames; MP4 gets an edit list).
const X264: [&str; 6] = [
    "-c:v", "libx264", "-preset", "medium", "-pix_fmt", "yuv420p",
];

/// The files, as data: (file, what, how).
#[rustfmt::skip]
fn corpus() -> Vec<Source> {
    const SD: &str = "320x240";
    fn palette(size: &'static str, audio: bool, args: &'static [&'static str]) -> Make {
        Make::Palette { size, audio, args }
    }
    let files: Vec<(&'static str, &'static str, Make)> = vec![
        ("cf-h264-aac.mp4", "MP4: H.264 (x264 `medium`: B-frames, edit list) + AAC",
            palette(SD, true, &["-c:v", "libx264", "-preset", "medium", "-pix_fmt", "yuv420p", "-c:a", "aac"])),
        ("cf-hevc.mp4", "MP4: HEVC 8-bit (`hvc1`) + AAC",
            palette(SD, true, &["-c:v", "libx265", "-x265-params", "log-level=error", "-tag:v", "hvc1", "-pix_fmt", "yuv420p", "-c:a", "aac"])),
        ("cf-hevc10.mp4", "MP4: HEVC 10-bit",
            palette(SD, false, &["-c:v", "libx265", "-x265-params", "log-level=error", "-tag:v", "hvc1", "-pix_fmt", "yuv420p10le"])),
        ("cf-hdr10.mp4", "MP4: HEVC 10-bit HDR10 (PQ, BT.2020), as phones record",
            palette(SD, false, &["-vf", "format=gbrp,zscale=t=smpte2084:p=bt2020:m=bt2020nc:tin=bt709:pin=bt709:npl=203:r=tv,format=yuv420p10le",
                "-c:v", "libx265", "-x265-params", "log-level=error:colorprim=bt2020:colormatrix=bt2020nc:transfer=smpte2084",
                "-tag:v", "hvc1", "-color_primaries", "bt2020", "-color_trc", "smpte2084", "-colorspace", "bt2020nc"])),
        ("cf-hlg.mp4", "MP4: HEVC 10-bit HLG (BT.2020)",
            palette(SD, false, &["-vf", "format=gbrp,zscale=t=arib-std-b67:p=bt2020:m=bt2020nc:tin=bt709:pin=bt709:npl=203:r=tv,format=yuv420p10le",
                "-c:v", "libx265", "-x265-params", "log-level=error:colorprim=bt2020:colormatrix=bt2020nc:transfer=arib-std-b67",
                "-tag:v", "hvc1", "-color_primaries", "bt2020", "-color_trc", "arib-std-b67", "-colorspace", "bt2020nc"])),
        ("cf-av1.mp4", "MP4: AV1 + Opus",
            palette(SD, true, &["-c:v", "libaom-av1", "-cpu-used", "8", "-row-mt", "1", "-b:v", "200k", "-c:a", "libopus"])),
        ("cf-vp9-opus.webm", "WebM: VP9 + Opus",
            palette(SD, true, &["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "300k", "-c:a", "libopus"])),
        ("cf-live.webm", "WebM written live (MediaRecorder, `-live 1`): no Cues, no Duration",
            palette(SD, true, &["-c:v", "libvpx", "-deadline", "realtime", "-b:v", "300k", "-c:a", "libopus", "-f", "webm", "-live", "1"])),
        ("cf-fragmented.mp4", "Fragmented MP4 (empty `moov`, `moof` fragments)",
            palette(SD, true, &["-c:v", "libx264", "-preset", "medium", "-pix_fmt", "yuv420p", "-c:a", "aac", "-movflags", "frag_keyframe+empty_moov"])),
        ("cf-offset.ts", "MPEG-TS: H.264 + AAC, timestamps from 1.4 s",
            palette(SD, true, &["-c:v", "libx264", "-preset", "medium", "-pix_fmt", "yuv420p", "-c:a", "aac", "-f", "mpegts"])),
        ("cf-hls/index.m3u8", "HLS VOD playlist, MPEG-TS segments, relative URLs", Make::By(hls)),
        ("cf-hls/absolute.m3u8", "HLS VOD playlist, absolute segment URLs", Make::By(hls_absolute)),
        ("cf-tracks.mkv", "Matroska: H.264, two audio tracks, a SubRip track", Make::By(tracks)),
        ("cf-prores.mov", "MOV: ProRes 422 + PCM",
            palette(SD, true, &["-c:v", "prores_ks", "-c:a", "pcm_s16le"])),
        ("cf-mjpeg.avi", "AVI: Motion JPEG + PCM",
            palette(SD, true, &["-c:v", "mjpeg", "-q:v", "3", "-c:a", "pcm_s16le"])),
        ("cf-theora.ogv", "Ogg: Theora + Vorbis",
            palette(SD, true, &["-c:v", "libtheora", "-q:v", "7", "-c:a", "libvorbis"])),
        ("cf-animated.gif", "Animated GIF, 10 frames a second", palette(SD, false, &["-vf", "fps=10"])),
        ("cf-cover.mp3", "MP3 with an ID3 cover picture",
            Make::Cover(&["-c:a", "libmp3lame", "-c:v", "mjpeg", "-disposition:v", "attached_pic", "-id3v2_version", "3"])),
        ("cf-cover.m4a", "M4A (AAC) with a `covr` picture",
            Make::Cover(&["-c:a", "aac", "-c:v", "png", "-disposition:v", "attached_pic"])),
        ("cf-cover.flac", "FLAC with a picture block",
            Make::Cover(&["-c:a", "flac", "-c:v", "png", "-disposition:v", "attached_pic"])),
        ("cf-interlaced.mp4", "MP4: interlaced H.264 (top field first)",
            palette(SD, false, &["-c:v", "libx264", "-preset", "medium", "-pix_fmt", "yuv420p", "-flags", "+ildct+ilme", "-x264opts", "tff=1"])),
        ("cf-anamorphic.mp4", "MP4: 720x576 H.264 at 16:9 (non-square pixels)",
            palette("720x576", false, &["-c:v", "libx264", "-preset", "medium", "-pix_fmt", "yuv420p", "-aspect", "16:9"])),
        ("cf-rotated.mp4", "MP4: 322x182 H.264 tagged to turn 90°",
            palette("322x182", false, &["-c:v", "libx264", "-preset", "medium", "-pix_fmt", "yuv420p", "-metadata:s:v", "rotate=90"])),
        ("cf-rotated-180.mp4", "MP4: 322x182 H.264 tagged to turn 180°",
            palette("322x182", false, &["-c:v", "libx264", "-preset", "medium", "-pix_fmt", "yuv420p", "-metadata:s:v", "rotate=180"])),
        ("cf-rotated-270.mp4", "MP4: 322x182 H.264 tagged to turn 270°",
            palette("322x182", false, &["-c:v", "libx264", "-preset", "medium", "-pix_fmt", "yuv420p", "-metadata:s:v", "rotate=270"])),
        ("cf-yuv422.mp4", "MP4: H.264 4:2:2", palette(SD, false, &["-c:v", "libx264", "-pix_fmt", "yuv422p"])),
        ("cf-yuv444.mp4", "MP4: H.264 4:4:4", palette(SD, false, &["-c:v", "libx264", "-pix_fmt", "yuv444p"])),
    ];
    files
        .into_iter()
        .map(|(file, what, make)| Source {
            file,
            what,
            same_as: (file == "cf-hls/absolute.m3u8").then_some(hls as fn() -> PathBuf),
            still: matches!(make, Make::Cover(_)),
            make,
        })
        .collect()
}

/// An HLS VOD playlist of 2 s MPEG-TS segments, as ffmpeg's HLS muxer writes it.
fn hls() -> PathBuf {
    let dir = media_dir().join("cf-hls");
    std::fs::create_dir_all(&dir).unwrap();
    let segments = dir.join("segment%d.ts");
    let graph = graph("320x240");
    let tone = format!("sine=f=440:d={SECONDS}");
    ffmpeg::made_at(
        &dir.join("index.m3u8"),
        &[
            &["-f", "lavfi", "-i", &graph, "-f", "lavfi", "-i", &tone],
            &X264[..],
            &[
                "-c:a",
                "aac",
                "-g",
                "50",
                "-keyint_min",
                "50",
                "-sc_threshold",
                "0",
            ],
            &["-f", "hls", "-hls_time", "2", "-hls_playlist_type", "vod"],
            &["-hls_segment_filename", segments.to_str().unwrap()],
        ]
        .concat(),
    );
    dir.join("index.m3u8")
}

/// The playlist of [`hls`] with every segment named by its absolute URL on the origin.
fn hls_absolute() -> PathBuf {
    let relative = hls();
    let text = std::fs::read_to_string(&relative).unwrap();
    let base = format!("http://{}/cf-hls/", origin());
    let absolute: String = text
        .lines()
        .map(|line| match line.starts_with('#') || line.is_empty() {
            true => format!("{line}\n"),
            false => format!("{base}{line}\n"),
        })
        .collect();
    let path = relative.with_file_name("absolute.m3u8");
    std::fs::write(&path, absolute).unwrap();
    path
}

/// Matroska with two audio tracks and a SubRip track.
fn tracks() -> PathBuf {
    let subtitles = media_dir().join("cf-subtitles.srt");
    std::fs::write(
        &subtitles,
        "1\n00:00:00,500 --> 00:00:02,000\nOne\n\n2\n00:00:03,000 --> 00:00:05,000\nTwo\n",
    )
    .unwrap();
    let graph = graph("320x240");
    let (low, high) = (
        format!("sine=f=440:d={SECONDS}"),
        format!("sine=f=880:d={SECONDS}"),
    );
    ffmpeg::made(
        "cf-tracks.mkv",
        &[
            &["-f", "lavfi", "-i", &graph, "-f", "lavfi", "-i", &low][..],
            &[
                "-f",
                "lavfi",
                "-i",
                &high,
                "-i",
                subtitles.to_str().unwrap(),
            ],
            &["-map", "0", "-map", "1", "-map", "2", "-map", "3"],
            &X264[..],
            &["-c:a", "libvorbis", "-c:s", "srt"],
        ]
        .concat(),
    )
}

/// The endpoints every file goes through, as the table names them.
const ENDPOINTS: [&str; 5] = ["/thumb", "/storyboard", "/webm", "/preview", "/meta"];

/// Cells that are not supported, and why: each must answer a clear 4xx in bounded time.
const UNSUPPORTED: &[(&str, &str, &str)] = &[
    ("cf-cover.mp3", "/preview", "a cover is one picture"),
    ("cf-cover.m4a", "/preview", "a cover is one picture"),
    ("cf-cover.flac", "/preview", "a cover is one picture"),
];

/// `/meta` fields that differ from ffprobe's for a file, and why.
const META_DIFFERENCES: &[(&str, &str, &str)] = &[
    (
        "cf-fragmented.mp4",
        "format.duration",
        "is left out: the file does not state it (no `mehd`), and GStreamer knows only the fragments it has read; ffprobe reads them all",
    ),
    (
        "cf-offset.ts",
        "format.duration",
        "is tsdemux's, from the first and last timestamps of the stream it times by: 6.08 s where ffprobe says 6.02",
    ),
    (
        "cf-mjpeg.avi",
        "streams[0].color_space",
        "is left out: JPEG is BT.601 YCbCr by definition, and GStreamer's JPEG parser states no colorimetry",
    ),
    (
        "cf-cover.mp3",
        "streams[1].color_space",
        "is left out: JPEG is BT.601 YCbCr by definition, and GStreamer's JPEG parser states no colorimetry",
    ),
    (
        "cf-mjpeg.avi",
        "streams[0].pix_fmt",
        "is left out: GStreamer's JPEG parser does not tell the chroma subsampling of the frames",
    ),
];

/// How long any one request may take: a cell that is not supported answers well before this.
const BOUND: Duration = Duration::from_secs(20);

#[tokio::test]
async fn every_endpoint_on_every_file_of_the_corpus() {
    let service = Service::start();
    // `PYTHUMBIO_CORPUS=hls` runs the files whose name holds "hls" only (and checks no docs).
    let only = std::env::var("PYTHUMBIO_CORPUS").ok();
    let corpus: Vec<Source> = corpus()
        .into_iter()
        .filter(|s| only.as_ref().is_none_or(|o| s.file.contains(o.as_str())))
        .collect();
    let mut table = Vec::new();
    let mut wrong = Vec::new();
    for source in &corpus {
        let path = source.path();
        let reference = Reference::of(&source.same_as.map_or(path, |f| f()), source);
        let mut row = Vec::new();
        for endpoint in ENDPOINTS {
            let outcome = check(&service, source, &reference, endpoint).await;
            let unsupported = UNSUPPORTED
                .iter()
                .find(|(file, e, _)| *file == source.file && *e == endpoint);
            let cell = match (unsupported, outcome) {
                (None, Outcome::Right) => "yes".to_string(),
                (Some((_, _, why)), Outcome::Refused(answer)) => format!("no ({answer}): {why}"),
                (None, outcome) => {
                    wrong.push(format!("{} {endpoint}: {outcome}", source.file));
                    "WRONG".into()
                }
                (Some(_), outcome) => {
                    wrong.push(format!(
                        "{} {endpoint}: listed as not supported, but {outcome}",
                        source.file
                    ));
                    "WRONG".into()
                }
            };
            row.push(cell);
        }
        table.push((source, row));
    }
    let formats = formats_section(&table);
    println!("{formats}");
    assert!(
        wrong.is_empty(),
        "cells not as listed:\n{}",
        wrong.join("\n")
    );
    if only.is_none() {
        readme_says(&formats);
    }
    // A slim image keeps what `pythumbio plugins` lists: every plugin reading the corpus
    // loaded is in it.
    let listed = support::binary_output(&["plugins"], &[]);
    let listed: Vec<&str> = listed.lines().collect();
    let loaded = service.loaded_plugins();
    assert!(loaded.len() > 10, "{loaded:?}");
    let missing: Vec<&String> = loaded
        .iter()
        .filter(|p| !listed.contains(&p.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "loaded, not listed by `pythumbio plugins`: {missing:?}"
    );
    service.assert_nothing_left().await;
}

/// What a cell found.
#[derive(Debug)]
enum Outcome {
    /// The output is what ffmpeg and ffprobe say it should be.
    Right,
    /// A clear 4xx JSON error, in bounded time.
    Refused(String),
    /// Anything else: what was wrong.
    Wrong(String),
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Right => write!(f, "right"),
            Self::Refused(answer) => write!(f, "refused with {answer}"),
            Self::Wrong(why) => write!(f, "wrong: {why}"),
        }
    }
}

/// What ffmpeg and ffprobe say of a corpus file.
struct Reference {
    file: &'static str,
    path: PathBuf,
    probe: Value,
    /// Display width over height: pixel aspect and rotation applied.
    aspect: f64,
    still: bool,
    /// Video keyframe times from the first frame.
    keyframes: Vec<f64>,
    /// ffmpeg and ffprobe read a stand-in with the same media.
    stand_in: bool,
}

impl Reference {
    fn of(path: &Path, source: &Source) -> Self {
        let probe = support::ffmpeg::probe(path);
        let video = probe["streams"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["codec_type"] == "video")
            .cloned()
            .unwrap_or(Value::Null);
        let (w, h) = (
            video["width"].as_f64().unwrap_or(1.0),
            video["height"].as_f64().unwrap_or(1.0),
        );
        let sar = video["sample_aspect_ratio"]
            .as_str()
            .and_then(|r| r.split_once(':'))
            .and_then(|(a, b)| Some(a.parse::<f64>().ok()? / b.parse::<f64>().ok()?))
            .filter(|r| *r > 0.0)
            .unwrap_or(1.0);
        let turned = rotation(&video) % 180 != 0;
        let aspect = match turned {
            true => h / (w * sar),
            false => w * sar / h,
        };
        let start = probe["format"]["start_time"]
            .as_str()
            .and_then(|s| s.parse::<f64>().ok())
            .unwrap_or(0.0);
        Self {
            keyframes: keyframes(path, start),
            stand_in: source.same_as.is_some(),
            file: source.file,
            path: path.to_path_buf(),
            probe,
            aspect,
            still: source.still,
        }
    }

    /// The palette index and colour of ffmpeg's frame at `seconds`, at the picture's centre.
    fn colour_at(&self, seconds: f64) -> [u8; 3] {
        let at = if self.still { 0.0 } else { seconds };
        // HDR: the service tone-maps to SDR, so the reference is ffmpeg's SDR conversion.
        let transfer = self.probe["streams"]
            .as_array()
            .and_then(|s| s.iter().find(|s| s["codec_type"] == "video"))
            .and_then(|s| s["color_transfer"].as_str());
        let frame = match transfer {
            Some("smpte2084" | "arib-std-b67") => ffmpeg::sdr_frame_at(&self.path, at),
            _ => ffmpeg::frame_at(&self.path, at),
        };
        frame.get_pixel(frame.width() / 2, frame.height() / 2).0
    }
}

impl Reference {
    /// Whether a storyboard tile for `seconds` shows what docs/api.md promises: the keyframe at
    /// or before that time, the frame at the time (a source decoded forward), or (where the
    /// demuxer aligns the seek to an audio packet that starts just before it, as qtdemux does)
    /// the frame just before the time.
    fn tile_shows(&self, got: [u8; 3], seconds: f64) -> Result<(), String> {
        let keyframe = self
            .keyframes
            .iter()
            .copied()
            .filter(|k| *k <= seconds + 1e-3)
            .fold(0.0, f64::max);
        same_colour(got, self.colour_at(keyframe))
            .or_else(|_| same_colour(got, self.colour_at(seconds)))
            .or_else(|e| match seconds > 0.0 {
                true => same_colour(got, self.colour_at((seconds - 0.1).max(0.0))),
                false => Err(e),
            })
            .map_err(|e| format!("{e} (the keyframe before {seconds} s is at {keyframe} s)"))
    }
}

/// Times of the video keyframes of `path`, from its first frame, as ffprobe lists them.
fn keyframes(path: &Path, start: f64) -> Vec<f64> {
    let output = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-of", "csv=p=0"])
        .args(["-show_entries", "packet=pts_time,flags"])
        .arg(path)
        .output()
        .expect("ffprobe runs");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|l| l.contains(",K"))
        .filter_map(|l| l.split(',').next()?.parse::<f64>().ok())
        .map(|t| t - start)
        .collect()
}

/// Degrees a video stream's side data or tag turns it.
fn rotation(stream: &Value) -> i64 {
    let side = stream["side_data_list"]
        .as_array()
        .into_iter()
        .flatten()
        .find_map(|d| d["rotation"].as_i64());
    let tag = stream["tags"]["rotate"]
        .as_str()
        .and_then(|r| r.parse::<i64>().ok());
    side.or(tag).unwrap_or(0).rem_euclid(360)
}

/// Whether `got` shows the frame `want` is: the same palette colour, within what scaling, YUV
/// and compression change.
fn same_colour(got: [u8; 3], want: [u8; 3]) -> Result<(), String> {
    let (index, _) = nearest(want);
    let distance = (0..3).map(|k| got[k].abs_diff(want[k])).max().unwrap();
    match nearest(got).0 == index && distance <= 40 {
        true => Ok(()),
        false => Err(format!("colour {got:?}, ffmpeg's {want:?}")),
    }
}

/// Whether a picture of `width` x `height` has the display aspect `want`.
fn same_aspect(width: u32, height: u32, want: f64) -> Result<(), String> {
    let got = width as f64 / height as f64;
    match (got / want - 1.0).abs() < 0.03 {
        true => Ok(()),
        false => Err(format!("{width}x{height}, display aspect {want:.3}")),
    }
}

async fn check(
    service: &Service,
    source: &Source,
    reference: &Reference,
    endpoint: &str,
) -> Outcome {
    let url = format!("http://{}/{}", origin(), source.file);
    let requests: Vec<(&str, Vec<(&str, String)>)> = match endpoint {
        // Times late in a second as well as early: an HLS segment of 2 s sought to its start
        // shows a frame of the wrong second only past the first.
        "/thumb" => [0.5, 3.5, 5.5]
            .iter()
            .map(|t| ("/thumb.png", vec![("time", t.to_string())]))
            .collect(),
        "/storyboard" => vec![("/storyboard", vec![("interval", "2".into())])],
        "/webm" => vec![(
            "/webm",
            vec![("start", "2.2".into()), ("duration", "2".into())],
        )],
        "/preview" => vec![("/preview", vec![("interval", "2".into())])],
        "/meta" => vec![("/meta", vec![])],
        _ => unreachable!("one of ENDPOINTS"),
    };
    for (path, params) in requests {
        let mut query: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
        query.push(("url", &url));
        let began = Instant::now();
        let response = match tokio::time::timeout(BOUND, service.get(path, &query)).await {
            Ok(response) => response,
            Err(_) => return Outcome::Wrong(format!("{path} gave no answer in {BOUND:?}")),
        };
        let status = response.status().as_u16();
        let body = match tokio::time::timeout(BOUND, response.bytes()).await {
            Ok(Ok(body)) => body.to_vec(),
            _ => return Outcome::Wrong(format!("{path}: the body did not end in {BOUND:?}")),
        };
        if began.elapsed() > BOUND {
            return Outcome::Wrong(format!("{path} took {:?}", began.elapsed()));
        }
        if status != 200 {
            let json: Option<Value> = serde_json::from_slice(&body).ok();
            let code = json.as_ref().and_then(|j| j["code"].as_str()).unwrap_or("");
            return match (400..500).contains(&status) && !code.is_empty() {
                true => Outcome::Refused(format!("{status} {code}")),
                false => Outcome::Wrong(format!(
                    "{path}: {status} {}",
                    String::from_utf8_lossy(&body)
                )),
            };
        }
        let verdict = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            judge(path, &params, &body, reference)
        }))
        .unwrap_or_else(|panic| {
            let text = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            Err(format!("the output does not read back: {text}"))
        });
        if let Err(why) = verdict {
            return Outcome::Wrong(format!("{path} {params:?}: {why}"));
        }
    }
    Outcome::Right
}

/// Checks one 200 answer against the reference.
fn judge(path: &str, params: &[(&str, String)], body: &[u8], r: &Reference) -> Result<(), String> {
    let param = |name: &str| {
        params
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.parse::<f64>().unwrap())
    };
    match path {
        "/thumb.png" => {
            let image = Image::decode(body, image::ImageFormat::Png);
            same_aspect(image.width, image.height, r.aspect)?;
            same_colour(image.centre(), r.colour_at(param("time").unwrap()))
        }
        "/storyboard" => {
            let sheet = Image::decode(body, image::ImageFormat::Jpeg);
            // Tiles of the default width in one row, as many as the duration holds.
            let tile_width = 160;
            same_aspect(tile_width, sheet.height, r.aspect)?;
            for i in 0..SECONDS / 2 {
                let x = i as u32 * tile_width + tile_width / 2;
                let got = sheet.rgb.get_pixel(x, sheet.height / 2).0;
                r.tile_shows(got, 2.0 * i as f64)
                    .map_err(|e| format!("tile {i}: {e}"))?;
            }
            Ok(())
        }
        "/webm" => {
            let report = support::inspect(body, "webm");
            if r.still {
                // Audio with a cover: the stream is the audio, as ffmpeg's is without `-map`.
                return match report.codecs.as_slice() {
                    [audio] if audio.starts_with("audio/") => Ok(()),
                    other => Err(format!("streams {other:?}, not the audio alone")),
                };
            }
            same_aspect(report.width, report.height, r.aspect)?;
            let fps = report.framerate.0 as f64 / report.framerate.1.max(1) as f64;
            let frames = report.frames.len() as f64;
            let (start, duration) = (param("start").unwrap(), param("duration").unwrap());
            if (frames - duration * fps).abs() > 1.0 {
                return Err(format!("{frames} frames at {fps} fps for {duration} s"));
            }
            let (Some(first), Some(last)) = (report.frames.first(), report.frames.last()) else {
                return Err("no frame".into());
            };
            let (first, last) = (first.1, last.1);
            same_colour(first, r.colour_at(start)).map_err(|e| format!("first frame: {e}"))?;
            same_colour(last, r.colour_at(start + duration - 1.0 / fps))
                .map_err(|e| format!("last frame: {e}"))
        }
        "/preview" => {
            let report = support::inspect(body, "webm");
            same_aspect(report.width, report.height, r.aspect)?;
            // One frame every 2 s: at 0, 2 and 4 s, and the last frame where the source's
            // duration (its audio's, longer by a few ms) reaches the next 6 s, as ffmpeg's
            // `fps` filter rounds it.
            let want = SECONDS / 2;
            let frames = &report.frames;
            if frames.len() != want && frames.len() != want + 1 {
                return Err(format!("{} frames, not {want}", frames.len()));
            }
            // A slot counts from the first video frame where the video starts a little after
            // the audio (a fragmented MP4 without an edit list: 80 ms): within 0.1 s.
            for (i, (_, got)) in frames.iter().enumerate() {
                let at = (2.0 * i as f64).min(SECONDS as f64 - 0.1);
                same_colour(*got, r.colour_at(at))
                    .or_else(|_| same_colour(*got, r.colour_at(at + 0.1)))
                    .map_err(|e| format!("frame {i}: {e}"))?;
            }
            Ok(())
        }
        "/meta" => {
            let meta: Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
            let mut differences = meta_differences(&meta, &r.probe, r.file);
            if r.stand_in {
                // ffprobe read another file with the same media: its size is not this one's.
                differences.retain(|d| !d.starts_with("format.size"));
            }
            match differences.is_empty() {
                true => Ok(()),
                false => Err(differences.join("; ")),
            }
        }
        _ => unreachable!("a path of check()"),
    }
}

/// The fields docs/formats.md lists, where `/meta` says something else than ffprobe, other than
/// those [`META_DIFFERENCES`] lists for the file.
fn meta_differences(meta: &Value, probe: &Value, file: &str) -> Vec<String> {
    let excused = |field: &str| {
        META_DIFFERENCES
            .iter()
            .any(|(f, name, _)| *f == file && *name == field)
    };
    let mut out = Vec::new();
    let mut compare = |field: String, got: &Value, want: &Value| {
        let equal = match (got.as_str(), want.as_str()) {
            // Durations: within a frame of ffprobe's.
            (Some(g), Some(w)) if field.ends_with("duration") => {
                match (g.parse::<f64>(), w.parse::<f64>()) {
                    (Ok(g), Ok(w)) => (g - w).abs() <= 0.05,
                    _ => false,
                }
            }
            _ => got == want,
        };
        if !equal && !excused(&field) {
            out.push(format!("{field}: {got} (ffprobe: {want})"));
        }
    };
    for field in ["nb_streams", "format_name", "duration", "size"] {
        compare(
            format!("format.{field}"),
            &meta["format"][field],
            &probe["format"][field],
        );
    }
    let empty = Vec::new();
    let streams = probe["streams"].as_array().unwrap_or(&empty);
    for (i, want) in streams.iter().enumerate() {
        let got = &meta["streams"][i];
        let mut fields = vec!["codec_type", "codec_name"];
        match want["codec_type"].as_str() {
            Some("video") => fields.extend([
                "width",
                "height",
                "pix_fmt",
                "sample_aspect_ratio",
                "display_aspect_ratio",
                "r_frame_rate",
                "color_space",
                "color_transfer",
                "color_primaries",
            ]),
            Some("audio") => fields.extend(["sample_rate", "channels"]),
            _ => {}
        }
        for field in fields {
            compare(format!("streams[{i}].{field}"), &got[field], &want[field]);
        }
        compare(
            format!("streams[{i}].disposition.attached_pic"),
            &got["disposition"]["attached_pic"],
            &want["disposition"]["attached_pic"],
        );
    }
    out
}

/// The Formats section: the table, the cells not supported and the `/meta` differences.
fn formats_section(table: &[(&Source, Vec<String>)]) -> String {
    let mut out = String::from("| Source | ");
    out += &ENDPOINTS.join(" | ");
    out += " |\n| --- |";
    out += &" --- |".repeat(ENDPOINTS.len());
    out += "\n";
    for (source, row) in table {
        out += &format!("| {} | {} |\n", source.what, row.join(" | "));
    }
    if !META_DIFFERENCES.is_empty() {
        out += "\n`/meta` differs from ffprobe here:\n\n";
        for (file, field, why) in META_DIFFERENCES {
            let what = table
                .iter()
                .find(|(s, _)| s.file == *file)
                .map(|(s, _)| s.what)
                .unwrap_or(file);
            out += &format!("- {what}: `{field}` {why}\n");
        }
    }
    out
}

const BEGIN: &str = "<!-- formats: generated by tests/conformance.rs -->\n";
const END: &str = "<!-- formats: end -->\n";

/// Checks (or with `PYTHUMBIO_WRITE_FORMATS=1`, writes) docs/formats.md.
fn readme_says(formats: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/formats.md");
    let readme = std::fs::read_to_string(&path).unwrap();
    let (Some(begin), Some(end)) = (readme.find(BEGIN), readme.find(END)) else {
        panic!("docs/formats.md has no Formats section between {BEGIN:?} and {END:?}");
    };
    let now = &readme[begin + BEGIN.len()..end];
    if now == formats {
        return;
    }
    if std::env::var("PYTHUMBIO_WRITE_FORMATS").as_deref() == Ok("1") {
        let written = format!("{}{BEGIN}{formats}{}", &readme[..begin], &readme[end..]);
        std::fs::write(&path, written).unwrap();
        return;
    }
    panic!(
        "docs/formats.md is not what the corpus shows; \
         PYTHUMBIO_WRITE_FORMATS=1 cargo test --test conformance writes it:\n{formats}"
    );
}

/// `/webm` windows of an HLS playlist that start and end inside its 2 s segments: each has the
/// frames its duration holds, the audio too, and starts and ends on the colours of its times.
/// (A window ending inside a segment used to fail when the next segment's tags came after its
/// end.)
#[tokio::test]
async fn hls_windows_that_end_inside_a_segment() {
    let service = Service::start();
    let url = format!("http://{}/cf-hls/index.m3u8", origin());
    hls();
    for (start, duration) in [(0.0, 1.0), (0.5, 1.0), (1.0, 2.0), (3.0, 0.5)] {
        let (start_text, duration_text) = (start.to_string(), duration.to_string());
        let response = service
            .get(
                "/webm",
                &[
                    ("url", &url),
                    ("start", &start_text),
                    ("duration", &duration_text),
                ],
            )
            .await;
        let what = format!("start={start} duration={duration}");
        assert_eq!(
            response.status(),
            200,
            "{what}: {:?}",
            response.text().await
        );
        let report = support::inspect(&response.bytes().await.unwrap(), "webm");
        assert_eq!(report.codecs, ["video/x-vp8", "audio/x-opus"], "{what}");
        let frames = report.frames.len() as f64;
        assert!(
            (frames - duration * 25.0).abs() <= 1.0,
            "{what}: {frames} frames"
        );
        let colour_at = |t: f64| PALETTE[t.floor() as usize % PALETTE.len()];
        same_colour(report.frames[0].1, colour_at(start))
            .unwrap_or_else(|e| panic!("{what}: first: {e}"));
        let last = report.frames.last().unwrap().1;
        same_colour(last, colour_at(start + duration - 0.04))
            .unwrap_or_else(|e| panic!("{what}: last: {e}"));
    }
    service.assert_nothing_left().await;
}
