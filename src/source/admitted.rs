//! A url the source policy let through. Only [`Policy::admit`] makes one from a request's text
//! (the service's own memory source makes the others), and the engine sets nothing else on a
//! source element: a url cannot reach a pipeline without passing the policy. The element still
//! checks every address the host resolves to, and every redirect, when it connects.

use super::policy::{FileRefusal, Policy};
use super::{Refusal, PULL_PREFIX};

/// An admitted source url.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admitted {
    url: String,
}

/// Why a url was not admitted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotAdmitted {
    #[error("{0}")]
    Refused(Refusal),
    /// A `file://` url inside the file root that names no file.
    #[error("no such file in the file root")]
    Missing,
}

impl Policy {
    /// `text` as an admitted url: an http(s) url the policy allows, or a `file://` url inside
    /// the file root, given as its real path.
    pub fn admit(&self, text: &str) -> Result<Admitted, NotAdmitted> {
        let url = url::Url::parse(text)
            .map_err(|_| NotAdmitted::Refused(Refusal(super::Rule::Scheme)))?;
        if url.scheme() != "file" {
            self.check_url(&url).map_err(NotAdmitted::Refused)?;
            return Ok(Admitted { url: text.into() });
        }
        match self.check_file(&url) {
            Ok(path) => Ok(Admitted {
                url: url::Url::from_file_path(&path)
                    .expect("an absolute path")
                    .to_string(),
            }),
            Err(FileRefusal::Refused(refusal)) => Err(NotAdmitted::Refused(refusal)),
            Err(FileRefusal::Missing) => Err(NotAdmitted::Missing),
        }
    }
}

impl Admitted {
    /// A url of the service's own memory source (bytes it already holds).
    pub(crate) fn held(uri: String) -> Self {
        Self { url: uri }
    }

    pub fn as_str(&self) -> &str {
        &self.url
    }

    /// The URI a decoder is given: http(s) under [`PULL_PREFIX`], so that uridecodebin links the
    /// service's element straight to the demuxer; others as they are.
    pub fn decoder_uri(&self) -> String {
        let lower = self.url.get(..8).unwrap_or(&self.url).to_ascii_lowercase();
        if lower.starts_with("http://") || lower.starts_with("https://") {
            format!("{PULL_PREFIX}{}", self.url)
        } else {
            self.url.clone()
        }
    }
}
