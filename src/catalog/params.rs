//! Declared parameters of a pipeline file, and the validation that turns a request's query into
//! values safe to use. Only validated numbers and words, or fragments the file itself declares
//! for an enum's values, ever become description text; strings such as the url are set as
//! properties on named elements after parsing, so no request can rewrite a pipeline.
//!
//! What the service itself does with a value is said by the file, never by the parameter's
//! name: `to = "seek.start"`, `to = "storyboard.interval"`, `role = "source"`.

pub use crate::engine::launch::{Setting, SettingValue, UrlRole};
use crate::limits::MAX_URL_LEN;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;

/// Where a validated value goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Substituted for `{name}` in the description text.
    Text,
    /// Set as `element.property` after the description is parsed.
    Property { element: String, property: String },
    /// Used by the service: where and how to seek, a storyboard's plan, a watermark's place.
    Service(ServiceTarget),
    /// Read by the service only: the Discoverer's source url.
    NoElement,
}

/// What the service itself does with a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ServiceTarget {
    /// Seconds into the source where the output starts.
    SeekStart,
    /// Seconds of source the output covers.
    SeekDuration,
    /// Whether a still's seek decodes up to the exact time (true) or stops at the keyframe before.
    SeekAccurate,
    /// A factor of the endpoint's playback rate (`rate = "interval*fps"`), and nothing else.
    Rate,
    /// Seconds of video between two storyboard tiles.
    StoryboardInterval,
    /// Most tiles on a storyboard's sheet.
    StoryboardMaxTiles,
    /// Tiles per row of a storyboard's sheet.
    StoryboardColumns,
    /// Rows of tiles a storyboard's sheet holds at most; more tiles go on further sheets.
    StoryboardRows,
    /// Which of a storyboard's sheets a sheet request asks for, from 0.
    StoryboardSheet,
    /// A watermark's width, as a share of the frame's shorter side.
    WatermarkScale,
    /// A watermark's distance from the bottom-right corner, as a share of the shorter side.
    WatermarkOffset,
}

impl ServiceTarget {
    /// Every target by the name a file gives it in `to`.
    pub const ALL: &'static [(&'static str, ServiceTarget)] = &[
        ("seek.start", Self::SeekStart),
        ("seek.duration", Self::SeekDuration),
        ("seek.accurate", Self::SeekAccurate),
        ("rate", Self::Rate),
        ("storyboard.interval", Self::StoryboardInterval),
        ("storyboard.max_tiles", Self::StoryboardMaxTiles),
        ("storyboard.columns", Self::StoryboardColumns),
        ("storyboard.rows", Self::StoryboardRows),
        ("storyboard.sheet", Self::StoryboardSheet),
        ("watermark.scale", Self::WatermarkScale),
        ("watermark.offset", Self::WatermarkOffset),
    ];

    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, t)| *t == self)
            .map(|(n, _)| *n)
            .expect("every target is named")
    }

    /// Whether a parameter of `kind` can go here.
    fn takes(self, kind: &ParamKind) -> bool {
        match self {
            Self::SeekAccurate => *kind == ParamKind::Bool,
            Self::SeekStart | Self::SeekDuration => matches!(kind, ParamKind::Seconds { .. }),
            // Counts.
            Self::StoryboardMaxTiles
            | Self::StoryboardColumns
            | Self::StoryboardRows
            | Self::StoryboardSheet => matches!(kind, ParamKind::Int { .. }),
            _ => kind.is_numeric(),
        }
    }
}

/// The type of a parameter and its bounds.
#[derive(Debug, Clone, PartialEq)]
pub enum ParamKind {
    Int {
        min: i64,
        max: i64,
    },
    Float {
        min: f64,
        max: f64,
    },
    /// Seconds, written `12.5`, `1:02.5` or `01:02:03`; with `share` (`type = "time"`) also a
    /// share of the source's duration, `50%`; with `auto` (a still's `seek.start`) also `auto`,
    /// the most detailed of a few keyframes.
    Seconds {
        min: f64,
        max: f64,
        share: bool,
        auto: bool,
    },
    Bool,
    /// Each allowed word, and the description text it stands for.
    Enum {
        values: Vec<EnumValue>,
    },
    Url,
}

impl ParamKind {
    fn is_numeric(&self) -> bool {
        matches!(
            self,
            Self::Int { .. } | Self::Float { .. } | Self::Seconds { .. }
        )
    }

    /// Whether every value is above 0 (a count, an interval, a rate's factor).
    pub fn is_positive(&self) -> bool {
        match self {
            Self::Int { min, .. } => *min > 0,
            Self::Float { min, .. } | Self::Seconds { min, .. } => *min > 0.0,
            _ => false,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct EnumValue {
    pub word: String,
    pub text: String,
    /// Parameters that must be given for this value to make sense (`fit=cover` needs both sides).
    pub needs: Vec<String>,
}

/// A validated value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Int(i64),
    Float(f64),
    Bool(bool),
    Word(String),
    Url(String),
    /// A share of the source's duration, in percent.
    Share(f64),
    /// `time=auto`: the most detailed of a few keyframes.
    Auto,
}

impl Value {
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(v) => Some(*v as f64),
            Value::Float(v) => Some(*v),
            _ => None,
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(v) => write!(f, "{v}"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Word(w) | Value::Url(w) => f.write_str(w),
            Value::Share(p) => write!(f, "{p}%"),
            Value::Auto => f.write_str("auto"),
        }
    }
}

/// Which configured output limit caps a parameter (`limit = "width"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    Width,
    Height,
}

