//! The crate's layering, checked: every module of `src/` uses only the
//! modules below it (so there is no import circle), and no source file
//! holds more than ~400 lines of non-test code. The order is the one
//! `src/lib.rs` draws; a change that needs another edge changes both.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The top-level modules of `src/`, lowest first. `lib.rs` (the public
/// surface) and `private.rs` (the macro's runtime support) sit above all.
const LAYERS: &[&str] = &[
    "util", "task", "config", "capture", "report", "suite", "judge", "ledger", "outputs", "exit",
    "check", "harness",
];

/// Lines of non-test code a file may hold (the style guide's ~400, with
/// room for a doc comment or two).
const MAX_LINES: usize = 420;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level modules each top-level module of `src/` names, from
/// `crate::<module>` outside comments.
fn uses() -> BTreeMap<String, Vec<(String, String)>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut out: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for file in files {
        let rel = file
            .strip_prefix(&src)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let top = rel
            .split('/')
            .next()
            .unwrap()
            .trim_end_matches(".rs")
            .to_owned();
        let text = std::fs::read_to_string(&file).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            let mut rest = code;
            while let Some(i) = rest.find("crate::") {
                rest = &rest[i + "crate::".len()..];
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if LAYERS.contains(&name.as_str()) && name != top {
                    let at = format!("src/{rel}:{}", n + 1);
                    out.entry(top.clone()).or_default().push((name, at));
                }
            }
        }
    }
    out
}

#[test]
fn every_module_uses_only_the_layers_below_it() {
    let rank = |m: &str| LAYERS.iter().position(|l| *l == m);
    let mut upward = Vec::new();
    for (module, used) in uses() {
        let Some(own) = rank(&module) else {
            continue; // lib.rs, private.rs, cli.rs: the surface
        };
        for (name, at) in used {
            if rank(&name).is_some_and(|r| r > own) {
                upward.push(format!("{at}: `{module}` uses `{name}`, a layer above it"));
            }
        }
    }
    assert!(upward.is_empty(), "{}", upward.join("\n"));
}

#[test]
fn every_top_level_module_has_a_layer() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for entry in std::fs::read_dir(&src).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        let module = name.trim_end_matches(".rs");
        assert!(
            LAYERS.contains(&module) || ["lib", "private", "cli"].contains(&module),
            "src/{name} is in no layer of tests/layers.rs"
        );
    }
}

#[test]
fn no_file_holds_more_than_one_idea_of_code() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    rust_files(&root.join("leak-macros/src"), &mut files);
    let mut long = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let code = text
            .lines()
            .take_while(|l| !l.starts_with("#[cfg(test)]"))
            .count();
        if code > MAX_LINES {
            long.push(format!("{}: {code} lines before its tests", file.display()));
        }
    }
    assert!(long.is_empty(), "split by idea:\n{}", long.join("\n"));
}
