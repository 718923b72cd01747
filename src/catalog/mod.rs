//! The endpoints the service answers, read from pipeline files: one TOML file per endpoint with
//! its routes, kind, content type, gst-launch description and declared parameters. The binary
//! embeds `pipelines/`; `PYTHUMBIO_PIPELINES=DIR` replaces that set with the files in DIR.

pub mod params;

use crate::engine;
use params::{Bound, Param, ParamKind, RawParam, Target, Value};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::{collections::BTreeMap, collections::HashMap, fs, sync::Arc};

include!(concat!(env!("OUT_DIR"), "/embedded_pipelines.rs"));

/// Paths the service answers itself; a pipeline file may not take them.
pub const RESERVED_ROUTES: &[&str] = &[
    "/version",
    "/metrics",
    "/healthz",
    "/readyz",
    "/openapi.json",
    "/docs",
    "/",
    "/sample.webm",
];

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
    /// Frames sampled over the video as tiles of one sprite sheet (`sheet` encodes it), or the
    /// sheet's layout as WebVTT or JSON.
    Storyboard,
}

/// The parameters a storyboard reads by name (`to = "kind"`), all ints or seconds.
pub const STORYBOARD_PARAMS: &[&str] = &["interval", "max_tiles", "columns"];

/// One endpoint, as declared by its pipeline file and checked against this GStreamer install.
#[derive(Debug)]
pub struct Endpoint {
    pub file: String,
    pub routes: Vec<String>,
    pub kind: Kind,
    content_type: ContentType,
    pub summary: String,
    pub description: String,
    pub params: Vec<Param>,
    /// Still: seconds into the source of the frame taken when the request names no time.
    pub start: f64,
    rate: Rate,
    /// An enum parameter whose values are also path suffixes: `/thumb.png` is `format=png`.
    pub suffix: Option<String>,
    /// Storyboard: the description that encodes the assembled sheet, fed by `appsrc name=tiles`.
    pub sheet: Option<String>,
    /// The output depends only on the source and the parameters: it gets an ETag and may be
    /// cached (not for encoders whose output varies from run to run, such as /webm's).
    pub cacheable: bool,
    /// Stream: values of an enum parameter whose output is collected whole and assembled by the
    /// service instead of streamed: `{ from = "format", webp = "webp" }` (animated WebP).
    assemble: Option<BTreeMap<String, String>>,
    elements: Vec<String>,
}

/// The content type, fixed or chosen by an enum parameter's value.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum ContentType {
    Fixed(String),
    /// `{ from = "format", jpg = "image/jpeg", png = "image/png" }`
    ByValue(BTreeMap<String, String>),
}

/// How many times faster than real time the source plays: a number, or the product of numeric
/// parameters (`"interval*fps"`: one frame every `interval` s shown at `fps`).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum Rate {
    Fixed(f64),
    Product(String),
}

impl Endpoint {
    /// The description with validated values in place of its `{name}` placeholders (an enum's
    /// fragment may hold placeholders of its own).
    pub fn render(&self, text: &[(String, String)]) -> String {
        fill(&self.description, text)
    }

    /// The sheet description with this request's values, for a storyboard.
    pub fn render_sheet(&self, text: &[(String, String)]) -> Option<String> {
        self.sheet.as_deref().map(|sheet| fill(sheet, text))
    }

    /// The assembler this request's output goes to instead of being streamed, if any.
    pub fn assembler(&self, bound: &Bound) -> Option<&str> {
        let map = self.assemble.as_ref()?;
        match bound.values.get(map.get("from")?)? {
            Value::Word(word) => map.get(word).map(String::as_str),
            _ => None,
        }
    }

    /// Every content type the endpoint can answer with.
    pub fn content_types(&self) -> Vec<String> {
        match &self.content_type {
            ContentType::Fixed(t) => vec![t.clone()],
            ContentType::ByValue(map) => {
                let mut types: Vec<String> = map
                    .iter()
                    .filter(|(k, _)| *k != "from")
                    .map(|(_, v)| v.clone())
                    .collect();
                types.sort();
                types.dedup();
                types
            }
        }
    }

