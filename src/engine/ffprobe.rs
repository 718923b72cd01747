//! Maps what the Discoverer found onto the JSON of `ffprobe -print_format json -show_format
//! -show_streams`: the same field names and value conventions (durations as decimal strings in
//! seconds, rates as "30/1", sample rates and bit rates as strings). A field GStreamer cannot
//! tell is left out rather than guessed; docs/api.md lists which.

use super::discover::Discovered;
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_pbutils as pbutils;
use gstreamer_pbutils::prelude::*;
use serde_json::{json, Map, Value};

/// The `{"streams": [...], "format": {...}}` document for the source at `url`.
pub fn to_json(url: &str, found: &Discovered) -> Value {
    let info = &found.info;
    let mut streams: Vec<Value> = info
        .stream_list()
        .iter()
        .filter(|s| !s.is::<pbutils::DiscovererContainerInfo>() && !is_tag_block(s))
        .enumerate()
        .map(|(index, s)| stream_json(index, s))
        .collect();
    // A cover picture is a stream of its own to ffprobe, after the media's streams.
    if let Some((picture, _)) = info.tags().as_ref().and_then(|t| super::picture::cover(t)) {
        streams.push(picture_json(streams.len(), &picture));
    }

    let mut format = Map::new();
    format.insert("filename".into(), json!(url));
    format.insert("nb_streams".into(), json!(streams.len()));
    let container = info
        .stream_info()
        .and_then(|s| s.caps())
        .as_deref()
        .and_then(format_name);
    if let Some((name, long_name)) = container {
        format.insert("format_name".into(), json!(name));
        format.insert("format_long_name".into(), json!(long_name));
    }
    // A duration the container does not state (a live WebM, a fragmented MP4 without `mehd`)
    // is what the demuxer has seen so far, short of the end: left out, as ffprobe leaves it.
    let declared = found.head.as_deref().and_then(|head| match container?.0 {
        "matroska,webm" => super::sniff::matroska(head),
        "mov,mp4,m4a,3gp,3g2,mj2" => super::sniff::mp4(head),
        _ => None,
    });
    let unstated = declared.is_some_and(|d| !d.duration);
    let duration = info.duration().filter(|d| !d.is_zero() && !unstated);
    if let Some(d) = duration {
        format.insert("duration".into(), json!(seconds(d)));
    }
    if let Some(size) = found.size {
        format.insert("size".into(), json!(size.to_string()));
        if let Some(d) = duration {
            let bit_rate = (size as f64 * 8.0 / d.seconds_f64()).round() as u64;
            format.insert("bit_rate".into(), json!(bit_rate.to_string()));
        }
    }
    let tags = tags_json(info.tags().as_ref());
    if !tags.is_empty() {
        format.insert("tags".into(), Value::Object(tags));
    }
    json!({ "streams": streams, "format": format })
}

/// An ID3 or APE tag block, which the Discoverer lists as a stream of its own and ffprobe
/// reads as the file's tags.
fn is_tag_block(stream: &pbutils::DiscovererStreamInfo) -> bool {
    let name = stream
        .caps()
        .and_then(|c| c.structure(0).map(|s| s.name().to_string()));
    matches!(
        name.as_deref(),
        Some("application/x-id3" | "application/x-apetag")
    )
}

