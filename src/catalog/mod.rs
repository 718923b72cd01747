//! The endpoints the service answers, read from pipeline files: one TOML file per endpoint with
//! its routes, kind, content type, gst-launch description and declared parameters. The binary
//! embeds `pipelines/`; `PYTHUMBIO_PIPELINES=DIR` replaces that set with the files in DIR.

pub mod params;

use crate::engine;
use params::{Param, ParamKind, RawParam, Target};
use serde::Deserialize;
use std::{collections::BTreeMap, collections::HashMap, fs, path::Path, sync::Arc};

include!(concat!(env!("OUT_DIR"), "/embedded_pipelines.rs"));

/// Paths the service answers itself; a pipeline file may not take them.
pub const RESERVED_ROUTES: &[&str] = &["/version", "/metrics"];

/// How an endpoint turns its pipeline into a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Every appsink buffer is sent as it comes, in a chunked body.
    Stream,
    /// One buffer, taken from the preroll after a seek.
    Still,
    /// No description: the Discoverer's metadata as ffprobe-shaped JSON.
    Discover,
}

/// One endpoint, as declared by its pipeline file and checked against this GStreamer install.
#[derive(Debug)]
pub struct Endpoint {
    pub file: String,
    pub routes: Vec<String>,
    pub kind: Kind,
    pub content_type: String,
    pub summary: String,
    pub description: String,
    pub params: Vec<Param>,
    /// Still: seconds into the source of the frame to take.
    pub start: f64,
    /// Stream: how many times faster than real time the source plays.
    pub rate: f64,
}

impl Endpoint {
    /// The description with validated values in place of its `{name}` placeholders.
    pub fn render(&self, text: &[(String, String)]) -> String {
        let mut out = self.description.clone();
        for (name, value) in text {
            out = out.replace(&format!("{{{name}}}"), value);
        }
        out
    }

