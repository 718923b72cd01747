//! Storyboards, as video players use them for scrub previews: frames sampled evenly over the
//! video, laid out as tiles of sprite sheets (at most `columns` x `rows` tiles each, so a long
//! video keeps its interval and gets more sheets), with the layout as WebVTT (`#xywh=`
//! fragments, each cue naming its sheet) or JSON. Each tile is a seek to the keyframe at or
//! before its time, so a video with keyframes is never decoded whole, and a sheet decodes only
//! its own tiles.

use super::cover::Cover;
use super::error::{Failure, PipelineError};
use super::guard::PipelineGuard;
use super::launch::{build, Launch};
use super::still::Prerolled;
use bytes::Bytes;
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// How to sample: one tile every `interval` seconds, at most `max_tiles` (then evenly spread
/// over the whole video instead), `columns` tiles a row, at most `rows` rows a sheet (more go
/// on further sheets); `sheet` is the sheet a sheet request asks for (from 0).
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    pub interval: f64,
    pub max_tiles: usize,
    pub columns: usize,
    pub rows: usize,
    pub sheet: usize,
}

/// The largest sheet the service assembles: it is one buffer in memory, 3 bytes a pixel, so its
/// size is checked before anything is allocated or sampled.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SheetLimits {
    pub width: u32,
    pub height: u32,
    pub bytes: u64,
}

impl Default for SheetLimits {
    /// 16383 is WebP's largest side, so every sheet format can encode any sheet allowed.
    fn default() -> Self {
        Self {
            width: 16383,
            height: 16383,
            bytes: 48 * 1024 * 1024,
        }
    }
}

impl SheetLimits {
    /// Refuses a layout whose sheet lies beyond the limits, naming the limit.
    pub fn check(&self, layout: &Layout) -> Result<(), PipelineError> {
        let (width, height) = layout.sheet_size();
        let bytes = stride(width) as u64 * height as u64;
        let over = if width > self.width {
            Some((
                "PYTHUMBIO_MAX_SHEET_WIDTH",
                format!("{} pixels", self.width),
            ))
        } else if height > self.height {
            Some((
                "PYTHUMBIO_MAX_SHEET_HEIGHT",
                format!("{} pixels", self.height),
            ))
        } else if bytes > self.bytes {
            Some((
                "PYTHUMBIO_MAX_SHEET_MB",
                format!("{} MB", self.bytes / (1024 * 1024)),
            ))
        } else {
            None
        };
        match over {
            None => Ok(()),
            Some((limit, value)) => Err(PipelineError::new(
                Failure::OutputTooLarge { limit },
                format!(
                    "the storyboard sheet would be {width}x{height}, beyond {limit} ({value}): \
                     ask for fewer tiles (max_tiles, interval), smaller ones (tile_width) or \
                     more columns"
                ),
            )),
        }
    }
}

/// One tile: the span of the video it stands for, its sheet and where it sits on it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tile {
    pub start: f64,
    pub end: f64,
    pub sheet: u32,
    pub x: u32,
    pub y: u32,
}

/// Where every tile sits, on which sheet.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    pub duration: f64,
    pub tile_width: u32,
    pub tile_height: u32,
    pub columns: u32,
    /// Rows of the first (fullest) sheet.
    pub rows: u32,
    pub sheets: u32,
    pub tiles: Vec<Tile>,
}

impl Layout {
    pub fn new(duration: f64, tile_width: u32, tile_height: u32, plan: Plan) -> Self {
        let wanted = (duration / plan.interval).ceil().max(1.0) as usize;
        let count = wanted.min(plan.max_tiles.max(1));
        let step = if wanted > count {
            duration / count as f64
        } else {
            plan.interval
        };
        let columns = plan.columns.clamp(1, count) as u32;
        let rows = plan.rows.clamp(1, u32::MAX as usize) as u32;
        let per_sheet = columns.saturating_mul(rows);
        let tiles = (0..count as u32)
            .map(|i| {
                let on_sheet = i % per_sheet;
                Tile {
                    start: i as f64 * step,
                    end: ((i + 1) as f64 * step).min(duration.max(step)),
                    sheet: i / per_sheet,
                    x: (on_sheet % columns) * tile_width,
                    y: (on_sheet / columns) * tile_height,
                }
            })
            .collect::<Vec<_>>();
        let first_sheet = (tiles.len() as u32).min(per_sheet);
        Self {
            duration,
            tile_width,
            tile_height,
            columns,
            rows: first_sheet.div_ceil(columns),
            sheets: (tiles.len() as u32).div_ceil(per_sheet),
            tiles,
        }
    }

