//! Why a pipeline set does not load: the file, the line when it can be found, and the problem
//! as a type (the line is found from what the problem names, never from its message).

use super::params::DeclError;
use super::template::TemplateError;
use std::fmt;

/// A pipeline file that does not load, and where.
#[derive(Debug, thiserror::Error)]
pub struct LoadError {
    /// The endpoint file (or directory) being loaded.
    pub file: String,
    /// Where the problem is: a file of the endpoint's chain (itself, a part, a base) and a line.
    pub at: Option<(String, usize)>,
    #[source]
    pub problem: Box<Problem>,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.file)?;
        match &self.at {
            Some((file, line)) if *file == self.file => write!(f, "line {line}: ")?,
            Some((file, line)) => write!(f, "{file} line {line}: ")?,
            None => {}
        }
        write!(f, "{}", self.problem)
    }
}

/// What is wrong.
#[derive(Debug, thiserror::Error)]
pub enum Problem {
    #[error("cannot read: {0}")]
    Read(#[from] std::io::Error),
    #[error("no *.toml pipeline files")]
    Empty,
    #[error("{0}")]
    Toml(String),
    /// Text that is not TOML, at a line of the first file of the chain it is reported with.
    #[error("not TOML: {message} in `{text}`")]
    Syntax {
        line: usize,
        text: String,
        message: String,
    },
    #[error("extends = {0:?}: no such pipeline file")]
    NoBase(String),
    #[error("extends = {0:?} leads back to this file")]
    ExtendsItself(String),
    #[error("use = {0:?}: no such part (parts/{0}.toml)")]
    NoPart(String),
    #[error("a parts file holds [parts] and [params.*] only, not {0:?}")]
    NotAPartKey(String),
    #[error("param {name}: {problem}")]
    Param { name: String, problem: DeclError },
    #[error("{0}")]
    Template(#[from] TemplateError),
    #[error("parameter {0} has to = \"text\" but {{{0}}} is in no description, part or fragment")]
    Unused(String),
    #[error("part {0} has the name of a parameter")]
    PartIsParam(String),
    #[error("routes is empty")]
    NoRoutes,
    #[error("route {0:?} is not a path like /name or /name/variant")]
    BadRoute(String),
    #[error("route {0} is reserved by the service")]
    ReservedRoute(String),
    #[error("route {route} is already taken by {by}")]
    RouteTaken { route: String, by: String },
    #[error("a required parameter of type \"url\" with role = \"source\" names the source")]
    NoSource,
    #[error("more than one parameter has role = {0:?}")]
    TwoRoles(&'static str),
    #[error("more than one parameter goes to {0:?}")]
    TwoTargets(&'static str),
    #[error("a {kind} endpoint does nothing with to = {target:?}")]
    IdleTarget {
        kind: &'static str,
        target: &'static str,
    },
    #[error("{0}")]
    Shape(Shape),
    #[error("element {element} is not installed{}", package.map(|p| format!(" (Debian package {p})")).unwrap_or_default())]
    MissingElement {
        element: String,
        package: Option<&'static str>,
    },
    #[error("{}with {query}: {message}", if *.sheet { "sheet, " } else { "" })]
    Trial {
        query: String,
        sheet: bool,
        message: String,
    },
}

/// A file whose keys do not fit its kind.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Shape {
    #[error("start must be a number of seconds, 0 or more")]
    Start,
    #[error("rate must be a number above 0")]
    Rate,
    #[error("rate: {0:?} is not a numeric parameter with a default and a minimum above 0")]
    RateFactor(String),
    #[error("{key}: a table needs `from` (an enum parameter with a default)")]
    NoFrom { key: &'static str },
    #[error("{key}: from = {from:?} is not an enum parameter with a default")]
    BadFrom { key: &'static str, from: String },
    #[error("{key}: no value for {from} = {word:?}")]
    Uncovered {
        key: &'static str,
        from: String,
        word: String,
    },
    #[error("{key}: {word:?} is not a value of {from}")]
    NotAValue {
        key: &'static str,
        from: String,
        word: String,
    },
    #[error("{key}: no {what} {name:?} (there is: {known})")]
    Unknown {
        key: &'static str,
        what: &'static str,
        name: String,
        known: String,
    },
    #[error("suffix = {0:?} is not an enum parameter")]
    Suffix(String),
    #[error("a discover endpoint has no description, and no parameter goes into one")]
    DiscoverDescription,
    #[error("a {kind} endpoint needs a description with a decoder named \"src\"")]
    NoDescription { kind: &'static str },
    #[error(
        "a storyboard needs a sheet: the description that encodes the sheet from appsrc name=tiles"
    )]
    NoSheet,
    #[error("only a {only} has {key}")]
    Misplaced {
        key: &'static str,
        only: &'static str,
    },
    #[error("a {kind} declares to = {target:?} (with a default and a minimum above 0)")]
    Needs {
        kind: &'static str,
        target: &'static str,
    },
    #[error("a storyboard's suffix is its layout's `from` parameter (the layout points at the sheet by its suffix)")]
    LayoutSuffix,
    #[error("a watermark (role = \"watermark\") needs to = \"watermark.scale\" and \"watermark.offset\" with defaults, and they need it")]
    Watermark,
}

impl Problem {
    /// Text the problem names that a line of the file holds: where to point the reader.
    pub fn needle(&self) -> Option<Needle> {
        use Needle::*;
        Some(match self {
            Self::Param { name, .. } | Self::Unused(name) => Line(format!("[params.{name}]")),
            Self::Template(e) => Line(format!("{{{}}}", e.name())),
            Self::PartIsParam(name) => Key(name.clone()),
            Self::NoBase(_) | Self::ExtendsItself(_) => Key("extends".into()),
            Self::NoPart(_) => Key("use".into()),
            Self::NotAPartKey(key) => Key(key.clone()),
            Self::NoRoutes | Self::BadRoute(_) | Self::ReservedRoute(_) => Key("routes".into()),
            Self::RouteTaken { .. } => Key("routes".into()),
            Self::MissingElement { element, .. } => Word(element.clone()),
            Self::Shape(shape) => Key(match shape {
                Shape::Start => "start",
                Shape::Rate | Shape::RateFactor(_) => "rate",
                Shape::NoFrom { key }
                | Shape::BadFrom { key, .. }
                | Shape::Uncovered { key, .. }
                | Shape::NotAValue { key, .. }
                | Shape::Unknown { key, .. }
                | Shape::Misplaced { key, .. } => key,
                Shape::Suffix(_) | Shape::LayoutSuffix => "suffix",
                _ => return None,
            }
            .into()),
            _ => return None,
        })
    }
}

/// What to look for in a file's lines.
pub enum Needle {
    /// A line holding this text.
    Line(String),
    /// A line that sets this key (`key =`).
    Key(String),
    /// A line holding this word between spaces, `!` or quotes (an element name).
    Word(String),
}

impl Needle {
    /// The 1-based number of the first line of `text` that holds the needle.
    pub fn find(&self, text: &str) -> Option<usize> {
        let hit = |line: &str| match self {
            Needle::Line(needle) => line.contains(needle.as_str()),
            Needle::Key(key) => line
                .trim_start()
                .strip_prefix(key.as_str())
                .is_some_and(|rest| rest.trim_start().starts_with('=')),
            Needle::Word(word) => line
                .split(|c: char| c.is_whitespace() || c == '!' || c == '"')
                .any(|w| w == word),
        };
        text.lines().position(hit).map(|n| n + 1)
    }
}
