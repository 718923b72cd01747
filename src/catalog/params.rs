//! Declared parameters of a pipeline file, and the validation that turns a request's query into
//! values safe to use. Only validated numbers ever become description text; strings such as the
//! url are set as properties on named elements after parsing, so they cannot rewrite a pipeline.

use serde::Deserialize;
use std::fmt;

/// Longest url accepted; longer ones are refused before anything is fetched.
const MAX_URL_LEN: usize = 8192;

/// Where a validated value goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Substituted for `{name}` in the description text (numbers only).
    Text,
    /// Set as `element.property` after the description is parsed.
    Property { element: String, property: String },
    /// Used by the service itself (the Discoverer's uri).
    Service,
}

/// The type of a parameter and its bounds.
#[derive(Debug, Clone, PartialEq)]
pub enum ParamKind {
    Int {
        default: Option<i64>,
        min: i64,
        max: i64,
    },
    Url,
}

/// One declared parameter of an endpoint.
#[derive(Debug, Clone)]
pub struct Param {
    pub name: String,
    pub kind: ParamKind,
    pub required: bool,
    pub target: Target,
    pub doc: String,
}

/// A parameter as written in a pipeline file, before it is checked.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawParam {
    #[serde(rename = "type")]
    kind: String,
    default: Option<toml::Value>,
    min: Option<i64>,
    max: Option<i64>,
    #[serde(default)]
    required: bool,
    to: Option<String>,
    #[serde(default)]
    doc: String,
}

impl RawParam {
    /// Checks a declaration and gives the parameter it declares.
    pub(super) fn into_param(self, name: &str) -> Result<Param, String> {
        let kind = match self.kind.as_str() {
            "int" => {
                let (min, max) = match (self.min, self.max) {
                    (Some(min), Some(max)) if min <= max => (min, max),
                    (Some(_), Some(_)) => return Err(format!("param {name}: min is above max")),
                    _ => return Err(format!("param {name}: an int needs min and max")),
                };
                let default = match self.default {
                    None => None,
                    Some(toml::Value::Integer(v)) if (min..=max).contains(&v) => Some(v),
                    Some(v) => {
                        return Err(format!(
                            "param {name}: default {v} is not an int in {min}..={max}"
                        ))
                    }
                };
                ParamKind::Int { default, min, max }
            }
            "url" => ParamKind::Url,
            other => return Err(format!("param {name}: unknown type {other:?} (int, url)")),
        };
        let target = match self.to.as_deref() {
            None => Target::Service,
            Some("text") => Target::Text,
            Some(path) => match path.split_once('.') {
                Some((element, property)) if !element.is_empty() && !property.is_empty() => {
                    Target::Property {
                        element: element.into(),
                        property: property.into(),
                    }
                }
                _ => {
                    return Err(format!(
                        "param {name}: to = {path:?} is neither \"text\" nor \"element.property\""
                    ))
                }
            },
        };
        if kind == ParamKind::Url && target == Target::Text {
            return Err(format!(
                "param {name}: a url is never pasted into description text"
            ));
        }
        if matches!(kind, ParamKind::Int { default: None, .. }) && !self.required {
            return Err(format!("param {name}: an optional int needs a default"));
        }
        Ok(Param {
            name: name.into(),
            kind,
            required: self.required,
            target,
            doc: self.doc,
        })
    }
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
    },
    Repeated {
        name: String,
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
            Self::Unknown { name, known } => {
                write!(f, "unknown parameter {name:?}; known: {}", known.join(", "))
            }
            Self::Repeated { name } => write!(f, "{name} is given more than once"),
            Self::RefusedScheme { .. } => write!(f, "only http and https urls are fetched"),
        }
    }
}

/// A request's values, validated and sorted by where they go.
#[derive(Debug, Default, Clone)]
pub struct Bound {
    /// `{name}` -> text, for the description.
    pub text: Vec<(String, String)>,
    /// (element, property, value), set after parsing.
    pub properties: Vec<(String, String, String)>,
    /// The source url.
    pub url: String,
}