    /// The size of the first sheet, the largest.
    pub fn sheet_size(&self) -> (u32, u32) {
        self.size_of(0)
    }

    /// The tiles of sheet `sheet`.
    fn tiles_of(&self, sheet: u32) -> impl Iterator<Item = &Tile> {
        self.tiles.iter().filter(move |t| t.sheet == sheet)
    }

    /// The size of sheet `sheet`: the last one may have fewer rows.
    pub fn size_of(&self, sheet: u32) -> (u32, u32) {
        let tiles = self.tiles_of(sheet).count() as u32;
        let rows = tiles.div_ceil(self.columns).min(self.rows);
        (self.columns * self.tile_width, rows * self.tile_height)
    }

    /// WebVTT whose cues point at their sheet (`sprite(n)` is sheet n's URL) with
    /// `#xywh=x,y,w,h` fragments.
    pub fn vtt(&self, sprite: &dyn Fn(u32) -> String) -> String {
        let mut out = String::from("WEBVTT\n");
        for tile in &self.tiles {
            out += &format!(
                "\n{} --> {}\n{}#xywh={},{},{},{}\n",
                vtt_time(tile.start),
                vtt_time(tile.end),
                sprite(tile.sheet),
                tile.x,
                tile.y,
                self.tile_width,
                self.tile_height
            );
        }
        out
    }

    /// The same layout as JSON: `url`, `width` and `height` are the first sheet's; `sheets`
    /// lists every sheet, and each tile names its own.
    pub fn json(&self, sprite: &dyn Fn(u32) -> String) -> Value {
        let (width, height) = self.sheet_size();
        let sheets: Vec<Value> = (0..self.sheets)
            .map(|n| {
                let (width, height) = self.size_of(n);
                json!({ "url": sprite(n), "width": width, "height": height })
            })
            .collect();
        json!({
            "url": sprite(0),
            "duration": self.duration,
            "width": width,
            "height": height,
            "tile_width": self.tile_width,
            "tile_height": self.tile_height,
            "columns": self.columns,
            "rows": self.rows,
            "sheets": sheets,
            "tiles": self.tiles.iter().map(|t| json!({
                "start": t.start, "end": t.end, "sheet": t.sheet, "x": t.x, "y": t.y,
                "width": self.tile_width, "height": self.tile_height,
            })).collect::<Vec<_>>(),
        })
    }
}

fn vtt_time(seconds: f64) -> String {
    let ms = (seconds * 1000.0).round() as u64;
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    )
}

/// An RGB frame as it came out of appsink, rows padded to 4 bytes.
struct Frame {
    width: u32,
    height: u32,
    data: gst::MappedBuffer<gst::buffer::Readable>,
    /// Its stream time in seconds.
    time: Option<f64>,
}

impl Frame {
    /// Whether the frame lies clearly after `seconds`: a keyframe seek should land at or before
    /// them, so the seek missed (a WebM without an index).
    fn after(&self, seconds: f64) -> bool {
        self.time.is_some_and(|t| t > seconds + 0.25)
    }
}

/// The keyframe at or before `seconds` (the prerolled frame when `seconds` is 0).
fn frame_at(paused: &Prerolled, seconds: f64) -> Result<Frame, PipelineError> {
    if seconds > 0.0 {
        let position = gst::ClockTime::from_nseconds((seconds * 1e9) as u64);
        paused.seek(
            position,
            gst::SeekFlags::KEY_UNIT | gst::SeekFlags::SNAP_BEFORE,
        )?;
    }
    frame_of(paused.sample()?)
}

/// An RGB sample as a tile.
fn frame_of(sample: gst::Sample) -> Result<Frame, PipelineError> {
    let caps = sample
        .caps()
        .and_then(|c| c.structure(0).map(|s| s.to_owned()));
    let size = caps.and_then(|s| Some((s.get::<i32>("width").ok()?, s.get::<i32>("height").ok()?)));
    let (width, height) =
        size.ok_or_else(|| PipelineError::new(Failure::Internal, "a tile without a size"))?;
    let time = stream_seconds(&sample);
    let data = sample
        .buffer_owned()
        .and_then(|b| b.into_mapped_buffer_readable().ok())
        .ok_or_else(|| PipelineError::new(Failure::Internal, "the tile cannot be read"))?;
    Ok(Frame {
        width: width as u32,
        height: height as u32,
        data,
        time,
    })
}

