//! Animated WebP from WebP stills. GStreamer 1.22's webpenc writes one still per frame and
//! nothing muxes them, so this writes the container around them: RIFF `WEBP`, a `VP8X` header
//! with the animation flag, `ANIM` (loop forever), and one `ANMF` frame per still holding the
//! still's own bitstream chunks.

use std::time::Duration;

/// Why the stills could not be assembled.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum NotWebp {
    #[error("no frames")]
    NoFrames,
    #[error("frame {index}: {why}")]
    Frame { index: usize, why: Malformed },
}

/// What is wrong with a still.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum Malformed {
    #[error("not a WebP file")]
    NotRiff,
    #[error("a chunk runs past the end")]
    ChunkPastEnd,
    #[error("a VP8 chunk without a key frame header")]
    NoKeyFrameHeader,
    #[error("a VP8L chunk without its signature")]
    NoLosslessSignature,
    #[error("no image chunk")]
    NoImage,
}

/// One frame: a complete WebP still and how long it shows.
pub struct Still<'a> {
    pub webp: &'a [u8],
    pub duration: Duration,
}

/// The animated WebP of `stills`, in order, looping forever.
pub fn animate(stills: &[Still<'_>]) -> Result<Vec<u8>, NotWebp> {
    let mut frames = Vec::new();
    let (mut canvas_w, mut canvas_h) = (1u32, 1u32);
    for (i, still) in stills.iter().enumerate() {
        let (chunks, width, height) =
            bitstream(still.webp).map_err(|why| NotWebp::Frame { index: i, why })?;
        canvas_w = canvas_w.max(width);
        canvas_h = canvas_h.max(height);
        let mut anmf = Vec::with_capacity(16 + chunks.len());
        anmf.extend_from_slice(&u24(0)); // x / 2
        anmf.extend_from_slice(&u24(0)); // y / 2
        anmf.extend_from_slice(&u24(width - 1));
        anmf.extend_from_slice(&u24(height - 1));
        let ms = still.duration.as_millis().clamp(1, 0xff_ffff) as u32;
        anmf.extend_from_slice(&u24(ms));
        anmf.push(0b10); // no blending, no disposal
        anmf.extend_from_slice(chunks);
        frames.push(anmf);
    }
    if frames.is_empty() {
        return Err(NotWebp::NoFrames);
    }
    let mut body = Vec::new();
    let mut vp8x = vec![0b0000_0010, 0, 0, 0]; // animation
    vp8x.extend_from_slice(&u24(canvas_w - 1));
    vp8x.extend_from_slice(&u24(canvas_h - 1));
    chunk(&mut body, b"VP8X", &vp8x);
    chunk(&mut body, b"ANIM", &[0, 0, 0, 0, 0, 0]); // background, loop forever
    for frame in &frames {
        chunk(&mut body, b"ANMF", frame);
    }
    let mut out = Vec::with_capacity(12 + body.len());
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(4 + body.len() as u32).to_le_bytes());
    out.extend_from_slice(b"WEBP");
    out.extend_from_slice(&body);
    Ok(out)
}

fn u24(v: u32) -> [u8; 3] {
    let b = v.to_le_bytes();
    [b[0], b[1], b[2]]
}

fn chunk(out: &mut Vec<u8>, fourcc: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(fourcc);
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out.extend_from_slice(data);
    if data.len() % 2 == 1 {
        out.push(0);
    }
}

/// A still's image chunks (`ALPH`, `VP8 ` or `VP8L`, as they stand in the file) and its size.
fn bitstream(webp: &[u8]) -> Result<(&[u8], u32, u32), Malformed> {
    if webp.len() < 20 || &webp[..4] != b"RIFF" || &webp[8..12] != b"WEBP" {
        return Err(Malformed::NotRiff);
    }
    let mut at = 12;
    let mut image_start = None;
    while at + 8 <= webp.len() {
        let fourcc = &webp[at..at + 4];
        let size = u32::from_le_bytes(webp[at + 4..at + 8].try_into().unwrap()) as usize;
        let data = webp
            .get(at + 8..at + 8 + size)
            .ok_or(Malformed::ChunkPastEnd)?;
        match fourcc {
            b"ALPH" => image_start = image_start.or(Some(at)),
            b"VP8 " => {
                // Frame tag (3 bytes), start code 9d 01 2a, then 14-bit width and height.
                if data.len() < 10 || data[3..6] != [0x9d, 0x01, 0x2a] {
                    return Err(Malformed::NoKeyFrameHeader);
                }
                let w = u16::from_le_bytes([data[6], data[7]]) as u32 & 0x3fff;
                let h = u16::from_le_bytes([data[8], data[9]]) as u32 & 0x3fff;
                let start = image_start.unwrap_or(at);
                return Ok((&webp[start..at + 8 + size + size % 2], w, h));
            }
            b"VP8L" => {
                if data.len() < 5 || data[0] != 0x2f {
                    return Err(Malformed::NoLosslessSignature);
                }
                let bits = u32::from_le_bytes(data[1..5].try_into().unwrap());
                let (w, h) = ((bits & 0x3fff) + 1, ((bits >> 14) & 0x3fff) + 1);
                return Ok((&webp[at..at + 8 + size + size % 2], w, h));
            }
            _ => {}
        }
        at += 8 + size + size % 2;
    }
    Err(Malformed::NoImage)
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{AnimationDecoder, ImageEncoder};

    fn still(rgb: [u8; 3]) -> Vec<u8> {
        let pixels = rgb.repeat(8 * 6);
        let mut out = Vec::new();
        image::codecs::webp::WebPEncoder::new_lossless(&mut out)
            .write_image(&pixels, 8, 6, image::ExtendedColorType::Rgb8)
            .unwrap();
        out
    }

    #[test]
    fn frames_decode_in_order_with_their_durations() {
        let (red, blue) = (still([250, 0, 0]), still([0, 0, 250]));
        let stills = [
            Still {
                webp: &red,
                duration: Duration::from_millis(100),
            },
            Still {
                webp: &blue,
                duration: Duration::from_millis(250),
            },
        ];
        let animated = animate(&stills).unwrap();
        let decoder =
            image::codecs::webp::WebPDecoder::new(std::io::Cursor::new(animated)).unwrap();
        let frames = decoder.into_frames().collect_frames().unwrap();
        assert_eq!(frames.len(), 2);
        assert_eq!(frames[0].buffer().dimensions(), (8, 6));
        assert_eq!(frames[0].buffer().get_pixel(4, 3).0, [250, 0, 0, 255]);
        assert_eq!(frames[1].buffer().get_pixel(4, 3).0, [0, 0, 250, 255]);
        let ms: Vec<u32> = frames
            .iter()
            .map(|f| Duration::from(f.delay()).as_millis() as u32)
            .collect();
        assert_eq!(ms, [100, 250]);
    }

    #[test]
    fn refuses_what_is_not_webp() {
        assert_eq!(animate(&[]), Err(NotWebp::NoFrames));
        let bad = [Still {
            webp: b"RIFF\0\0\0\0WEBPnope",
            duration: Duration::ZERO,
        }];
        assert_eq!(
            animate(&bad),
            Err(NotWebp::Frame {
                index: 0,
                why: Malformed::NotRiff
            })
        );
    }
}
