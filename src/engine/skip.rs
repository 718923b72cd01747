//! Frames nobody will see are not decoded. After an accurate seek the demuxer starts at the
//! keyframe before the wanted time, and the decoder decodes every frame from there only to clip
//! those before the segment's start. A frame that no other frame refers to and that ends before
//! the start is dropped on its way into the decoder instead: a thumbnail in the middle of a GOP
//! decodes the keyframe and the P-frames, not the B-frames between them. Unreferenced are an
//! H.264 picture with `nal_ref_idc` 0, and an HEVC picture of a sub-layer non-reference type
//! (`TRAIL_N`, `TSA_N`, `STSA_N`, `RADL_N`, `RASL_N`) in the highest temporal sub-layer the
//! stream's `hvcC` declares (a picture of a lower sub-layer may be referred to from above).

use gstreamer as gst;
use gstreamer::prelude::*;
use std::sync::{Arc, Mutex};

/// How the H.264 or HEVC on a decoder's input is framed.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Framing {
    /// Neither (or not known yet): every frame goes to the decoder.
    Other,
    /// Annex B start codes (`stream-format=byte-stream`).
    StartCodes,
    /// NAL units prefixed with their length in this many bytes (`avc`, `avc3`, `hvc1`, `hev1`:
    /// MP4).
    Lengths(usize),
}

/// Which codec's NAL headers the frames hold.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Codec {
    H264,
    /// HEVC, with the highest temporal sub-layer id its `hvcC` declares.
    H265 {
        highest: u8,
    },
}

#[derive(Clone, Copy)]
struct State {
    framing: Framing,
    codec: Codec,
    /// The segment's start: frames that end before it are clipped by the decoder.
    start: Option<gst::ClockTime>,
}

/// Watches `decoder`'s input and drops unreferenced frames that end before the segment start.
pub(crate) fn unseen_frames(decoder: &gst::Element) {
    let Some(pad) = decoder.static_pad("sink") else {
        return;
    };
    let state = Arc::new(Mutex::new(State {
        framing: Framing::Other,
        codec: Codec::H264,
        start: None,
    }));
    let types = gst::PadProbeType::BUFFER | gst::PadProbeType::EVENT_DOWNSTREAM;
    pad.add_probe(types, move |_, info| {
        let mut state = state.lock().unwrap();
        match &info.data {
            Some(gst::PadProbeData::Event(event)) => match event.view() {
                gst::EventView::Caps(caps) => {
                    (state.framing, state.codec) = framing(caps.caps());
                }
                gst::EventView::Segment(segment) => {
                    state.start = segment
                        .segment()
                        .downcast_ref::<gst::ClockTime>()
                        .and_then(|s| s.start())
                        .filter(|s| *s > gst::ClockTime::ZERO);
                }
                _ => {}
            },
            Some(gst::PadProbeData::Buffer(buffer)) if unseen(buffer, *state) => {
                tracing::debug!(pts = ?buffer.pts(), codec = ?state.codec, "skipped an unreferenced frame before the start");
                return super::discard(info);
            }
            _ => {}
        }
        gst::PadProbeReturn::Ok
    });
}

fn framing(caps: &gst::CapsRef) -> (Framing, Codec) {
    let other = (Framing::Other, Codec::H264);
    let Some(s) = caps.structure(0) else {
        return other;
    };
    let codec_data = || {
        s.get::<gst::Buffer>("codec_data")
            .ok()
            .and_then(|b| b.map_readable().ok().map(|m| m.to_vec()))
    };
    match (s.name().as_str(), s.get::<&str>("stream-format")) {
        ("video/x-h264", Ok("byte-stream")) => (Framing::StartCodes, Codec::H264),
        // The avcC record's fifth byte holds the length size minus one.
        ("video/x-h264", Ok("avc") | Ok("avc3")) => {
            match codec_data().and_then(|d| d.get(4).copied()) {
                Some(byte) => (Framing::Lengths(usize::from(byte & 3) + 1), Codec::H264),
                None => other,
            }
        }
        // hvcC's 22nd byte: constantFrameRate (2 bits), numTemporalLayers (3), temporalIdNested
        // (1), lengthSizeMinusOne (2). Without it (byte-stream) the sub-layers are unknown, and
        // nothing is dropped.
        ("video/x-h265", Ok("hvc1") | Ok("hev1")) => {
            match codec_data().and_then(|d| d.get(21).copied()) {
                Some(byte) => {
                    let layers = (byte >> 3) & 7;
                    let highest = layers.max(1) - 1;
                    (
                        Framing::Lengths(usize::from(byte & 3) + 1),
                        Codec::H265 { highest },
                    )
                }
                None => other,
            }
        }
        _ => other,
    }
}

/// Whether `buffer` is a frame the decoder would only decode to clip.
fn unseen(buffer: &gst::BufferRef, state: State) -> bool {
    let (Some(start), Some(pts), Some(duration)) = (state.start, buffer.pts(), buffer.duration())
    else {
        return false;
    };
    if pts + duration > start || !buffer.flags().contains(gst::BufferFlags::DELTA_UNIT) {
        return false;
    }
    let Ok(map) = buffer.map_readable() else {
        return false;
    };
    match state.codec {
        Codec::H264 => unreferenced(&map, state.framing),
        Codec::H265 { highest } => unreferenced_hevc(&map, state.framing, highest),
    }
}