fn duration(paused: &Prerolled) -> f64 {
    paused.duration().map_or(0.0, |d| d.seconds_f64())
}

fn stride(width: u32) -> usize {
    (width as usize * 3).div_ceil(4) * 4
}

/// The layout alone: one preroll for the tile size and the duration, no seeks.
/// A layout whose sheet lies beyond `limits` is refused, as the sheet itself would be.
pub fn layout(
    tiles: &Launch<'_>,
    plan: Plan,
    limits: SheetLimits,
    timeout: Duration,
) -> Result<Layout, PipelineError> {
    let source = Source::open(tiles, Instant::now() + timeout)?;
    let first = frame_at(&source.paused, 0.0)?;
    let layout = Layout::new(source.duration, first.width, first.height, plan);
    limits.check(&layout)?;
    Ok(layout)
}

/// What the tiles come from: the video, paused; or, for audio without video, its cover picture,
/// which every tile shows.
struct Source {
    paused: Prerolled,
    duration: f64,
    /// Declared after `paused`: the cover's bytes outlive the pipeline that reads them.
    cover: Option<Cover>,
}

impl Source {
    fn open(tiles: &Launch<'_>, deadline: Instant) -> Result<Self, PipelineError> {
        match Prerolled::open(tiles, deadline) {
            Ok(paused) => Ok(Self {
                duration: duration(&paused),
                paused,
                cover: None,
            }),
            Err(e) if super::cover::wants_cover(&e) => {
                let cover = Cover::of(tiles, deadline).ok_or(e)?;
                let paused = Prerolled::open(&cover.launch(tiles), deadline)?;
                Ok(Self {
                    duration: cover.duration.map_or(0.0, |d| d.seconds_f64()),
                    paused,
                    cover: Some(cover),
                })
            }
            Err(e) => Err(e),
        }
    }
}

/// Samples the tiles of the plan's sheet, lays them out and encodes the sheet with `sheet` (a
/// description fed by `appsrc name=tiles` and ending in `appsink name=sink`). Tiles of other
/// sheets are not decoded.
pub fn render(
    tiles: &Launch<'_>,
    sheet: &str,
    plan: Plan,
    limits: SheetLimits,
    timeout: Duration,
) -> Result<Bytes, PipelineError> {
    let deadline = Instant::now() + timeout;
    let source = Source::open(tiles, deadline)?;
    let first = frame_at(&source.paused, 0.0)?;
    let layout = Layout::new(source.duration, first.width, first.height, plan);
    limits.check(&layout)?;
    let number = plan.sheet as u32;
    if number >= layout.sheets {
        return Err(PipelineError::new(
            Failure::NoSuchSheet {
                sheets: layout.sheets,
            },
            format!(
                "this storyboard has {} sheet(s), numbered from 0",
                layout.sheets
            ),
        ));
    }
    let on_sheet: Vec<Tile> = layout.tiles_of(number).copied().collect();
    let (width, height) = layout.size_of(number);
    let row_bytes = stride(width);
    let mut pixels = Vec::new();
    // Within the limits the allocation is bounded; should the system still refuse it, the
    // request fails instead of the process.
    pixels
        .try_reserve_exact(row_bytes * height as usize)
        .map_err(|_| PipelineError::new(Failure::Busy, "no memory for the storyboard sheet"))?;
    pixels.resize(row_bytes * height as usize, 0);
    let mut place = |frame: &Frame, tile: &Tile| {
        let (w, h) = (
            frame.width.min(layout.tile_width),
            frame.height.min(layout.tile_height),
        );
        for row in 0..h as usize {
            let from = row * stride(frame.width);
            let to = (tile.y as usize + row) * row_bytes + tile.x as usize * 3;
            pixels[to..to + w as usize * 3]
                .copy_from_slice(&frame.data[from..from + w as usize * 3]);
        }
    };
    let mut forward = !super::entry::seeks_exactly(source.paused.pipeline());
    // The first frame is the first tile of the first sheet; another sheet starts with a seek.
    let rest = match number {
        0 => {
            place(&first, &on_sheet[0]);
            &on_sheet[1..]
        }
        _ => &on_sheet[..],
    };
    for tile in rest {
        match (&source.cover, forward) {
            (Some(_), _) => place(&first, tile),
            (None, false) => match frame_at(&source.paused, tile.start) {
                Ok(frame) if frame.after(tile.start) => forward = true,
                Ok(frame) => place(&frame, tile),
                Err(e) if cannot_seek(&e) => forward = true,
                Err(e) => return Err(e),
            },
            (None, true) => {}
        }
    }
    drop(first);
    drop(source);
    // A source whose seeks land nowhere or only near the time (a GIF, an origin without Range,
    // MPEG-TS): its frames in one pass from the start.
    if forward {
        let times: Vec<f64> = on_sheet.iter().map(|t| t.start).collect();
        for (frame, tile) in frames_forward(tiles, &times, deadline)?
            .iter()
            .zip(&on_sheet)
        {
            place(frame, tile);
        }
    }
    tracing::debug!(
        sheet = number,
        tiles = on_sheet.len(),
        of = layout.tiles.len(),
        "sampled the tiles of one sheet"
    );
    encode(sheet, pixels, width, height, deadline, tiles.pipelines)
}

