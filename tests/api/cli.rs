//! The `doorman` binary as an operator uses it: configuration errors,
//! createsuperuser, changepassword, check, migrate, and serve with a clean
//! shutdown on SIGTERM.

use std::{
    io::{BufRead, BufReader, Write},
    process::{Command, Output, Stdio},
};

use axum::http::StatusCode;

use crate::support::{
    Backend, TestDb,
    commands::{doorman, text},
};

/// Runs `changepassword USER` with `input` on its standard input (it reads
/// from stdin when that is not a terminal).
fn changepassword(db: &TestDb, username: &str, input: &[u8]) -> Output {
    let mut child = doorman(db)
        .args(["changepassword", username])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

#[tokio::test]
async fn bad_settings_stop_start_up_naming_the_key() {
    let db = TestDb::new(Backend::Sqlite).await;
    let out = doorman(&db)
        .env("DOORMAN_SERVER__LISTEN", "nonsense")
        .args(["serve"])
        .output()
        .unwrap();
    assert!(!out.status.success(), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("server.listen"), "{}", text(&out));
    assert!(
        stderr.contains("DOORMAN_SERVER__LISTEN"),
        "names the source: {}",
        text(&out)
    );

    let out = doorman(&db)
        .env("DOORMAN_SERVER__LISTN", "x")
        .args(["check"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("listn"),
        "{}",
        text(&out)
    );

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("doorman.toml");
    std::fs::write(
        &file,
        "[database]\nurl = \"mysql://x\"\n[server]\nport = 1\n",
    )
    .unwrap();
    let out = doorman(&db)
        .arg("--config")
        .arg(&file)
        .arg("check")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("port") && stderr.contains("doorman.toml"),
        "{}",
        text(&out)
    );

    // The file's value counts when no environment variable overrides it.
    std::fs::write(&file, "[database]\nurl = \"mysql://x\"\n").unwrap();
    let out = doorman(&db)
        .env_remove("DOORMAN_DATABASE__URL")
        .arg("--config")
        .arg(&file)
        .arg("check")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("database.url"),
        "{}",
        text(&out)
    );

    let out = doorman(&db)
        .args(["--config", "/nonexistent/doorman.toml", "check"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("does not exist"),
        "{}",
        text(&out)
    );
}

#[tokio::test]
async fn serve_refuses_to_start_without_a_secret_key_unless_dev() {
    let db = TestDb::new(Backend::Sqlite).await;
    let out = doorman(&db)
        .env("DOORMAN_SERVER__LISTEN", "127.0.0.1:0")
        .arg("serve")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("security.secret_key"),
        "{}",
        text(&out)
    );
}