/// One declared parameter of an endpoint.
#[derive(Debug, Clone)]
pub struct Param {
    pub name: String,
    pub kind: ParamKind,
    pub default: Option<Value>,
    pub required: bool,
    pub target: Target,
    /// A url's part in the request: the source, or a picture laid over it.
    pub role: Option<UrlRole>,
    /// Members of a group take their defaults only when no member is given; otherwise an absent
    /// member takes its `max` (no limit): `width` alone scales to that width.
    pub group: Option<String>,
    /// Description text that stands for `{name}` when the parameter is given (nothing when it
    /// is not): a branch the parameter switches on, such as a watermark's.
    pub inserts: Option<String>,
    /// The configured output limit that caps `max` and the default.
    pub limit: Option<Limit>,
    pub doc: String,
}

/// A parameter as written in a pipeline file, before it is checked.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawParam {
    #[serde(rename = "type")]
    kind: String,
    default: Option<toml::Value>,
    min: Option<toml::Value>,
    max: Option<toml::Value>,
    values: Option<RawValues>,
    #[serde(default)]
    required: bool,
    to: Option<String>,
    role: Option<String>,
    group: Option<String>,
    inserts: Option<String>,
    limit: Option<String>,
    #[serde(default)]
    doc: String,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawValues {
    /// `values = ["a", "b"]`: each word stands for itself.
    Words(Vec<String>),
    /// `values = { a = "fragment", b = { text = "fragment", needs = ["x"] } }`.
    Fragments(BTreeMap<String, RawFragment>),
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawFragment {
    Text(String),
    Full {
        text: String,
        #[serde(default)]
        needs: Vec<String>,
    },
}

/// What is wrong with one parameter's declaration.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DeclError {
    #[error("{what} {value} is not a number")]
    NotANumber { what: &'static str, value: String },
    #[error("min is above max")]
    MinAboveMax,
    #[error("a {0} needs min and max")]
    NeedsBounds(String),
    #[error("an int's bounds are whole numbers")]
    NotWhole,
    #[error("only an enum has values")]
    ValuesOutsideEnum,
    #[error("an enum needs values")]
    NoValues,
    #[error("value {0:?} is not a plain word")]
    NotAWord(String),
    #[error("unknown type {0:?} (int, float, seconds, bool, enum, url)")]
    UnknownType(String),
    #[error("`to` says where the value goes")]
    NoTarget,
    #[error("to = {0:?} is none of \"text\", \"element.property\", {targets}", targets = service_targets())]
    BadTarget(String),
    #[error("a {kind} cannot go to {to:?}")]
    WrongTarget { kind: String, to: String },
    #[error("role = {0:?} is none of \"source\", \"watermark\"")]
    BadRole(String),
    #[error("only a url has a role")]
    RoleOutsideUrl,
    #[error("a url needs a role: \"source\" or \"watermark\"")]
    NoRole,
    #[error("limit = {0:?} is none of \"width\", \"height\"")]
    BadLimit(String),
    #[error("a limit caps an int")]
    LimitOutsideInt,
    #[error("default: {0}")]
    BadDefault(ParamError),
    #[error("an optional parameter pasted into text needs a default")]
    TextNeedsDefault,
    #[error("only ints form groups")]
    GroupOutsideInt,
    #[error("`inserts` is for a parameter that is absent unless given: no default, not required, not to = \"text\"")]
    InsertsAlways,
    #[error("min {min} is above the configured limit {cap}")]
    AboveLimit { min: i64, cap: i64 },
}

fn service_targets() -> String {
    let names: Vec<String> = ServiceTarget::ALL
        .iter()
        .map(|(n, _)| format!("{n:?}"))
        .collect();
    names.join(", ")
}

fn number(what: &'static str, v: &Option<toml::Value>) -> Result<Option<f64>, DeclError> {
    match v {
        None => Ok(None),
        Some(toml::Value::Integer(i)) => Ok(Some(*i as f64)),
        Some(toml::Value::Float(f)) if f.is_finite() => Ok(Some(*f)),
        Some(other) => Err(DeclError::NotANumber {
            what,
            value: other.to_string(),
        }),
    }
}

impl RawParam {
    /// Checks a declaration and gives the parameter it declares.
    pub(super) fn into_param(self, name: &str) -> Result<Param, DeclError> {
        let bounds = |min: Option<f64>, max: Option<f64>| match (min, max) {
            (Some(min), Some(max)) if min <= max => Ok((min, max)),
            (Some(_), Some(_)) => Err(DeclError::MinAboveMax),
            _ => Err(DeclError::NeedsBounds(self.kind.clone())),
        };
        let (min, max) = (number("min", &self.min)?, number("max", &self.max)?);
        if self.kind != "enum" && self.values.is_some() {
            return Err(DeclError::ValuesOutsideEnum);
        }
        let kind = match self.kind.as_str() {
            "int" => {
                let (min, max) = bounds(min, max)?;
                if min.fract() != 0.0 || max.fract() != 0.0 {
                    return Err(DeclError::NotWhole);
                }
                ParamKind::Int {
                    min: min as i64,
                    max: max as i64,
                }
            }
            "float" => {
                let (min, max) = bounds(min, max)?;
                ParamKind::Float { min, max }
            }
            "seconds" | "time" => {
                let (min, max) = bounds(min.or(Some(0.0)), max.or(Some(86_400.0)))?;
                let share = self.kind == "time";
                ParamKind::Seconds {
                    min,
                    max,
                    share,
                    auto: false,
                }
            }
            "bool" => ParamKind::Bool,
            "enum" => ParamKind::Enum {
                values: enum_values(self.values)?,
            },
            "url" => ParamKind::Url,
            other => return Err(DeclError::UnknownType(other.into())),
        };
        let role = match (self.role.as_deref(), &kind) {
            (None, ParamKind::Url) => return Err(DeclError::NoRole),
            (None, _) => None,
            (Some(_), kind) if *kind != ParamKind::Url => return Err(DeclError::RoleOutsideUrl),
            (Some("source"), _) => Some(UrlRole::Source),
            (Some("watermark"), _) => Some(UrlRole::Watermark),
            (Some(other), _) => return Err(DeclError::BadRole(other.into())),
        };
        let target = match self.to.as_deref() {
            None if role == Some(UrlRole::Source) => Target::NoElement,
            None => return Err(DeclError::NoTarget),
            Some("text") => Target::Text,
            Some(path) => match ServiceTarget::ALL.iter().find(|(n, _)| *n == path) {
                Some((_, target)) => Target::Service(*target),
                // `seek.`, `storyboard.` and `watermark.` are the service's, whatever follows.
                None if ServiceTarget::ALL.iter().any(|(n, _)| {
                    n.split_once('.')
                        .is_some_and(|(ns, _)| path.starts_with(&format!("{ns}.")))
                }) =>
                {
                    return Err(DeclError::BadTarget(path.into()))
                }
                None => match path.split_once('.') {
                    Some((element, property)) if !element.is_empty() && !property.is_empty() => {
                        Target::Property {
                            element: element.into(),
                            property: property.into(),
                        }
                    }
                    _ => return Err(DeclError::BadTarget(path.into())),
                },
            },
        };
        let fits = match &target {
            Target::Service(target) => target.takes(&kind),
            Target::Text => kind != ParamKind::Url,
            Target::Property { .. } | Target::NoElement => true,
        };
        if !fits {
            return Err(DeclError::WrongTarget {
                kind: self.kind,
                to: self.to.unwrap_or_default(),
            });
        }
        let default = match &self.default {
            None => None,
            Some(v) => {
                let text = match v {
                    toml::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                Some(parse(name, &kind, &text).map_err(DeclError::BadDefault)?)
            }
        };
        if !self.required && default.is_none() && target == Target::Text {
            return Err(DeclError::TextNeedsDefault);
        }
        if self.group.is_some() && !matches!(kind, ParamKind::Int { .. }) {
            return Err(DeclError::GroupOutsideInt);
        }
        if self.inserts.is_some() && (default.is_some() || self.required || target == Target::Text)
        {
            return Err(DeclError::InsertsAlways);
        }
        let limit = match self.limit.as_deref() {
            None => None,
            Some(_) if !matches!(kind, ParamKind::Int { .. }) => {
                return Err(DeclError::LimitOutsideInt)
            }
            Some("width") => Some(Limit::Width),
            Some("height") => Some(Limit::Height),
            Some(other) => return Err(DeclError::BadLimit(other.into())),
        };
        Ok(Param {
            name: name.into(),
            kind,
            default,
            required: self.required,
            target,
            role,
            group: self.group,
            inserts: self.inserts,
            limit,
            doc: self.doc,
        })
    }
}

fn enum_values(raw: Option<RawValues>) -> Result<Vec<EnumValue>, DeclError> {
    let values: Vec<EnumValue> = match raw {
        None => return Err(DeclError::NoValues),
        Some(RawValues::Words(words)) => words
            .into_iter()
            .map(|w| EnumValue {
                text: w.clone(),
                word: w,
                needs: Vec::new(),
            })
            .collect(),
        Some(RawValues::Fragments(map)) => map
            .into_iter()
            .map(|(word, f)| match f {
                RawFragment::Text(text) => EnumValue {
                    word,
                    text,
                    needs: Vec::new(),
                },
                RawFragment::Full { text, needs } => EnumValue { word, text, needs },
            })
            .collect(),
    };
    if values.is_empty() {
        return Err(DeclError::NoValues);
    }
    for v in &values {
        let plain = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
        if v.word.is_empty() || !v.word.chars().all(plain) {
            return Err(DeclError::NotAWord(v.word.clone()));
        }
    }
    Ok(values)
}

/// Why a query was refused; each names the parameter and what is allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParamError {
    Missing {
        name: String,
    },
    Invalid {
        name: String,
        value: String,
        allowed: String,
    },
    Unknown {
        name: String,
        known: Vec<String>,
        /// The url parameter that holds a query of its own, not percent-encoded: the unknown
        /// name is most likely its parameter.
        unencoded: Option<String>,
    },
    Repeated {
        name: String,
    },
    /// A value that needs another parameter given (`fit=cover` without `height`).
    Needs {
        name: String,
        value: String,
        needs: String,
    },
    /// The url is well formed but its scheme is not one the service fetches.
    RefusedScheme {
        value: String,
    },
}

impl fmt::Display for ParamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing { name } => write!(f, "{name} parameter is required"),
            Self::Invalid {
                name,
                value,
                allowed,
            } => {
                write!(f, "{name}={value:?} is not valid: expected {allowed}")
            }
            Self::Unknown {
                name,
                known,
                unencoded,
            } => {
                write!(f, "unknown parameter {name:?}; known: {}", known.join(", "))?;
                match unencoded {
                    Some(url) => write!(
                        f,
                        "; if {name:?} belongs to the {url} URL, percent-encode that URL (a `&` \
                         in it ends it: write %26)"
                    ),
                    None => Ok(()),
                }
            }
            Self::Repeated { name } => write!(f, "{name} is given more than once"),
            Self::Needs { name, value, needs } => write!(f, "{name}={value} needs {needs} as well"),
            Self::RefusedScheme { .. } => write!(f, "only http and https urls are fetched"),
        }
    }
}