fn stream_json(index: usize, stream: &pbutils::DiscovererStreamInfo) -> Value {
    let mut out = Map::new();
    out.insert("index".into(), json!(index));
    let caps = stream.caps();
    let structure = caps.as_ref().and_then(|c| c.structure(0));
    if let Some((name, long_name)) = structure.and_then(codec_name) {
        out.insert("codec_name".into(), json!(name));
        out.insert("codec_long_name".into(), json!(long_name));
    }
    if let Some(profile) = structure.and_then(profile) {
        out.insert("profile".into(), json!(profile));
    }
    if let Some(video) = stream.downcast_ref::<pbutils::DiscovererVideoInfo>() {
        out.insert("codec_type".into(), json!("video"));
        out.insert("width".into(), json!(video.width()));
        out.insert("height".into(), json!(video.height()));
        let par = video.par();
        if par.numer() > 0 && par.denom() > 0 {
            let (w, h) = (
                video.width() as i64 * par.numer() as i64,
                video.height() as i64 * par.denom() as i64,
            );
            out.insert(
                "sample_aspect_ratio".into(),
                json!(ratio(par.numer() as i64, par.denom() as i64)),
            );
            out.insert("display_aspect_ratio".into(), json!(ratio(w, h)));
        }
        if let Some(pix_fmt) = structure.and_then(pix_fmt) {
            out.insert("pix_fmt".into(), json!(pix_fmt));
        }
        for (field, value) in structure.map(colours).unwrap_or_default() {
            out.insert(field.into(), json!(value));
        }
        let rate = video.framerate();
        let rate = if rate.numer() > 0 {
            format!("{}/{}", rate.numer(), rate.denom())
        } else {
            "0/0".into()
        };
        out.insert("r_frame_rate".into(), json!(rate));
        out.insert("avg_frame_rate".into(), json!(rate));
        insert_bit_rate(&mut out, video.bitrate());
    } else if let Some(audio) = stream.downcast_ref::<pbutils::DiscovererAudioInfo>() {
        out.insert("codec_type".into(), json!("audio"));
        out.insert("sample_rate".into(), json!(audio.sample_rate().to_string()));
        out.insert("channels".into(), json!(audio.channels()));
        insert_bit_rate(&mut out, audio.bitrate());
    } else if stream.is::<pbutils::DiscovererSubtitleInfo>() {
        out.insert("codec_type".into(), json!("subtitle"));
    } else {
        out.insert("codec_type".into(), json!("data"));
    }
    out.insert("disposition".into(), json!({ "attached_pic": 0 }));
    let tags = tags_json(stream.tags().as_ref());
    if !tags.is_empty() {
        out.insert("tags".into(), Value::Object(tags));
    }
    Value::Object(out)
}

/// A cover picture as ffprobe lists it: a one-frame video stream marked `attached_pic`, at
/// ffprobe's nominal 90000/1 frame rate.
fn picture_json(index: usize, picture: &super::picture::Picture) -> Value {
    let long_name = match picture.codec {
        "png" => "PNG (Portable Network Graphics) image",
        _ => "Motion JPEG",
    };
    let mut out = Map::new();
    out.insert("index".into(), json!(index));
    out.insert("codec_name".into(), json!(picture.codec));
    out.insert("codec_long_name".into(), json!(long_name));
    out.insert("codec_type".into(), json!("video"));
    out.insert("width".into(), json!(picture.width));
    out.insert("height".into(), json!(picture.height));
    out.insert("sample_aspect_ratio".into(), json!("1:1"));
    out.insert(
        "display_aspect_ratio".into(),
        json!(ratio(picture.width.into(), picture.height.into())),
    );
    if let Some(pix_fmt) = picture.pix_fmt {
        out.insert("pix_fmt".into(), json!(pix_fmt));
    }
    out.insert("r_frame_rate".into(), json!("90000/1"));
    out.insert("avg_frame_rate".into(), json!("0/0"));
    out.insert("disposition".into(), json!({ "attached_pic": 1 }));
    Value::Object(out)
}

fn insert_bit_rate(out: &mut Map<String, Value>, bit_rate: u32) {
    if bit_rate > 0 {
        out.insert("bit_rate".into(), json!(bit_rate.to_string()));
    }
}

/// ffprobe prints times as seconds with six decimals.
fn seconds(t: gst::ClockTime) -> String {
    format!(
        "{}.{:06}",
        t.seconds(),
        (t.nseconds() % 1_000_000_000) / 1000
    )
}

fn ratio(a: i64, b: i64) -> String {
    fn gcd(a: i64, b: i64) -> i64 {
        if b == 0 {
            a
        } else {
            gcd(b, a % b)
        }
    }
    let g = gcd(a, b).max(1);
    format!("{}:{}", a / g, b / g)
}

/// ffprobe's demuxer name and long name for a container's caps.
fn format_name(caps: &gst::CapsRef) -> Option<(&'static str, &'static str)> {
    let s = caps.structure(0)?;
    Some(match s.name().as_str() {
        "video/quicktime" | "audio/x-m4a" => ("mov,mp4,m4a,3gp,3g2,mj2", "QuickTime / MOV"),
        "video/x-matroska" | "video/webm" | "audio/webm" | "audio/x-matroska" => {
            ("matroska,webm", "Matroska / WebM")
        }
        "application/ogg" | "audio/ogg" | "video/ogg" => ("ogg", "Ogg"),
        "video/x-msvideo" => ("avi", "AVI (Audio Video Interleaved)"),
        "video/mpegts" => ("mpegts", "MPEG-TS (MPEG-2 Transport Stream)"),
        "video/x-flv" => ("flv", "FLV (Flash Video)"),
        "audio/x-wav" => ("wav", "WAV / WAVE (Waveform Audio)"),
        "audio/x-flac" => ("flac", "raw FLAC"),
        "application/x-id3" => ("mp3", "MP2/3 (MPEG audio layer 2/3)"),
        "image/gif" => ("gif", "CompuServe Graphics Interchange Format (GIF)"),
        "application/x-hls" => ("hls", "Apple HTTP Live Streaming"),
        "audio/mpeg" if s.get::<i32>("mpegversion").ok() == Some(1) => {
            ("mp3", "MP2/3 (MPEG audio layer 2/3)")
        }
        _ => return None,
    })
}

