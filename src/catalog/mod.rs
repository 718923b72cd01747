//! The endpoints the service answers, read from pipeline files: one TOML file per endpoint with
//! its routes, kind, content type, gst-launch description and declared parameters, built on
//! shared parts (`use`) or on another endpoint (`extends`). The binary embeds `pipelines/`;
//! `PYTHUMBIO_PIPELINES=DIR` replaces that set with the files in DIR.

mod check;
pub mod error;
mod load;
pub mod params;
mod render;
pub mod template;

pub use check::element_names;
pub use error::LoadError;
use error::{Problem, Shape};
use load::{Composed, FileText};
use params::{Bound, Limit, Param, ParamKind, RawParam, ServiceTarget, Target};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::{collections::BTreeMap, collections::HashMap, sync::Arc};

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

/// Assemblers the service has for a stream's buffers: `assemble = { from = "format", webp =
/// "webp" }` makes an animated WebP of WebP stills.
const STREAM_ASSEMBLERS: &[&str] = &["webp"];

/// Assemblers the service has for a still's raw frame: `blurhash` makes a placeholder (the
/// frame's BlurHash and dominant colour, as JSON).
const STILL_ASSEMBLERS: &[&str] = &["blurhash"];

/// Layouts a storyboard writes instead of its sheet: `layout = { from = "format", vtt = "vtt" }`.
const LAYOUTS: &[&str] = &["vtt", "json"];

/// How an endpoint turns its pipeline into a response, as a file names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Stream,
    Still,
    Discover,
    Storyboard,
}

/// What an endpoint runs, by kind: each holds exactly what its kind needs.
#[derive(Debug)]
pub enum Spec {
    /// One buffer, taken from the preroll after a seek, sent as it is unless an assembler
    /// makes the output from the raw frame (`assemble`: a BlurHash placeholder).
    Still {
        description: String,
        /// Seconds into the source of the frame taken when the request names no time.
        start: f64,
        assemble: Option<Choice>,
    },
    /// Every appsink buffer is sent as it comes, in a chunked body, unless an assembler takes
    /// the whole output (`assemble`: animated WebP from WebP stills).
    Stream {
        description: String,
        rate: Rate,
        assemble: Option<Choice>,
    },
    /// Frames sampled over the video as tiles of one sheet (`sheet` encodes it), or the
    /// sheet's layout as WebVTT or JSON (`layout`).
    Storyboard {
        description: String,
        sheet: String,
        layout: Choice,
        /// The value of the layout's `from` parameter that gives the sheet its layout points at.
        sprite: String,
    },
    /// No description: the Discoverer's metadata as ffprobe-shaped JSON.
    Discover,
}

impl Spec {
    pub fn kind(&self) -> Kind {
        match self {
            Spec::Still { .. } => Kind::Still,
            Spec::Stream { .. } => Kind::Stream,
            Spec::Storyboard { .. } => Kind::Storyboard,
            Spec::Discover => Kind::Discover,
        }
    }

    fn description(&self) -> Option<&str> {
        match self {
            Spec::Still { description, .. }
            | Spec::Stream { description, .. }
            | Spec::Storyboard { description, .. } => Some(description),
            Spec::Discover => None,
        }
    }

    fn sheet(&self) -> Option<&str> {
        match self {
            Spec::Storyboard { sheet, .. } => Some(sheet),
            _ => None,
        }
    }
}

/// A value chosen by an enum parameter's word: `{ from = "format", jpg = "image/jpeg" }`.
#[derive(Debug, Clone)]
pub struct Choice {
    pub from: String,
    pub by_word: BTreeMap<String, String>,
}

impl Choice {
    /// What this request's word chooses, if the table names it.
    pub fn pick(&self, bound: &Bound) -> Option<&str> {
        self.by_word
            .get(bound.word(&self.from)?)
            .map(String::as_str)
    }
}

/// The content type, fixed or chosen by an enum parameter's value.
#[derive(Debug, Clone)]
enum ContentType {
    Fixed(String),
    ByValue(Choice),
}

/// How many times faster than real time the source plays: a number, or the product of numeric
/// parameters (`"interval*fps"`: one frame every `interval` s shown at `fps`).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Rate {
    Fixed(f64),
    Product(String),
}

