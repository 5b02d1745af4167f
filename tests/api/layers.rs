//! The layering of `src/` as a test: which top-level module may use which
//! (the table in ARCHITECTURE.md, "Layers"). It reads every source file,
//! collects the `crate::…` paths it names (in `use` items, grouped ones
//! included, and inline), and fails on a use the table does not allow —
//! which also rules out cycles, as the table has none.
//!
//! The same reader checks this test binary: a module of `tests/api/` (an
//! area) names nothing under `crate::` but `support`, the
//! `on_both_backends!` macro and its own submodules, so fixtures more than
//! one area needs live in `support/` and no area depends on another.

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
        &[
            "config", "limits", "mail", "metrics", "model", "security", "store",
        ],
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
                        // An item that was a bare name (`{model, …}`) ends here.
                        if !current.is_empty() {
                            out.insert(std::mem::take(&mut current));
                        }
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
fn the_reader_sees_the_item_after_a_bare_name() {
    let uses = crate_uses("use crate::{on_both_backends, djoser::text, model};");
    let expected: BTreeSet<String> = ["djoser", "model", "on_both_backends"]
        .into_iter()
        .map(String::from)
        .collect();
    assert_eq!(uses, expected);
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

// ---------------------------------------------------------------------------
// The test binary: areas share fixtures only through `support`
// ---------------------------------------------------------------------------

/// What any module of `tests/api/` may name after `crate::` besides its own
/// area: the shared fixtures and the macro they export.
const SHARED: &[&str] = &["support", "on_both_backends"];

/// The code of a Rust file without its comments (line and block) and with
/// the insides of string and character literals blanked, so a path in a
/// message or an example string is not taken for a use.
fn code_only(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let at = |i: usize| chars.get(i).copied();
    let is_ident = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while let Some(c) = at(i) {
        if c == '/' && at(i + 1) == Some('/') {
            while at(i).is_some_and(|c| c != '\n') {
                i += 1;
            }
        } else if c == '/' && at(i + 1) == Some('*') {
            // Block comments nest.
            let mut depth = 0;
            while let Some(c) = at(i) {
                if c == '/' && at(i + 1) == Some('*') {
                    depth += 1;
                    i += 2;
                } else if c == '*' && at(i + 1) == Some('/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            out.push(' ');
        } else if c == 'r'
            && (!is_ident(i.checked_sub(1).and_then(at))
                || (at(i - 1) == Some('b') && !is_ident(i.checked_sub(2).and_then(at))))
            && matches!(at(i + 1), Some('"' | '#'))
        {
            // A raw string, `r"…"` or `r#"…"#` (or `r#ident`).
            let hashes = (i + 1..).take_while(|&j| at(j) == Some('#')).count();
            if at(i + 1 + hashes) != Some('"') {
                out.push(c);
                i += 1;
                continue;
            }
            let close: String = std::iter::once('"')
                .chain("#".repeat(hashes).chars())
                .collect();
            i += 2 + hashes;
            while at(i).is_some()
                && !chars[i..]
                    .iter()
                    .take(close.len())
                    .copied()
                    .eq(close.chars())
            {
                i += 1;
            }
            i += close.len();
            out.push_str("\"\"");
        } else if c == '"' {
            i += 1;
            while let Some(c) = at(i) {
                i += if c == '\\' { 2 } else { 1 };
                if c == '"' {
                    break;
                }
            }
            out.push_str("\"\"");
        } else if c == '\'' && at(i + 1) == Some('\\') {
            // An escaped character: `'\n'`, `'\''`, `'\u{…}'`.
            i += 3;
            while at(i).is_some_and(|c| c != '\'') {
                i += 1;
            }
            i += 1;
            out.push_str("' '");
        } else if c == '\'' && at(i + 2) == Some('\'') {
            i += 3;
            out.push_str("' '");
        } else {
            // Code, or the quote of a lifetime.
            out.push(c);
            i += 1;
        }
    }
    out
}

/// The areas other than its own that `code`, a file of area `area`, names
/// after `crate::`.
fn other_areas_used(area: &str, code: &str) -> Vec<String> {
    crate_uses(&code_only(code))
        .into_iter()
        .filter(|used| used != area && !SHARED.contains(&used.as_str()))
        .collect()
}

#[test]
fn test_areas_share_fixtures_only_through_support() {
    let api = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/api");
    let mut files = Vec::new();
    rust_files(&api, &mut files);
    assert!(files.len() > 20, "found only {} files", files.len());
    let mut violations = Vec::new();
    for file in &files {
        let area = module_of(&api, file);
        let code = std::fs::read_to_string(file).unwrap();
        for used in other_areas_used(&area, &code) {
            violations.push(format!("{}: `{area}` uses `{used}`", file.display()));
        }
    }
    assert!(
        violations.is_empty(),
        "an area imports from another; move the shared helper to tests/api/support/:\n{}",
        violations.join("\n")
    );
}

#[test]
fn the_area_check_catches_an_import_from_another_area() {
    let bad = "use crate::{\n    on_both_backends,\n    accounts_roles::{make_group, make_user},\n    support::TestApp,\n};\nlet app = crate::djoser::app_with(app, |s| s.x = 0).await;\nuse crate::{support::TestResponse, one_home::*};";
    assert_eq!(
        other_areas_used("accounts_access", bad),
        ["accounts_roles", "djoser", "one_home"]
    );
    let fine = "use super::{REQUIRED, get_as};\nuse crate::{djoser::DOMAIN, on_both_backends, support::{TestApp, client::text}};\ncrate::on_both_backends!(a);\nlet s = \"crate::users::x\"; let q = '\"'; // crate::storage::y\n/* crate::mail::z */ let r = r#\"crate::cli::w\"#; fn f<'a>(x: &'a str) {}";
    assert_eq!(other_areas_used("djoser", fine), Vec::<String>::new());
}