    /// The content type of this request's output.
    pub fn content_type(&self, bound: &Bound) -> String {
        match &self.content_type {
            ContentType::Fixed(t) => t.clone(),
            ContentType::ByValue(map) => match bound.values.get(&map["from"]) {
                Some(Value::Word(word)) => map[word].clone(),
                _ => unreachable!("checked at load: `from` names an enum with a default"),
            },
        }
    }

    /// The playback rate of this request.
    pub fn rate(&self, bound: &Bound) -> f64 {
        match &self.rate {
            Rate::Fixed(r) => *r,
            Rate::Product(names) => names
                .split('*')
                .map(|n| {
                    bound
                        .values
                        .get(n.trim())
                        .and_then(Value::as_f64)
                        .unwrap_or(1.0)
                })
                .product(),
        }
    }

    /// Every path this endpoint answers: its routes, and each with a suffix for each value of
    /// its suffix parameter, paired with the value the suffix sets.
    pub fn paths(&self) -> Vec<(String, Option<(String, String)>)> {
        let mut paths: Vec<_> = self.routes.iter().map(|r| (r.clone(), None)).collect();
        if let Some(values) = self.suffix.as_ref().and_then(|s| self.enum_words(s)) {
            for route in &self.routes {
                for word in &values {
                    let preset = (self.suffix.clone().unwrap(), word.clone());
                    paths.push((format!("{route}.{word}"), Some(preset)));
                }
            }
        }
        paths
    }

    fn enum_words(&self, name: &str) -> Option<Vec<String>> {
        self.params
            .iter()
            .find(|p| p.name == name)
            .and_then(|p| match &p.kind {
                ParamKind::Enum { values } => Some(values.iter().map(|v| v.word.clone()).collect()),
                _ => None,
            })
    }

    /// The descriptions and every enum fragment: all the text a request can make.
    fn texts(&self) -> Vec<&str> {
        let mut texts = vec![self.description.as_str()];
        texts.extend(self.sheet.as_deref());
        texts.extend(self.params.iter().filter_map(|p| p.inserts.as_deref()));
        for p in &self.params {
            if let ParamKind::Enum { values } = &p.kind {
                texts.extend(values.iter().map(|v| v.text.as_str()));
            }
        }
        texts
    }