/// Where and how the source is entered, from the `seek.*` parameters.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Seek {
    pub start: Option<Time>,
    pub duration: Option<Time>,
    /// None when the request did not say.
    pub accurate: Option<bool>,
}

/// A time asked for: seconds, a share of the source's duration (in percent), or the most
/// detailed of a few keyframes (a still's `auto`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Time {
    Seconds(f64),
    Share(f64),
    Auto,
}

impl fmt::Display for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Time::Seconds(s) => write!(f, "{s} s"),
            Time::Share(p) => write!(f, "{p}% of the duration"),
            Time::Auto => f.write_str("the most detailed of a few keyframes"),
        }
    }
}

/// A seek's times in seconds, once every share is placed on the source's duration.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Placed {
    pub start: Option<f64>,
    pub duration: Option<f64>,
    /// The start is the most detailed keyframe's (`time=auto`).
    pub auto: bool,
}

/// A share asked of a source whose duration is unknown (a live stream).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the source's duration is unknown: give the time in seconds, not as a share")]
pub struct Unplaceable;

impl Seek {
    /// Whether a time is a share, so the source's duration is needed before anything starts.
    pub fn needs_duration(&self) -> bool {
        [self.start, self.duration]
            .iter()
            .any(|t| matches!(t, Some(Time::Share(_))))
    }

