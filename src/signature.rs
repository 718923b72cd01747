//! Signed URLs, opt-in as imgproxy does them: with a key configured, a request to an endpoint
//! carries `sig` = unpadded base64url(HMAC-SHA256(key, salt + path + "?" + query)), where the
//! query is the one received, in its order, without the `sig` pair. Nobody without the key can
//! make the service fetch a URL, or change a parameter of one it was given.

use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The key and salt, from PYTHUMBIO_KEY and PYTHUMBIO_SALT (hex).
#[derive(Clone)]
pub struct Signer {
    key: Vec<u8>,
    salt: Vec<u8>,
}

/// Why a request's signature does not hold.
#[derive(Debug, PartialEq, Eq)]
pub enum SignatureError {
    Missing,
    Invalid,
    /// `sig` given more than once: a signed URL has one spelling.
    Repeated,
}

impl Signer {
    pub fn new(key: Vec<u8>, salt: Vec<u8>) -> Self {
        Self { key, salt }
    }

    fn mac(&self, path: &str, query: &str) -> HmacSha256 {
        let mut mac =
            HmacSha256::new_from_slice(&self.key).expect("HMAC takes a key of any length");
        mac.update(&self.salt);
        mac.update(path.as_bytes());
        mac.update(b"?");
        mac.update(query.as_bytes());
        mac
    }

    /// `PATH?QUERY` with `&sig=...` added (a `sig` already in it is replaced).
    pub fn sign(&self, path_and_query: &str) -> String {
        let (path, query) = path_and_query
            .split_once('?')
            .unwrap_or((path_and_query, ""));
        let (query, _) = without_sig(query).unwrap_or_default();
        let sig = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(self.mac(path, &query).finalize().into_bytes());
        match query.is_empty() {
            true => format!("{path}?sig={sig}"),
            false => format!("{path}?{query}&sig={sig}"),
        }
    }

    /// Checks a request's path and raw query string, in constant time.
    pub fn verify(&self, path: &str, raw_query: &str) -> Result<(), SignatureError> {
        let (query, sig) = without_sig(raw_query)?;
        let sig = sig.ok_or(SignatureError::Missing)?;
        let sig = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(sig)
            .map_err(|_| SignatureError::Invalid)?;
        self.mac(path, &query)
            .verify_slice(&sig)
            .map_err(|_| SignatureError::Invalid)
    }
}

/// The query without its `sig` pair (the rest exactly as received, in order, empty pairs
/// included: `a=1&&b=2` is not `a=1&b=2`), and that pair's value.
fn without_sig(query: &str) -> Result<(String, Option<&str>), SignatureError> {
    let mut sig = None;
    let mut rest: Vec<&str> = vec![];
    for pair in query.split('&') {
        match pair.strip_prefix("sig=") {
            Some(_) if sig.is_some() => return Err(SignatureError::Repeated),
            Some(value) => sig = Some(value),
            None => rest.push(pair),
        }
    }
    if rest == [""] {
        rest.clear();
    }
    Ok((rest.join("&"), sig))
}

/// Key material from the configuration; its `Debug` never shows it.
#[derive(Clone)]
pub struct Secret(pub Vec<u8>);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// A secret from hex, for PYTHUMBIO_KEY and PYTHUMBIO_SALT.
pub fn parse_secret(text: &str) -> Result<Secret, NotHex> {
    parse_hex(text).map(Secret)
}

/// Key material that is not an even number of hex digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an even number of hex digits")]
pub struct NotHex;

/// Bytes from hex.
pub fn parse_hex(text: &str) -> Result<Vec<u8>, NotHex> {
    let text = text.trim();
    if text.is_empty() || text.len() % 2 == 1 || !text.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(NotHex);
    }
    Ok((0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer() -> Signer {
        Signer::new(
            parse_hex("943b421c9eb07c830af81030552c86009268de4e532ba2ee2eab8247c6da0881").unwrap(),
            b"salt".to_vec(),
        )
    }

    #[test]
    fn one_spelling_per_signed_url() {
        let signed = signer().sign("/thumb?url=x&&width=100");
        let (path, query) = signed.split_once('?').unwrap();
        assert_eq!(signer().verify(path, query), Ok(()));
        // Empty pairs are part of what is signed.
        let (_, sig) = query.rsplit_once("sig=").unwrap();
        let squeezed = format!("url=x&width=100&sig={sig}");
        assert_eq!(
            signer().verify(path, &squeezed),
            Err(SignatureError::Invalid)
        );
        let twice = format!("{query}&sig={sig}");
        assert_eq!(signer().verify(path, &twice), Err(SignatureError::Repeated));
    }

    #[test]
    fn signs_and_verifies() {
        let signed = signer().sign("/thumb?url=http%3A%2F%2Fh%2Fv.mp4&width=100");
        let (path, query) = signed.split_once('?').unwrap();
        assert_eq!(signer().verify(path, query), Ok(()));
        // The sig may stand anywhere; the rest keeps its order.
        let sig = query.rsplit_once("&sig=").unwrap().1;
        let moved = format!("sig={sig}&url=http%3A%2F%2Fh%2Fv.mp4&width=100");
        assert_eq!(signer().verify(path, &moved), Ok(()));
    }

    #[test]
    fn refuses_changes_and_other_keys() {
        let signed = signer().sign("/thumb?url=http%3A%2F%2Fh%2Fv.mp4&width=100");
        let (path, query) = signed.split_once('?').unwrap();
        assert_eq!(
            signer().verify(path, &query.replace("width=100", "width=101")),
            Err(SignatureError::Invalid)
        );
        assert_eq!(
            signer().verify("/webm", query),
            Err(SignatureError::Invalid)
        );
        let reordered = query.replacen(
            "url=http%3A%2F%2Fh%2Fv.mp4&width=100",
            "width=100&url=http%3A%2F%2Fh%2Fv.mp4",
            1,
        );
        assert_eq!(
            signer().verify(path, &reordered),
            Err(SignatureError::Invalid)
        );
        let other = Signer::new(vec![1, 2, 3], b"salt".to_vec());
        assert_eq!(other.verify(path, query), Err(SignatureError::Invalid));
        assert_eq!(signer().verify(path, "url=x"), Err(SignatureError::Missing));
        assert_eq!(
            signer().verify(path, "url=x&sig=%%%"),
            Err(SignatureError::Invalid)
        );
    }

    #[test]
    fn hex() {
        assert_eq!(parse_hex("00ff10"), Ok(vec![0, 255, 16]));
        for bad in ["", "abc", "zz", "0x00"] {
            assert!(parse_hex(bad).is_err(), "{bad}");
        }
    }
}
