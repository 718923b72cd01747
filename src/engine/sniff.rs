//! What a file's header declares, read from its first bytes: whether a Matroska/WebM file has
//! an index (Cues) and states its duration, whether an MP4 states its duration. A WebM written
//! live (browsers' MediaRecorder, `ffmpeg -live 1`) has neither: matroskademux then scans for a
//! seek and lands anywhere, and reports the last cluster's start as the duration; a fragmented
//! MP4 without `mehd` gets qtdemux's duration of the fragments it has seen.

/// What a header declares; `None` from the readers when the header is not all in the bytes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Declared {
    /// An index to seek by.
    pub index: bool,
    /// A duration.
    pub duration: bool,
}

const SEGMENT: u32 = 0x1853_8067;
const SEEK_HEAD: u32 = 0x114D_9B74;
const SEEK: u32 = 0x4DBB;
const SEEK_ID: u32 = 0x53AB;
const INFO: u32 = 0x1549_A966;
const DURATION: u32 = 0x4489;
const CUES: u32 = 0x1C53_BB6B;
const CLUSTER: u32 = 0x1F43_B675;

/// A Matroska header: the Segment's children up to its first Cluster.
pub fn matroska(head: &[u8]) -> Option<Declared> {
    let mut at = 0;
    let (id, size, body) = element(head, &mut at)?;
    if id != 0x1A45_DFA3 {
        return None;
    }
    at = body + size?;
    let (id, _, body) = element(head, &mut at)?;
    if id != SEGMENT {
        return None;
    }
    let mut declared = Declared {
        index: false,
        duration: false,
    };
    let mut info_seen = false;
    at = body;
    while let Some((id, size, body)) = element(head, &mut at) {
        if id == CLUSTER {
            break;
        }
        declared.index |= id == CUES;
        let size = size?;
        let end = body.checked_add(size)?;
        match id {
            SEEK_HEAD => {
                let mut inner = body;
                while inner < end.min(head.len()) {
                    let (id, size, seek_body) = element(head, &mut inner)?;
                    let size = size?;
                    if id == SEEK {
                        let mut field = seek_body;
                        while field < seek_body + size {
                            let (id, size, value) = element(head, &mut field)?;
                            let size = size?;
                            let bytes = head.get(value..value + size)?;
                            if id == SEEK_ID && bytes == CUES.to_be_bytes() {
                                declared.index = true;
                            }
                            field = value + size;
                        }
                    }
                    inner = seek_body + size;
                }
            }
            INFO => {
                let mut inner = body;
                while inner < end {
                    let (id, size, value) = element(head, &mut inner)?;
                    let size = size?;
                    if id == DURATION {
                        let bytes = head.get(value..value + size)?;
                        declared.duration = float(bytes).is_some_and(|d| d > 0.0);
                    }
                    inner = value + size;
                }
                info_seen = true;
            }
            _ => {}
        }
        at = end;
    }
    info_seen.then_some(declared)
}

/// One EBML element at `*at`: its ID, its size (None: unknown, as live streams write the
/// Segment's) and where its body starts; `*at` moves to the body.
fn element(data: &[u8], at: &mut usize) -> Option<(u32, Option<usize>, usize)> {
    let first = *data.get(*at)?;
    let id_len = first.leading_zeros() as usize + 1;
    if id_len > 4 {
        return None;
    }
    let id = data
        .get(*at..*at + id_len)?
        .iter()
        .fold(0u32, |n, b| (n << 8) | u32::from(*b));
    let size_at = *at + id_len;
    let first = *data.get(size_at)?;
    let size_len = first.leading_zeros() as usize + 1;
    if size_len > 8 {
        return None;
    }
    let bytes = data.get(size_at..size_at + size_len)?;
    let mask = (0xffu16 >> size_len) as u8;
    let value = bytes[1..]
        .iter()
        .fold(u64::from(bytes[0] & mask), |n, b| (n << 8) | u64::from(*b));
    let unknown = value == (1u64 << (7 * size_len)) - 1;
    *at = size_at + size_len;
    let size = (!unknown).then(|| usize::try_from(value).ok()).flatten();
    Some((id, size, *at))
}