    /// The times in seconds of a source `duration` seconds long (None: not known).
    pub fn place(&self, duration: Option<f64>) -> Result<Placed, Unplaceable> {
        let place = |time: Option<Time>| match time {
            None | Some(Time::Auto) => Ok(None),
            Some(Time::Seconds(s)) => Ok(Some(s)),
            Some(Time::Share(p)) => duration.map(|d| Some(d * p / 100.0)).ok_or(Unplaceable),
        };
        Ok(Placed {
            start: place(self.start)?,
            duration: place(self.duration)?,
            auto: self.start == Some(Time::Auto),
        })
    }
}

impl Value {
    /// A `seek.*` value as a time.
    fn as_time(&self) -> Option<Time> {
        match self {
            Value::Share(p) => Some(Time::Share(*p)),
            Value::Auto => Some(Time::Auto),
            other => other.as_f64().map(Time::Seconds),
        }
    }
}

/// A request's values, validated and sorted by where they go.
#[derive(Debug, Default, Clone)]
pub struct Bound {
    /// `{name}` -> text, for the description; enum fragments may hold further placeholders.
    pub text: Vec<(String, String)>,
    /// Values set on named elements after parsing: text now, and urls once admitted.
    pub properties: Vec<Setting>,
    /// The urls the request names, not yet admitted by the source policy.
    pub urls: Vec<GivenUrl>,
    /// The source url as given (`role = "source"`).
    pub url: String,
    /// The source url once the source policy admitted it.
    pub source: Option<crate::source::Admitted>,
    /// Whether the request names a watermark (`role = "watermark"`).
    pub watermark: bool,
    /// Request headers the service forwards to the source's origin (name, value).
    pub forward: Vec<(String, String)>,
    pub seek: Seek,
    /// Numbers the service reads itself (a storyboard's plan, a watermark's place).
    pub numbers: BTreeMap<ServiceTarget, f64>,
    /// Every value given or defaulted, by name.
    pub values: BTreeMap<String, Value>,
}

impl Bound {
    /// The value that went to `target`, if any.
    pub fn number(&self, target: ServiceTarget) -> Option<f64> {
        self.numbers.get(&target).copied()
    }

    /// The word an enum parameter took.
    pub fn word(&self, name: &str) -> Option<&str> {
        match self.values.get(name)? {
            Value::Word(word) => Some(word),
            _ => None,
        }
    }
}