/// ffprobe's codec name and long name for a stream's caps.
fn codec_name(s: &gst::StructureRef) -> Option<(&'static str, &'static str)> {
    let mpegversion = s.get::<i32>("mpegversion").ok();
    Some(match s.name().as_str() {
        "video/x-h264" => ("h264", "H.264 / AVC / MPEG-4 AVC / MPEG-4 part 10"),
        "video/x-h265" => ("hevc", "H.265 / HEVC (High Efficiency Video Coding)"),
        "video/x-vp8" => ("vp8", "On2 VP8"),
        "video/x-vp9" => ("vp9", "Google VP9"),
        "video/x-av1" => ("av1", "Alliance for Open Media AV1"),
        "video/x-theora" => ("theora", "Theora"),
        "video/mpeg" if mpegversion == Some(4) => ("mpeg4", "MPEG-4 part 2"),
        "video/mpeg" if mpegversion == Some(2) => ("mpeg2video", "MPEG-2 video"),
        "video/mpeg" if mpegversion == Some(1) => ("mpeg1video", "MPEG-1 video"),
        "image/jpeg" => ("mjpeg", "Motion JPEG"),
        "image/png" => ("png", "PNG (Portable Network Graphics) image"),
        "image/gif" | "image/gst-libav-gif" => {
            ("gif", "CompuServe GIF (Graphics Interchange Format)")
        }
        "video/x-prores" => ("prores", "Apple ProRes (iCodec Pro)"),
        "audio/x-raw" => pcm_name(s.get::<&str>("format").ok()?)?,
        "text/x-raw" => ("subrip", "SubRip subtitle"),
        "application/x-ssa" | "application/x-ass" => ("ass", "ASS (Advanced SSA) subtitle"),
        "application/x-subtitle-vtt" => ("webvtt", "WebVTT subtitle"),
        "subpicture/x-dvd" => ("dvd_subtitle", "DVD subtitles"),
        "subpicture/x-pgs" => (
            "hdmv_pgs_subtitle",
            "HDMV Presentation Graphic Stream subtitles",
        ),
        "audio/mpeg" if matches!(mpegversion, Some(2 | 4)) => {
            ("aac", "AAC (Advanced Audio Coding)")
        }
        "audio/mpeg" if s.get::<i32>("layer").ok() == Some(2) => {
            ("mp2", "MP2 (MPEG audio layer 2)")
        }
        "audio/mpeg" => ("mp3", "MP3 (MPEG audio layer 3)"),
        "audio/x-opus" => ("opus", "Opus (Opus Interactive Audio Codec)"),
        "audio/x-vorbis" => ("vorbis", "Vorbis"),
        "audio/x-flac" => ("flac", "FLAC (Free Lossless Audio Codec)"),
        "audio/x-ac3" => ("ac3", "ATSC A/52A (AC-3)"),
        "audio/x-eac3" => ("eac3", "ATSC A/52B (AC-3, E-AC-3)"),
        "audio/x-alac" => ("alac", "ALAC (Apple Lossless Audio Codec)"),
        _ => return None,
    })
}

/// ffprobe's name for raw audio samples of a GStreamer sample format.
fn pcm_name(format: &str) -> Option<(&'static str, &'static str)> {
    Some(match format {
        "U8" => ("pcm_u8", "PCM unsigned 8-bit"),
        "S16LE" => ("pcm_s16le", "PCM signed 16-bit little-endian"),
        "S16BE" => ("pcm_s16be", "PCM signed 16-bit big-endian"),
        "S24LE" => ("pcm_s24le", "PCM signed 24-bit little-endian"),
        "S24BE" => ("pcm_s24be", "PCM signed 24-bit big-endian"),
        "S32LE" => ("pcm_s32le", "PCM signed 32-bit little-endian"),
        "S32BE" => ("pcm_s32be", "PCM signed 32-bit big-endian"),
        "F32LE" => ("pcm_f32le", "PCM 32-bit floating point little-endian"),
        "F32BE" => ("pcm_f32be", "PCM 32-bit floating point big-endian"),
        "F64LE" => ("pcm_f64le", "PCM 64-bit floating point little-endian"),
        _ => return None,
    })
}