/// Whether a tile's seek failed for want of a seekable source rather than of media.
fn cannot_seek(error: &PipelineError) -> bool {
    matches!(
        error.failure,
        Failure::OriginCannotSeek | Failure::NoFrame | Failure::NoUsableStream
    )
}

/// The frames showing at `times` (ascending), decoded in one pass from the start: for each time,
/// the last frame that starts at or before it.
fn frames_forward(
    tiles: &Launch<'_>,
    times: &[f64],
    deadline: Instant,
) -> Result<Vec<Frame>, PipelineError> {
    let reads = crate::source::Deadline::at(deadline);
    let built = build(&Launch {
        deadline: Some(&reads),
        still: None,
        ..*tiles
    })?;
    built.sink.set_sync(false);
    let guard = PipelineGuard::new(built.pipeline, &built.pipelines);
    guard.change_state(gst::State::Playing)?;
    let bus = guard.pipeline().bus().expect("a pipeline has a bus");
    let mut frames: Vec<Frame> = Vec::with_capacity(times.len());
    let mut latest: Option<gst::Sample> = None;
    while frames.len() < times.len() {
        if let Some(msg) = bus.pop_filtered(&[gst::MessageType::Error]) {
            if let gst::MessageView::Error(err) = msg.view() {
                return Err(PipelineError::from_message(err));
            }
        }
        if Instant::now() >= deadline {
            return Err(PipelineError::new(
                Failure::Timeout,
                "the storyboard was not done in time",
            ));
        }
        let sample = built
            .sink
            .try_pull_sample(gst::ClockTime::from_mseconds(100));
        let ended = sample.is_none() && built.sink.is_eos();
        let time = sample.as_ref().and_then(stream_seconds);
        // Every time before this frame's is shown by the frame before it (or this one, first).
        while let Some(&want) = times.get(frames.len()) {
            let passed = time.is_some_and(|t| t > want + 1e-3);
            if !(passed || ended) {
                break;
            }
            let showing = match (passed, &latest, &sample) {
                (true, Some(before), _) => before.clone(),
                (_, _, Some(this)) => this.clone(),
                (_, Some(before), None) => before.clone(),
                (_, None, None) => {
                    return Err(PipelineError::new(
                        Failure::NoFrame,
                        "the source gave no frame",
                    ))
                }
            };
            frames.push(frame_of(showing)?);
        }
        if sample.is_some() {
            latest = sample;
        }
    }
    Ok(frames)
}

/// A sample's stream time in seconds.
fn stream_seconds(sample: &gst::Sample) -> Option<f64> {
    let pts = sample.buffer()?.pts()?;
    let segment = sample.segment()?.downcast_ref::<gst::ClockTime>()?.clone();
    Some(segment.to_stream_time(pts).unwrap_or(pts).seconds_f64())
}

