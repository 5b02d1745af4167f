//! The two migration folders describe one schema history: every version
//! exists on both backends with the same description, so a database moved
//! from SQLite to PostgreSQL (or a node on the other backend) agrees on
//! what has been applied.

use std::{collections::BTreeMap, path::Path};

/// `version → description` of the `*.sql` files in `migrations/<backend>`,
/// named as sqlx reads them: `<version>_<description>.sql`, or
/// `.up.sql` / `.down.sql` for a reversible pair (kept apart by suffix).
fn migrations(backend: &str) -> BTreeMap<(i64, String), String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(backend);
    let mut found = BTreeMap::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        let stem = name
            .strip_suffix(".sql")
            .unwrap_or_else(|| panic!("{backend}: {name} is not a .sql file"));
        let (stem, kind) = match stem.rsplit_once('.') {
            Some((stem, kind @ ("up" | "down"))) => (stem, kind),
            _ => (stem, "simple"),
        };
        let (version, description) = stem
            .split_once('_')
            .unwrap_or_else(|| panic!("{backend}: {name} is not <version>_<description>.sql"));
        let version: i64 = version
            .parse()
            .unwrap_or_else(|_| panic!("{backend}: {name} has no numeric version"));
        let description = description.replace('_', " ");
        let previous = found.insert((version, kind.to_string()), description);
        assert!(
            previous.is_none(),
            "{backend}: version {version} ({kind}) appears twice"
        );
    }
    found
}

#[test]
fn sqlite_and_postgres_migrations_have_the_same_versions() {
    let sqlite = migrations("sqlite");
    let postgres = migrations("postgres");
    assert!(!sqlite.is_empty(), "no migrations found");
    let listing = |m: &BTreeMap<(i64, String), String>| {
        m.iter()
            .map(|((version, kind), description)| format!("{version:04} {description} ({kind})"))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        listing(&sqlite),
        listing(&postgres),
        "migrations/sqlite/ (left) and migrations/postgres/ (right) differ"
    );
}
