//! `time=auto`: the frame with the most detail among a few keyframes, not a black, faded or flat
//! one. The still's own pipeline is paused at the first frame and sought to each candidate
//! keyframe in turn; every frame is scored on its way to the encoder, every candidate is
//! encoded, and the encoded frame that scored best is the answer: one pipeline, no second
//! start.
//!
//! Candidates: the first frame and [`CANDIDATES`] keyframes spread evenly over the first third of
//! the video (the whole of a video up to [`SHORT`] long), each the keyframe at or before its
//! place. A frame is scored where it leaves the description's last raw-video caps filter before
//! the sink (the `{rgb}` part in the built-in files), as a grey picture box-averaged by a whole
//! factor to at most [`GRID`] pixels a side, so that the same video scores alike at any output
//! size. The score is `exposure x (entropy / 8 + min(1, 8 x edges))`: the entropy (bits, 0 to 8)
//! of its luma histogram is low for a flat or faded picture; `edges`, the mean absolute
//! difference between neighbouring pixels (0 to 1), is low for a blurred or empty one;
//! `exposure` is 1/4 for a frame whose mean luma is below 24 or above 232 (black or white).
//! Ties go to the earlier frame, so the same source always gives the same frame.

use super::error::PipelineError;
use super::launch::Launch;
use super::still::Prerolled;
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use gstreamer_video as gst_video;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Keyframes scored besides the first frame: each is a seek, a keyframe decoded at the source's
/// size and encoded at the output's (6 spread over a third of a video sample every scene of a
/// trailer).
const CANDIDATES: u64 = 6;
/// Up to this long, candidates spread over the whole video; beyond it, over its first third.
const SHORT: gst::ClockTime = gst::ClockTime::from_seconds(30);
/// The largest side of the grey picture a frame is scored on.
const GRID: usize = 160;
/// Scores kept by timestamp: the frames that may pass the filter while one waits in the sink.
const KEPT: usize = 8;

/// The encoded frame, as the sink gave it, of the keyframe with the most detail; None when the
/// source cannot be sought or the description has no raw-video caps filter to score at (the
/// still then takes its default frame).
pub fn pick(launch: &Launch<'_>, deadline: Instant) -> Result<Option<gst::Sample>, PipelineError> {
    let scores = Scores::default();
    let mut watched = false;
    let paused = Prerolled::open_with(launch, deadline, |sink| {
        watched = scores.watch(sink);
    })?;
    if !watched {
        tracing::debug!("time=auto: no raw-video caps filter before the sink to score at");
        return Ok(None);
    }
    let first = paused.sample()?;
    let origin = stream_time(&first).unwrap_or(gst::ClockTime::ZERO);
    // A source that cannot seek (an origin without Range) would be read to each place from the
    // start: the still's default frame is taken instead.
    let mut seeking = gst::query::Seeking::new(gst::Format::Time);
    let seekable = !paused.pipeline().query(&mut seeking) || seeking.result().0;
    let (Some(duration), true) = (paused.duration(), seekable) else {
        return Ok(None);
    };
    let Some(detail) = scores.of(&first) else {
        tracing::debug!("time=auto: the first frame was not scored");
        return Ok(None);
    };
    let span = match duration > SHORT {
        true => duration / 3,
        false => duration,
    };
    let mut best = (detail, first);
    let mut seen = vec![gst::ClockTime::ZERO];
    for i in 0..CANDIDATES {
        let at = span
            .mul_div_floor(2 * i + 1, 2 * CANDIDATES)
            .unwrap_or_default();
        let flags = gst::SeekFlags::KEY_UNIT | gst::SeekFlags::SNAP_BEFORE;
        if paused.seek(origin + at, flags).is_err() {
            // A source that cannot seek after all: the frames seen so far are all there is.
            break;
        }
        let sample = paused.sample()?;
        let time = stream_time(&sample)
            .unwrap_or(origin)
            .saturating_sub(origin);
        if seen.contains(&time) {
            continue;
        }
        seen.push(time);
        match scores.of(&sample) {
            Some(detail) if detail > best.0 => best = (detail, sample),
            _ => {}
        }
    }
    Ok(Some(best.1))
}