fn float(bytes: &[u8]) -> Option<f64> {
    match bytes.len() {
        4 => Some(f64::from(f32::from_be_bytes(bytes.try_into().ok()?))),
        8 => Some(f64::from_be_bytes(bytes.try_into().ok()?)),
        _ => None,
    }
}

/// An MP4 header: whether its `moov` states a duration (`mvhd`, or `mehd` for a fragmented
/// file). Every MP4 has an index (its sample tables or fragments).
pub fn mp4(head: &[u8]) -> Option<Declared> {
    let moov = boxes(head).find(|(kind, _)| kind == b"moov")?.1;
    let mut duration = false;
    for (kind, body) in boxes(moov) {
        match &kind {
            b"mvhd" => duration |= full_box_value(body, 12, 16).is_some_and(|d| d > 0),
            b"mvex" => {
                for (kind, body) in boxes(body) {
                    if &kind == b"mehd" {
                        duration |= full_box_value(body, 0, 0).is_some_and(|d| d > 0);
                    }
                }
            }
            _ => {}
        }
    }
    Some(Declared {
        index: true,
        duration,
    })
}

/// The boxes in `data` whose bodies are all there: (type, body).
fn boxes(data: &[u8]) -> impl Iterator<Item = ([u8; 4], &[u8])> {
    let mut at = 0usize;
    std::iter::from_fn(move || {
        let header = data.get(at..at + 8)?;
        let size = u32::from_be_bytes(header[..4].try_into().ok()?) as usize;
        let kind: [u8; 4] = header[4..8].try_into().ok()?;
        let (body_at, end) = match size {
            1 => {
                let large = data.get(at + 8..at + 16)?;
                let large = usize::try_from(u64::from_be_bytes(large.try_into().ok()?)).ok()?;
                (at + 16, at.checked_add(large)?)
            }
            0 => (at + 8, data.len()),
            size => (at + 8, at.checked_add(size)?),
        };
        let body = data.get(body_at..end)?;
        at = end;
        Some((kind, body))
    })
}

/// A value of a full box (version byte, 3 flag bytes) that is 4 bytes wide at `v0` after the
/// flags in version 0, 8 bytes wide at `v1` in version 1.
fn full_box_value(body: &[u8], v0: usize, v1: usize) -> Option<u64> {
    match body.first()? {
        0 => {
            let b = body.get(4 + v0..8 + v0)?;
            Some(u64::from(u32::from_be_bytes(b.try_into().ok()?)))
        }
        _ => {
            let b = body.get(4 + v1..12 + v1)?;
            Some(u64::from_be_bytes(b.try_into().ok()?))
        }
    }
}

