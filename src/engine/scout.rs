//! `time=auto`: the frame with the most detail among a few keyframes, not a black, faded or flat
//! one. One paused pipeline (the still's `scout` description: small grey frames) is sought to
//! each candidate keyframe in turn, and each frame is scored; the still is then taken at the
//! keyframe that scored best.
//!
//! Candidates: the first frame and [`CANDIDATES`] keyframes spread evenly over the first third of
//! the video (the whole of a video up to [`SHORT`] long), each the keyframe at or before its
//! place. The score of a frame is `exposure x (entropy / 8 + min(1, 8 x edges))`: the entropy
//! (bits, 0 to 8) of its luma histogram is low for a flat or faded picture; `edges`, the mean
//! absolute difference between neighbouring pixels (0 to 1), is low for a blurred or empty
//! one; `exposure` is 1/4 for a frame whose mean luma is below 24 or above 232 (black or white).
//! Ties go to the earlier frame, so the same source always gives the same frame.

use super::error::PipelineError;
use super::launch::Launch;
use super::still::Prerolled;
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_video as gst_video;
use std::time::Instant;

/// Keyframes scored besides the first frame: each is a seek and a keyframe decoded at the
/// source's size, the scout's whole cost (10 cost 3.5x a plain thumbnail of a 720p file, over
/// the 3x budget; 6 spread over a third of a video still sample every scene of a trailer).
const CANDIDATES: u64 = 6;
/// Up to this long, candidates spread over the whole video; beyond it, over its first third.
const SHORT: gst::ClockTime = gst::ClockTime::from_seconds(30);

/// The media time, in seconds, of the keyframe with the most detail; None when the source
/// cannot be sought (the still then takes its default frame).
pub fn pick(launch: &Launch<'_>, deadline: Instant) -> Result<Option<f64>, PipelineError> {
    let paused = Prerolled::open(launch, deadline)?;
    let first = paused.sample()?;
    let origin = stream_time(&first).unwrap_or(gst::ClockTime::ZERO);
    let mut best = (score(&first)?, gst::ClockTime::ZERO);
    // A source that cannot seek (an origin without Range) would be read to each place from the
    // start: the still's default frame is taken instead.
    let mut seeking = gst::query::Seeking::new(gst::Format::Time);
    let seekable = !paused.pipeline().query(&mut seeking) || seeking.result().0;
    let (Some(duration), true) = (paused.duration(), seekable) else {
        return Ok(None);
    };
    let span = match duration > SHORT {
        true => duration / 3,
        false => duration,
    };
    let mut seen = vec![gst::ClockTime::ZERO];
    for i in 0..CANDIDATES {
        let at = span
            .mul_div_floor(2 * i + 1, 2 * CANDIDATES)
            .unwrap_or_default();
        let flags = gst::SeekFlags::KEY_UNIT | gst::SeekFlags::SNAP_BEFORE;
        if paused.seek(origin + at, flags).is_err() {
            // A source that cannot seek: the first frame alone is known.
            return Ok((best.1 > gst::ClockTime::ZERO).then(|| best.1.seconds_f64()));
        }
        let sample = paused.sample()?;
        let time = stream_time(&sample)
            .unwrap_or(origin)
            .saturating_sub(origin);
        if seen.contains(&time) {
            continue;
        }
        seen.push(time);
        let detail = score(&sample)?;
        if detail > best.0 {
            best = (detail, time);
        }
    }
    Ok(Some(best.1.seconds_f64()))
}

/// The stream time of a sample's frame.
fn stream_time(sample: &gst::Sample) -> Option<gst::ClockTime> {
    let pts = sample.buffer()?.pts()?;
    let segment = sample.segment()?.downcast_ref::<gst::ClockTime>()?;
    Some(segment.to_stream_time(pts).unwrap_or(pts))
}

/// The detail score of a grey (GRAY8) sample.
fn score(sample: &gst::Sample) -> Result<f64, PipelineError> {
    let frame = super::frame::RawFrame::of(sample, gst_video::VideoFormat::Gray8, 1)?;
    Ok(detail(
        frame.data.as_slice(),
        frame.width,
        frame.height,
        frame.stride,
    ))
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
