//! `doorman import-django SOURCE_URL`: copies a Django database's users,
//! groups, permissions, DRF tokens, blacklisted refresh tokens and the
//! accounts app's profiles into doorman's database (the configured
//! `database.url`), and the profile pictures from `--media-from`.
//!
//! It plans before it writes: a conflict anywhere stops the run before
//! anything changed, and `--dry-run` stops after the plan. What the copy
//! keeps and matches is described in `store::import`.

use std::{
    io::IsTerminal,
    path::{Component, Path, PathBuf},
    sync::Mutex,
    time::Instant,
};

use anyhow::Context;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::{
    config::{Settings, redact_url},
    store::{Import, ImportError, ImportMode, ImportReport, ImportSource, Progress, Store},
};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The Django database to copy from (sqlite:PATH or postgres://…);
    /// opened read-only.
    pub source_url: String,
    /// Copy the profile pictures from this directory (the Django project's
    /// MEDIA_ROOT) into media.root.
    #[arg(long, value_name = "DIR")]
    pub media_from: Option<PathBuf>,
    /// Show what would be copied and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// The Django app holding the profiles (`<app>_userprofile`, …);
    /// without it, `accounts` is used when the source has it.
    #[arg(long, value_name = "APP")]
    pub accounts_app: Option<String>,
}

pub async fn run(mut settings: Settings, args: Args) -> anyhow::Result<()> {
    // A page's transaction holds one connection while the copy reads
    // through another.
    settings.database.max_connections = settings.database.max_connections.max(2);
    let target_url = &settings.database.url;
    anyhow::ensure!(
        !same_database(&args.source_url, target_url),
        "the source is doorman's own database ({}); import-django copies into another one",
        redact_url(target_url)
    );
    if let Some(app) = &args.accounts_app {
        anyhow::ensure!(
            crate::config::is_plain_name(app),
            "--accounts-app {app:?}: a Django app label is lower-case letters, digits and _"
        );
    }
    if let Some(dir) = &args.media_from {
        anyhow::ensure!(
            dir.is_dir(),
            "--media-from {}: no such directory",
            dir.display()
        );
    }
    let source = ImportSource::open(
        &args.source_url,
        args.accounts_app.as_deref().unwrap_or("accounts"),
        args.accounts_app.is_some(),
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let target = Store::connect(&settings.database)
        .await
        .with_context(|| format!("target {}: cannot connect", redact_url(target_url)))?
        .with_profile_tables(crate::store::ProfileTables::from_settings(
            &settings.accounts,
        ));
    let pending = target.pending_migrations().await?;
    if !pending.is_empty() {
        anyhow::ensure!(
            !args.dry_run,
            "the target {} has pending migrations; run `doorman migrate` first (a dry run changes nothing)",
            redact_url(target_url)
        );
        target.migrate().await?;
        target
            .ensure_email_uniqueness(settings.users.unique_email)
            .await?;
    }
    if let Some(profiles) = source.apps().accounts {
        let tables = target.profile_tables();
        anyhow::ensure!(
            target.has_table(&tables.profile).await?,
            "the source has profiles ({profiles}) but the target has no table {}",
            tables.profile
        );
    }
    println!(
        "Source: {} (Django; {})",
        redact_url(&args.source_url),
        describe(&source)
    );
    println!("Target: {}", redact_url(target_url));

    let progress = Bar::new();
    let import = Import {
        source: &source,
        target: &target,
        digest: crate::security::opaque::digest,
        progress: &progress,
    };
    progress.phase("checking");
    let plan = import.run(ImportMode::Plan).await.map_err(stop)?;
    let pictures = Pictures::plan(
        &plan.pictures,
        args.media_from.as_deref(),
        &settings.media.root,
    );
    if args.dry_run {
        print_report(
            "Dry run: nothing was changed. The copy would do:",
            &plan,
            true,
        );
        pictures.print(true);
        return Ok(());
    }
    if plan.changes() == 0 && pictures.to_copy.is_empty() {
        print_report(
            "Nothing new to copy: the target already holds the source's rows.",
            &plan,
            false,
        );
        pictures.print(false);
        return Ok(());
    }
    let started = Instant::now();
    progress.phase("copying");
    let done = import.run(ImportMode::Apply).await.map_err(stop)?;
    let copied = pictures.copy()?;
    let took = started.elapsed().as_secs_f64();
    print_report("Copied:", &done, false);
    copied.print(false);
    let users = done
        .tables
        .iter()
        .find(|(t, _)| *t == "users")
        .map_or(0, |(_, t)| t.new + t.updated);
    println!(
        "Took {took:.1} s ({:.0} users written per second).",
        users as f64 / took.max(0.001)
    );
    source.close().await;
    target.close().await;
    Ok(())
}

fn stop(e: ImportError) -> anyhow::Error {
    anyhow::anyhow!("{e}")
}

/// Whether two URLs name one database (the same text, or the same SQLite
/// file however it is spelled).
fn same_database(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    let file = |url: &str| {
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))?;
        let path = path.split('?').next()?;
        std::fs::canonicalize(path).ok()
    };
    matches!((file(a), file(b)), (Some(x), Some(y)) if x == y)
}