    /// Factory names of the elements the description uses (uridecodebin for the Discoverer).
    pub fn elements(&self) -> Vec<String> {
        match self.kind {
            Kind::Discover => vec!["uridecodebin".into()],
            _ => element_names(&self.description),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEndpoint {
    routes: Vec<String>,
    kind: Kind,
    content_type: String,
    #[serde(default)]
    summary: String,
    #[serde(default)]
    description: String,
    start: Option<f64>,
    rate: Option<f64>,
    #[serde(default)]
    params: BTreeMap<String, RawParam>,
}

/// The loaded set of endpoints, by route.
#[derive(Debug, Default)]
pub struct Catalog {
    pub endpoints: Vec<Arc<Endpoint>>,
    by_route: HashMap<String, Arc<Endpoint>>,
}

impl Catalog {
    /// The set built into the binary.
    pub fn embedded() -> Result<Self, String> {
        Self::from_files(EMBEDDED.iter().map(|(n, t)| (n.to_string(), t.to_string())))
    }

    /// The `*.toml` files of `dir`, replacing the embedded set.
    pub fn from_dir(dir: &Path) -> Result<Self, String> {
        let entries = fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let mut files = Vec::new();
        for entry in entries {
            let path = entry.map_err(|e| format!("{}: {e}", dir.display()))?.path();
            if path.extension().is_some_and(|x| x == "toml") {
                let text =
                    fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
                files.push((path.display().to_string(), text));
            }
        }
        files.sort();
        if files.is_empty() {
            return Err(format!("{}: no *.toml pipeline files", dir.display()));
        }
        Self::from_files(files)
    }

    fn from_files(files: impl IntoIterator<Item = (String, String)>) -> Result<Self, String> {
        let mut catalog = Catalog::default();
        for (file, text) in files {
            let endpoint =
                Arc::new(parse_endpoint(&file, &text).map_err(|e| format!("{file}: {e}"))?);
            for route in &endpoint.routes {
                if let Some(other) = catalog.by_route.get(route) {
                    return Err(format!(
                        "{file}: route {route} is already taken by {}",
                        other.file
                    ));
                }
                catalog.by_route.insert(route.clone(), endpoint.clone());
            }
            catalog.endpoints.push(endpoint);
        }
        Ok(catalog)
    }

    pub fn get(&self, route: &str) -> Option<&Arc<Endpoint>> {
        self.by_route.get(route)
    }

    /// Every element factory any endpoint uses, sorted, once each.
    pub fn elements(&self) -> Vec<String> {
        let mut all: Vec<String> = self.endpoints.iter().flat_map(|e| e.elements()).collect();
        all.sort();
        all.dedup();
        all
    }
}

/// Reads one pipeline file and checks it: routes, placeholders against parameters, and a trial
/// parse with the defaults so a missing element or property is found at start, not per request.
fn parse_endpoint(file: &str, text: &str) -> Result<Endpoint, String> {
    let raw: RawEndpoint = toml::from_str(text).map_err(|e| e.to_string())?;
    let params = raw
        .params
        .into_iter()
        .map(|(name, p)| p.into_param(&name))
        .collect::<Result<Vec<_>, _>>()?;
    if raw.routes.is_empty() {
        return Err("routes is empty".into());
    }
    for route in &raw.routes {
        let valid = route.starts_with('/')
            && route.len() > 1
            && route[1..].split('/').all(|s| {
                !s.is_empty()
                    && s.chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            });
        if !valid {
            return Err(format!(
                "route {route:?} is not a path like /name or /name/variant"
            ));
        }
        if RESERVED_ROUTES.contains(&route.as_str()) {
            return Err(format!("route {route} is reserved by the service"));
        }
    }
    if params.iter().filter(|p| p.kind == ParamKind::Url).count() != 1 {
        return Err("exactly one parameter must have type = \"url\" (the source)".into());
    }
    let description = raw.description.trim().to_string();
    let endpoint = Endpoint {
        file: file.into(),
        routes: raw.routes,
        kind: raw.kind,
        content_type: raw.content_type,
        summary: raw.summary,
        description,
        params,
        start: raw.start.unwrap_or(0.0),
        rate: raw.rate.unwrap_or(1.0),
    };
    if !(endpoint.start.is_finite() && endpoint.start >= 0.0) {
        return Err("start must be a number of seconds, 0 or more".into());
    }
    if !(endpoint.rate.is_finite() && endpoint.rate > 0.0) {
        return Err("rate must be a number above 0".into());
    }
    if endpoint.kind == Kind::Discover {
        if !endpoint.description.is_empty() {
            return Err("a discover endpoint has no description".into());
        }
        if endpoint.params.iter().any(|p| p.target != Target::Service) {
            return Err("a discover endpoint's parameters have no `to`".into());
        }
        return Ok(endpoint);
    }
    check_placeholders(&endpoint)?;
    for element in element_names(&endpoint.description) {
        if !engine::element_exists(&element) {
            let line = text.lines().position(|l| {
                l.split(|c: char| c.is_whitespace() || c == '!')
                    .any(|w| w == element)
            });
            let at = line
                .map(|n| format!("line {}: ", n + 1))
                .unwrap_or_default();
            let package = engine::debian_package(&element)
                .map(|p| format!(" (Debian package {p})"))
                .unwrap_or_default();
            return Err(format!("{at}element {element} is not installed{package}"));
        }
    }
    let defaults = params::bind(&endpoint.params, &sample_query(&endpoint.params))
        .map_err(|e| format!("defaults do not validate: {e}"))?;
    engine::launch::check(&endpoint.render(&defaults.text), &defaults.properties)
        .map_err(|e| e.to_string())?;
    Ok(endpoint)
}

/// A query that satisfies every required parameter, for the trial parse.
fn sample_query(params: &[Param]) -> Vec<(String, String)> {
    params
        .iter()
        .filter(|p| p.required)
        .map(|p| {
            let value = match p.kind {
                ParamKind::Url => "http://127.0.0.1/check.mp4".to_string(),
                ParamKind::Int { min, .. } => min.to_string(),
            };
            (p.name.clone(), value)
        })
        .collect()
}

/// Every `{name}` in the description is a text parameter, and every text parameter is used.
fn check_placeholders(endpoint: &Endpoint) -> Result<(), String> {
    let used = placeholders(&endpoint.description);
    for name in &used {
        if !endpoint
            .params
            .iter()
            .any(|p| &p.name == name && p.target == Target::Text)
        {
            return Err(format!(
                "{{{name}}} in the description is not a parameter with to = \"text\""
            ));
        }
    }
    for p in endpoint.params.iter().filter(|p| p.target == Target::Text) {
        if !used.contains(&p.name) {
            return Err(format!(
                "parameter {} has to = \"text\" but {{{}}} is not in the description",
                p.name, p.name
            ));
        }
    }
    Ok(())
}

/// Names in `{name}` form (lower-case identifiers; caps lists such as `{I420, NV12}` are not).
fn placeholders(description: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = description;
    while let Some(open) = rest.find('{') {
        rest = &rest[open + 1..];
        let Some(close) = rest.find('}') else { break };
        let name = &rest[..close];
        let is_name = name.starts_with(|c: char| c.is_ascii_lowercase())
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if is_name && !names.iter().any(|n| n == name) {
            names.push(name.to_string());
        }
    }
    names
}

/// Element factory names in a gst-launch description: in each `!`-separated part, the words that
/// are neither properties (`a=b`), caps (`video/x-raw,...`) nor pad references (`mux.`).
fn element_names(description: &str) -> Vec<String> {
    let mut names = Vec::new();
    for part in description.split('!') {
        let mut quoted = false;
        for word in part.split_whitespace() {
            let starts_quote = word.matches('"').count() % 2 == 1;
            if quoted {
                quoted ^= starts_quote;
                continue;
            }
            quoted = starts_quote;
            if word.contains('=') || word.contains('/') || word.contains('.') || word.contains('(')
            {
                continue;
            }
            if !names.iter().any(|n| n == word) {
                names.push(word.to_string());
            }
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_placeholders_not_caps_lists() {
        let d = "a ! video/x-raw,format={ I420, NV12 },width=[1,{width}] ! b x={bitrate}000 {I420}";
        assert_eq!(
            placeholders(d),
            vec!["width".to_string(), "bitrate".to_string()]
        );
    }

    #[test]
    fn finds_element_names() {
        let d = "uridecodebin name=src\nwebmmux name=mux streamable=true ! appsink name=sink\n\
                 src. ! video/x-raw,width=[1,426] ! queue ! vp8enc deadline=1 ! mux.\n\
                 textoverlay text=\"a b c\" ! mux.sink_1";
        assert_eq!(
            element_names(d),
            [
                "uridecodebin",
                "webmmux",
                "appsink",
                "queue",
                "vp8enc",
                "textoverlay"
            ]
        );
    }
}