/// A frame's timestamp and score.
type Scored = (Option<gst::ClockTime>, f64);

/// The scores of the frames that passed the scored caps filter, by timestamp.
#[derive(Default, Clone)]
struct Scores(Arc<Mutex<Vec<Scored>>>);

impl Scores {
    /// Scores every frame leaving the last raw-video caps filter upstream of `sink`; false when
    /// there is none.
    fn watch(&self, sink: &gst_app::AppSink) -> bool {
        let Some(filter) = raw_filter(sink.upcast_ref()) else {
            return false;
        };
        let Some(pad) = filter.static_pad("src") else {
            return false;
        };
        let scores = self.clone();
        pad.add_probe(gst::PadProbeType::BUFFER, move |pad, info| {
            if let (Some(buffer), Some(caps)) = (info.buffer(), pad.current_caps()) {
                let detail = gst_video::VideoInfo::from_caps(&caps)
                    .ok()
                    .and_then(|info| grey(buffer, &info))
                    .map(|g| detail(&g.luma, g.width, g.height, g.width));
                if let Some(detail) = detail {
                    let mut kept = scores.0.lock().unwrap_or_else(|e| e.into_inner());
                    if kept.len() == KEPT {
                        kept.remove(0);
                    }
                    kept.push((buffer.pts(), detail));
                }
            }
            gst::PadProbeReturn::Ok
        });
        true
    }

    /// The score of the frame behind an encoded sample (the encoders keep its timestamp).
    fn of(&self, sample: &gst::Sample) -> Option<f64> {
        let pts = sample.buffer()?.pts();
        let kept = self.0.lock().unwrap_or_else(|e| e.into_inner());
        kept.iter().rev().find(|(t, _)| *t == pts).map(|(_, d)| *d)
    }
}

/// The nearest capsfilter upstream of `element` whose caps are raw video, following elements
/// with one input.
fn raw_filter(element: &gst::Element) -> Option<gst::Element> {
    let mut at = element.clone();
    for _ in 0..16 {
        let inputs = at.sink_pads();
        let [input] = inputs.as_slice() else {
            return None;
        };
        at = input.peer()?.parent_element()?;
        let is_filter = at.factory().is_some_and(|f| f.name() == "capsfilter");
        if is_filter {
            let caps = at.property::<Option<gst::Caps>>("caps");
            let raw = caps
                .as_ref()
                .and_then(|c| c.structure(0))
                .is_some_and(|s| s.name() == "video/x-raw");
            if raw {
                return Some(at);
            }
        }
    }
    None
}

/// A grey picture, row after row.
struct Grey {
    luma: Vec<u8>,
    width: usize,
    height: usize,
}