/// True when the access unit holds at least one slice and none is a reference picture.
fn unreferenced(data: &[u8], framing: Framing) -> bool {
    let mut slices = 0;
    for (header, _) in nal_headers(data, framing) {
        let kind = header & 0x1f;
        // 1: a slice of a non-IDR picture, 5: of an IDR picture.
        if kind == 1 || kind == 5 {
            if kind == 5 || header & 0x60 != 0 {
                return false;
            }
            slices += 1;
        }
    }
    slices > 0
}

/// True when the HEVC access unit holds at least one slice and every slice is of a sub-layer
/// non-reference type (even types below 16) in the highest temporal sub-layer.
fn unreferenced_hevc(data: &[u8], framing: Framing, highest: u8) -> bool {
    let mut slices = 0;
    for (first, second) in nal_headers(data, framing) {
        let kind = (first >> 1) & 0x3f;
        if kind >= 32 {
            continue;
        }
        let temporal_id = (second & 7).saturating_sub(1);
        if kind >= 16 || kind % 2 == 1 || temporal_id != highest {
            return false;
        }
        slices += 1;
    }
    slices > 0
}

/// The first two bytes of each NAL unit in `data` (H.264's header is the first; HEVC's both).
/// Malformed framing ends the list early, which keeps the frame (it has no slice then, or the
/// slices seen so far decide).
fn nal_headers(data: &[u8], framing: Framing) -> Vec<(u8, u8)> {
    let mut headers = Vec::new();
    match framing {
        Framing::Other => {}
        Framing::Lengths(size) => {
            let mut at = 0;
            while at + size < data.len() {
                let len = data[at..at + size]
                    .iter()
                    .fold(0usize, |n, b| (n << 8) | usize::from(*b));
                headers.push((
                    data[at + size],
                    data.get(at + size + 1).copied().unwrap_or(0),
                ));
                at = match (at + size).checked_add(len) {
                    Some(next) if len > 0 => next,
                    _ => break,
                };
            }
        }
        Framing::StartCodes => {
            let mut zeros = 0;
            for (i, &b) in data.iter().enumerate() {
                if b == 1 && zeros >= 2 {
                    if let Some(&header) = data.get(i + 1) {
                        headers.push((header, data.get(i + 2).copied().unwrap_or(0)));
                    }
                }
                zeros = if b == 0 { zeros + 1 } else { 0 };
            }
        }
    }
    headers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_prefixed_units_are_read() {
        // An access unit delimiter (9), then a non-reference slice (0x01: nal_ref_idc 0).
        let au = [0, 0, 0, 2, 0x09, 0xf0, 0, 0, 0, 3, 0x01, 0xaa, 0xbb];
        assert_eq!(
            nal_headers(&au, Framing::Lengths(4)),
            vec![(0x09, 0xf0), (0x01, 0xaa)]
        );
        assert!(unreferenced(&au, Framing::Lengths(4)));
    }

    #[test]
    fn a_reference_slice_keeps_the_frame() {
        // 0x21: slice with nal_ref_idc 1 (a P-frame or a reference B-frame).
        let p = [0, 0, 0, 2, 0x21, 0xaa];
        assert!(!unreferenced(&p, Framing::Lengths(4)));
        // 0x65: an IDR slice.
        let idr = [0, 0, 1, 0x65, 0x88, 0, 0, 1, 0x01, 0x00];
        assert!(!unreferenced(&idr, Framing::StartCodes));
    }

    #[test]
    fn start_codes_are_found() {
        let au = [0, 0, 0, 1, 0x09, 0x10, 0, 0, 1, 0x01, 0x9a, 0x00];
        assert_eq!(
            nal_headers(&au, Framing::StartCodes),
            vec![(0x09, 0x10), (0x01, 0x9a)]
        );
        assert!(unreferenced(&au, Framing::StartCodes));
    }

    #[test]
    fn hevc_non_reference_pictures_of_the_top_sub_layer_only() {
        // TRAIL_N (0) in sub-layer 0 of a single-layer stream: unreferenced.
        let trail_n = [0, 0, 0, 3, 0x00, 0x01, 0xaa];
        assert!(unreferenced_hevc(&trail_n, Framing::Lengths(4), 0));
        // TRAIL_R (1): a reference.
        let trail_r = [0, 0, 0, 3, 0x02, 0x01, 0xaa];
        assert!(!unreferenced_hevc(&trail_r, Framing::Lengths(4), 0));
        // IDR_W_RADL (19), with a parameter set (VPS, 32) before it: kept.
        let idr = [0, 0, 0, 2, 0x40, 0x01, 0, 0, 0, 3, 0x26, 0x01, 0xaa];
        assert!(!unreferenced_hevc(&idr, Framing::Lengths(4), 0));
        // TRAIL_N in sub-layer 0 of a stream with two: a picture of sub-layer 1 may refer to it.
        assert!(!unreferenced_hevc(&trail_n, Framing::Lengths(4), 1));
        // TSA_N (2) in sub-layer 1 of two: unreferenced.
        let tsa_n = [0, 0, 0, 3, 0x04, 0x02, 0xaa];
        assert!(unreferenced_hevc(&tsa_n, Framing::Lengths(4), 1));
    }

    #[test]
    fn no_slice_or_unknown_framing_keeps_the_frame() {
        let sei = [0, 0, 0, 2, 0x06, 0x05];
        assert!(!unreferenced(&sei, Framing::Lengths(4)));
        assert!(!unreferenced(&[0x01, 0x02], Framing::Other));
        // A length running past the end stops the walk without a panic.
        let cut = [0, 0, 0, 200, 0x01];
        assert!(unreferenced(&cut, Framing::Lengths(4)));
        assert!(!unreferenced(&[0, 0, 0], Framing::Lengths(4)));
    }
}