/// One endpoint, as declared by its pipeline file and checked against this GStreamer install.
#[derive(Debug)]
pub struct Endpoint {
    pub file: String,
    pub routes: Vec<String>,
    pub spec: Spec,
    content_type: ContentType,
    pub summary: String,
    pub params: Vec<Param>,
    /// Named fragments the descriptions insert as `{name}`.
    parts: BTreeMap<String, String>,
    /// An enum parameter whose values are also path suffixes: `/thumb.png` is `format=png`.
    pub suffix: Option<String>,
    /// The output depends only on the source and the parameters: it gets an ETag and may be
    /// cached (not for encoders whose output varies from run to run, such as /webm's).
    pub cacheable: bool,
    /// The composed file (base and parts merged) as TOML: what an ETag says the output came from.
    pub fingerprint: String,
    elements: Vec<String>,
}

impl Endpoint {
    pub fn kind(&self) -> Kind {
        self.spec.kind()
    }

    /// `text` with this request's values and the endpoint's parts in place of its placeholders.
    fn fill(&self, text: &str, bound: &Bound) -> Result<String, template::TemplateError> {
        template::fill(text, &|name| {
            if let Some((a, b)) = name.split_once('*') {
                let number = |n: &str| bound.values.get(n).and_then(|v| v.as_f64());
                return Some(std::borrow::Cow::Owned(product(number(a)?, number(b)?)));
            }
            bound
                .text
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
                .or_else(|| self.parts.get(name).map(String::as_str))
                .map(std::borrow::Cow::Borrowed)
        })
    }

    /// The gst-launch description this request runs (empty for the Discoverer).
    pub fn render(&self, bound: &Bound) -> Result<String, template::TemplateError> {
        self.fill(self.spec.description().unwrap_or_default(), bound)
    }

    /// The sheet description with this request's values, for a storyboard.
    pub fn render_sheet(&self, bound: &Bound) -> Option<Result<String, template::TemplateError>> {
        self.spec.sheet().map(|sheet| self.fill(sheet, bound))
    }

    /// The assembler this request's output goes to instead of being streamed, if any.
    pub fn assembler(&self, bound: &Bound) -> Option<&str> {
        match &self.spec {
            Spec::Stream {
                assemble: Some(choice),
                ..
            }
            | Spec::Still {
                assemble: Some(choice),
                ..
            } => choice.pick(bound),
            _ => None,
        }
    }

    /// The layout (`vtt`, `json`) a storyboard request asks for instead of the sheet, if any.
    pub fn layout(&self, bound: &Bound) -> Option<&str> {
        match &self.spec {
            Spec::Storyboard { layout, .. } => layout.pick(bound),
            _ => None,
        }
    }

    /// Every content type the endpoint can answer with.
    pub fn content_types(&self) -> Vec<String> {
        let mut types: Vec<String> = match &self.content_type {
            ContentType::Fixed(t) => vec![t.clone()],
            ContentType::ByValue(choice) => choice.by_word.values().cloned().collect(),
        };
        types.sort();
        types.dedup();
        types
    }

    /// The content type a request with `name=word` gets, where that parameter chooses it.
    pub fn content_type_of(&self, name: &str, word: &str) -> Option<String> {
        match &self.content_type {
            ContentType::ByValue(choice) if choice.from == name => {
                choice.by_word.get(word).cloned()
            }
            _ => None,
        }
    }

    /// The content type of this request's output (every value has one: checked at load).
    pub fn content_type(&self, bound: &Bound) -> String {
        match &self.content_type {
            ContentType::Fixed(t) => t.clone(),
            ContentType::ByValue(choice) => choice
                .pick(bound)
                .unwrap_or("application/octet-stream")
                .into(),
        }
    }

    /// The playback rate of this request.
    pub fn rate(&self, bound: &Bound) -> f64 {
        match &self.spec {
            Spec::Stream {
                rate: Rate::Fixed(r),
                ..
            } => *r,
            Spec::Stream {
                rate: Rate::Product(names),
                ..
            } => names
                .split('*')
                .map(|n| {
                    bound
                        .values
                        .get(n.trim())
                        .and_then(params::Value::as_f64)
                        .unwrap_or(1.0)
                })
                .product(),
            _ => 1.0,
        }
    }

    /// Every path this endpoint answers: its routes, and each with a suffix for each value of
    /// its suffix parameter, paired with the value the suffix sets.
    pub fn paths(&self) -> Vec<(String, Option<(String, String)>)> {
        let mut paths: Vec<_> = self.routes.iter().map(|r| (r.clone(), None)).collect();
        if let Some(suffix) = &self.suffix {
            for route in &self.routes {
                for word in enum_words(&self.params, suffix).unwrap_or_default() {
                    paths.push((format!("{route}.{word}"), Some((suffix.clone(), word))));
                }
            }
        }
        paths
    }

