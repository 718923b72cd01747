//! Cover pictures (an MP3's ID3 `APIC`, an M4A's `covr`, a FLAC picture block): GStreamer
//! hands them over as an image tag, where ffprobe and ffmpeg see a video stream of one frame.
//! Their size and pixel format are read from the image's own header, without decoding it.

use gstreamer as gst;

/// A cover picture as its header describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct Picture {
    /// ffprobe's codec name: `mjpeg` or `png`.
    pub codec: &'static str,
    pub width: u32,
    pub height: u32,
    /// ffprobe's pixel format, when the header tells it.
    pub pix_fmt: Option<&'static str>,
}

/// The cover picture among `tags`, if one is there and its header reads.
pub fn cover(tags: &gst::TagListRef) -> Option<(Picture, gst::Sample)> {
    let sample = tags
        .get::<gst::tags::Image>()
        .or_else(|| tags.get::<gst::tags::PreviewImage>())?
        .get();
    let header = sample.buffer()?.map_readable().ok()?;
    let picture = read(&header)?;
    drop(header);
    Some((picture, sample))
}

/// Reads a PNG or JPEG header.
pub fn read(data: &[u8]) -> Option<Picture> {
    if data.starts_with(b"\x89PNG\r\n\x1a\n") {
        png(data)
    } else if data.starts_with(&[0xff, 0xd8]) {
        jpeg(data)
    } else {
        None
    }
}

/// The IHDR chunk, first after the signature: width, height, bit depth, colour type.
fn png(data: &[u8]) -> Option<Picture> {
    let ihdr = data.get(8..29)?;
    if &ihdr[4..8] != b"IHDR" {
        return None;
    }
    let be = |at: usize| u32::from_be_bytes([ihdr[at], ihdr[at + 1], ihdr[at + 2], ihdr[at + 3]]);
    let (depth, colour) = (ihdr[16], ihdr[17]);
    let pix_fmt = match (colour, depth) {
        (0, 8) => Some("gray"),
        (0, 16) => Some("gray16be"),
        (2, 8) => Some("rgb24"),
        (2, 16) => Some("rgb48be"),
        (3, _) => Some("pal8"),
        (4, 8) => Some("ya8"),
        (6, 8) => Some("rgba"),
        (6, 16) => Some("rgba64be"),
        _ => None,
    };
    Some(Picture {
        codec: "png",
        width: be(8),
        height: be(12),
        pix_fmt,
    })
}

/// The first start-of-frame segment: size, and the components' sampling factors.
fn jpeg(data: &[u8]) -> Option<Picture> {
    let mut at = 2;
    while at + 4 <= data.len() {
        if data[at] != 0xff {
            return None;
        }
        let marker = data[at + 1];
        let length = usize::from(u16::from_be_bytes([data[at + 2], data[at + 3]]));
        // SOF0..SOF15, except DHT (C4), JPG (C8) and DAC (CC).
        let is_sof = (0xc0..=0xcf).contains(&marker) && ![0xc4, 0xc8, 0xcc].contains(&marker);
        if is_sof {
            let sof = data.get(at + 4..at + 2 + length)?;
            let height = u32::from(u16::from_be_bytes([sof[1], sof[2]]));
            let width = u32::from(u16::from_be_bytes([sof[3], sof[4]]));
            let components = usize::from(sof[5]);
            let sampling: Vec<u8> = (0..components)
                .filter_map(|c| sof.get(6 + c * 3 + 1).copied())
                .collect();
            return Some(Picture {
                codec: "mjpeg",
                width,
                height,
                pix_fmt: jpeg_pix_fmt(sof[0], &sampling),
            });
        }
        at += 2 + length;
    }
    None
}

/// ffmpeg's full-range ("j") formats for baseline JPEG sampling: the luma component's
/// horizontal and vertical factors over the chroma components' (which must agree).
fn jpeg_pix_fmt(precision: u8, sampling: &[u8]) -> Option<&'static str> {
    if precision != 8 {
        return None;
    }
    let factors = |s: u8| (s >> 4, s & 0xf);
    match sampling {
        [_] => Some("gray"),
        [luma, cb, cr] if cb == cr => {
            let ((lh, lv), (ch, cv)) = (factors(*luma), factors(*cb));
            if ch == 0 || cv == 0 || lh % ch != 0 || lv % cv != 0 {
                return None;
            }
            match (lh / ch, lv / cv) {
                (1, 1) => Some("yuvj444p"),
                (2, 1) => Some("yuvj422p"),
                (2, 2) => Some("yuvj420p"),
                (1, 2) => Some("yuvj440p"),
                (4, 1) => Some("yuvj411p"),
                _ => None,
            }
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn png_header() {
        let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
        png.extend(300u32.to_be_bytes());
        png.extend(200u32.to_be_bytes());
        png.extend([8, 2, 0, 0, 0]);
        let picture = read(&png).unwrap();
        assert_eq!((picture.width, picture.height), (300, 200));
        assert_eq!(picture.pix_fmt, Some("rgb24"));
    }

    #[test]
    fn jpeg_header_after_other_segments() {
        // SOI, an APP0 of 4 bytes, then SOF0: 8 bits, 120 high, 160 wide, 3 components 2x2/1x1/1x1.
        let jpeg = [
            0xff, 0xd8, 0xff, 0xe0, 0x00, 0x04, 0x00, 0x00, 0xff, 0xc0, 0x00, 0x11, 0x08, 0x00,
            0x78, 0x00, 0xa0, 0x03, 0x01, 0x22, 0x00, 0x02, 0x11, 0x01, 0x03, 0x11, 0x01,
        ];
        let picture = read(&jpeg).unwrap();
        assert_eq!(
            (picture.codec, picture.width, picture.height),
            ("mjpeg", 160, 120)
        );
        assert_eq!(picture.pix_fmt, Some("yuvj420p"));
        assert_eq!(read(&jpeg[..12]), None, "a cut header reads as nothing");
    }
}
