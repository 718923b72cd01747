//! Embeds every file of `pipelines/` and `pipelines/parts/` into the binary, so a new default
//! endpoint is a new file and nothing in the Rust source has to list it.
use std::{env, fs, path::Path};

fn main() {
    let root = Path::new(&env::var("CARGO_MANIFEST_DIR").unwrap()).join("pipelines");
    let mut out = String::new();
    for (name, dir, what) in [
        ("EMBEDDED", root.clone(), "endpoint"),
        ("EMBEDDED_PARTS", root.join("parts"), "parts"),
    ] {
        println!("cargo:rerun-if-changed={}", dir.display());
        let mut names: Vec<String> = fs::read_dir(&dir)
            .map(|entries| {
                entries
                    .map(|e| e.unwrap().file_name().into_string().unwrap())
                    .filter(|n| n.ends_with(".toml"))
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        out.push_str(&format!(
            "/// The default {what} files, as (file name, contents).\npub static {name}: &[(&str, &str)] = &[\n"
        ));
        for file in &names {
            let path = dir.join(file);
            println!("cargo:rerun-if-changed={}", path.display());
            let shown = match what {
                "parts" => format!("parts/{file}"),
                _ => file.clone(),
            };
            out.push_str(&format!(
                "    ({shown:?}, include_str!({:?})),\n",
                path.display().to_string()
            ));
        }
        out.push_str("];\n");
    }
    fs::write(
        Path::new(&env::var("OUT_DIR").unwrap()).join("embedded_pipelines.rs"),
        out,
    )
    .unwrap();
}