/// Encodes one RGB picture with the sheet description.
fn encode(
    sheet: &str,
    pixels: Vec<u8>,
    width: u32,
    height: u32,
    deadline: Instant,
    pipelines: Option<&std::sync::Arc<super::guard::Pipelines>>,
) -> Result<Bytes, PipelineError> {
    let built = build(&Launch {
        pipelines,
        ..Launch::new(sheet, &[])
    })?;
    let src = built
        .pipeline
        .by_name("tiles")
        .and_then(|e| e.downcast::<gst_app::AppSrc>().ok())
        .ok_or_else(|| {
            PipelineError::new(
                Failure::Internal,
                "the sheet needs an appsrc named \"tiles\"",
            )
        })?;
    let caps = gst::Caps::builder("video/x-raw")
        .field("format", "RGB")
        .field("width", width as i32)
        .field("height", height as i32)
        .field("framerate", gst::Fraction::new(1, 1))
        .build();
    src.set_caps(Some(&caps));
    src.set_format(gst::Format::Time);
    let guard = PipelineGuard::new(built.pipeline, &built.pipelines);
    guard
        .pipeline()
        .set_state(gst::State::Playing)
        .map_err(|_| PipelineError::new(Failure::Internal, "the sheet encoder refused to start"))?;
    let mut buffer = gst::Buffer::from_mut_slice(pixels);
    buffer
        .get_mut()
        .expect("a new buffer is writable")
        .set_pts(gst::ClockTime::ZERO);
    let pushed = src.push_buffer(buffer).and_then(|_| src.end_of_stream());
    let left = deadline.saturating_duration_since(Instant::now());
    let sample = built
        .sink
        .try_pull_sample(gst::ClockTime::from_nseconds(left.as_nanos() as u64));
    match (pushed, sample) {
        (Ok(_), Some(sample)) => super::sample_bytes(sample),
        _ => Err(PipelineError::new(
            Failure::Internal,
            "the sheet encoder gave nothing",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAN: Plan = Plan {
        interval: 10.0,
        max_tiles: 100,
        columns: 10,
        rows: usize::MAX,
        sheet: 0,
    };

    #[test]
    fn tiles_every_interval_in_rows() {
        let layout = Layout::new(35.0, 160, 90, PLAN);
        assert_eq!(layout.tiles.len(), 4);
        assert_eq!(
            (layout.columns, layout.rows, layout.sheet_size()),
            (4, 1, (640, 90))
        );
        assert_eq!(
            layout.tiles[3],
            Tile {
                start: 30.0,
                end: 35.0,
                sheet: 0,
                x: 480,
                y: 0
            }
        );
        let layout = Layout::new(125.0, 160, 90, PLAN);
        assert_eq!(
            (layout.tiles.len(), layout.columns, layout.rows),
            (13, 10, 2)
        );
        assert_eq!(
            layout.tiles[12],
            Tile {
                start: 120.0,
                end: 125.0,
                sheet: 0,
                x: 320,
                y: 90
            }
        );
    }

    #[test]
    fn too_many_tiles_spread_evenly() {
        let layout = Layout::new(3000.0, 160, 90, PLAN);
        assert_eq!(layout.tiles.len(), 100);
        assert_eq!(layout.tiles[1].start, 30.0);
        assert_eq!(layout.tiles[99].end, 3000.0);
        assert_eq!(layout.sheet_size(), (1600, 900));
    }

    #[test]
    fn short_or_unknown_durations_give_one_tile() {
        for duration in [0.0, 4.0] {
            let layout = Layout::new(duration, 160, 90, PLAN);
            assert_eq!(layout.tiles.len(), 1, "{duration}");
            assert_eq!(layout.tiles[0].start, 0.0);
        }
    }

    #[test]
    fn vtt_cues() {
        let vtt = Layout::new(15.0, 160, 90, PLAN).vtt(&|_| "http://h/storyboard.jpg?url=x".into());
        assert_eq!(
            vtt,
            "WEBVTT\n\n00:00:00.000 --> 00:00:10.000\nhttp://h/storyboard.jpg?url=x#xywh=0,0,160,90\n\
             \n00:00:10.000 --> 00:00:15.000\nhttp://h/storyboard.jpg?url=x#xywh=160,0,160,90\n"
        );
        assert_eq!(vtt_time(3723.5), "01:02:03.500");
    }

    #[test]
    fn rows_split_tiles_into_sheets() {
        let plan = Plan { rows: 2, ..PLAN };
        // 45 tiles, 20 a sheet: sheets of 20, 20 and 5 (one row of 5 in 10 columns).
        let layout = Layout::new(450.0, 16, 9, plan);
        assert_eq!((layout.sheets, layout.rows), (3, 2));
        assert_eq!(layout.size_of(0), (160, 18));
        assert_eq!(layout.size_of(2), (160, 9));
        let tile = layout.tiles[41];
        assert_eq!((tile.sheet, tile.x, tile.y, tile.start), (2, 16, 0, 410.0));
        let vtt = layout.vtt(&|n| format!("s{n}"));
        assert!(vtt.contains("s2#xywh=16,0,16,9"), "{vtt}");
    }
}
