//! `{name}` placeholders in pipeline descriptions: found, and filled in one pass. A name stands
//! for a part (a fragment the file or a parts file writes once) or a text parameter's value (a
//! validated number or word, or the fragment an enum value stands for), or, written `{a*b}`, for
//! the product of two numeric parameters (a tile's width times the pixel density); a fragment's
//! own placeholders are filled where it is inserted, so the result does not depend on any order.

use std::borrow::Cow;

/// How deep fragments may nest (a part inside a part inside an enum's fragment...): deeper is a
/// cycle in all but name.
const MAX_DEPTH: usize = 16;

/// Why a description could not be filled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// No part and no text parameter of that name.
    #[error("{{{0}}} is neither a part nor a parameter with to = \"text\" or `inserts`")]
    Unknown(String),
    /// A fragment that, through others, holds itself.
    #[error("{{{0}}} holds itself (through the fragments it inserts)")]
    Cycle(String),
}

impl TemplateError {
    pub fn name(&self) -> &str {
        match self {
            Self::Unknown(name) | Self::Cycle(name) => name,
        }
    }
}

/// `text` with every placeholder replaced by what `lookup` gives for it, filled in turn.
pub fn fill<'a>(
    text: &str,
    lookup: &impl Fn(&str) -> Option<Cow<'a, str>>,
) -> Result<String, TemplateError> {
    fill_at(text, lookup, 0)
}

fn fill_at<'a>(
    text: &str,
    lookup: &impl Fn(&str) -> Option<Cow<'a, str>>,
    depth: usize,
) -> Result<String, TemplateError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    for Placeholder { start, name } in scan(text) {
        let offset = text.len() - rest.len();
        out.push_str(&rest[..start - offset]);
        rest = &text[start + name.len() + 2..];
        let fragment = lookup(name).ok_or_else(|| TemplateError::Unknown(name.into()))?;
        if depth == MAX_DEPTH {
            return Err(TemplateError::Cycle(name.into()));
        }
        out.push_str(&fill_at(&fragment, lookup, depth + 1)?);
    }
    out.push_str(rest);
    Ok(out)
}

struct Placeholder<'a> {
    start: usize,
    name: &'a str,
}

/// The placeholders of `text`, in order: `{` + a lower-case identifier (or two joined by `*`) +
/// `}`. Caps lists such as `{ I420, NV12 }` are not placeholders.
fn scan(text: &str) -> impl Iterator<Item = Placeholder<'_>> {
    let mut from = 0;
    std::iter::from_fn(move || loop {
        let open = from + text[from..].find('{')?;
        let close = open + 1 + text[open + 1..].find('}')?;
        let name = &text[open + 1..close];
        let identifier = |name: &str| {
            name.starts_with(|c: char| c.is_ascii_lowercase())
                && name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        };
        let is_name = match name.split_once('*') {
            Some((a, b)) => identifier(a) && identifier(b),
            None => identifier(name),
        };
        if is_name {
            from = close + 1;
            return Some(Placeholder { start: open, name });
        }
        from = open + 1;
    })
}

/// Names in `{name}` form, once each, in order of first use.
pub fn placeholders(text: &str) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for p in scan(text) {
        if !names.iter().any(|n| n == p.name) {
            names.push(p.name.to_string());
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<Cow<'a, str>> {
        move |name| {
            pairs
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| Cow::Borrowed(*v))
        }
    }

    #[test]
    fn finds_placeholders_not_caps_lists() {
        let d = "a ! video/x-raw,format={ I420, NV12 },width=[1,{width}] ! b x={bitrate}000 {I420} w={w*dpr} {a * b}";
        assert_eq!(placeholders(d), ["width", "bitrate", "w*dpr"]);
    }

    #[test]
    fn fills_fragments_where_they_are_inserted() {
        let values = [
            ("fit", "videoscale ! video/x-raw,width={width}"),
            ("width", "426"),
            ("picture", "{upright} ! {fit}"),
            ("upright", "videoflip video-direction=auto"),
        ];
        let text = "src. ! {picture} ! format={ I420 } ! sink";
        assert_eq!(
            fill(text, &lookup(&values)).unwrap(),
            "src. ! videoflip video-direction=auto ! videoscale ! video/x-raw,width=426 ! format={ I420 } ! sink"
        );
    }

    #[test]
    fn an_unknown_or_cyclic_name_is_an_error() {
        assert_eq!(
            fill("a {b}", &lookup(&[])),
            Err(TemplateError::Unknown("b".into()))
        );
        let values = [("a", "x {b}"), ("b", "y {a}")];
        assert!(matches!(
            fill("{a}", &lookup(&values)),
            Err(TemplateError::Cycle(_))
        ));
    }
}
