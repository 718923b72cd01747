//! The checks a pipeline file gets against this GStreamer install at load: every placeholder
//! stands for something, every element is installed, and the description parses with every
//! enum value, so that a broken file stops the start instead of failing requests.

use super::error::Problem;
use super::params::{self, Param, ParamKind, Target};
use super::template::{placeholders, TemplateError};
use super::{Endpoint, Spec};
use crate::engine;

/// The element factories `endpoint` can use, once each, or what is wrong with it.
pub(super) fn against_gstreamer(endpoint: &Endpoint) -> Result<Vec<String>, Problem> {
    if matches!(endpoint.spec, Spec::Discover) {
        return Ok(vec!["uridecodebin".into()]);
    }
    check_placeholders(endpoint)?;
    let mut elements: Vec<String> = Vec::new();
    for query in trial_queries(&endpoint.params) {
        let trial = |message: String, sheet| Problem::Trial {
            query: describe(&query),
            sheet,
            message,
        };
        let bound = params::bind(&endpoint.params, &query)
            .map_err(|e| trial(format!("does not validate: {e}"), false))?;
        let description = endpoint.render(&bound)?;
        let sheet = endpoint.render_sheet(&bound).transpose()?;
        let names = element_names(&description)
            .into_iter()
            .chain(sheet.iter().flat_map(|s| element_names(s)));
        for element in names {
            if !engine::element_exists(&element) {
                let package = engine::debian_package(&element);
                return Err(Problem::MissingElement { element, package });
            }
            if !elements.contains(&element) {
                elements.push(element);
            }
        }
        if let Some(sheet) = &sheet {
            engine::launch::check(sheet, &[], false).map_err(|e| trial(e.message, true))?;
        }
        // What is checked of a url here is that its element takes the property.
        engine::launch::check(&description, &bound.settings_as_given(), true)
            .map_err(|e| trial(e.message, false))?;
    }
    Ok(elements)
}

fn describe(query: &[(String, String)]) -> String {
    let set: Vec<String> = query
        .iter()
        .filter(|(_, v)| !v.starts_with("http://127.0.0.1/check"))
        .map(|(n, v)| format!("{n}={v}"))
        .collect();
    if set.is_empty() {
        "the defaults".into()
    } else {
        set.join("&")
    }
}

/// Queries for the trial parses: the defaults, then each enum value in turn (with what that
/// value needs), each satisfying the required parameters.
fn trial_queries(params: &[Param]) -> Vec<Vec<(String, String)>> {
    let sample = |p: &Param| match (&p.default, &p.kind) {
        (Some(v), _) => v.to_string(),
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

/// Every `{name}` in the descriptions, the parts and the enum fragments is a part or a text
/// parameter, and every text parameter is used.
fn check_placeholders(endpoint: &Endpoint) -> Result<(), Problem> {
    if let Some(part) = endpoint
        .parts
        .keys()
        .find(|name| endpoint.params.iter().any(|p| &p.name == *name))
    {
        return Err(Problem::PartIsParam(part.clone()));
    }
    let mut texts: Vec<&str> = endpoint.spec.description().into_iter().collect();
    texts.extend(endpoint.spec.sheet());
    texts.extend(endpoint.parts.values().map(String::as_str));
    for p in &endpoint.params {
        texts.extend(p.inserts.as_deref());
        if let ParamKind::Enum { values } = &p.kind {
            texts.extend(values.iter().map(|v| v.text.as_str()));
        }
    }
    let mut used: Vec<String> = texts.iter().flat_map(|t| placeholders(t)).collect();
    let stands_for_text = |p: &Param| p.target == Target::Text || p.inserts.is_some();
    // `{a*b}`: both are numeric text parameters, and each counts as used.
    let products: Vec<String> = used.iter().filter(|n| n.contains('*')).cloned().collect();
    for name in &products {
        for factor in name.split('*') {
            let numeric = endpoint.params.iter().any(|p| {
                p.name == factor
                    && stands_for_text(p)
                    && matches!(p.kind, ParamKind::Int { .. } | ParamKind::Float { .. })
            });
            if !numeric {
                return Err(TemplateError::Unknown(name.clone()).into());
            }
            used.push(factor.to_string());
        }
    }
    used.retain(|n| !n.contains('*'));
    for name in &used {
        let is_param = endpoint
            .params
            .iter()
            .any(|p| &p.name == name && stands_for_text(p));
        if !is_param && !endpoint.parts.contains_key(name) {
            return Err(TemplateError::Unknown(name.clone()).into());
        }
    }
    match endpoint
        .params
        .iter()
        .find(|p| stands_for_text(p) && !used.contains(&p.name))
    {
        Some(p) => Err(Problem::Unused(p.name.clone())),
        None => Ok(()),
    }
}

/// Element factory names in a gst-launch description: in each `!`-separated part, the words that
/// are neither properties (`a=b`), caps (`video/x-raw,...`) nor pad references (`mux.`).
pub fn element_names(description: &str) -> Vec<String> {
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