/// The frame as grey, box-averaged by the smallest whole factor that brings it within
/// [`GRID`]: luma of a YUV or grey frame, BT.709 weights of an RGB one; None for a format with
/// more than 8 bits a component or with RGB spread over planes.
fn grey(buffer: &gst::BufferRef, info: &gst_video::VideoInfo) -> Option<Grey> {
    let format = info.format_info();
    if format.depth().first() != Some(&8) {
        return None;
    }
    let frame = gst_video::VideoFrameRef::from_buffer_ref_readable(buffer, info).ok()?;
    let (w, h) = (info.width() as usize, info.height() as usize);
    let stride = info.stride()[0] as usize;
    let step = format.pixel_stride();
    let offset = format.poffset();
    let data = frame.plane_data(0).ok()?;
    let weights: &[(usize, u32)] = if format.is_rgb() {
        if format.plane()[..3].iter().any(|&p| p != 0) {
            return None;
        }
        &[(0, 2126), (1, 7152), (2, 722)]
    } else {
        &[(0, 10000)]
    };
    let at = |x: usize, y: usize| -> u32 {
        let row = y * stride;
        let sum: u32 = weights
            .iter()
            .map(|&(c, w)| {
                let i = row + x * step[c] as usize + offset[c] as usize;
                w * data.get(i).copied().unwrap_or(0) as u32
            })
            .sum();
        sum / 10000
    };
    let factor = w.max(h).div_ceil(GRID).max(1);
    let (gw, gh) = ((w / factor).max(1), (h / factor).max(1));
    let mut luma = Vec::with_capacity(gw * gh);
    for gy in 0..gh {
        for gx in 0..gw {
            let mut sum = 0u32;
            let mut n = 0u32;
            for y in gy * factor..((gy + 1) * factor).min(h) {
                for x in gx * factor..((gx + 1) * factor).min(w) {
                    sum += at(x, y);
                    n += 1;
                }
            }
            luma.push((sum / n.max(1)) as u8);
        }
    }
    Some(Grey {
        luma,
        width: gw,
        height: gh,
    })
}

/// The stream time of a sample's frame.
fn stream_time(sample: &gst::Sample) -> Option<gst::ClockTime> {
    let pts = sample.buffer()?.pts()?;
    let segment = sample.segment()?.downcast_ref::<gst::ClockTime>()?;
    Some(segment.to_stream_time(pts).unwrap_or(pts))
}

/// `exposure x (entropy / 8 + min(1, 8 x edges))` of a grey picture (see the module's doc).
fn detail(luma: &[u8], width: usize, height: usize, stride: usize) -> f64 {
    let mut histogram = [0u64; 256];
    let (mut sum, mut edges, mut pairs) = (0u64, 0u64, 0u64);
    for y in 0..height {
        let row = &luma[y * stride..y * stride + width];
        for (x, &v) in row.iter().enumerate() {
            histogram[v as usize] += 1;
            sum += v as u64;
            if x + 1 < width {
                edges += v.abs_diff(row[x + 1]) as u64;
                pairs += 1;
            }
            if y + 1 < height {
                edges += v.abs_diff(luma[(y + 1) * stride + x]) as u64;
                pairs += 1;
            }
        }
    }
    let n = (width * height) as f64;
    let entropy: f64 = histogram
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / n;
            -p * p.log2()
        })
        .sum();
    let mean = sum as f64 / n;
    let edges = match pairs {
        0 => 0.0,
        _ => edges as f64 / pairs as f64 / 255.0,
    };
    let exposure = if (24.0..=232.0).contains(&mean) {
        1.0
    } else {
        0.25
    };
    exposure * (entropy / 8.0 + (8.0 * edges).min(1.0))
}

#[cfg(test)]
mod tests {
    use super::detail;

    /// A 64x64 picture of `f(x, y)`.
    fn picture(f: impl Fn(usize, usize) -> u8) -> Vec<u8> {
        (0..64 * 64).map(|i| f(i % 64, i / 64)).collect()
    }

    #[test]
    fn detail_beats_flat_black_and_faded() {
        let checks = |x: usize, y: usize| {
            if (x / 4 + y / 4).is_multiple_of(2) {
                40
            } else {
                200
            }
        };
        let ramp = |x: usize, y: usize| ((x * 3 + y) % 256) as u8;
        let detailed = detail(
            &picture(|x, y| checks(x, y) / 2 + ramp(x, y) / 2),
            64,
            64,
            64,
        );
        let faded = detail(
            &picture(|x, y| (checks(x, y) / 2 + ramp(x, y) / 2) / 5),
            64,
            64,
            64,
        );
        let flat = detail(&picture(|_, _| 128), 64, 64, 64);
        let black = detail(&picture(|_, _| 2), 64, 64, 64);
        assert!(
            detailed > faded && faded > flat,
            "{detailed} {faded} {flat}"
        );
        assert!(flat >= black);
        assert_eq!(flat, 0.0);
    }
}
