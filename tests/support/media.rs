//! Test media made with real GStreamer encoders. Every second of video is one solid colour from
//! `PALETTE`, so a test can tell from pixels which moment of the source a frame came from.
//! Files are cached under the target directory and made once per set of parameters.

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The colour of second N is `PALETTE[N % 10]` (RGB). Far apart, so scaling, YUV and JPEG keep
/// them distinguishable; entry 6 is the warm tone that shows a limited/full range mix-up.
pub const PALETTE: [[u8; 3]; 10] = [
    [200, 40, 40],
    [40, 200, 40],
    [40, 40, 200],
    [220, 220, 40],
    [40, 200, 200],
    [200, 40, 200],
    [250, 192, 137],
    [120, 120, 120],
    [240, 130, 20],
    [20, 20, 20],
];

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Video {
    H264,
    Vp9,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Audio {
    Aac,
    Opus,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Container {
    /// MP4 with the moov box at the start (`true`) or at the end (`false`).
    Mp4 {
        faststart: bool,
    },
    Webm,
    /// FLV (H.264 + AAC), as older cameras and streaming tools write it: no index to seek by.
    Flv,
}

/// What to make.
#[derive(Clone, Copy, Debug)]
pub struct Media {
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    pub frames: u32,
    pub video: Option<Video>,
    pub audio: Option<Audio>,
    pub container: Container,
    /// Frames from one keyframe to the next.
    pub keyint: u32,
    /// B-frames between reference frames (H.264; none are references themselves).
    pub bframes: u32,
    /// A rotation tag, in degrees clockwise, as phones write it (0: none).
    pub rotation: u32,
    /// Three vertical stripes instead of one colour: see `stripe_colour`.
    pub stripes: bool,
    /// Pseudo-random pixels instead of colours, so that the size of an encoding follows its
    /// bitrate.
    pub noise: bool,
}

/// The colour of column `x` of a frame in second `second`: the palette colour of the second, or
/// with stripes, that colour in the middle third, the colour 3 further on in the left third and
/// 6 further on in the right third.
pub fn stripe_colour(stripes: bool, second: usize, x: usize, width: usize) -> [u8; 3] {
    let offset = match (stripes, 3 * x / width) {
        (false, _) | (true, 1) => 0,
        (true, 0) => 3,
        _ => 6,
    };
    PALETTE[(second + offset) % PALETTE.len()]
}

impl Media {
    /// A minute of incompressible 320x180 video (H.264, no audio, a keyframe a second): a large
    /// file, and a large stream at a high bitrate.
    pub const fn noise_minute() -> Self {
        Self {
            width: 320,
            height: 180,
            frames: 1800,
            noise: true,
            audio: None,
            ..Self::mp4()
        }
    }

    /// 640x360, 30 fps, 10 s, H.264 + AAC in MP4 with moov first.
    pub const fn mp4() -> Self {
        Self {
            width: 640,
            height: 360,
            fps: 30,
            frames: 300,
            video: Some(Video::H264),
            audio: Some(Audio::Aac),
            container: Container::Mp4 { faststart: true },
            keyint: 30,
            bframes: 0,
            rotation: 0,
            stripes: false,
            noise: false,
        }
    }

    pub fn seconds(&self) -> f64 {
        self.frames as f64 / self.fps as f64
    }

    /// File name that encodes every parameter, so a changed spec makes a new file.
    pub fn file_name(&self) -> String {
        let ext = match self.container {
            Container::Mp4 { .. } => "mp4",
            Container::Webm => "webm",
            Container::Flv => "flv",
        };
        format!(
            "v5-{}x{}-{}fps-{}f-{:?}-{:?}-{:?}-k{}{}-r{}{}.{ext}",
            self.width,
            self.height,
            self.fps,
            self.frames,
            self.video,
            self.audio,
            self.container,
            self.keyint,
            match self.bframes {
                0 => String::new(),
                b => format!("-b{b}"),
            },
            self.rotation,
            if self.stripes {
                "-striped"
            } else if self.noise {
                "-noise"
            } else {
                ""
            }
        )
        .replace([' ', '{', '}', ':', '(', ')'], "")
    }

    /// The file, made if it is not there yet.
    pub fn path(&self) -> PathBuf {
        static MAKING: Mutex<()> = Mutex::new(());
        let dir = media_dir();
        let path = dir.join(self.file_name());
        let _one_at_a_time = MAKING.lock().unwrap_or_else(|e| e.into_inner());
        if !path.exists() {
            let partial = dir.join(format!(
                "{}.partial-{}",
                self.file_name(),
                std::process::id()
            ));
            self.encode(&partial);
            std::fs::rename(&partial, &path).unwrap();
        }
        path
    }

    fn encode(&self, out: &Path) {
        gst::init().unwrap();
        let mux = match self.container {
            Container::Mp4 { faststart } => format!("mp4mux name=mux faststart={faststart}"),
            Container::Webm => "webmmux name=mux".into(),
            Container::Flv => "flvmux name=mux".into(),
        };
        let mut description = format!("{mux} ! filesink location=\"{}\"", out.display());
        if let Some(video) = self.video {
            let k = self.keyint;
            let encoder = match video {
                Video::H264 => {
                    // Without b-pyramid no B-frame is a reference.
                    let b = self.bframes;
                    format!("x264enc speed-preset=ultrafast key-int-max={k} bframes={b} b-adapt=false b-pyramid=false ! h264parse")
                }
                Video::Vp9 => format!("vp9enc deadline=1 cpu-used=8 keyframe-max-dist={k}"),
            };
            description += &format!(
                " appsrc name=frames format=time ! video/x-raw,format=RGB,width={},height={},framerate={}/1 \
                 ! videoconvert ! video/x-raw,format=I420 ! {encoder} ! queue ! mux."
                , self.width, self.height, self.fps
            );
        }
        if let Some(audio) = self.audio {
            let encoder = match audio {
                Audio::Aac => "avenc_aac ! aacparse",
                Audio::Opus => "opusenc",
            };
            let buffers = (self.seconds() * 48000.0 / 960.0).ceil() as u32;
            description += &format!(
                " audiotestsrc num-buffers={buffers} samplesperbuffer=960 freq=440 \
                 ! audio/x-raw,rate=48000,channels=2 ! audioconvert ! {encoder} ! queue ! mux."
            );
        }
        let pipeline = gst::parse::launch(&description)
            .unwrap()
            .downcast::<gst::Pipeline>()
            .unwrap();
        if self.video.is_some() {
            let src = pipeline
                .by_name("frames")
                .unwrap()
                .downcast::<gst_app::AppSrc>()
                .unwrap();
            let (stripes, noise) = (self.stripes, self.noise);
            let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
            let (w, h, fps, frames) = (
                self.width as usize,
                self.height as usize,
                self.fps,
                self.frames,
            );
            let mut n = 0;
            src.set_callbacks(
                gst_app::AppSrcCallbacks::builder()
                    .need_data(move |src, _| {
                        if n == frames {
                            let _ = src.end_of_stream();
                            return;
                        }
                        let second = (n / fps) as usize;
                        // GStreamer's RGB rows start on 4-byte boundaries.
                        let stride = (w * 3).div_ceil(4) * 4;
                        let mut row: Vec<u8> = (0..w)
                            .flat_map(|x| stripe_colour(stripes, second, x, w))
                            .collect();
                        row.resize(stride, 0);
                        let mut pixels = row.repeat(h);
                        if noise {
                            for byte in pixels.iter_mut() {
                                seed ^= seed << 13;
                                seed ^= seed >> 7;
                                seed ^= seed << 17;
                                *byte = seed as u8;
                            }
                        }
                        let mut buffer = gst::Buffer::from_mut_slice(pixels);
                        let b = buffer.get_mut().unwrap();
                        b.set_pts(gst::ClockTime::SECOND.mul_div_floor(n as u64, fps as u64));
                        b.set_duration(gst::ClockTime::SECOND.mul_div_floor(1, fps as u64));
                        let _ = src.push_buffer(buffer);
                        n += 1;
                    })
                    .build(),
            );
        }
        run_to_end(&pipeline);
        if self.rotation != 0 {
            rotate_mp4(out, self.rotation);
        }
    }
}

/// Writes a rotation into an MP4's video track header as phones do: the display matrix of the
/// `tkhd` box (mp4mux in GStreamer 1.22 does not write the orientation tag).
fn rotate_mp4(path: &Path, degrees: u32) {
    let mut bytes = std::fs::read(path).unwrap();
    let at = bytes
        .windows(4)
        .position(|w| w == b"tkhd")
        .expect("a track header")
        - 4;
    assert_eq!(bytes[at + 8], 0, "a version 0 tkhd");
    let (cos, sin): (i32, i32) = match degrees {
        90 => (0, 1),
        180 => (-1, 0),
        270 => (0, -1),
        other => panic!("rotation {other}"),
    };
    // a b u / c d v / x y w, in 16.16 fixed point (w in 2.30).
    let matrix: [i32; 9] = [
        cos << 16,
        sin << 16,
        0,
        -sin << 16,
        cos << 16,
        0,
        0,
        0,
        1 << 30,
    ];
    let start = at + 48;
    for (i, v) in matrix.iter().enumerate() {
        bytes[start + 4 * i..start + 4 * i + 4].copy_from_slice(&v.to_be_bytes());
    }
    std::fs::write(path, bytes).unwrap();
}

/// Plays a pipeline until EOS, panicking on an error.
pub fn run_to_end(pipeline: &gst::Pipeline) {
    pipeline.set_state(gst::State::Playing).unwrap();
    let bus = pipeline.bus().unwrap();
    let msg = bus
        .timed_pop_filtered(
            gst::ClockTime::from_seconds(120),
            &[gst::MessageType::Eos, gst::MessageType::Error],
        )
        .expect("the pipeline ends");
    pipeline.set_state(gst::State::Null).unwrap();
    if let gst::MessageView::Error(e) = msg.view() {
        panic!("{}: {:?}", e.error(), e.debug());
    }
}

/// Where made media and other test files live: the origin serves this directory.
pub fn media_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("test-media");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The palette index whose colour is nearest to `rgb`, and the largest channel difference.
/// How far (largest channel difference) a decoded colour may be from its palette colour: under
/// half the distance between the two closest palette colours (80), so a colour names one
/// second or none.
pub const TOLERANCE: u8 = 40;

/// The palette colour `rgb` is, within [`TOLERANCE`]; a colour near none of them fails the test
/// (a range mix-up, a wrong frame blended, a grey frame).
pub fn palette_index(rgb: [u8; 3]) -> usize {
    let (index, distance) = nearest(rgb);
    assert!(
        distance <= TOLERANCE,
        "{rgb:?} is {distance} from the nearest palette colour {:?}",
        PALETTE[index]
    );
    index
}

pub fn nearest(rgb: [u8; 3]) -> (usize, u8) {
    PALETTE
        .iter()
        .enumerate()
        .map(|(i, c)| (i, (0..3).map(|k| c[k].abs_diff(rgb[k])).max().unwrap()))
        .min_by_key(|(_, d)| *d)
        .unwrap()
}
