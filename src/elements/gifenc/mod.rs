//! `pythumbiogifenc`: RGB frames in, an animated GIF out that loops forever, written as it goes
//! (each frame's bytes leave with that frame, the trailer at EOS), so a GIF preview streams like a
//! WebM one and is never held whole in memory.
//!
//! Each frame has its own 256-colour palette (NeuQuant, trained on that frame), so a preview
//! whose scenes change keeps every scene's colours; with `dither` (the default) the frame is
//! mapped to it with Floyd-Steinberg error diffusion, which turns banding in gradients into
//! fine noise, as ffmpeg's `paletteuse` does. Frame delays follow the timestamps in hundredths
//! of a second (GIF's unit), the rounding carried over so that the total stays true; no delay is
//! below 2/100 s, which browsers would stretch to 1/10 s.
//!
//! Built as gst-plugins-rs builds its elements: the wrapper type and its registration here, the
//! implementation in `imp`.

mod imp;

use gstreamer as gst;
use gstreamer::glib;
use gstreamer::prelude::*;
use gstreamer_video as gst_video;

glib::wrapper! {
    pub struct GifEnc(ObjectSubclass<imp::GifEnc>)
        @extends gst_video::VideoEncoder, gst::Element, gst::Object;
}

/// Registers the element, in `plugin` or (None) in the process only.
pub fn register(plugin: Option<&gst::Plugin>) -> Result<(), glib::BoolError> {
    gst::Element::register(
        plugin,
        "pythumbiogifenc",
        gst::Rank::NONE,
        GifEnc::static_type(),
    )
}

/// The shortest delay written, in hundredths of a second: browsers show shorter ones as 10.
const SHORTEST_DELAY: u64 = 2;

/// A frame as GIF stores it: one palette index a pixel, and the palette (RGB, 3 bytes a colour).
struct Indexed {
    pixels: Vec<u8>,
    palette: Vec<u8>,
}

/// Quantises an RGB picture (`stride` bytes a row) to its own palette of at most 256 colours,
/// with Floyd-Steinberg dithering or (without) the nearest colour for each pixel.
fn indexed(rgb: &[u8], width: usize, height: usize, stride: usize, dither: bool) -> Indexed {
    let mut rgba = Vec::with_capacity(width * height * 4);
    for row in 0..height {
        for px in rgb[row * stride..row * stride + width * 3].chunks_exact(3) {
            rgba.extend_from_slice(&[px[0], px[1], px[2], 255]);
        }
    }
    // Sampling factor 10: every tenth pixel trains the network (NeuQuant's usual trade-off).
    let quant = color_quant::NeuQuant::new(10, 256, &rgba);
    let palette = quant.color_map_rgb();
    let colour = |i: usize| [palette[3 * i], palette[3 * i + 1], palette[3 * i + 2]];
    let mut pixels = Vec::with_capacity(width * height);
    if !dither {
        pixels.extend(rgba.chunks_exact(4).map(|px| quant.index_of(px) as u8));
        return Indexed { pixels, palette };
    }
    // Errors carried to this row and the next, in 1/16 of a level, per channel; one pixel of
    // margin each side.
    let mut this = vec![[0i32; 3]; width + 2];
    let mut next = vec![[0i32; 3]; width + 2];
    for row in 0..height {
        for x in 0..width {
            let px = &rgba[(row * width + x) * 4..][..4];
            let mut want = [0u8; 4];
            for c in 0..3 {
                want[c] = (px[c] as i32 + this[x + 1][c] / 16).clamp(0, 255) as u8;
            }
            want[3] = 255;
            let index = quant.index_of(&want);
            pixels.push(index as u8);
            let got = colour(index);
            for c in 0..3 {
                let error = want[c] as i32 - got[c] as i32;
                this[x + 2][c] += error * 7;
                next[x][c] += error * 3;
                next[x + 1][c] += error * 5;
                next[x + 2][c] += error;
            }
        }
        std::mem::swap(&mut this, &mut next);
        next.iter_mut().for_each(|e| *e = [0; 3]);
    }
    Indexed { pixels, palette }
}

/// Delays in hundredths of a second from frame end times, with the rounding carried over.
#[derive(Default)]
struct Delays {
    first: Option<gst::ClockTime>,
    /// Hundredths written so far.
    written: u64,
}

impl Delays {
    /// The delay of the frame that starts at `pts` and ends `duration` later.
    fn next(&mut self, pts: gst::ClockTime, duration: gst::ClockTime) -> u16 {
        let first = *self.first.get_or_insert(pts);
        let end = (pts.saturating_sub(first) + duration).nseconds();
        let end = (end + 5_000_000) / 10_000_000;
        let delay = end.saturating_sub(self.written).max(SHORTEST_DELAY);
        self.written += delay;
        delay.min(u16::MAX as u64) as u16
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_keep_the_total_true() {
        // 30 fps: 3.33 hundredths a frame, written 3, 4, 3, ... and 100 after 30 frames.
        let mut delays = Delays::default();
        let frame = gst::ClockTime::from_nseconds(1_000_000_000 / 30);
        let total: u64 = (0..30).map(|i| delays.next(frame * i, frame) as u64).sum();
        assert_eq!(total, 100);
        // 100 fps asks for 1 a frame: each gets the shortest delay browsers honour.
        let mut delays = Delays::default();
        let frame = gst::ClockTime::from_mseconds(10);
        assert_eq!(
            delays.next(gst::ClockTime::ZERO, frame),
            SHORTEST_DELAY as u16
        );
    }

    #[test]
    fn a_picture_of_few_colours_keeps_them() {
        // Two colours, half and half: each pixel maps back to its own colour, dithered or not.
        let (w, h) = (16, 8);
        let mut rgb = Vec::new();
        for _ in 0..h {
            for x in 0..w {
                rgb.extend(if x < w / 2 {
                    [200, 40, 40]
                } else {
                    [40, 40, 200]
                });
            }
        }
        for dither in [false, true] {
            let frame = indexed(&rgb, w, h, w * 3, dither);
            for (i, &index) in frame.pixels.iter().enumerate() {
                let got = &frame.palette[3 * index as usize..][..3];
                let want = &rgb[3 * i..][..3];
                let off = (0..3).map(|c| got[c].abs_diff(want[c])).max().unwrap();
                assert!(
                    off <= 8,
                    "pixel {i}: {got:?} for {want:?} (dither {dither})"
                );
            }
        }
    }

    #[test]
    fn dithering_keeps_a_gradients_mean() {
        // A smooth grey ramp over 512 pixels, 2 levels per 4 pixels: dithered, the mean of each
        // 32-pixel stretch stays within a level of the original's.
        let (w, h) = (512, 4);
        let mut rgb = Vec::new();
        for _ in 0..h {
            for x in 0..w {
                let v = (x / 2) as u8;
                rgb.extend([v, v, v]);
            }
        }
        let frame = indexed(&rgb, w, h, w * 3, true);
        for stretch in 0..w / 32 {
            let (mut want, mut got) = (0.0, 0.0);
            for x in stretch * 32..(stretch + 1) * 32 {
                want += rgb[3 * x] as f64;
                got += frame.palette[3 * frame.pixels[x] as usize] as f64;
            }
            assert!((want - got).abs() / 32.0 <= 2.0, "stretch {stretch}");
        }
    }
}