/// A url a request names, and the property it is set on once admitted (none for the
/// Discoverer's source).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GivenUrl {
    pub role: UrlRole,
    pub text: String,
    pub target: Option<(String, String)>,
}

impl Bound {
    /// The settings with the urls as given, not admitted: for what only looks at the pipeline
    /// (the load check, `check --render`), never for one that runs.
    pub fn settings_as_given(&self) -> Vec<Setting> {
        let mut settings = self.properties.clone();
        settings.extend(self.urls.iter().filter_map(|u| {
            let (element, property) = u.target.as_ref()?;
            Some(Setting::text(element, property, &u.text))
        }));
        settings
    }

    /// Puts every url the request names to `admit` (the source policy), and sets the admitted
    /// ones on their elements.
    pub fn admit<E>(
        &mut self,
        admit: impl Fn(&str) -> Result<crate::source::Admitted, E>,
    ) -> Result<(), E> {
        for given in std::mem::take(&mut self.urls) {
            let admitted = admit(&given.text)?;
            if given.role == UrlRole::Source {
                self.source = Some(admitted.clone());
            }
            if let Some((element, property)) = given.target {
                self.properties.push(Setting {
                    element,
                    property,
                    value: SettingValue::Url(given.role, admitted),
                });
            }
        }
        Ok(())
    }
}

/// Validates `query` against `params`: every value checked, unknown and repeated names refused.
pub fn bind(params: &[Param], query: &[(String, String)]) -> Result<Bound, ParamError> {
    for (i, (name, _)) in query.iter().enumerate() {
        if !params.iter().any(|p| &p.name == name) {
            // `url=http://o/v.mp4?a=1&b=2` unencoded: `b` arrives as a parameter of ours.
            let unencoded = query.iter().find(|(n, v)| {
                v.contains('?')
                    && params
                        .iter()
                        .any(|p| &p.name == n && p.kind == ParamKind::Url)
            });
            return Err(ParamError::Unknown {
                name: name.clone(),
                known: params.iter().map(|p| p.name.clone()).collect(),
                unencoded: unencoded.map(|(n, _)| n.clone()),
            });
        }
        if query[..i].iter().any(|(n, _)| n == name) {
            return Err(ParamError::Repeated { name: name.clone() });
        }
    }
    let given = |name: &str| {
        query
            .iter()
            .find(|(n, v)| n == name && !v.is_empty())
            .map(|(_, v)| v.as_str())
    };
    let mut bound = Bound::default();
    // Group members left without a limit because another member was given.
    let mut unlimited: Vec<&str> = Vec::new();
    for param in params {
        let group_given = param.group.as_ref().is_some_and(|g| {
            params
                .iter()
                .any(|p| p.group.as_ref() == Some(g) && given(&p.name).is_some())
        });
        let value = match (given(&param.name), &param.default) {
            (Some(v), _) => parse(&param.name, &param.kind, v)?,
            (None, _) if param.required => {
                return Err(ParamError::Missing {
                    name: param.name.clone(),
                })
            }
            (None, _) if group_given => match param.kind {
                ParamKind::Int { max, .. } => {
                    unlimited.push(&param.name);
                    Value::Int(max)
                }
                _ => unreachable!("only ints form groups"),
            },
            (None, Some(default)) => default.clone(),
            (None, None) => {
                if param.inserts.is_some() {
                    bound.text.push((param.name.clone(), String::new()));
                }
                continue;
            }
        };
        place(&mut bound, param, &value);
        bound.values.insert(param.name.clone(), value);
    }
    for param in params {
        let (ParamKind::Enum { values }, Some(Value::Word(word))) =
            (&param.kind, bound.values.get(&param.name))
        else {
            continue;
        };
        let chosen = values.iter().find(|v| &v.word == word).expect("validated");
        let lacking =
            |n: &&String| unlimited.contains(&n.as_str()) || !bound.values.contains_key(*n);
        if let Some(missing) = chosen.needs.iter().find(lacking) {
            return Err(ParamError::Needs {
                name: param.name.clone(),
                value: word.clone(),
                needs: missing.clone(),
            });
        }
    }
    Ok(bound)
}

fn place(bound: &mut Bound, param: &Param, value: &Value) {
    if let Some(inserts) = &param.inserts {
        bound.text.push((param.name.clone(), inserts.clone()));
    }
    let text = match (value, &param.kind) {
        (Value::Word(word), ParamKind::Enum { values }) => values
            .iter()
            .find(|v| &v.word == word)
            .expect("validated")
            .text
            .clone(),
        _ => value.to_string(),
    };
    match param.role {
        Some(UrlRole::Source) => bound.url = text.clone(),
        Some(UrlRole::Watermark) => bound.watermark = true,
        None => {}
    }
    match &param.target {
        Target::Text => bound.text.push((param.name.clone(), text)),
        Target::Property { element, property } => match param.role {
            Some(role) => bound.urls.push(GivenUrl {
                role,
                text,
                target: Some((element.clone(), property.clone())),
            }),
            None => bound
                .properties
                .push(Setting::text(element, property, text)),
        },
        Target::NoElement => {
            if let Some(role) = param.role {
                bound.urls.push(GivenUrl {
                    role,
                    text,
                    target: None,
                })
            }
        }
        Target::Service(ServiceTarget::SeekStart) => bound.seek.start = value.as_time(),
        Target::Service(ServiceTarget::SeekDuration) => bound.seek.duration = value.as_time(),
        Target::Service(ServiceTarget::SeekAccurate) => {
            bound.seek.accurate = Some(*value == Value::Bool(true))
        }
        Target::Service(target) => {
            if let Some(number) = value.as_f64() {
                bound.numbers.insert(*target, number);
            }
        }
    }
}

