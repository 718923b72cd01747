//! Reading a pipeline set and composing each endpoint file from what it builds on: the file it
//! `extends` (another endpoint file) and the parts it `use`s (`parts/NAME.toml`), merged under
//! its own keys. A name is looked up in the set first, then among the built-in files, so a
//! directory of custom endpoints can build on the built-in parts without copying them.

use super::error::{LoadError, Problem};
use std::path::Path;

include!(concat!(env!("OUT_DIR"), "/embedded_pipelines.rs"));

/// One pipeline file as read.
#[derive(Debug, Clone)]
pub struct FileText {
    /// How errors and `check` name it: a path, or the built-in file's name.
    pub name: String,
    /// The name other files give it: `webm` for `webm.toml`, `fit` for `parts/fit.toml`.
    pub stem: String,
    pub text: String,
}

/// The files a set is made of, and the built-in files a name falls back to.
#[derive(Debug, Default)]
pub struct Files {
    pub endpoints: Vec<FileText>,
    parts: Vec<FileText>,
    builtin: Option<Box<Files>>,
}

/// The built-in set: `pipelines/` and `pipelines/parts/` as embedded at build time.
pub fn embedded() -> Files {
    let file = |(name, text): &(&str, &str)| FileText {
        name: name.to_string(),
        stem: stem(Path::new(name)),
        text: text.to_string(),
    };
    Files {
        endpoints: EMBEDDED.iter().map(file).collect(),
        parts: EMBEDDED_PARTS.iter().map(file).collect(),
        builtin: None,
    }
}

/// One file over the built-in set.
pub fn single(name: &str, text: &str) -> Files {
    Files {
        endpoints: vec![FileText {
            name: name.into(),
            stem: stem(Path::new(name)),
            text: text.into(),
        }],
        parts: Vec::new(),
        builtin: Some(Box::new(embedded())),
    }
}

/// The `*.toml` files of `dir` and of `dir/parts`, over the built-in set.
pub fn read_dir(dir: &Path) -> Result<Files, LoadError> {
    let fail = |problem| LoadError {
        file: dir.display().to_string(),
        at: None,
        problem: Box::new(problem),
    };
    let endpoints = read_tomls(dir).map_err(|e| fail(e.into()))?;
    if endpoints.is_empty() {
        return Err(fail(Problem::Empty));
    }
    let parts_dir = dir.join("parts");
    let parts = match parts_dir.is_dir() {
        true => read_tomls(&parts_dir).map_err(|e| fail(e.into()))?,
        false => Vec::new(),
    };
    Ok(Files {
        endpoints,
        parts,
        builtin: Some(Box::new(embedded())),
    })
}

fn read_tomls(dir: &Path) -> std::io::Result<Vec<FileText>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|x| x == "toml") && path.is_file() {
            files.push(FileText {
                name: path.display().to_string(),
                stem: stem(&path),
                text: std::fs::read_to_string(&path)?,
            });
        }
    }
    files.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(files)
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

impl Files {
    fn endpoint(&self, stem: &str) -> Option<&FileText> {
        let own = self.endpoints.iter().find(|f| f.stem == stem);
        own.or_else(|| self.builtin.as_ref()?.endpoint(stem))
    }

    fn part(&self, stem: &str) -> Option<&FileText> {
        let own = self.parts.iter().find(|f| f.stem == stem);
        own.or_else(|| self.builtin.as_ref()?.part(stem))
    }
}

/// An endpoint file with what it builds on merged in: the table it is built from, and the
/// files that made it, the file itself first (where an error's line is looked for).
#[derive(Debug)]
pub struct Composed {
    pub table: toml::Table,
    pub chain: Vec<FileText>,
}

impl Composed {
    /// The error `problem` in `file`, at the first line of the chain that holds what it names.
    pub fn error(&self, file: &str, problem: Problem) -> LoadError {
        locate(file, &self.chain, problem)
    }
}

/// `problem` in `file`, pointed at the first line of `chain` that holds what it names.
pub fn locate(file: &str, chain: &[FileText], problem: Problem) -> LoadError {
    if let (Problem::Syntax { line, .. }, Some(first)) = (&problem, chain.first()) {
        return LoadError {
            file: file.into(),
            at: Some((first.name.clone(), *line)),
            problem: Box::new(problem),
        };
    }
    let at = problem.needle().and_then(|needle| {
        chain
            .iter()
            .find_map(|f| Some((f.name.clone(), needle.find(&f.text)?)))
    });
    LoadError {
        file: file.into(),
        at,
        problem: Box::new(problem),
    }
}

/// `file` merged over its base and parts.
pub fn compose(files: &Files, file: &FileText) -> Result<Composed, LoadError> {
    compose_from(files, file, &mut Vec::new()).map_err(|failed| {
        let (chain, problem) = *failed;
        let chain = chain.unwrap_or_else(|| vec![file.clone()]);
        locate(&file.name, &chain, problem)
    })
}

