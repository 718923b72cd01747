//! Byte ranges of outputs held whole (thumbnails, sheets, animated previews, metadata, the
//! sample clip): Safari asks for a range before it plays a video-like response, and a client
//! may resume. A single `bytes=` range is answered 206; several, or none, get the whole (200).

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

/// `body` as the request's `Range` asks (when its `If-Range`, if any, is this output's `tag`).
pub fn answer(
    headers: &HeaderMap,
    body: Bytes,
    content_type: impl Into<String>,
    tag: Option<&HeaderValue>,
) -> Response {
    let len = body.len() as u64;
    let current = headers.get(header::IF_RANGE).is_none_or(|v| Some(v) == tag);
    let ranged = headers
        .get(header::RANGE)
        .filter(|_| current)
        .and_then(|r| r.to_str().ok())
        .and_then(|r| byte_range(r, len));
    let common = [
        (header::CONTENT_TYPE, content_type.into()),
        (header::ACCEPT_RANGES, "bytes".to_string()),
    ];
    match ranged {
        Some(Ok((start, end))) => (
            StatusCode::PARTIAL_CONTENT,
            common,
            [(header::CONTENT_RANGE, format!("bytes {start}-{end}/{len}"))],
            body.slice(start as usize..=end as usize),
        )
            .into_response(),
        Some(Err(())) => (
            StatusCode::RANGE_NOT_SATISFIABLE,
            [(header::CONTENT_RANGE, format!("bytes */{len}"))],
        )
            .into_response(),
        None => (common, body).into_response(),
    }
}

/// `bytes=START-[END]` (or `bytes=-SUFFIX`) within `len`, inclusive; Err when unsatisfiable,
/// None when not a single byte range (the whole clip is sent).
fn byte_range(header: &str, len: u64) -> Option<Result<(u64, u64), ()>> {
    let spec = header.strip_prefix("bytes=")?.trim();
    if spec.contains(',') {
        return None;
    }
    let (start, end) = spec.split_once('-')?;
    let range = match (start.trim(), end.trim()) {
        ("", suffix) => {
            let n: u64 = suffix.parse().ok()?;
            (len.saturating_sub(n), len.checked_sub(1)?)
        }
        (start, "") => (start.parse().ok()?, len.saturating_sub(1)),
        (start, end) => (
            start.parse().ok()?,
            end.parse::<u64>().ok()?.min(len.saturating_sub(1)),
        ),
    };
    Some(if range.0 < len && range.0 <= range.1 {
        Ok(range)
    } else {
        Err(())
    })
}

#[cfg(test)]
mod tests {
    use super::byte_range;

    #[test]
    fn ranges() {
        assert_eq!(byte_range("bytes=0-99", 1000), Some(Ok((0, 99))));
        assert_eq!(byte_range("bytes=900-", 1000), Some(Ok((900, 999))));
        assert_eq!(byte_range("bytes=-100", 1000), Some(Ok((900, 999))));
        assert_eq!(byte_range("bytes=0-65535", 1000), Some(Ok((0, 999))));
        assert_eq!(byte_range("bytes=1000-", 1000), Some(Err(())));
        assert_eq!(byte_range("bytes=0-1,5-6", 1000), None);
        assert_eq!(byte_range("items=0-1", 1000), None);
    }
}