/// Parses and checks one value.
fn parse(name: &str, kind: &ParamKind, value: &str) -> Result<Value, ParamError> {
    let invalid = |allowed: String| ParamError::Invalid {
        name: name.into(),
        value: value.chars().take(200).collect(),
        allowed,
    };
    match kind {
        ParamKind::Int { min, max } => match value.parse::<i64>() {
            Ok(v) if (*min..=*max).contains(&v) => Ok(Value::Int(v)),
            _ => Err(invalid(format!("an integer from {min} to {max}"))),
        },
        ParamKind::Float { min, max } => match value.parse::<f64>() {
            Ok(v) if v.is_finite() && (*min..=*max).contains(&v) => Ok(Value::Float(v)),
            _ => Err(invalid(format!("a number from {min} to {max}"))),
        },
        ParamKind::Seconds {
            min,
            max,
            share,
            auto,
        } => {
            let seconds = format!("seconds from {min} to {max}, as 12.5, 1:02.5 or 01:02:03");
            let seconds = match auto {
                true => format!("auto, or {seconds}"),
                false => seconds,
            };
            if *auto && value == "auto" {
                return Ok(Value::Auto);
            }
            match (value.strip_suffix('%'), share) {
                (Some(percent), true) => match parse_percent(percent) {
                    // A share of 0 is the start; of a length that must be above 0, nothing.
                    Some(p) if p <= 100.0 && (p > 0.0 || *min <= 0.0) => Ok(Value::Share(p)),
                    _ => Err(invalid(format!(
                        "{seconds}, or a share of the duration from {}% to 100%",
                        if *min > 0.0 { "above 0" } else { "0" }
                    ))),
                },
                _ => match parse_seconds(value) {
                    Some(v) if (*min..=*max).contains(&v) => Ok(Value::Float(v)),
                    _ if *share => Err(invalid(format!(
                        "{seconds}, or a share of the duration as 50%"
                    ))),
                    _ => Err(invalid(seconds)),
                },
            }
        }
        ParamKind::Bool => match value.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Ok(Value::Bool(true)),
            "false" | "0" | "no" | "off" => Ok(Value::Bool(false)),
            _ => Err(invalid("true or false".into())),
        },
        ParamKind::Enum { values } => match values.iter().find(|v| v.word == value) {
            Some(v) => Ok(Value::Word(v.word.clone())),
            None => Err(invalid(format!(
                "one of {}",
                values
                    .iter()
                    .map(|v| v.word.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        },
        ParamKind::Url => check_url(name, value).map(Value::Url),
    }
}

/// A percentage's number: digits and at most one decimal point, as for seconds.
fn parse_percent(text: &str) -> Option<f64> {
    let plain = !text.is_empty() && text.chars().all(|c| c.is_ascii_digit() || c == '.');
    plain.then(|| text.parse().ok()).flatten()
}

/// `12.5`, `1:02.5` (m:s) or `01:02:03` (h:m:s): digits and one decimal point only, so no sign,
/// exponent, NaN or infinity; seconds after a colon, and minutes after hours, are below 60.
pub fn parse_seconds(text: &str) -> Option<f64> {
    let parts: Vec<&str> = text.split(':').collect();
    let plain = |p: &&str| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit() || c == '.');
    if parts.len() > 3 || !parts.iter().all(plain) {
        return None;
    }
    let (last, whole) = parts.split_last()?;
    let seconds: f64 = last.parse().ok()?;
    if !whole.is_empty() && seconds >= 60.0 {
        return None;
    }
    let mut minutes: u64 = 0;
    for (i, part) in whole.iter().enumerate() {
        let n: u64 = part.parse().ok()?;
        if i == 1 && n >= 60 {
            return None;
        }
        minutes = minutes.checked_mul(60)?.checked_add(n)?;
    }
    // Hundreds of digits overflow to infinity: not a time.
    Some(minutes as f64 * 60.0 + seconds).filter(|s| s.is_finite())
}

/// A url must be absolute http(s) with a host, printable, and of bounded length.
fn check_url(name: &str, value: &str) -> Result<String, ParamError> {
    let invalid = |why: &str| ParamError::Invalid {
        name: name.into(),
        value: value.chars().take(200).collect(),
        allowed: format!("an absolute http or https url ({why})"),
    };
    if value.len() > MAX_URL_LEN {
        return Err(invalid(&format!("at most {MAX_URL_LEN} bytes")));
    }
    if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid(
            "no spaces or control characters; percent-encode them",
        ));
    }
    let Some((scheme, rest)) = value.split_once("://") else {
        return Err(invalid("no scheme"));
    };
    let valid_scheme = !scheme.is_empty()
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    if !valid_scheme {
        return Err(invalid("no scheme"));
    }
    // file:// passes here and meets the source policy (a file root) in the service.
    let scheme = scheme.to_ascii_lowercase();
    if !matches!(scheme.as_str(), "http" | "https" | "file") {
        return Err(ParamError::RefusedScheme { value: scheme });
    }
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    if scheme != "file" && host.rsplit('@').next().unwrap_or("").is_empty() {
        return Err(invalid("no host"));
    }
    if let Err(e) = url::Url::parse(value) {
        return Err(invalid(&e.to_string()));
    }
    Ok(value.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn param(name: &str, toml_text: &str) -> Result<Param, String> {
        let raw: RawParam = toml::from_str(toml_text).map_err(|e| e.to_string())?;
        raw.into_param(name).map_err(|e| e.to_string())
    }

    fn params() -> Vec<Param> {
        vec![
            param("url", "type = 'url'\nrequired = true\nto = 'src.uri'\nrole = 'source'").unwrap(),
            param("width", "type = 'int'\ndefault = 426\nmin = 16\nmax = 3840\nto = 'text'\ngroup = 'size'").unwrap(),
            param("height", "type = 'int'\ndefault = 240\nmin = 16\nmax = 2160\nto = 'text'\ngroup = 'size'").unwrap(),
            param("time", "type = 'seconds'\nto = 'seek.start'").unwrap(),
            param("accurate", "type = 'bool'\ndefault = true\nto = 'seek.accurate'").unwrap(),
            param("alpha", "type = 'float'\ndefault = 0.5\nmin = 0\nmax = 1\nto = 'text'").unwrap(),
            param(
                "fit",
                "type = 'enum'\ndefault = 'contain'\nto = 'text'\n\
                 [values]\ncontain = 'box {width}'\ncover = { text = 'crop {width}x{height}', needs = ['width', 'height'] }",
            )
            .unwrap(),
        ]
    }

    fn q(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    fn text(b: &Bound, name: &str) -> String {
        b.text
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .unwrap()
    }

    #[test]
    fn binds_defaults_and_targets() {
        let b = bind(&params(), &q(&[("url", "http://h/v.mp4")])).unwrap();
        assert_eq!(
            (text(&b, "width"), text(&b, "height")),
            ("426".into(), "240".into())
        );
        assert_eq!(text(&b, "fit"), "box {width}");
        assert_eq!(text(&b, "alpha"), "0.5");
        assert!(b.properties.is_empty());
        assert_eq!(
            b.urls,
            vec![GivenUrl {
                role: UrlRole::Source,
                text: "http://h/v.mp4".into(),
                target: Some(("src".into(), "uri".into())),
            }]
        );
        assert_eq!(b.url, "http://h/v.mp4");
        assert_eq!(
            b.seek,
            Seek {
                start: None,
                duration: None,
                accurate: Some(true)
            }
        );
        let b = bind(
            &params(),
            &q(&[("url", "http://h/"), ("time", "1:02.5"), ("accurate", "no")]),
        )
        .unwrap();
        assert_eq!(
            b.seek,
            Seek {
                start: Some(Time::Seconds(62.5)),
                duration: None,
                accurate: Some(false)
            }
        );
    }

    #[test]
    fn a_group_member_alone_lifts_the_others_limit() {
        let b = bind(&params(), &q(&[("url", "http://h/"), ("width", "300")])).unwrap();
        assert_eq!(
            (text(&b, "width"), text(&b, "height")),
            ("300".into(), "2160".into())
        );
        // Neither side given: the defaults are a full box.
        let b = bind(&params(), &q(&[("url", "http://h/"), ("fit", "cover")])).unwrap();
        assert_eq!(
            (text(&b, "width"), text(&b, "height")),
            ("426".into(), "240".into())
        );
        let err = bind(
            &params(),
            &q(&[("url", "http://h/"), ("width", "300"), ("fit", "cover")]),
        )
        .unwrap_err();
        assert_eq!(
            err,
            ParamError::Needs {
                name: "fit".into(),
                value: "cover".into(),
                needs: "height".into()
            }
        );
        let b = bind(
            &params(),
            &q(&[
                ("url", "http://h/"),
                ("width", "300"),
                ("height", "200"),
                ("fit", "cover"),
            ]),
        );
        assert_eq!(text(&b.unwrap(), "fit"), "crop {width}x{height}");
    }

    #[test]
    fn refuses_bad_values() {
        let p = params();
        assert_eq!(
            bind(&p, &[]).unwrap_err(),
            ParamError::Missing { name: "url".into() }
        );
        assert_eq!(
            bind(&p, &q(&[("url", "")])).unwrap_err(),
            ParamError::Missing { name: "url".into() }
        );
        let bad = [
            ("width", "12x"),
            ("width", "15"),
            ("width", "3841"),
            ("width", "-1"),
            ("width", "1e3"),
            ("width", "99999999999999999999"),
            ("alpha", "NaN"),
            ("alpha", "inf"),
            ("alpha", "1.5"),
            ("alpha", "-0.1"),
            ("time", "-1"),
            ("time", "1:60"),
            ("time", "1:2:3:4"),
            ("time", "abc"),
            ("time", "1e3"),
            ("time", "nan"),
            ("accurate", "maybe"),
            ("fit", "fill"),
            ("fit", "COVER"),
        ];
        for (name, value) in bad {
            let err = bind(&p, &q(&[("url", "http://h/"), (name, value)])).unwrap_err();
            assert!(
                matches!(err, ParamError::Invalid { name: ref n, .. } if n == name),
                "{name}={value}: {err:?}"
            );
        }
        let err = bind(&p, &q(&[("url", "http://h/"), ("widht", "3")])).unwrap_err();
        assert!(
            matches!(err, ParamError::Unknown { ref name, ref known, unencoded: None } if name == "widht" && known.len() == 7)
        );
        let err = bind(&p, &q(&[("url", "http://h/"), ("url", "http://i/")])).unwrap_err();
        assert_eq!(err, ParamError::Repeated { name: "url".into() });
    }

    #[test]
    fn seconds() {
        for (text, want) in [
            ("12.5", 12.5),
            ("0", 0.0),
            (".5", 0.5),
            ("1:02.5", 62.5),
            ("01:02:03", 3723.0),
            ("90:00", 5400.0),
        ] {
            assert_eq!(parse_seconds(text), Some(want), "{text}");
        }
        for text in [
            "",
            ":",
            "1:",
            "-1",
            "+1",
            "1e2",
            "inf",
            "NaN",
            "1:60",
            "1:60:00",
            "1.5:00",
            "1:2:3:4",
            "1..2",
            &"9".repeat(400),
        ] {
            assert_eq!(parse_seconds(text), None, "{text}");
        }
    }

    #[test]
    fn urls() {
        let p = params();
        let ok = |u: &str| bind(&p, &q(&[("url", u)])).map(|b| b.url);
        assert!(ok("https://example.com:8443/a/b.mp4?x=1").is_ok());
        assert!(ok("HTTP://example.com/").is_ok());
        for bad in [
            "example.com/v.mp4",
            "http:///v.mp4",
            "http://h/a b.mp4",
            "://h/",
            "http://h/\u{7}",
        ] {
            assert!(matches!(ok(bad), Err(ParamError::Invalid { .. })), "{bad}");
        }
        assert!(matches!(
            ok(&format!("http://h/{}", "a".repeat(MAX_URL_LEN))),
            Err(ParamError::Invalid { .. })
        ));
        assert!(ok("http://h:99999/").is_err());
        assert!(ok("http://[::1/").is_err());
        for refused in ["data://x", "rtsp://h/s", "appsrc://", "ftp://h/v.mp4"] {
            assert!(
                matches!(ok(refused), Err(ParamError::RefusedScheme { .. })),
                "{refused}"
            );
        }
    }

    #[test]
    fn declarations_are_checked() {
        let bad = [
            "type = 'url'\nrole = 'source'\nto = 'text'",
            "type = 'url'\nto = 'src.uri'",
            "type = 'url'\nrole = 'cover'\nto = 'src.uri'",
            "type = 'int'\nmin = 0\nmax = 10\ndefault = 1\nto = 'text'\nrole = 'source'",
            "type = 'enum'\nvalues = ['a']\ndefault = 'a'\nto = 'storyboard.interval'",
            "type = 'int'\nmin = 0\nmax = 10\ndefault = 1\nto = 'text'\nlimit = 'depth'",
            "type = 'float'\nmin = 0\nmax = 1\ndefault = 0.5\nto = 'text'\nlimit = 'width'",
            "type = 'int'\nmin = 0\nmax = 10\ndefault = 11\nto = 'text'",
            "type = 'int'\nmin = 0\nmax = 10\ndefault = 1\nto = 'e.p'\ninserts = 'x'",
            "type = 'float'\nmin = 1\nmax = 10\ndefault = 1\nto = 'storyboard.columns'",
            "type = 'int'\nmin = 0\nmax = 10\nto = 'text'",
            "type = 'int'\nmin = 0.5\nmax = 10\ndefault = 1\nto = 'text'",
            "type = 'decimal'\nto = 'text'",
            "type = 'int'\nmin = 0\nmax = 10\ndefault = 1\nto = 'nodot'",
            "type = 'int'\nmin = 0\nmax = 10\ndefault = 1",
            "type = 'int'\nmin = 0\nmax = 10\ndefault = 1\nto = 'seek.start'",
            "type = 'enum'\nto = 'text'\ndefault = 'a'",
            "type = 'enum'\nto = 'text'\nvalues = ['a b']\ndefault = 'a b'",
            "type = 'enum'\nto = 'text'\nvalues = ['a']\ndefault = 'b'",
            "type = 'float'\nmin = 0\nmax = 1\ndefault = 0.5\nto = 'text'\ngroup = 'g'",
            "type = 'int'\nmin = 0\nmax = 10\ndefault = 1\nto = 'text'\nvalues = ['a']",
        ];
        for text in bad {
            assert!(param("p", text).is_err(), "{text}");
        }
    }
}
