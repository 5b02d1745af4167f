//! `doorman provinces import FILE`: loads provinces from CSV lines
//! `name[,code]` (an optional first line `name,code` is a header). The
//! whole file is checked before anything is written; a bad line stops the
//! import naming its number. Importing again is harmless: a name that
//! exists (ignoring case) is left alone, or gets the file's code.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Subcommand;

use crate::{
    config::Settings,
    domain::profiles::{self, Imported},
    store::Store,
};

#[derive(Debug, Subcommand)]
pub enum ProvincesCommand {
    /// Import provinces from a CSV file of `name[,code]` lines.
    Import {
        /// The CSV file.
        file: PathBuf,
    },
}

pub async fn run(settings: Settings, command: ProvincesCommand) -> anyhow::Result<()> {
    let ProvincesCommand::Import { file } = command;
    let text = std::fs::read_to_string(&file)
        .with_context(|| format!("cannot read {}", file.display()))?;
    let rows = parse(&text)?;
    let store = Store::connect(&settings.database)
        .await?
        .with_profile_tables(crate::store::ProfileTables::from_settings(
            &settings.accounts,
        ));
    let (mut created, mut updated, mut unchanged) = (0, 0, 0);
    for (line, name, code) in &rows {
        let done = profiles::import_province(&store, name, code.as_deref())
            .await
            .with_context(|| format!("line {line}: cannot import `{name}`"))?;
        match done {
            Imported::Created => created += 1,
            Imported::Updated => updated += 1,
            Imported::Unchanged => unchanged += 1,
        }
    }
    println!("Provinces: {created} created, {updated} updated, {unchanged} unchanged.");
    Ok(())
}

/// `(line number, name, code)` per non-blank line.
fn parse(text: &str) -> anyhow::Result<Vec<(usize, String, Option<String>)>> {
    let mut rows = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let raw = raw.trim();
        if raw.is_empty() || (line == 1 && raw.eq_ignore_ascii_case("name,code")) {
            continue;
        }
        let parts: Vec<&str> = raw
            .split(',')
            .map(|p| p.trim().trim_matches('"').trim())
            .collect();
        let (name, code) = match parts.as_slice() {
            [name] => (*name, None),
            [name, code] => (*name, Some(*code).filter(|c| !c.is_empty())),
            _ => bail!(
                "line {line}: expected `name` or `name,code`, found {} fields",
                parts.len()
            ),
        };
        let errors = profiles::check_province(Some(name), code);
        if let Some((field, messages)) = errors.first() {
            bail!("line {line}: {field}: {}", messages.join(" "));
        }
        rows.push((line, name.to_string(), code.map(str::to_string)));
    }
    Ok(rows)
}