/// Validates `query` against `params`: every value checked, unknown and repeated names refused.
pub fn bind(params: &[Param], query: &[(String, String)]) -> Result<Bound, ParamError> {
    for (i, (name, _)) in query.iter().enumerate() {
        if !params.iter().any(|p| &p.name == name) {
            return Err(ParamError::Unknown {
                name: name.clone(),
                known: params.iter().map(|p| p.name.clone()).collect(),
            });
        }
        if query[..i].iter().any(|(n, _)| n == name) {
            return Err(ParamError::Repeated { name: name.clone() });
        }
    }
    let mut bound = Bound::default();
    for param in params {
        let given = query
            .iter()
            .find(|(n, _)| n == &param.name)
            .map(|(_, v)| v.as_str());
        let given = given.filter(|v| !v.is_empty());
        let value = match (&param.kind, given) {
            (ParamKind::Url, Some(v)) => check_url(&param.name, v)?,
            (ParamKind::Int { min, max, .. }, Some(v)) => check_int(&param.name, v, *min, *max)?,
            (
                ParamKind::Int {
                    default: Some(d), ..
                },
                None,
            ) if !param.required => d.to_string(),
            (_, None) => {
                return Err(ParamError::Missing {
                    name: param.name.clone(),
                })
            }
        };
        if param.kind == ParamKind::Url {
            bound.url = value.clone();
        }
        match &param.target {
            Target::Text => bound.text.push((param.name.clone(), value)),
            Target::Property { element, property } => {
                bound
                    .properties
                    .push((element.clone(), property.clone(), value))
            }
            Target::Service => {}
        }
    }
    Ok(bound)
}

fn check_int(name: &str, value: &str, min: i64, max: i64) -> Result<String, ParamError> {
    match value.parse::<i64>() {
        Ok(v) if (min..=max).contains(&v) => Ok(v.to_string()),
        _ => Err(ParamError::Invalid {
            name: name.into(),
            value: value.into(),
            allowed: format!("an integer from {min} to {max}"),
        }),
    }
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
    if !matches!(scheme.to_ascii_lowercase().as_str(), "http" | "https") {
        return Err(ParamError::RefusedScheme {
            value: scheme.into(),
        });
    }
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    if host.rsplit('@').next().unwrap_or("").is_empty() {
        return Err(invalid("no host"));
    }
    Ok(value.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> Vec<Param> {
        let url = RawParam {
            kind: "url".into(),
            default: None,
            min: None,
            max: None,
            required: true,
            to: Some("src.uri".into()),
            doc: String::new(),
        };
        let width = RawParam {
            kind: "int".into(),
            default: Some(toml::Value::Integer(426)),
            min: Some(16),
            max: Some(3840),
            required: false,
            to: Some("text".into()),
            doc: String::new(),
        };
        vec![
            url.into_param("url").unwrap(),
            width.into_param("width").unwrap(),
        ]
    }

    fn q(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn binds_defaults_and_targets() {
        let b = bind(&params(), &q(&[("url", "http://h/v.mp4")])).unwrap();
        assert_eq!(b.text, vec![("width".to_string(), "426".to_string())]);
        assert_eq!(
            b.properties,
            vec![("src".into(), "uri".into(), "http://h/v.mp4".into())]
        );
        assert_eq!(b.url, "http://h/v.mp4");
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
        for bad in ["12x", "15", "3841", "-1", "1e3", "99999999999999999999"] {
            let err = bind(&p, &q(&[("url", "http://h/"), ("width", bad)])).unwrap_err();
            assert!(
                matches!(err, ParamError::Invalid { ref name, .. } if name == "width"),
                "{bad}: {err:?}"
            );
        }
        let err = bind(&p, &q(&[("url", "http://h/"), ("widht", "3")])).unwrap_err();
        assert_eq!(
            err,
            ParamError::Unknown {
                name: "widht".into(),
                known: vec!["url".into(), "width".into()]
            }
        );
        let err = bind(&p, &q(&[("url", "http://h/"), ("url", "http://i/")])).unwrap_err();
        assert_eq!(err, ParamError::Repeated { name: "url".into() });
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
        for refused in ["file:///etc/passwd", "data://x", "rtsp://h/s", "appsrc://"] {
            assert!(
                matches!(ok(refused), Err(ParamError::RefusedScheme { .. })),
                "{refused}"
            );
        }
    }

    #[test]
    fn declarations_are_checked() {
        let raw = |kind: &str, to: Option<&str>, default: Option<i64>| RawParam {
            kind: kind.into(),
            default: default.map(toml::Value::Integer),
            min: Some(0),
            max: Some(10),
            required: false,
            to: to.map(Into::into),
            doc: String::new(),
        };
        assert!(raw("url", Some("text"), None).into_param("u").is_err());
        assert!(raw("int", Some("text"), Some(11)).into_param("n").is_err());
        assert!(raw("int", Some("text"), None).into_param("n").is_err());
        assert!(raw("float", Some("text"), Some(1)).into_param("n").is_err());
        assert!(raw("int", Some("nodot"), Some(1)).into_param("n").is_err());
        assert!(raw("int", Some("text"), Some(1)).into_param("n").is_ok());
    }
}
