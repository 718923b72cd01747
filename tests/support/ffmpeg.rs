//! Test media written by ffmpeg (Debian's `ffmpeg`): other muxers' habits (TS start offsets,
//! edit lists, live WebM, HLS packaging) are where real-world bugs live, so not every file the
//! tests use may come from GStreamer.

use super::media::media_dir;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

/// `name` in the media directory, made by `ffmpeg -y <args> <path>` if it is not there yet. The
/// file is written under a temporary name first, so a failed run leaves nothing behind.
pub fn made(name: &str, args: &[&str]) -> PathBuf {
    let path = media_dir().join(name);
    made_at(&path, args);
    path
}

/// As [`made`], at any path.
pub fn made_at(path: &Path, args: &[&str]) {
    static MAKING: Mutex<()> = Mutex::new(());
    let _one_at_a_time = MAKING.lock().unwrap_or_else(|e| e.into_inner());
    if path.exists() {
        return;
    }
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("bin");
    let partial = path.with_extension(format!("partial.{ext}"));
    run(Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-y"])
        .args(args)
        .arg(&partial));
    std::fs::rename(&partial, path).unwrap();
}

/// Two seconds of H.264 in MPEG-TS, one colour a second (red, then green), as an HLS packager
/// writes segments.
pub fn ts_segment() -> PathBuf {
    made("ff-segment-2s.ts", &TS_ARGS)
}

/// The arguments that make [`ts_segment`].
pub const TS_ARGS: [&str; 12] = [
    "-f",
    "lavfi",
    "-i",
    "color=c=0xc82828:s=320x180:r=25:d=1[a];color=c=0x28c828:s=320x180:r=25:d=1[b];[a][b]concat=n=2:v=1:a=0",
    "-c:v",
    "libx264",
    "-g",
    "25",
    "-pix_fmt",
    "yuv420p",
    "-f",
    "mpegts",
];

/// The frame `ffmpeg -i FILE -ss SECONDS` gives (rotation tags applied, as ffmpeg and players
/// apply them), as RGB. Seeking on the output side decodes from the start and is exact; an
/// input-side `-ss` on MPEG-TS lands up to a GOP late.
pub fn frame_at(path: &Path, seconds: f64) -> image::RgbImage {
    frame_through(path, seconds, "null")
}

/// [`frame_at`] of an HDR (PQ or HLG) file, converted to SDR BT.709 by zscale with SDR white at
/// HDR reference white (203 nits), as the test media were made from SDR: the colours the file
/// was made of.
pub fn sdr_frame_at(path: &Path, seconds: f64) -> image::RgbImage {
    frame_through(path, seconds, "zscale=t=bt709:p=bt709:m=bt709:npl=203:r=tv")
}

fn frame_through(path: &Path, seconds: f64, filter: &str) -> image::RgbImage {
    let stdout = run(Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-i"])
        .arg(path)
        .args(["-ss", &seconds.to_string(), "-vf", filter])
        .args(["-frames:v", "1", "-f", "image2pipe", "-vcodec", "png", "-"]));
    image::load_from_memory_with_format(&stdout, image::ImageFormat::Png)
        .unwrap()
        .to_rgb8()
}

/// The `-f lavfi -i` graph of `seconds` seconds of `size` video at 25 fps, second N one solid
/// colour, `PALETTE[N % 10]`.
pub fn palette_graph(seconds: usize, size: &str) -> String {
    let mut graph = String::new();
    for (i, [r, g, b]) in (0..seconds).map(|i| (i, super::media::PALETTE[i % 10])) {
        graph += &format!("color=c=0x{r:02x}{g:02x}{b:02x}:s={size}:r=25:d=1[v{i}];");
    }
    for i in 0..seconds {
        graph += &format!("[v{i}]");
    }
    graph + &format!("concat=n={seconds}:v=1:a=0")
}

/// Six seconds of H.264 (x264's defaults: B-frames) in MPEG-TS as ffmpeg writes it: its
/// timestamps start at about 1.4 s, not 0.
pub fn offset_ts() -> PathBuf {
    let graph = palette_graph(6, "320x180");
    made(
        "ff-palette-6s.ts",
        &[
            "-f", "lavfi", "-i", &graph, "-c:v", "libx264", "-g", "25", "-pix_fmt", "yuv420p",
            "-f", "mpegts",
        ],
    )
}

/// What `ffprobe -show_format -show_streams` says of `path`, as JSON.
pub fn probe(path: &Path) -> serde_json::Value {
    let stdout = run(Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-of",
            "json",
            "-show_format",
            "-show_streams",
        ])
        .arg(path));
    serde_json::from_slice(&stdout).unwrap()
}

/// Each video frame of `path` as ffprobe reads it: how long it shows (seconds) and its size.
pub fn probe_frames(path: &Path) -> Vec<(f64, u32, u32)> {
    let stdout = run(Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-show_entries"])
        .args(["frame=pkt_duration_time,width,height", "-of", "json"])
        .arg(path));
    let json: serde_json::Value = serde_json::from_slice(&stdout).unwrap();
    json["frames"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let duration = f["pkt_duration_time"].as_str().unwrap().parse().unwrap();
            let size = |k: &str| f[k].as_u64().unwrap() as u32;
            (duration, size("width"), size("height"))
        })
        .collect()
}

/// Every video frame of `path`, decoded by ffmpeg, as RGB pictures `width` x `height`.
pub fn decoded_frames(path: &Path, width: u32, height: u32) -> Vec<image::RgbImage> {
    let stdout = run(Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-i"])
        .arg(path)
        .args(["-f", "rawvideo", "-pix_fmt", "rgb24", "-"]));
    let size = (width * height * 3) as usize;
    assert_eq!(stdout.len() % size, 0, "whole frames");
    stdout
        .chunks(size)
        .map(|raw| image::RgbImage::from_raw(width, height, raw.to_vec()).unwrap())
        .collect()
}

/// The mean Y, Cb and Cr (8-bit codes, as decoded: no conversion) of the 4:2:0 frame of `path`
/// at `seconds` (exact, as [`frame_at`] seeks).
pub fn planes_at(path: &Path, seconds: f64) -> [f64; 3] {
    let stdout = run(Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-i"])
        .arg(path)
        .args(["-ss", &seconds.to_string(), "-frames:v", "1"])
        .args(["-f", "rawvideo", "-pix_fmt", "yuv420p", "-"]));
    let luma = stdout.len() * 2 / 3;
    let (y, chroma) = stdout.split_at(luma);
    let (u, v) = chroma.split_at(chroma.len() / 2);
    let mean = |plane: &[u8]| plane.iter().map(|&b| f64::from(b)).sum::<f64>() / plane.len() as f64;
    [mean(y), mean(u), mean(v)]
}

/// Runs ffmpeg or ffprobe to its end and gives what it wrote to stdout; fails the test with its
/// stderr when it fails.
fn run(command: &mut Command) -> Vec<u8> {
    let output = command
        .output()
        .expect("ffmpeg and ffprobe run (the test command installs them)");
    assert!(
        output.status.success(),
        "{command:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}