    /// Factory names of the elements the endpoint can use, over every enum value (uridecodebin
    /// for the Discoverer).
    pub fn elements(&self) -> &[String] {
        &self.elements
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEndpoint {
    routes: Vec<String>,
    kind: Kind,
    content_type: ContentType,
    #[serde(default)]
    summary: String,
    #[serde(default)]
    description: String,
    start: Option<f64>,
    rate: Option<Rate>,
    suffix: Option<String>,
    sheet: Option<String>,
    assemble: Option<BTreeMap<String, String>>,
    #[serde(default)]
    cacheable: bool,
    #[serde(default)]
    params: BTreeMap<String, RawParam>,
}

/// The largest output the configuration allows: `width` and `height` parameters of every
/// pipeline file are capped to it, whatever the file declares.
#[derive(Debug, Clone, Copy)]
pub struct OutputLimits {
    pub width: i64,
    pub height: i64,
}

impl OutputLimits {
    fn apply(&self, param: &mut Param) -> Result<(), String> {
        let cap = match param.name.as_str() {
            "width" => self.width,
            "height" => self.height,
            _ => return Ok(()),
        };
        if let ParamKind::Int { min, max } = &mut param.kind {
            if *min > cap {
                return Err(format!(
                    "param {}: min {min} is above the configured limit {cap}",
                    param.name
                ));
            }
            *max = (*max).min(cap);
            if let Some(Value::Int(default)) = &mut param.default {
                *default = (*default).min(cap);
            }
        }
        Ok(())
    }
}

/// Where the pipeline set comes from, so it can be loaded again: the embedded files or a
/// directory, with the configured output limits.
#[derive(Debug, Clone)]
pub struct Source {
    pub dir: Option<PathBuf>,
    pub limits: OutputLimits,
}

impl Source {
    pub fn load(&self) -> Result<Catalog, String> {
        Catalog::load(self.dir.as_deref(), self.limits)
    }

    /// Names, sizes and modification times of the directory's pipeline files: it changes when
    /// a file is added, removed or written. None for the embedded set.
    pub fn fingerprint(&self) -> Option<Vec<(PathBuf, u64, Option<std::time::SystemTime>)>> {
        let dir = self.dir.as_ref()?;
        let mut files: Vec<_> = fs::read_dir(dir)
            .ok()?
            .filter_map(|e| e.ok())
            .filter(|e| e.path().extension().is_some_and(|x| x == "toml"))
            .filter_map(|e| {
                let meta = e.metadata().ok()?;
                Some((e.path(), meta.len(), meta.modified().ok()))
            })
            .collect();
        files.sort();
        Some(files)
    }
}

/// A path the service answers: its endpoint, and the parameter value a suffix sets.
#[derive(Debug, Clone)]
pub struct Route {
    pub endpoint: Arc<Endpoint>,
    pub preset: Option<(String, String)>,
}

/// The loaded set of endpoints, by path.
#[derive(Debug, Default)]
pub struct Catalog {
    pub endpoints: Vec<Arc<Endpoint>>,
    by_path: HashMap<String, Route>,
}

impl Catalog {
    /// The `*.toml` files of `dir` when given, else the set built into the binary.
    pub fn load(dir: Option<&Path>, limits: OutputLimits) -> Result<Self, String> {
        match dir {
            Some(dir) => Self::from_files(Self::read_dir(dir)?, limits),
            None => Self::from_files(
                EMBEDDED.iter().map(|(n, t)| (n.to_string(), t.to_string())),
                limits,
            ),
        }
    }

    fn read_dir(dir: &Path) -> Result<Vec<(String, String)>, String> {
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
        Ok(files)
    }

    fn from_files(
        files: impl IntoIterator<Item = (String, String)>,
        limits: OutputLimits,
    ) -> Result<Self, String> {
        let mut catalog = Catalog::default();
        for (file, text) in files {
            let endpoint = Arc::new(
                parse_endpoint(&file, &text, limits)
                    .map_err(|e| format!("{file}: {}", locate(&text, e)))?,
            );
            for (path, preset) in endpoint.paths() {
                if let Some(other) = catalog.by_path.get(&path) {
                    return Err(format!(
                        "{file}: route {path} is already taken by {}",
                        other.endpoint.file
                    ));
                }
                catalog.by_path.insert(
                    path,
                    Route {
                        endpoint: endpoint.clone(),
                        preset,
                    },
                );
            }
            catalog.endpoints.push(endpoint);
        }
        Ok(catalog)
    }

    pub fn get(&self, path: &str) -> Option<&Route> {
        self.by_path.get(path)
    }

    /// Every element factory any endpoint uses, sorted, once each.
    pub fn elements(&self) -> Vec<String> {
        let mut all: Vec<String> = self
            .endpoints
            .iter()
            .flat_map(|e| e.elements().iter().cloned())
            .collect();
        all.sort();
        all.dedup();
        all
    }
}

/// Reads one pipeline file and checks it: routes, placeholders against parameters, elements, and
/// trial parses (the defaults, then each enum value) so that a missing element or property is
/// found at start, not per request.
/// Parses and checks one pipeline file's text, as loading does (GStreamer must be initialised:
/// its descriptions are trial-parsed).
pub fn parse_file(file: &str, text: &str, limits: OutputLimits) -> Result<Endpoint, String> {
    parse_endpoint(file, text, limits)
}

fn parse_endpoint(file: &str, text: &str, limits: OutputLimits) -> Result<Endpoint, String> {
    let raw: RawEndpoint = toml::from_str(text).map_err(|e| e.to_string())?;
    let mut params = raw
        .params
        .into_iter()
        .map(|(name, p)| p.into_param(&name))
        .collect::<Result<Vec<_>, _>>()?;
    for param in &mut params {
        limits.apply(param)?;
    }
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
    if !params
        .iter()
        .any(|p| p.name == "url" && p.kind == ParamKind::Url && p.required)
    {
        return Err("a required parameter `url` of type \"url\" names the source".into());
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
        rate: raw.rate.unwrap_or(Rate::Fixed(1.0)),
        suffix: raw.suffix,
        sheet: raw.sheet.map(|s| s.trim().to_string()),
        assemble: raw.assemble,
        cacheable: raw.cacheable,
        elements: Vec::new(),
    };
    let mut endpoint = endpoint;
    if !(endpoint.start.is_finite() && endpoint.start >= 0.0) {
        return Err("start must be a number of seconds, 0 or more".into());
    }
    check_rate(&endpoint)?;
    check_content_type(&endpoint)?;
    if let Some(suffix) = &endpoint.suffix {
        if endpoint.enum_words(suffix).is_none() {
            return Err(format!("suffix = {suffix:?} is not an enum parameter"));
        }
    }
    if endpoint.kind == Kind::Discover {
        if !endpoint.description.is_empty() {
            return Err("a discover endpoint has no description".into());
        }
        if endpoint
            .params
            .iter()
            .any(|p| matches!(p.target, Target::Text | Target::Property { .. }))
        {
            return Err("a discover endpoint has no description for parameters to go to".into());
        }
        endpoint.elements = vec!["uridecodebin".into()];
        return Ok(endpoint);
    }
    check_kind(&endpoint)?;
    check_assemble(&endpoint)?;
    check_placeholders(&endpoint)?;
    for query in trial_queries(&endpoint.params) {
        let bound = params::bind(&endpoint.params, &query)
            .map_err(|e| format!("{} does not validate: {e}", describe(&query)))?;
        let description = endpoint.render(&bound.text);
        let sheet = endpoint.render_sheet(&bound.text);
        let names = element_names(&description)
            .into_iter()
            .chain(sheet.iter().flat_map(|s| element_names(s)));
        for element in names {
            if !engine::element_exists(&element) {
                let line = text.lines().position(|l| {
                    l.split(|c: char| c.is_whitespace() || c == '!' || c == '"')
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
            if !endpoint.elements.contains(&element) {
                endpoint.elements.push(element);
            }
        }
        if let Some(sheet) = &sheet {
            engine::launch::check(sheet, &[], false)
                .map_err(|e| format!("sheet, with {}: {e}", describe(&query)))?;
        }
        engine::launch::check(&description, &bound.properties, true)
            .map_err(|e| format!("with {}: {e}", describe(&query)))?;
    }
    Ok(endpoint)
}

/// Puts "line N: " before an error that does not say where it is, when the text it names can be
/// found: a parameter's table, or a `{placeholder}`.
fn locate(text: &str, error: String) -> String {
    if error.starts_with("line ") || error.starts_with("TOML parse error") {
        return error;
    }
    let needle = if let Some(rest) = error.strip_prefix("param ") {
        rest.split(':')
            .next()
            .map(|name| format!("[params.{name}]"))
    } else if let Some(rest) = error.strip_prefix("parameter ") {
        rest.split_whitespace()
            .next()
            .map(|name| format!("[params.{name}]"))
    } else {
        error.find('{').and_then(|open| {
            error[open..]
                .find('}')
                .map(|close| error[open..=open + close].to_string())
        })
    };
    match needle.and_then(|n| text.lines().position(|l| l.contains(&n))) {
        Some(line) => format!("line {}: {error}", line + 1),
        None => error,
    }
}

fn describe(query: &[(String, String)]) -> String {
    let set: Vec<String> = query
        .iter()
        .filter(|(n, _)| n != "url")
        .map(|(n, v)| format!("{n}={v}"))
        .collect();
    if set.is_empty() {
        "the defaults".into()
    } else {
        set.join("&")
    }
}

/// What a kind needs of its file: a storyboard its sheet and sampling parameters; only a
/// storyboard has a sheet.
fn check_kind(endpoint: &Endpoint) -> Result<(), String> {
    let to_kind = |p: &&Param| p.target == Target::Service(params::ServiceTarget::Kind);
    if endpoint.kind != Kind::Storyboard {
        if endpoint.sheet.is_some() {
            return Err("only a storyboard has a sheet".into());
        }
        return Ok(());
    }
    if endpoint.sheet.is_none() {
        return Err("a storyboard needs a sheet: the description that encodes the sheet from appsrc name=tiles".into());
    }
    for name in STORYBOARD_PARAMS {
        let declared = endpoint.params.iter().filter(to_kind).any(|p| {
            &p.name == name
                && p.default.is_some()
                && matches!(p.kind, ParamKind::Int { min, .. } if min > 0)
                    | matches!(p.kind, ParamKind::Seconds { min, .. } if min > 0.0)
        });
        if !declared {
            return Err(format!(
                "a storyboard declares `{name}` (to = \"kind\", a default, a minimum above 0)"
            ));
        }
    }
    Ok(())
}

/// Assemblers the service has.
const ASSEMBLERS: &[&str] = &["webp"];

fn check_assemble(endpoint: &Endpoint) -> Result<(), String> {
    let Some(map) = &endpoint.assemble else {
        return Ok(());
    };
    if endpoint.kind != Kind::Stream {
        return Err("only a stream's output can be assembled".into());
    }
    let from = map
        .get("from")
        .ok_or("assemble: a table needs `from` (an enum parameter)")?;
    let words = endpoint
        .enum_words(from)
        .ok_or_else(|| format!("assemble: from = {from:?} is not an enum parameter"))?;
    for (word, assembler) in map.iter().filter(|(k, _)| *k != "from") {
        if !words.contains(word) {
            return Err(format!("assemble: {word:?} is not a value of {from}"));
        }
        if !ASSEMBLERS.contains(&assembler.as_str()) {
            return Err(format!(
                "assemble: no assembler {assembler:?} (there is: {})",
                ASSEMBLERS.join(", ")
            ));
        }
    }
    Ok(())
}

fn check_rate(endpoint: &Endpoint) -> Result<(), String> {
    match &endpoint.rate {
        Rate::Fixed(r) if r.is_finite() && *r > 0.0 => Ok(()),
        Rate::Fixed(_) => Err("rate must be a number above 0".into()),
        Rate::Product(names) => {
            for name in names.split('*').map(str::trim) {
                let numeric = endpoint.params.iter().any(|p| {
                    p.name == name
                        && p.default.is_some()
                        && matches!(p.kind, ParamKind::Int { min, .. } if min > 0)
                            | matches!(p.kind, ParamKind::Float { min, .. } | ParamKind::Seconds { min, .. } if min > 0.0)
                });
                if !numeric {
                    return Err(format!("rate: {name:?} is not a numeric parameter with a default and a minimum above 0"));
                }
            }
            Ok(())
        }
    }
}

fn check_content_type(endpoint: &Endpoint) -> Result<(), String> {
    let ContentType::ByValue(map) = &endpoint.content_type else {
        return Ok(());
    };
    let from = map
        .get("from")
        .ok_or("content_type: a table needs `from` (an enum parameter)")?;
    let param = endpoint.params.iter().find(|p| &p.name == from);
    let words = endpoint
        .enum_words(from)
        .filter(|_| param.is_some_and(|p| p.default.is_some()));
    let words = words.ok_or_else(|| {
        format!("content_type: from = {from:?} is not an enum parameter with a default")
    })?;
    for word in words {
        if !map.contains_key(&word) {
            return Err(format!("content_type: no type for {from} = {word:?}"));
        }
    }
    Ok(())
}

/// Queries for the trial parses: the defaults, then each enum value in turn (with what that
/// value needs), each satisfying the required parameters.
fn trial_queries(params: &[Param]) -> Vec<Vec<(String, String)>> {
    let sample = |p: &Param| match (&p.default, &p.kind) {
        (Some(v), _) => value_text(v),
        (None, ParamKind::Url) => "http://127.0.0.1/check.mp4".to_string(),
        (None, ParamKind::Int { min, .. }) => min.to_string(),
        (None, ParamKind::Float { min, .. } | ParamKind::Seconds { min, .. }) => min.to_string(),
        (None, ParamKind::Bool) => "true".into(),
        (None, ParamKind::Enum { values }) => values[0].word.clone(),
    };
    let base: Vec<(String, String)> = params
        .iter()
        .filter(|p| p.required)
        .map(|p| (p.name.clone(), sample(p)))
        .collect();
    let mut queries = vec![base.clone()];
    // Every branch a parameter switches on, switched on.
    let inserting: Vec<_> = params
        .iter()
        .filter(|p| p.inserts.is_some() && !p.required)
        .collect();
    if !inserting.is_empty() {
        let mut query = base.clone();
        query.extend(inserting.iter().map(|p| (p.name.clone(), sample(p))));
        queries.push(query);
    }
    for p in params.iter().filter(|p| p.target == Target::Text) {
        let ParamKind::Enum { values } = &p.kind else {
            continue;
        };
        for v in values {
            let mut query = base.clone();
            query.retain(|(n, _)| n != &p.name);
            query.push((p.name.clone(), v.word.clone()));
            for need in &v.needs {
                if let Some(other) = params.iter().find(|o| &o.name == need && !o.required) {
                    query.push((other.name.clone(), sample(other)));
                }
            }
            queries.push(query);
        }
    }
    queries
}

fn value_text(v: &Value) -> String {
    match v {
        Value::Int(i) => i.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Word(w) | Value::Url(w) => w.clone(),
    }
}

/// Every `{name}` in the description and the enum fragments is a text parameter, and every text
/// parameter is used.
fn check_placeholders(endpoint: &Endpoint) -> Result<(), String> {
    let mut used = Vec::new();
    for text in endpoint.texts() {
        for name in placeholders(text) {
            if !used.contains(&name) {
                used.push(name);
            }
        }
    }
    let stands_for_text = |p: &Param| p.target == Target::Text || p.inserts.is_some();
    for name in &used {
        if !endpoint
            .params
            .iter()
            .any(|p| &p.name == name && stands_for_text(p))
        {
            return Err(format!(
                "{{{name}}} in the description is not a parameter with to = \"text\" or `inserts`"
            ));
        }
    }
    for p in endpoint.params.iter().filter(|p| stands_for_text(p)) {
        if !used.contains(&p.name) {
            return Err(format!(
                "parameter {} has to = \"text\" but {{{}}} is not in the description",
                p.name, p.name
            ));
        }
    }
    Ok(())
}

/// `{name}` replaced by its value; a few passes, since an enum's fragment may hold placeholders.
fn fill(description: &str, text: &[(String, String)]) -> String {
    let mut out = description.to_string();
    for _ in 0..3 {
        for (name, value) in text {
            out = out.replace(&format!("{{{name}}}"), value);
        }
    }
    out
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
            if word.starts_with('{')
                || word.contains('=')
                || word.contains('/')
                || word.contains('.')
                || word.contains('(')
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