fn describe(source: &ImportSource) -> String {
    let apps = source.apps();
    let mut parts = vec!["auth".to_string()];
    if apps.drf_tokens {
        parts.push("authtoken".into());
    }
    if apps.blacklist {
        parts.push("token_blacklist".into());
    }
    if let Some(profiles) = apps.accounts {
        parts.push(format!("profiles in {profiles}"));
    }
    parts.join(", ")
}

/// `planned`: the report is a dry run's, of what would be done.
fn print_report(heading: &str, report: &ImportReport, planned: bool) {
    println!("{heading}");
    println!(
        "  {:<28} {:>9} {:>9} {:>10} {:>9} {:>9}",
        "", "new", "updated", "unchanged", "removed", "skipped"
    );
    for (table, t) in &report.tables {
        println!(
            "  {table:<28} {:>9} {:>9} {:>10} {:>9} {:>9}",
            t.new, t.updated, t.unchanged, t.removed, t.skipped
        );
    }
    if report.users_deactivated > 0 {
        let n = report.users_deactivated;
        println!(
            "  Deleted in Django since an earlier copy: {n} {}, {} inactive here so that {} cannot sign in.",
            if n == 1 { "user" } else { "users" },
            if planned { "to be made" } else { "made" },
            if n == 1 { "it" } else { "they" },
        );
    }
    if report.users_only_in_target > 0 {
        println!(
            "  {} users of the target are not in the source; they are left as they are.",
            report.users_only_in_target
        );
    }
    for note in &report.notes {
        println!("  note: {note}");
    }
}

/// The picture files to bring over: relative paths checked to stay inside
/// both directories, compared by content.
struct Pictures {
    from: Option<PathBuf>,
    root: PathBuf,
    named: usize,
    to_copy: Vec<String>,
    unchanged: usize,
    missing: Vec<String>,
    refused: Vec<String>,
}

impl Pictures {
    fn plan(paths: &[String], from: Option<&Path>, root: &Path) -> Pictures {
        let mut plan = Pictures {
            from: from.map(Path::to_path_buf),
            root: root.to_path_buf(),
            named: paths.len(),
            to_copy: Vec::new(),
            unchanged: 0,
            missing: Vec::new(),
            refused: Vec::new(),
        };
        let Some(from) = from else {
            return plan;
        };
        let mut seen = std::collections::HashSet::new();
        for path in paths {
            if !seen.insert(path.as_str()) {
                continue;
            }
            if !inside(path) {
                plan.refused.push(path.clone());
                continue;
            }
            let Some(src) = file_within(from, path) else {
                plan.missing.push(path.clone());
                continue;
            };
            let dst = root.join(path);
            let same = match (std::fs::read(&src), std::fs::read(&dst)) {
                (Ok(a), Ok(b)) => a == b,
                _ => false,
            };
            if same {
                plan.unchanged += 1;
            } else {
                plan.to_copy.push(path.clone());
            }
        }
        plan
    }