/// What a source that is not media is, from its first bytes, when it is text: an HTML page (an
/// error page or a login wall, the commonest wrong URL), XML, JSON or plain text.
pub fn text_kind(head: &[u8]) -> Option<&'static str> {
    let head = &head[..head.len().min(1024)];
    let text = std::str::from_utf8(head)
        .or_else(|e| std::str::from_utf8(&head[..e.valid_up_to()]))
        .ok()?;
    if text.len() < head.len().saturating_sub(4) || text.is_empty() {
        return None;
    }
    let printable = text.chars().all(|c| !c.is_control() || c.is_whitespace());
    if !printable {
        return None;
    }
    let start = text
        .trim_start_matches('\u{feff}')
        .trim_start()
        .to_ascii_lowercase();
    Some(
        if start.starts_with("<!doctype html")
            || start.starts_with("<html")
            || start.contains("<body")
        {
            "text/html"
        } else if start.starts_with("<?xml") || start.starts_with('<') {
            "application/xml"
        } else if start.starts_with('{') || start.starts_with('[') {
            "application/json"
        } else {
            "text/plain"
        },
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn text_is_told_from_media() {
        assert_eq!(
            super::text_kind(b"\n<!DOCTYPE html><html><body>404</body></html>"),
            Some("text/html")
        );
        assert_eq!(
            super::text_kind(b"{\"error\": 1}"),
            Some("application/json")
        );
        assert_eq!(
            super::text_kind(b"this is a text file\n"),
            Some("text/plain")
        );
        assert_eq!(
            super::text_kind(b"\x1aE\xdf\xa3\x9fB\x86\x81\x01"),
            None,
            "WebM"
        );
        assert_eq!(super::text_kind(b"\0\0\0\x20ftypisom"), None, "MP4");
        assert_eq!(super::text_kind(b""), None);
    }

    use super::*;

    /// An EBML element with a one-byte size.
    fn el(id: &[u8], body: &[u8]) -> Vec<u8> {
        let mut out = id.to_vec();
        out.push(0x80 | body.len() as u8);
        out.extend(body);
        out
    }

    fn webm(seek_head: bool, duration: bool) -> Vec<u8> {
        let mut segment = Vec::new();
        if seek_head {
            let seek = el(&[0x4D, 0xBB], &el(&[0x53, 0xAB], &CUES.to_be_bytes()));
            segment.extend(el(&SEEK_HEAD.to_be_bytes(), &seek));
        }
        let mut info = el(&[0x2A, 0xD7, 0xB1], &[0x0F, 0x42, 0x40]);
        if duration {
            info.extend(el(&[0x44, 0x89], &6000.0f32.to_be_bytes()));
        }
        segment.extend(el(&INFO.to_be_bytes(), &info));
        segment.extend([0x1F, 0x43, 0xB6, 0x75, 0xFF]);
        let mut file = el(&[0x1A, 0x45, 0xDF, 0xA3], &el(&[0x42, 0x82], b"webm"));
        // A live Segment: unknown size.
        file.extend([
            0x18, 0x53, 0x80, 0x67, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        ]);
        file.extend(segment);
        file
    }

    #[test]
    fn a_live_webm_declares_neither_index_nor_duration() {
        let live = Declared {
            index: false,
            duration: false,
        };
        assert_eq!(matroska(&webm(false, false)), Some(live));
        let whole = Declared {
            index: true,
            duration: true,
        };
        assert_eq!(matroska(&webm(true, true)), Some(whole));
        assert_eq!(matroska(&webm(true, true)[..20]), None, "cut before Info");
    }

    #[test]
    fn any_bytes_read_without_a_panic() {
        // A fixed pseudo-random sequence, and every cut of a real header.
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for len in 0..512 {
            let bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            let _ = (matroska(&bytes), mp4(&bytes));
            let mut framed = webm(true, true);
            framed.extend(&bytes);
            let _ = matroska(&framed[..framed.len().min(len)]);
        }
        let _ = matroska(&[0x1A, 0x45, 0xDF, 0xA3, 0x01, 0, 0, 0, 0, 0, 0, 0]);
        let _ = matroska(&[0x1A, 0x45, 0xDF, 0xA3, 0x00]);
    }

    #[test]
    fn an_mp4_states_its_duration_in_mvhd_or_mehd() {
        fn mp4_box(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
            let mut out = ((body.len() + 8) as u32).to_be_bytes().to_vec();
            out.extend(kind);
            out.extend(body);
            out
        }
        let mvhd = |duration: u32| {
            let mut body = vec![0u8; 4 + 12];
            body.extend(duration.to_be_bytes());
            mp4_box(b"mvhd", &body)
        };
        let fragmented = mp4_box(b"moov", &[mvhd(0), mp4_box(b"mvex", &[])].concat());
        let file = [mp4_box(b"ftyp", b"isom"), fragmented].concat();
        assert_eq!(mp4(&file).map(|d| d.duration), Some(false));
        let stated = mp4_box(b"moov", &mvhd(6000));
        assert_eq!(mp4(&stated).map(|d| d.duration), Some(true));
        assert_eq!(mp4(&mp4_box(b"ftyp", b"isom")), None, "no moov in the head");
    }
}