/// ffprobe's profile names: "High", "Constrained Baseline", "LC", "Profile 0".
fn profile(s: &gst::StructureRef) -> Option<String> {
    let profile = s.get::<&str>("profile").ok()?;
    Some(match (s.name().as_str(), profile) {
        ("audio/mpeg", p) => match p {
            "lc" => "LC".into(),
            "he-aac" | "he-aac-v1" => "HE-AAC".into(),
            "he-aac-v2" => "HE-AACv2".into(),
            other => other.to_uppercase(),
        },
        ("video/x-vp9", p) if p.chars().all(|c| c.is_ascii_digit()) => format!("Profile {p}"),
        ("video/x-h264", "high-4:4:4") => "High 4:4:4 Predictive".into(),
        (_, p) => p
            .split('-')
            .map(|w| {
                let mut c = w.chars();
                c.next()
                    .map(|f| f.to_uppercase().chain(c).collect::<String>())
                    .unwrap_or_default()
            })
            .collect::<Vec<_>>()
            .join(" "),
    })
}

/// ffprobe's pixel format: what the format fixes (VP8 is 4:2:0 8-bit, a ProRes variant fixes
/// its sampling and depth, ffmpeg decodes GIF to BGRA), what a Theora header says, or a
/// parser's chroma format and bit depth.
/// ffprobe's `color_range`, `color_space`, `color_transfer` and `color_primaries`, from the
/// stream's `colorimetry` (what its bitstream states); a part it leaves unknown is left out, as
/// ffprobe leaves it.
fn colours(s: &gst::StructureRef) -> Vec<(&'static str, &'static str)> {
    use gstreamer_video::{
        VideoColorMatrix as M, VideoColorPrimaries as P, VideoColorRange as R,
        VideoTransferFunction as T,
    };
    let Some(c) = s
        .get::<&str>("colorimetry")
        .ok()
        .and_then(|c| c.parse::<gstreamer_video::VideoColorimetry>().ok())
    else {
        return Vec::new();
    };
    let range = match c.range() {
        R::Range16_235 => Some("tv"),
        R::Range0_255 => Some("pc"),
        _ => None,
    };
    let space = match c.matrix() {
        M::Rgb => Some("gbr"),
        M::Fcc => Some("fcc"),
        M::Bt709 => Some("bt709"),
        M::Bt601 => Some("smpte170m"),
        M::Smpte240m => Some("smpte240m"),
        M::Bt2020 => Some("bt2020nc"),
        _ => None,
    };
    let transfer = match c.transfer() {
        T::Gamma10 => Some("linear"),
        T::Gamma22 => Some("bt470m"),
        T::Gamma28 => Some("bt470bg"),
        T::Bt709 => Some("bt709"),
        T::Bt601 => Some("smpte170m"),
        T::Smpte240m => Some("smpte240m"),
        T::Log100 => Some("log100"),
        T::Log316 => Some("log316"),
        T::Srgb => Some("iec61966-2-1"),
        T::Bt202010 => Some("bt2020-10"),
        T::Bt202012 => Some("bt2020-12"),
        T::Smpte2084 => Some("smpte2084"),
        T::AribStdB67 => Some("arib-std-b67"),
        _ => None,
    };
    let primaries = match c.primaries() {
        P::Bt709 => Some("bt709"),
        P::Bt470m => Some("bt470m"),
        P::Bt470bg => Some("bt470bg"),
        P::Smpte170m => Some("smpte170m"),
        P::Smpte240m => Some("smpte240m"),
        P::Film => Some("film"),
        P::Bt2020 => Some("bt2020"),
        P::Smptest428 => Some("smpte428"),
        P::Smpterp431 => Some("smpte431"),
        P::Smpteeg432 => Some("smpte432"),
        P::Ebu3213 => Some("jedec-p22"),
        _ => None,
    };
    [
        ("color_range", range),
        ("color_space", space),
        ("color_transfer", transfer),
        ("color_primaries", primaries),
    ]
    .into_iter()
    .filter_map(|(field, value)| Some((field, value?)))
    .collect()
}

