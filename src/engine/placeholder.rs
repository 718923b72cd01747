//! A placeholder a page paints before the image arrives: the frame's BlurHash and its dominant
//! colour, from the raw RGB frame a still pipeline gives.
//!
//! The hash is taken of the frame shrunk (by averaging boxes of pixels) to at most
//! [`HASH_SIDE`] pixels on its longer side: a BlurHash holds a handful of cosine components,
//! which a 64-pixel picture gives as well as a 4K one, at a thousandth of the work.

use super::error::{Failure, PipelineError};
use gstreamer as gst;
use gstreamer_video as gst_video;

/// The longer side of the picture the hash and the colour are taken of.
const HASH_SIDE: u32 = 64;
/// Components along the longer side; the shorter side gets one fewer.
const COMPONENTS: u32 = 4;

/// What a page needs to paint a poster before the image arrives.
#[derive(Debug, Clone, PartialEq)]
pub struct Placeholder {
    pub blurhash: String,
    /// The frame's size, so the page can keep the aspect ratio.
    pub width: u32,
    pub height: u32,
    /// The colour most of the frame has, as sRGB.
    pub dominant: [u8; 3],
    /// Components of the hash across and down.
    pub components: (u32, u32),
}

impl Placeholder {
    /// The placeholder of a raw RGB sample.
    pub fn of(sample: &gst::Sample) -> Result<Self, PipelineError> {
        let internal = |msg: &str| PipelineError::new(Failure::Internal, msg.to_string());
        let frame = super::frame::RawFrame::of(sample, gst_video::VideoFormat::Rgb, 3)?;
        let (width, height) = (frame.width as u32, frame.height as u32);
        let small = shrink(frame.data.as_slice(), width, height, frame.stride);
        let components = match width >= height {
            true => (COMPONENTS, COMPONENTS - 1),
            false => (COMPONENTS - 1, COMPONENTS),
        };
        let blurhash = blurhash::encode(
            components.0,
            components.1,
            small.width,
            small.height,
            &small.rgba,
        )
        .map_err(|e| internal(&format!("blurhash: {e}")))?;
        Ok(Self {
            blurhash,
            width,
            height,
            dominant: dominant(&small.rgba),
            components,
        })
    }

    /// `{"blurhash": ..., "width": ..., "height": ..., "dominant_color": "#rrggbb", ...}`.
    pub fn to_json(&self) -> serde_json::Value {
        let [r, g, b] = self.dominant;
        serde_json::json!({
            "blurhash": self.blurhash,
            "width": self.width,
            "height": self.height,
            "dominant_color": format!("#{r:02x}{g:02x}{b:02x}"),
            "components": [self.components.0, self.components.1],
        })
    }
}

/// A picture as the hash takes it: RGBA, 4 bytes a pixel, no padding.
struct Small {
    width: u32,
    height: u32,
    rgba: Vec<u8>,
}

/// Averages boxes of pixels of an RGB picture down to at most [`HASH_SIDE`] on its longer side.
fn shrink(rgb: &[u8], width: u32, height: u32, stride: usize) -> Small {
    let longer = width.max(height);
    let (w, h) = match longer > HASH_SIDE {
        true => (
            (width * HASH_SIDE / longer).max(1),
            (height * HASH_SIDE / longer).max(1),
        ),
        false => (width, height),
    };
    let mut rgba = Vec::with_capacity((w * h * 4) as usize);
    for y in 0..h {
        let (y0, y1) = (
            y * height / h,
            ((y + 1) * height / h).max(y * height / h + 1),
        );
        for x in 0..w {
            let (x0, x1) = (x * width / w, ((x + 1) * width / w).max(x * width / w + 1));
            let mut sum = [0u64; 3];
            for row in y0..y1 {
                let line = &rgb[row as usize * stride..];
                for col in x0..x1 {
                    let px = &line[col as usize * 3..col as usize * 3 + 3];
                    for c in 0..3 {
                        sum[c] += px[c] as u64;
                    }
                }
            }
            let n = ((y1 - y0) * (x1 - x0)) as u64;
            rgba.extend(sum.iter().map(|s| ((s + n / 2) / n) as u8));
            rgba.push(255);
        }
    }
    Small {
        width: w,
        height: h,
        rgba,
    }
}

/// The mean of the pixels in the most populous cell of an 8x8x8 grid over RGB: the colour most
/// of the picture has, not the mean of everything (a red half and a blue half are not purple).
fn dominant(rgba: &[u8]) -> [u8; 3] {
    let mut cells = vec![(0u64, [0u64; 3]); 512];
    for px in rgba.chunks_exact(4) {
        let cell = (px[0] as usize >> 5) << 6 | (px[1] as usize >> 5) << 3 | px[2] as usize >> 5;
        let (count, sum) = &mut cells[cell];
        *count += 1;
        for c in 0..3 {
            sum[c] += px[c] as u64;
        }
    }
    // The first most populous cell: ties resolve the same way every time.
    let (count, sum) = cells.iter().fold(
        (0, [0; 3]),
        |best, cell| if cell.0 > best.0 { *cell } else { best },
    );
    match count {
        0 => [0; 3],
        n => sum.map(|s| ((s + n / 2) / n) as u8),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shrinking_averages_boxes() {
        // 4x2: left half black, right half white; shrunk to fit 64 it stays 4x2.
        let rgb: Vec<u8> = [0, 0, 255, 255, 0, 0, 255, 255]
            .iter()
            .flat_map(|v| [*v; 3])
            .collect();
        let small = shrink(&rgb, 4, 2, 12);
        assert_eq!((small.width, small.height), (4, 2));
        // 256x128 of one grey: 64x32 of the same grey.
        let grey = vec![100u8; 256 * 128 * 3];
        let small = shrink(&grey, 256, 128, 256 * 3);
        assert_eq!((small.width, small.height), (64, 32));
        assert!(small.rgba.chunks(4).all(|p| p == [100, 100, 100, 255]));
    }

    #[test]
    fn the_dominant_colour_is_the_commonest_not_the_mean() {
        let mut rgba = Vec::new();
        for i in 0..100 {
            rgba.extend(if i < 70 {
                [200, 40, 40, 255]
            } else {
                [40, 40, 200, 255]
            });
        }
        assert_eq!(dominant(&rgba), [200, 40, 40]);
    }
}