/// A problem, and the files to look for its line in (the file at hand when None).
type Failed = Box<(Option<Vec<FileText>>, Problem)>;

fn compose_from(
    files: &Files,
    file: &FileText,
    visiting: &mut Vec<String>,
) -> Result<Composed, Failed> {
    let here = || Some(vec![file.clone()]);
    let mut own = parse(file).map_err(|p| Box::new((here(), p)))?;
    visiting.push(file.name.clone());
    let mut table = toml::Table::new();
    let mut chain = vec![file.clone()];
    if let Some(base) = own.remove("extends") {
        let name = base.as_str().unwrap_or_default().to_string();
        let base = files
            .endpoint(&name)
            .ok_or_else(|| Box::new((here(), Problem::NoBase(name.clone()))))?;
        if visiting.contains(&base.name) {
            return Err(Box::new((here(), Problem::ExtendsItself(name))));
        }
        let composed = compose_from(files, base, visiting)?;
        table = composed.table;
        chain.extend(composed.chain);
    }
    let uses = match own.remove("use") {
        None => Vec::new(),
        Some(toml::Value::Array(names)) => names,
        Some(other) => vec![other],
    };
    for name in uses {
        let name = name.as_str().unwrap_or_default().to_string();
        let part = files
            .part(&name)
            .ok_or_else(|| Box::new((here(), Problem::NoPart(name.clone()))))?;
        let fragment = parse(part).map_err(|p| Box::new((Some(vec![part.clone()]), p)))?;
        if let Some(key) = fragment
            .keys()
            .find(|k| !matches!(k.as_str(), "parts" | "params"))
        {
            return Err(Box::new((
                Some(vec![part.clone()]),
                Problem::NotAPartKey(key.clone()),
            )));
        }
        merge(&mut table, fragment);
        chain.insert(1, part.clone());
    }
    merge(&mut table, own);
    visiting.pop();
    Ok(Composed { table, chain })
}

fn parse(file: &FileText) -> Result<toml::Table, Problem> {
    file.text.parse::<toml::Table>().map_err(|e| {
        let at = e.span().map_or(0, |span| span.start).min(file.text.len());
        let line = file.text[..at].matches('\n').count() + 1;
        Problem::Syntax {
            line,
            text: file.text.lines().nth(line - 1).unwrap_or("").trim().into(),
            message: e.message().trim().replace('\n', "; "),
        }
    })
}

/// `over` merged into `base`: tables key by key, anything else replaced.
fn merge(base: &mut toml::Table, over: toml::Table) {
    for (key, value) in over {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(inner)), toml::Value::Table(value)) => merge(inner, value),
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(stem: &str, text: &str) -> FileText {
        FileText {
            name: format!("{stem}.toml"),
            stem: stem.into(),
            text: text.into(),
        }
    }

    #[test]
    fn a_file_is_merged_over_its_base_and_parts() {
        let files = Files {
            endpoints: vec![
                file(
                    "base",
                    "kind = 'stream'\n[parts]\nenc = 'vp8enc'\nmux = 'webmmux'",
                ),
                file(
                    "child",
                    "extends = 'base'\nuse = ['p']\n[parts]\nenc = 'vp9enc'",
                ),
            ],
            parts: vec![file("p", "[parts]\nmux = 'matroskamux'\nextra = 'queue'")],
            builtin: None,
        };
        let composed = compose(&files, &files.endpoints[1]).unwrap();
        let parts = composed.table["parts"].as_table().unwrap();
        assert_eq!(parts["enc"].as_str(), Some("vp9enc"));
        assert_eq!(parts["mux"].as_str(), Some("matroskamux"));
        assert_eq!(parts["extra"].as_str(), Some("queue"));
        assert_eq!(composed.table["kind"].as_str(), Some("stream"));
        let names: Vec<_> = composed.chain.iter().map(|f| f.stem.as_str()).collect();
        assert_eq!(names, ["child", "p", "base"]);
    }

    #[test]
    fn a_missing_or_circular_base_is_an_error_with_its_line() {
        let files = Files {
            endpoints: vec![
                file("a", "kind = 'stream'\nextends = 'b'"),
                file("b", "extends = 'a'"),
                file("c", "\nuse = ['nothere']"),
            ],
            ..Files::default()
        };
        let e = compose(&files, &files.endpoints[0]).unwrap_err();
        assert!(matches!(*e.problem, Problem::ExtendsItself(_)), "{e}");
        let e = compose(&files, &files.endpoints[2]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "c.toml: line 2: use = \"nothere\": no such part (parts/nothere.toml)"
        );
        // Not TOML in a part: that file, that line.
        let files = Files {
            endpoints: vec![file("d", "use = ['p']\nkind = 'still'")],
            parts: vec![file("p", "[parts]\nok = 'a'\nbroken = \n")],
            builtin: None,
        };
        let e = compose(&files, &files.endpoints[0]).unwrap_err();
        assert!(e.to_string().starts_with("d.toml: p.toml line 3: "), "{e}");
    }
}