    /// Factory names of the elements the endpoint can use, over every enum value (uridecodebin
    /// for the Discoverer).
    pub fn elements(&self) -> &[String] {
        &self.elements
    }
}

fn enum_words(params: &[Param], name: &str) -> Option<Vec<String>> {
    let param = params.iter().find(|p| p.name == name)?;
    match &param.kind {
        ParamKind::Enum { values } => Some(values.iter().map(|v| v.word.clone()).collect()),
        _ => None,
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEndpoint {
    routes: Vec<String>,
    kind: Kind,
    content_type: RawContentType,
    #[serde(default)]
    summary: String,
    #[serde(default)]
    description: String,
    start: Option<f64>,
    rate: Option<Rate>,
    suffix: Option<String>,
    sheet: Option<String>,
    assemble: Option<BTreeMap<String, String>>,
    layout: Option<BTreeMap<String, String>>,
    #[serde(default)]
    cacheable: bool,
    #[serde(default)]
    parts: BTreeMap<String, String>,
    #[serde(default)]
    params: BTreeMap<String, RawParam>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawContentType {
    Fixed(String),
    /// `{ from = "format", jpg = "image/jpeg", png = "image/png" }`
    ByValue(BTreeMap<String, String>),
}

/// The largest output the configuration allows: parameters with `limit = "width"` or
/// `"height"` are capped to it, whatever the file declares.
#[derive(Debug, Clone, Copy)]
pub struct OutputLimits {
    pub width: i64,
    pub height: i64,
}

impl OutputLimits {
    fn apply(&self, param: &mut Param) -> Result<(), params::DeclError> {
        let cap = match param.limit {
            Some(Limit::Width) => self.width,
            Some(Limit::Height) => self.height,
            None => return Ok(()),
        };
        if let ParamKind::Int { min, max } = &mut param.kind {
            if *min > cap {
                return Err(params::DeclError::AboveLimit { min: *min, cap });
            }
            *max = (*max).min(cap);
            if let Some(params::Value::Int(default)) = &mut param.default {
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
    pub fn load(&self) -> Result<Catalog, LoadError> {
        Catalog::load(self.dir.as_deref(), self.limits)
    }

    /// Names, sizes and modification times of the directory's pipeline files (its parts
    /// included): it changes when a file is added, removed or written. None for the embedded set.
    pub fn fingerprint(&self) -> Option<Vec<(PathBuf, u64, Option<std::time::SystemTime>)>> {
        let dir = self.dir.as_ref()?;
        let mut files = Vec::new();
        for dir in [dir.clone(), dir.join("parts")] {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            files.extend(
                entries
                    .filter_map(|e| e.ok())
                    .filter(|e| e.path().extension().is_some_and(|x| x == "toml"))
                    .filter_map(|e| {
                        // Through links: a Kubernetes ConfigMap's files are links into a
                        // directory that is swapped whole when it changes.
                        let meta = std::fs::metadata(e.path()).ok()?;
                        Some((e.path(), meta.len(), meta.modified().ok()))
                    }),
            );
        }
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
    pub fn load(dir: Option<&Path>, limits: OutputLimits) -> Result<Self, LoadError> {
        let files = match dir {
            Some(dir) => load::read_dir(dir)?,
            None => load::embedded(),
        };
        let mut catalog = Catalog::default();
        for file in &files.endpoints {
            let composed = load::compose(&files, file)?;
            let endpoint = Arc::new(build(file, &composed, limits)?);
            for (path, preset) in endpoint.paths() {
                if let Some(other) = catalog.by_path.get(&path) {
                    let by = other.endpoint.file.clone();
                    let problem = Problem::RouteTaken { route: path, by };
                    return Err(composed.error(&file.name, problem));
                }
                let route = Route {
                    endpoint: endpoint.clone(),
                    preset,
                };
                catalog.by_path.insert(path, route);
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

/// Parses and checks one pipeline file's text as loading does, over the built-in parts and
/// bases (GStreamer must be initialised: its descriptions are trial-parsed).
pub fn parse_file(name: &str, text: &str, limits: OutputLimits) -> Result<Endpoint, LoadError> {
    let files = load::single(name, text);
    let file = &files.endpoints[0];
    build(file, &load::compose(&files, file)?, limits)
}

/// Builds one endpoint from its composed file and checks it: routes, roles, the keys its kind
/// needs, placeholders against parts and parameters, and trial parses (the defaults, then each
/// enum value) so that a missing element or property is found at start, not per request.
fn build(
    file: &FileText,
    composed: &Composed,
    limits: OutputLimits,
) -> Result<Endpoint, LoadError> {
    let fail = |problem| composed.error(&file.name, problem);
    let raw: RawEndpoint = toml::Value::Table(composed.table.clone())
        .try_into()
        .map_err(|e: toml::de::Error| fail(Problem::Toml(e.message().to_string())))?;
    let mut params = Vec::new();
    for (name, raw) in raw.params {
        let param_error = |problem| Problem::Param {
            name: name.clone(),
            problem,
        };
        let mut param = raw.into_param(&name).map_err(|e| fail(param_error(e)))?;
        limits.apply(&mut param).map_err(|e| fail(param_error(e)))?;
        params.push(param);
    }
    if raw.kind == Kind::Still {
        // `time=auto` is every still's: the parameter that sets its start takes it too.
        let start = params
            .iter_mut()
            .find(|p| p.target == Target::Service(ServiceTarget::SeekStart));
        if let Some(ParamKind::Seconds {
            share: true, auto, ..
        }) = start.map(|p| &mut p.kind)
        {
            *auto = true;
        }
    }
    check_routes(&raw.routes).map_err(fail)?;
    let choice = |key: &'static str, table: BTreeMap<String, String>| {
        choice(key, table, &params).map_err(|s| fail(Problem::Shape(s)))
    };
    let content_type = match raw.content_type {
        RawContentType::Fixed(t) => ContentType::Fixed(t),
        RawContentType::ByValue(table) => {
            let choice = choice("content_type", table)?;
            ContentType::ByValue(covering(choice, &params).map_err(|s| fail(Problem::Shape(s)))?)
        }
    };
    let misplaced = |key, only| fail(Problem::Shape(Shape::Misplaced { key, only }));
    if raw.kind != Kind::Storyboard && raw.sheet.is_some() {
        return Err(misplaced("sheet", "storyboard"));
    }
    if raw.kind != Kind::Storyboard && raw.layout.is_some() {
        return Err(misplaced("layout", "storyboard"));
    }
    if raw.kind != Kind::Stream && raw.rate.is_some() {
        return Err(misplaced("rate", "stream"));
    }
    if !matches!(raw.kind, Kind::Stream | Kind::Still) && raw.assemble.is_some() {
        return Err(misplaced("assemble", "stream or still"));
    }
    let assemble = match raw.assemble {
        None => None,
        Some(table) => Some(choice("assemble", table)?),
    };
    if let Some(assemble) = &assemble {
        let assemblers = match raw.kind {
            Kind::Still => STILL_ASSEMBLERS,
            _ => STREAM_ASSEMBLERS,
        };
        known(assemble, "assemble", "assembler", assemblers).map_err(fail)?;
    }
    if raw.kind != Kind::Still && raw.start.is_some() {
        return Err(misplaced("start", "still"));
    }
    let description = raw.description.trim().to_string();
    let spec = match raw.kind {
        Kind::Discover => {
            let to_pipeline =
                |p: &Param| matches!(p.target, Target::Text | Target::Property { .. });
            if !description.is_empty() || params.iter().any(to_pipeline) {
                return Err(fail(Problem::Shape(Shape::DiscoverDescription)));
            }
            Spec::Discover
        }
        Kind::Still => {
            let start = raw.start.unwrap_or(0.0);
            if !(start.is_finite() && start >= 0.0) {
                return Err(fail(Problem::Shape(Shape::Start)));
            }
            Spec::Still {
                description,
                start,
                assemble,
            }
        }
        Kind::Stream => {
            let rate = raw.rate.unwrap_or(Rate::Fixed(1.0));
            check_rate(&rate, &params).map_err(|s| fail(Problem::Shape(s)))?;
            Spec::Stream {
                description,
                rate,
                assemble,
            }
        }
        Kind::Storyboard => {
            let sheet = raw
                .sheet
                .ok_or_else(|| fail(Problem::Shape(Shape::NoSheet)))?;
            let layout = raw
                .layout
                .ok_or_else(|| fail(Problem::Shape(Shape::NoFrom { key: "layout" })))?;
            let layout = choice("layout", layout)?;
            known(&layout, "layout", "layout", LAYOUTS).map_err(fail)?;
            if raw.suffix.as_deref() != Some(layout.from.as_str()) {
                return Err(fail(Problem::Shape(Shape::LayoutSuffix)));
            }
            let default = params
                .iter()
                .find(|p| p.name == layout.from)
                .and_then(|p| p.default.as_ref())
                .map(|v| v.to_string())
                .unwrap_or_default();
            if layout.by_word.contains_key(&default) {
                let word = default.clone();
                let from = layout.from.clone();
                return Err(fail(Problem::Shape(Shape::NotAValue {
                    key: "layout",
                    from,
                    word,
                })));
            }
            Spec::Storyboard {
                description,
                sheet: sheet.trim().to_string(),
                layout,
                sprite: default,
            }
        }
    };
    if raw.kind != Kind::Discover && spec.description().is_some_and(str::is_empty) {
        let kind = match raw.kind {
            Kind::Still => "still",
            Kind::Stream => "stream",
            _ => "storyboard",
        };
        return Err(fail(Problem::Shape(Shape::NoDescription { kind })));
    }
    check_roles(raw.kind, &params).map_err(fail)?;
    if let Some(suffix) = &raw.suffix {
        if enum_words(&params, suffix).is_none() {
            return Err(fail(Problem::Shape(Shape::Suffix(suffix.clone()))));
        }
    }
    let fingerprint = toml::to_string(&composed.table).unwrap_or_default();
    let mut endpoint = Endpoint {
        file: file.name.clone(),
        routes: raw.routes,
        spec,
        content_type,
        summary: raw.summary,
        params,
        parts: raw.parts,
        suffix: raw.suffix,
        cacheable: raw.cacheable,
        fingerprint,
        elements: Vec::new(),
    };
    endpoint.elements = check::against_gstreamer(&endpoint).map_err(fail)?;
    Ok(endpoint)
}

fn check_routes(routes: &[String]) -> Result<(), Problem> {
    if routes.is_empty() {
        return Err(Problem::NoRoutes);
    }
    for route in routes {
        let valid = route.starts_with('/')
            && route.len() > 1
            && route[1..].split('/').all(|s| {
                !s.is_empty()
                    && s.chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            });
        if !valid {
            return Err(Problem::BadRoute(route.clone()));
        }
        if RESERVED_ROUTES.contains(&route.as_str()) {
            return Err(Problem::ReservedRoute(route.clone()));
        }
    }
    Ok(())
}

/// What the service reads from the parameters, by role and target: one source; a watermark
/// with its place, only on a still; a storyboard's plan, only and always on a storyboard.
fn check_roles(kind: Kind, params: &[Param]) -> Result<(), Problem> {
    use params::UrlRole;
    let with_role = |role| params.iter().filter(move |p| p.role == Some(role));
    let sources: Vec<_> = with_role(UrlRole::Source).collect();
    match sources.as_slice() {
        [] => return Err(Problem::NoSource),
        [source] => {
            let reaches_element = matches!(source.target, Target::Property { .. });
            if !source.required || (kind != Kind::Discover && !reaches_element) {
                return Err(Problem::NoSource);
            }
        }
        _ => return Err(Problem::TwoRoles("source")),
    }
    let mut seen = Vec::new();
    for p in params {
        let Target::Service(target) = p.target else {
            continue;
        };
        if seen.contains(&target) {
            return Err(Problem::TwoTargets(target.name()));
        }
        seen.push(target);
        // What each kind reads: a still its time, a stream its window, neither a storyboard
        // nor the Discoverer.
        let idle = match (kind, target) {
            (Kind::Discover | Kind::Storyboard, ServiceTarget::SeekStart)
            | (Kind::Discover | Kind::Storyboard, ServiceTarget::SeekAccurate)
            | (Kind::Discover | Kind::Storyboard | Kind::Still, ServiceTarget::SeekDuration)
            | (Kind::Stream, ServiceTarget::SeekAccurate) => true,
            (kind, ServiceTarget::Rate) => kind != Kind::Stream,
            _ => false,
        };
        if idle {
            let kind = match kind {
                Kind::Still => "still",
                Kind::Stream => "stream",
                Kind::Storyboard => "storyboard",
                Kind::Discover => "discover",
            };
            return Err(Problem::IdleTarget {
                kind,
                target: target.name(),
            });
        }
    }
    let declares = |target: ServiceTarget| {
        params.iter().any(|p| {
            p.target == Target::Service(target) && p.default.is_some() && p.kind.is_positive()
        })
    };
    let targets = |wanted: &[ServiceTarget]| {
        params
            .iter()
            .any(|p| matches!(p.target, Target::Service(t) if wanted.contains(&t)))
    };
    let watermarks = with_role(UrlRole::Watermark).count();
    let place = [
        ServiceTarget::WatermarkScale,
        ServiceTarget::WatermarkOffset,
    ];
    if watermarks > 1 {
        return Err(Problem::TwoRoles("watermark"));
    }
    let placed = place.iter().all(|t| {
        params
            .iter()
            .any(|p| p.target == Target::Service(*t) && p.default.is_some())
    });
    if (watermarks == 1) != placed || (watermarks == 0 && targets(&place)) {
        return Err(Problem::Shape(Shape::Watermark));
    }
    if watermarks == 1 && kind != Kind::Still {
        return Err(Problem::Shape(Shape::Misplaced {
            key: "role = \"watermark\"",
            only: "still",
        }));
    }
    let plan = [
        ServiceTarget::StoryboardInterval,
        ServiceTarget::StoryboardMaxTiles,
        ServiceTarget::StoryboardColumns,
    ];
    if kind == Kind::Storyboard {
        if let Some(missing) = plan.iter().find(|t| !declares(**t)) {
            return Err(Problem::Shape(Shape::Needs {
                kind: "storyboard",
                target: missing.name(),
            }));
        }
    } else if targets(&plan)
        || targets(&[
            ServiceTarget::StoryboardRows,
            ServiceTarget::StoryboardSheet,
        ])
    {
        return Err(Problem::Shape(Shape::Misplaced {
            key: "to = \"storyboard.*\"",
            only: "storyboard",
        }));
    }
    Ok(())
}

/// `a x b` as a description writes a number: whole numbers without a decimal point.
fn product(a: f64, b: f64) -> String {
    let p = a * b;
    match p.fract() == 0.0 && p.abs() < 1e15 {
        true => format!("{}", p as i64),
        false => p.to_string(),
    }
}

/// A `{ from = ..., word = value }` table, checked: `from` is an enum parameter with a default,
/// and every other key one of its words.
fn choice(
    key: &'static str,
    mut table: BTreeMap<String, String>,
    params: &[Param],
) -> Result<Choice, Shape> {
    let from = table.remove("from").ok_or(Shape::NoFrom { key })?;
    let has_default = params.iter().any(|p| p.name == from && p.default.is_some());
    let words = enum_words(params, &from)
        .filter(|_| has_default)
        .ok_or_else(|| Shape::BadFrom {
            key,
            from: from.clone(),
        })?;
    if let Some(word) = table.keys().find(|w| !words.contains(w)) {
        return Err(Shape::NotAValue {
            key,
            from,
            word: word.clone(),
        });
    }
    Ok(Choice {
        from,
        by_word: table,
    })
}

/// `choice`, if it has a value for every word of its parameter.
fn covering(choice: Choice, params: &[Param]) -> Result<Choice, Shape> {
    let words = enum_words(params, &choice.from).unwrap_or_default();
    match words.into_iter().find(|w| !choice.by_word.contains_key(w)) {
        Some(word) => Err(Shape::Uncovered {
            key: "content_type",
            from: choice.from,
            word,
        }),
        None => Ok(choice),
    }
}

/// Every value of `choice` is one the service has.
fn known(
    choice: &Choice,
    key: &'static str,
    what: &'static str,
    have: &[&str],
) -> Result<(), Problem> {
    match choice
        .by_word
        .values()
        .find(|v| !have.contains(&v.as_str()))
    {
        Some(name) => Err(Problem::Shape(Shape::Unknown {
            key,
            what,
            name: name.clone(),
            known: have.join(", "),
        })),
        None => Ok(()),
    }
}

fn check_rate(rate: &Rate, params: &[Param]) -> Result<(), Shape> {
    match rate {
        Rate::Fixed(r) if r.is_finite() && *r > 0.0 => Ok(()),
        Rate::Fixed(_) => Err(Shape::Rate),
        Rate::Product(names) => {
            for name in names.split('*').map(str::trim) {
                let numeric = params
                    .iter()
                    .any(|p| p.name == name && p.default.is_some() && p.kind.is_positive());
                if !numeric {
                    return Err(Shape::RateFactor(name.into()));
                }
            }
            Ok(())
        }
    }
}
