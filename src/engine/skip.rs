//! Frames nobody will see are not decoded. After an accurate seek the demuxer starts at the
//! keyframe before the wanted time, and the decoder decodes every frame from there only to clip
//! those before the segment's start. A frame that no other frame refers to (an H.264 picture with
//! `nal_ref_idc` 0, typically a B-frame) and that ends before the start is dropped on its way
//! into the decoder instead: a thumbnail in the middle of a GOP decodes the keyframe and the
//! P-frames, not the B-frames between them.

use gstreamer as gst;
use gstreamer::prelude::*;
use std::sync::{Arc, Mutex};

/// How the H.264 on a decoder's input is framed.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Framing {
    /// Not H.264 (or not known yet): every frame goes to the decoder.
    Other,
    /// Annex B start codes (`stream-format=byte-stream`).
    StartCodes,
    /// NAL units prefixed with their length in this many bytes (`avc`, `avc3`: MP4).
    Lengths(usize),
}

#[derive(Clone, Copy)]
struct State {
    framing: Framing,
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
        start: None,
    }));
    let types = gst::PadProbeType::BUFFER | gst::PadProbeType::EVENT_DOWNSTREAM;
    pad.add_probe(types, move |_, info| {
        let mut state = state.lock().unwrap();
        match &info.data {
            Some(gst::PadProbeData::Event(event)) => match event.view() {
                gst::EventView::Caps(caps) => state.framing = framing(caps.caps()),
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
                return super::discard(info);
            }
            _ => {}
        }
        gst::PadProbeReturn::Ok
    });
}

fn framing(caps: &gst::CapsRef) -> Framing {
    let Some(s) = caps.structure(0).filter(|s| s.name() == "video/x-h264") else {
        return Framing::Other;
    };
    match s.get::<&str>("stream-format") {
        Ok("byte-stream") => Framing::StartCodes,
        Ok("avc") | Ok("avc3") => {
            // The avcC record's fifth byte holds the length size minus one.
            let size = s
                .get::<gst::Buffer>("codec_data")
                .ok()
                .and_then(|b| b.map_readable().ok().and_then(|m| m.get(4).copied()));
            match size {
                Some(byte) => Framing::Lengths(usize::from(byte & 3) + 1),
                None => Framing::Other,
            }
        }
        _ => Framing::Other,
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
    unreferenced(&map, state.framing)
}

/// True when the access unit holds at least one slice and none is a reference picture.
fn unreferenced(data: &[u8], framing: Framing) -> bool {
    let mut slices = 0;
    for header in nal_headers(data, framing) {
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

/// The first byte of each NAL unit in `data`. Malformed framing ends the list early, which
/// keeps the frame (it has no slice then, or the slices seen so far decide).
fn nal_headers(data: &[u8], framing: Framing) -> Vec<u8> {
    let mut headers = Vec::new();
    match framing {
        Framing::Other => {}
        Framing::Lengths(size) => {
            let mut at = 0;
            while at + size < data.len() {
                let len = data[at..at + size]
                    .iter()
                    .fold(0usize, |n, b| (n << 8) | usize::from(*b));
                headers.push(data[at + size]);
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
                        headers.push(header);
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
        assert_eq!(nal_headers(&au, Framing::Lengths(4)), vec![0x09, 0x01]);
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
        assert_eq!(nal_headers(&au, Framing::StartCodes), vec![0x09, 0x01]);
        assert!(unreferenced(&au, Framing::StartCodes));
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
