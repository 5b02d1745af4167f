//! The layering of `src/` as a test: which top-level module may use which
//! (the table in ARCHITECTURE.md, "Layers"). It reads every source file,
//! collects the `crate::…` paths it names (in `use` items, grouped ones
//! included, and inline), and fails on a use the table does not allow —
//! which also rules out cycles, as the table has none.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
};

/// Who may use whom. `lib` stands for the crate root's own items
/// (`build_state`, `App`, `BuildOptions`, …).
const ALLOWED: &[(&str, &[&str])] = &[
    ("model", &[]),
    ("metrics", &[]),
    ("security", &["model"]),
    ("config", &["model", "security"]),
    ("store", &["config", "model"]),
    ("limits", &["config"]),
    ("mail", &["config", "metrics", "model", "store"]),
    (
        "domain",
        &["config", "limits", "mail", "model", "security", "store"],
    ),
    (
        "http",
        &[
            "config", "domain", "limits", "mail", "metrics", "model", "security", "store",
        ],
    ),
    (
        "cli",
        &[
            "config", "domain", "http", "lib", "limits", "mail", "metrics", "model", "security",
            "store",
        ],
    ),
];

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

/// The top-level module a file belongs to (`src/domain/users.rs` →
/// `domain`, `src/config.rs` → `config`).
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap();
    let first = rel
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_string_lossy();
    first.trim_end_matches(".rs").to_string()
}

/// The first segments of every path after `crate::` in `code`.
fn crate_uses(code: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // A grouped import: the first segment of each item at depth 0.
            let mut depth = 0;
            let mut item_start = true;
            let mut current = String::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        item_start = true;
                        continue;
                    }
                    _ => {}
                }
                if depth == 0 && item_start {
                    if c.is_alphanumeric() || c == '_' {
                        current.push(c);
                    } else if !current.is_empty() {
                        out.insert(std::mem::take(&mut current));
                        item_start = false;
                    }
                }
            }
            if !current.is_empty() {
                out.insert(current);
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                out.insert(name);
            }
        }
    }
    out
}

/// The code of a file without its comments (`//` to the end of a line).
fn without_comments(text: &str) -> String {
    text.lines()
        .map(|line| match line.find("//") {
            Some(at) => &line[..at],
            None => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn top_level_modules_use_only_what_the_layering_allows() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let modules: BTreeSet<String> = files.iter().map(|f| module_of(&src, f)).collect();
    let allowed: BTreeMap<&str, &[&str]> = ALLOWED.iter().copied().collect();
    let mut violations = Vec::new();
    for file in &files {
        let module = module_of(&src, file);
        if module == "lib" || module == "main" {
            continue;
        }
        let Some(may) = allowed.get(module.as_str()) else {
            violations.push(format!(
                "{}: module `{module}` is not in the table",
                file.display()
            ));
            continue;
        };
        let code = without_comments(&std::fs::read_to_string(file).unwrap());
        for used in crate_uses(&code) {
            let used = if modules.contains(&used) {
                used
            } else {
                "lib".into()
            };
            if used != module && !may.contains(&used.as_str()) {
                violations.push(format!("{}: `{module}` uses `{used}`", file.display()));
            }
        }
    }
    assert!(
        violations.is_empty(),
        "layering broken:\n{}",
        violations.join("\n")
    );
}

#[test]
fn the_reader_sees_grouped_and_inline_paths() {
    let uses = crate_uses(
        "use crate::{config::{A, B}, store::Store};\nlet x = crate::mail::send();\nuse crate::model::User;",
    );
    let expected: BTreeSet<String> = ["config", "mail", "model", "store"]
        .into_iter()
        .map(String::from)
        .collect();
    assert_eq!(uses, expected);
}