    fn copy(&self) -> anyhow::Result<Pictures> {
        let Some(from) = &self.from else {
            return Ok(self.clone_counts(0));
        };
        for path in &self.to_copy {
            let dst = self.root.join(path);
            if let Some(dir) = dst.parent() {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("cannot create {}", dir.display()))?;
            }
            // Checked again now: the copy may come hours after the plan.
            let src = file_within(from, path).with_context(|| {
                format!(
                    "the picture {path} is no longer a file under {}",
                    from.display()
                )
            })?;
            let Some(dir) = dst.parent().and_then(|d| d.canonicalize().ok()) else {
                anyhow::bail!("cannot place the picture {path}");
            };
            let root = self.root.canonicalize()?;
            anyhow::ensure!(
                dir.starts_with(&root)
                    && std::fs::symlink_metadata(&dst).map_or(true, |m| m.is_file()),
                "the picture {path} would be written outside {} (a link in the way)",
                self.root.display()
            );
            std::fs::copy(src, &dst).with_context(|| format!("cannot copy the picture {path}"))?;
        }
        Ok(self.clone_counts(self.to_copy.len()))
    }

    fn clone_counts(&self, copied: usize) -> Pictures {
        Pictures {
            from: self.from.clone(),
            root: self.root.clone(),
            named: self.named,
            to_copy: self.to_copy.iter().take(copied).cloned().collect(),
            unchanged: self.unchanged,
            missing: self.missing.clone(),
            refused: self.refused.clone(),
        }
    }

    fn print(&self, planned: bool) {
        if self.named == 0 {
            return;
        }
        let Some(from) = &self.from else {
            println!(
                "  {} profiles name a picture; pass --media-from DIR (Django's MEDIA_ROOT) to copy the files",
                self.named
            );
            return;
        };
        let verb = if planned { "would copy" } else { "copied" };
        println!(
            "  picture files from {} to {}: {verb} {}, {} already there",
            from.display(),
            self.root.display(),
            self.to_copy.len(),
            self.unchanged
        );
        if !self.missing.is_empty() {
            println!(
                "  note: {} pictures are not files under {}: {}",
                self.missing.len(),
                from.display(),
                sample(&self.missing)
            );
        }
        if !self.refused.is_empty() {
            println!(
                "  note: {} picture paths lead outside the media directory and were not copied: {}",
                self.refused.len(),
                sample(&self.refused)
            );
        }
    }
}

fn sample(paths: &[String]) -> String {
    let mut shown: Vec<&str> = paths.iter().take(5).map(String::as_str).collect();
    if paths.len() > 5 {
        shown.push("…");
    }
    shown.join(", ")
}

/// The regular file `path` names under `dir`, if it is one and neither
/// it nor a directory on the way is a link leading out of `dir`.
fn file_within(dir: &Path, path: &str) -> Option<PathBuf> {
    let dir = dir.canonicalize().ok()?;
    let file = dir.join(path).canonicalize().ok()?;
    (file.starts_with(&dir) && std::fs::symlink_metadata(&file).ok()?.is_file()).then_some(file)
}

/// Whether a stored picture path is a plain relative path (no `..`, no
/// root), as Django's storage writes them.
fn inside(path: &str) -> bool {
    let path = Path::new(path);
    !path.as_os_str().is_empty() && path.components().all(|c| matches!(c, Component::Normal(_)))
}

/// A progress bar on a terminal; nothing otherwise.
struct Bar {
    bar: Mutex<Option<ProgressBar>>,
    phase: Mutex<&'static str>,
    shown: bool,
}

impl Bar {
    fn new() -> Bar {
        Bar {
            bar: Mutex::new(None),
            phase: Mutex::new(""),
            shown: std::io::stderr().is_terminal(),
        }
    }

    fn phase(&self, phase: &'static str) {
        *self.phase.lock().unwrap_or_else(|e| e.into_inner()) = phase;
    }
}

impl Progress for Bar {
    fn start(&self, what: &str, total: u64) {
        let bar = ProgressBar::new(total);
        if !self.shown {
            bar.set_draw_target(ProgressDrawTarget::hidden());
        }
        if let Ok(style) =
            ProgressStyle::with_template("{msg:>28} [{bar:40}] {pos}/{len} ({per_sec}, {eta})")
        {
            bar.set_style(style.progress_chars("=> "));
        }
        let phase = *self.phase.lock().unwrap_or_else(|e| e.into_inner());
        bar.set_message(format!("{phase} {what}"));
        *self.bar.lock().unwrap_or_else(|e| e.into_inner()) = Some(bar);
    }

    fn advance(&self, rows: u64) {
        if let Some(bar) = &*self.bar.lock().unwrap_or_else(|e| e.into_inner()) {
            bar.inc(rows);
        }
    }

    fn finish(&self) {
        if let Some(bar) = self.bar.lock().unwrap_or_else(|e| e.into_inner()).take() {
            bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picture_paths_stay_inside() {
        assert!(inside("profile_pics/a.png"));
        assert!(inside("a.png"));
        for bad in [
            "",
            "../a.png",
            "/etc/passwd",
            "profile_pics/../../a",
            "./a/../../b",
        ] {
            assert!(!inside(bad), "{bad}");
        }
    }

    #[test]
    fn one_sqlite_file_however_spelled() {
        let dir = std::env::temp_dir().join(format!("doorman-same-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("db.sqlite3");
        std::fs::write(&file, b"").unwrap();
        let a = format!("sqlite:{}", file.display());
        let b = format!("sqlite://{}/./db.sqlite3?mode=rwc", dir.display());
        assert!(same_database(&a, &b));
        assert!(!same_database(&a, "postgres://127.0.0.1/other"));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