fn superuser_and_password_change(backend: Backend) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let db = rt.block_on(TestDb::new(backend));
    let out = doorman(&db)
        .env("DOORMAN_SUPERUSER_PASSWORD", "a-Sturdy-passphrase-42")
        .args([
            "createsuperuser",
            "--no-input",
            "--username",
            "root",
            "--email",
            "root@example.com",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Superuser root created"));
    assert_eq!(
        rt.block_on(db.scalar("SELECT count(*) FROM auth_user WHERE is_superuser AND is_staff")),
        1
    );
    let hash = rt.block_on(db.text("SELECT password FROM auth_user WHERE username = 'root'"));
    assert!(hash.starts_with("argon2$argon2id$"), "{hash}");

    // The same name again is refused with a message.
    let out = doorman(&db)
        .env("DOORMAN_SUPERUSER_PASSWORD", "a-Sturdy-passphrase-42")
        .args(["createsuperuser", "--no-input", "--username", "root"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("username"),
        "{}",
        text(&out)
    );

    // changepassword reads from stdin when it is not a terminal; a weak
    // password is refused with reasons, then a good one is taken.
    let out = changepassword(
        &db,
        "root",
        b"123\n123\nanother-Good-pass-77\nanother-Good-pass-77\n",
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("This password is too short"),
        "{}",
        text(&out)
    );
    let new_hash = rt.block_on(db.text("SELECT password FROM auth_user WHERE username = 'root'"));
    assert_ne!(new_hash, hash);

    let out = doorman(&db)
        .args(["changepassword", "ghost"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("does not exist"),
        "{}",
        text(&out)
    );

    let out = doorman(&db).args(["--dev", "check"]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("Configuration: OK") && stdout.contains("users: 1"),
        "{}",
        text(&out)
    );
}

/// `changepassword` is how an operator locks a compromised account out:
/// the tokens and JWTs issued before it stop working, as after a password
/// change through either API.
async fn changepassword_signs_the_user_out(backend: Backend) {
    use axum::http::Method;
    use serde_json::json;
    // Writes from another process are seen within the user cache's TTL;
    // with none, the first request after the command sees them.
    let app = crate::support::TestApp::with_settings(backend, |s| {
        s.database.user_cache_ttl_ms = 0;
    })
    .await;
    let who = app.user("victim").signed_in().await;
    let r = app
        .request(
            Method::POST,
            "/auth/jwt/create/",
            None,
            Some(json!({"username": "victim", "password": crate::support::people::PW})),
        )
        .await;
    let access = format!("Bearer {}", r.json()["access"].as_str().unwrap());
    let refresh = r.json()["refresh"].as_str().unwrap().to_string();
    for auth in [who.auth(), access.as_str()] {
        let r = app
            .request(Method::GET, "/auth/users/me/", Some(auth), None)
            .await;
        assert_eq!(r.status, StatusCode::OK);
    }
    let out = changepassword(
        &app.db,
        "victim",
        b"another-Good-pass-77\nanother-Good-pass-77\n",
    );
    assert!(out.status.success(), "{}", text(&out));
    for auth in [who.auth(), access.as_str()] {
        let r = app
            .request(Method::GET, "/auth/users/me/", Some(auth), None)
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{auth} still works");
    }
    let r = app
        .request(
            Method::POST,
            "/auth/jwt/refresh/",
            None,
            Some(json!({"refresh": refresh})),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::UNAUTHORIZED,
        "the refresh token still works"
    );
}

#[tokio::test]
async fn changepassword_signs_the_user_out_sqlite() {
    changepassword_signs_the_user_out(Backend::Sqlite).await;
}

#[tokio::test]
async fn changepassword_signs_the_user_out_postgres() {
    changepassword_signs_the_user_out(Backend::Postgres).await;
}

#[test]
fn createsuperuser_changepassword_and_check_sqlite() {
    superuser_and_password_change(Backend::Sqlite);
}

#[test]
fn createsuperuser_changepassword_and_check_postgres() {
    superuser_and_password_change(Backend::Postgres);
}

#[tokio::test]
async fn migrate_then_check_on_an_empty_postgres_database() {
    let db = TestDb::new_empty(Backend::Postgres).await;
    let out = doorman(&db).args(["--dev", "check"]).output().unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("migrations pending"),
        "{}",
        text(&out)
    );
    let out = doorman(&db).arg("migrate").output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let out = doorman(&db).arg("migrate").output().unwrap();
    assert!(out.status.success(), "twice is fine: {}", text(&out));
    let out = doorman(&db).args(["--dev", "check"]).output().unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("up to date"),
        "{}",
        text(&out)
    );
}

#[test]
fn version_and_help() {
    let out = Command::new(env!("CARGO_BIN_EXE_doorman"))
        .arg("--version")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("doorman "));
    let out = Command::new(env!("CARGO_BIN_EXE_doorman"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for sub in [
        "serve",
        "migrate",
        "createsuperuser",
        "changepassword",
        "check",
        "openapi",
    ] {
        assert!(help.contains(sub), "{help}");
    }
}

/// The real binary on a real port: serves, then drains and exits 0 on
/// SIGTERM, on both backends.
fn serve_and_stop(backend: Backend) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let db = rt.block_on(TestDb::new(backend));
    let mut child = doorman(&db)
        .env("DOORMAN_SERVER__LISTEN", "127.0.0.1:0")
        .env("DOORMAN_LOG__FORMAT", "json")
        .env("DOORMAN_LOG__LEVEL", "info")
        .args(["--dev", "serve"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let mut port = None;
    let mut saw_dev_warning = false;
    for line in lines.by_ref().take(50) {
        let line = line.unwrap();
        let Ok(entry) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        let message = entry["fields"]["message"].as_str().unwrap_or("");
        saw_dev_warning |= message.contains("DEVELOPMENT MODE");
        if message == "doorman listening" {
            port = entry["fields"]["port"].as_u64();
            break;
        }
    }
    let port = port.expect("the server logs its port");
    assert!(saw_dev_warning, "dev mode says so loudly");
    let body = rt.block_on(async {
        reqwest::get(format!("http://127.0.0.1:{port}/healthz"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    });
    assert_eq!(body, r#"{"status":"ok"}"#);
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    assert!(status.success(), "clean exit after SIGTERM: {status:?}");
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(rest.iter().any(|l| l.contains("stopped")), "{rest:?}");
}

#[test]
fn serve_answers_and_stops_cleanly_on_sigterm_sqlite() {
    serve_and_stop(Backend::Sqlite);
}

#[test]
fn serve_answers_and_stops_cleanly_on_sigterm_postgres() {
    serve_and_stop(Backend::Postgres);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_list_retry_and_send_test() {
    let db = TestDb::new(Backend::Sqlite).await;
    let store = doorman::store::Store::connect(&db.database_settings())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let mail = |to: &str| doorman::store::NewMail {
        message_id: format!("<{to}@test>"),
        kind: "activation".into(),
        recipient: to.into(),
        subject: "s".into(),
        body_text: "t".into(),
        body_html: None,
    };
    store
        .enqueue_mail(&mail("queued@example.com"))
        .await
        .unwrap();
    let failed = store
        .enqueue_mail(&mail("failed@example.com"))
        .await
        .unwrap();
    store
        .mark_mail_failed(failed, 8, "SMTP: connection refused")
        .await
        .unwrap();

    let run = |args: &'static [&'static str]| {
        let mut cmd = doorman(&db);
        cmd.args(args);
        tokio::task::spawn_blocking(move || cmd.output().unwrap())
    };
    let out = run(&["mail", "list"]).await.unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let listing = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(listing.contains("1 queued, 1 failed"), "{listing}");
    assert!(
        listing.contains("queued@example.com") && listing.contains("failed@example.com"),
        "{listing}"
    );
    assert!(listing.contains("connection refused"), "{listing}");
    let out = run(&["mail", "list", "--failed"]).await.unwrap();
    let listing = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        !listing.contains("queued@example.com") && listing.contains("failed@example.com"),
        "{listing}"
    );

    let out = run(&["mail", "retry", "999"]).await.unwrap();
    assert!(!out.status.success(), "{}", text(&out));
    let out = run(&["mail", "retry", "--all-failed"]).await.unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("1 message(s) queued again"),
        "{}",
        text(&out)
    );
    assert_eq!(store.mail_counts().await.unwrap(), (2, 0));

    // send-test goes straight through the configured transport.
    let sink = crate::support::smtp::SmtpSink::start().await;
    let mut cmd = doorman(&db);
    cmd.env("DOORMAN_EMAIL__URL", sink.url())
        .args(["mail", "send-test", "ops@example.com"]);
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let got = sink.wait_for(1).await;
    assert_eq!(got[0].to, ["<ops@example.com>"]);
    assert!(
        got[0]
            .parsed()
            .subject()
            .unwrap()
            .starts_with("Test message from")
    );

    // With nothing listening it says why and exits non-zero.
    let addr = sink.addr;
    drop(sink);
    let mut cmd = doorman(&db);
    cmd.env("DOORMAN_EMAIL__URL", format!("smtp://{addr}"))
        .env("DOORMAN_EMAIL__SMTP_TIMEOUT_SECS", "5")
        .args(["mail", "send-test", "ops@example.com"]);
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("sending to ops@example.com"),
        "{}",
        text(&out)
    );
}

#[tokio::test]
async fn allowed_hosts_are_read_from_the_environment_and_checked() {
    let db = TestDb::new(Backend::Sqlite).await;
    let out = doorman(&db)
        .env(
            "DOORMAN_SERVER__ALLOWED_HOSTS",
            r#"["api.example.com", ".example.org"]"#,
        )
        .args(["--dev", "check"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains(r#"server.allowed_hosts = ["api.example.com", ".example.org"]"#),
        "{}",
        text(&out)
    );

    for entry in ["https://api.example.com", "api.example.com:443", ""] {
        let out = doorman(&db)
            .env("DOORMAN_SERVER__ALLOWED_HOSTS", format!("[{entry:?}]"))
            .args(["--dev", "check"])
            .output()
            .unwrap();
        assert!(!out.status.success(), "{entry}: {}", text(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("server.allowed_hosts")
                && stderr.contains("DOORMAN_SERVER__ALLOWED_HOSTS"),
            "{entry}: {}",
            text(&out)
        );
    }
}

/// A secret key from a file (a container secret), and Django's warning
/// for a weak key, which still works.
#[tokio::test]
async fn secrets_come_from_files_and_weak_keys_are_warned_about() {
    let db = TestDb::new(Backend::Sqlite).await;
    doorman(&db).arg("migrate").output().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("secret_key");
    let strong = "kJ3v9Qz-7yTq2Lw8Xp4Rn6Bc1Md5Fh0Gs3Ua9Ve2Wi7Oj4Yk8Zl";
    std::fs::write(&key_file, format!("{strong}\n")).unwrap();
    let out = doorman(&db)
        .arg("check")
        .env("DOORMAN_SECURITY__SECRET_KEY_FILE", &key_file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let shown = text(&out);
    assert!(shown.contains("security.secret_key: set"), "{shown}");
    assert!(!shown.contains("weak"), "{shown}");
    assert!(
        !shown.contains(strong),
        "the key itself is never printed: {shown}"
    );
    // The value and its file together are refused.
    let out = doorman(&db)
        .arg("check")
        .env("DOORMAN_SECURITY__SECRET_KEY_FILE", &key_file)
        .env("DOORMAN_SECURITY__SECRET_KEY", strong)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        text(&out).contains("security.secret_key_file"),
        "{}",
        text(&out)
    );
    // A missing file names itself.
    let out = doorman(&db)
        .arg("check")
        .env("DOORMAN_SECURITY__SECRET_KEY_FILE", dir.path().join("nope"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(text(&out).contains("cannot read"), "{}", text(&out));
    // Django's weak keys: warned about, and still accepted.
    for weak in [
        "_",
        "short-but-varied-key",
        &"ab".repeat(40),
        "django-insecure-0123456789abcdefghijklmnopqrstuvwxyzABCDEF",
    ] {
        let out = doorman(&db)
            .arg("check")
            .env("DOORMAN_SECURITY__SECRET_KEY", weak)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out));
        assert!(
            text(&out).contains("WARNING: security.secret_key is weak"),
            "{weak}: {}",
            text(&out)
        );
    }
}