fn pix_fmt(s: &gst::StructureRef) -> Option<String> {
    let fixed = match s.name().as_str() {
        "video/x-vp8" => Some("yuv420p"),
        "image/gif" | "image/gst-libav-gif" => Some("bgra"),
        "video/x-prores" => match s.get::<&str>("variant").ok()? {
            "standard" | "hq" | "lt" | "proxy" => Some("yuv422p10le"),
            "4444" | "4444xq" => Some("yuva444p10le"),
            _ => None,
        },
        "video/x-theora" => return theora_pix_fmt(s),
        _ => None,
    };
    if let Some(fixed) = fixed {
        return Some(fixed.to_string());
    }
    let chroma = match s.get::<&str>("chroma-format").ok()? {
        "4:2:0" => "yuv420p",
        "4:2:2" => "yuv422p",
        "4:4:4" => "yuv444p",
        "4:0:0" => "gray",
        _ => return None,
    };
    let depth = s.get::<u32>("bit-depth-luma").unwrap_or(8);
    Some(if depth == 8 {
        chroma.to_string()
    } else {
        format!("{chroma}{depth}le")
    })
}

/// The pixel format a Theora identification header (the first stream header) states: its
/// 2-bit pixel format field follows the quality and keyframe-shift fields at byte 40.
fn theora_pix_fmt(s: &gst::StructureRef) -> Option<String> {
    let headers = s.get::<gst::Array>("streamheader").ok()?;
    let first = headers.first()?.get::<gst::Buffer>().ok()?;
    let map = first.map_readable().ok()?;
    if map.len() < 42 || &map[..7] != b"\x80theora" {
        return None;
    }
    let bits = u16::from_be_bytes([map[40], map[41]]);
    Some(
        match (bits >> 3) & 3 {
            0 => "yuv420p",
            2 => "yuv422p",
            3 => "yuv444p",
            _ => return None,
        }
        .to_string(),
    )
}

/// The tags clients read, under ffprobe's names.
fn tags_json(tags: Option<&gst::TagList>) -> Map<String, Value> {
    let mut out = Map::new();
    let Some(tags) = tags else { return out };
    let names = [
        ("title", "title"),
        ("artist", "artist"),
        ("album", "album"),
        ("comment", "comment"),
        ("genre", "genre"),
        ("copyright", "copyright"),
        ("encoder", "encoder"),
    ];
    for (gst_name, ffprobe_name) in names {
        if let Some(value) = tags.generic(gst_name).and_then(|v| v.get::<String>().ok()) {
            out.insert(ffprobe_name.into(), json!(value));
        }
    }
    if let Some(code) = tags.get::<gst::tags::LanguageCode>() {
        out.insert("language".into(), json!(language(code.get())));
    }
    if let Some(date) = tags.get::<gst::tags::DateTime>() {
        if let Ok(iso) = date.get().to_iso8601_string() {
            out.insert("creation_time".into(), json!(iso.to_string()));
        }
    }
    out
}

/// A language in ISO 639-2/T, as MP4 stores it and ffprobe shows it (`eng`, `fra`): demuxers
/// tag the two-letter ISO 639-1 code where there is one (`en`).
fn language(code: &str) -> String {
    gstreamer_tag::language_codes::language_code_iso_639_2t(code)
        .map_or_else(|| code.to_string(), |c| c.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_conventions() {
        gst::init().unwrap();
        assert_eq!(seconds(gst::ClockTime::from_mseconds(10_033)), "10.033000");
        assert_eq!(ratio(1280, 720), "16:9");
        assert_eq!(language("en"), "eng");
        assert_eq!(language("fr"), "fra");
        assert_eq!(language("und"), "und");
        let caps = gst::Caps::builder("video/x-h264")
            .field("profile", "constrained-baseline")
            .field("chroma-format", "4:2:0")
            .field("bit-depth-luma", 10u32)
            .build();
        let s = caps.structure(0).unwrap();
        assert_eq!(codec_name(s).unwrap().0, "h264");
        assert_eq!(profile(s).unwrap(), "Constrained Baseline");
        assert_eq!(pix_fmt(s).unwrap(), "yuv420p10le");
        let aac = gst::Caps::builder("audio/mpeg")
            .field("mpegversion", 4)
            .field("profile", "lc")
            .build();
        assert_eq!(codec_name(aac.structure(0).unwrap()).unwrap().0, "aac");
        assert_eq!(profile(aac.structure(0).unwrap()).unwrap(), "LC");
    }
}
