//! No secret reaches a log line or an error body: the real binary at
//! `log.level = trace` (every crate's trace events, sqlx and the SMTP
//! client included) runs every flow that handles a password, a token, a
//! link or a mail, and then its whole log is searched for each secret it
//! was given or handed out.

use serde_json::{Value, json};

use crate::support::{
    Backend, TestDb,
    served::{serve, stop},
    smtp::SmtpSink,
};

const SECRET_KEY: &str = "acceptance-secret-key-0123456789-abcdefghij";

/// The `{uid}/{token}` after `marker` in the newest mail's text.
async fn link(sink: &SmtpSink, count: usize, marker: &str) -> (String, String) {
    let got = sink.wait_for(count).await;
    let message = got[count - 1].parsed();
    let text = message.body_text(0).unwrap().to_string();
    let tail = text.split(marker).nth(1).expect("the link is in the mail");
    let tail: String = tail.chars().take_while(|c| !c.is_whitespace()).collect();
    let mut parts = tail.split('/');
    (
        parts.next().unwrap().to_string(),
        parts.next().unwrap().to_string(),
    )
}

async fn no_secret_is_logged(backend: Backend) {
    let mut sink = SmtpSink::start().await;
    let db = TestDb::new(backend).await;
    let (served, base) = serve(
        &db,
        &[
            ("DOORMAN_LOG__LEVEL", "trace".into()),
            ("DOORMAN_EMAIL__URL", sink.url()),
            ("DOORMAN_EMAIL__POLL_INTERVAL_MS", "50".into()),
            ("DOORMAN_DJOSER__SEND_ACTIVATION_EMAIL", "true".into()),
            ("DOORMAN_DJOSER__DOMAIN", "app.example.test".into()),
            ("DOORMAN_RATE_LIMIT__ENABLED", "false".into()),
        ],
    );
    let http = reqwest::Client::new();
    let mut secrets: Vec<String> = vec![SECRET_KEY.into()];
    let mut bodies: Vec<String> = Vec::new();
    // One request: its status, its JSON body (kept for the search).
    macro_rules! call {
        ($method:ident, $path:expr, $auth:expr, $body:expr) => {{
            let mut request = http.$method(format!("{base}{}", $path));
            if let Some(auth) = $auth {
                request = request.header("authorization", auth);
            }
            let body: Option<Value> = $body;
            if let Some(body) = body {
                request = request.json(&body);
            }
            let r = request.send().await.unwrap();
            let status = r.status().as_u16();
            let text = r.text().await.unwrap();
            bodies.push(text.clone());
            (
                status,
                serde_json::from_str::<Value>(&text).unwrap_or(Value::Null),
            )
        }};
    }
    let first = "first-Secret-Passphrase-1";
    let second = "second-Secret-Passphrase-2";
    let third = "third-Secret-Passphrase-3";
    let wrong = "wrong-Secret-Guess-4";
    let garbage = "garbage-credential-SECRET-5";
    secrets.extend([first, second, third, wrong, garbage].map(String::from));

    let (s, _) = call!(
        post,
        "/auth/users/",
        None::<&str>,
        Some(json!({"username": "leaky", "password": first, "email": "leaky@example.com"}))
    );
    assert_eq!(s, 201);
    let (uid, token) = link(&sink, 1, "#/activate/").await;
    secrets.push(token.clone());
    let (s, _) = call!(
        post,
        "/auth/users/activation/",
        None::<&str>,
        Some(json!({"uid": uid, "token": token}))
    );
    assert_eq!(s, 204);

    let (s, _) = call!(
        post,
        "/auth/jwt/create/",
        None::<&str>,
        Some(json!({"username": "leaky", "password": wrong}))
    );
    assert_eq!(s, 401);
    let (s, pair) = call!(
        post,
        "/auth/jwt/create/",
        None::<&str>,
        Some(json!({"username": "leaky", "password": first}))
    );
    assert_eq!(s, 200);
    let access = pair["access"].as_str().unwrap().to_string();
    let refresh = pair["refresh"].as_str().unwrap().to_string();
    let (s, login) = call!(
        post,
        "/auth/token/login/",
        None::<&str>,
        Some(json!({"username": "leaky", "password": first}))
    );
    assert_eq!(s, 200);
    let key = login["auth_token"].as_str().unwrap().to_string();
    secrets.extend([access.clone(), refresh.clone(), key.clone()]);
    let bearer = format!("Bearer {access}");
    let token_auth = format!("Token {key}");

    let (s, _) = call!(get, "/auth/users/me/", Some(bearer.as_str()), None);
    assert_eq!(s, 200);
    let (s, _) = call!(get, "/auth/users/me/", Some(token_auth.as_str()), None);
    assert_eq!(s, 200);
    let (s, _) = call!(
        get,
        "/auth/users/me/",
        Some(format!("Bearer {garbage}").as_str()),
        None
    );
    assert_eq!(s, 401);
    let (s, _) = call!(
        get,
        "/auth/users/me/",
        Some(format!("Token {garbage}").as_str()),
        None
    );
    assert_eq!(s, 401);
    let (s, _) = call!(
        post,
        "/auth/jwt/verify/",
        None::<&str>,
        Some(json!({"token": access}))
    );
    assert_eq!(s, 200);
    let (s, refreshed) = call!(
        post,
        "/auth/jwt/refresh/",
        None::<&str>,
        Some(json!({"refresh": refresh}))
    );
    assert_eq!(s, 200);
    secrets.push(refreshed["access"].as_str().unwrap().to_string());
    let (s, _) = call!(
        post,
        "/auth/jwt/refresh/",
        None::<&str>,
        Some(json!({"refresh": garbage}))
    );
    assert_eq!(s, 401);

    let (s, _) = call!(
        post,
        "/auth/users/set_password/",
        Some(token_auth.as_str()),
        Some(json!({"current_password": wrong, "new_password": second}))
    );
    assert_eq!(s, 400);
    let (s, _) = call!(
        post,
        "/auth/users/set_password/",
        Some(token_auth.as_str()),
        Some(json!({"current_password": first, "new_password": second}))
    );
    assert_eq!(s, 204);

    let (s, _) = call!(
        post,
        "/auth/users/reset_password/",
        None::<&str>,
        Some(json!({"email": "leaky@example.com"}))
    );
    assert_eq!(s, 204);
    let (uid, token) = link(&sink, 2, "#/password/reset/confirm/").await;
    secrets.push(token.clone());
    let (s, _) = call!(
        post,
        "/auth/users/reset_password_confirm/",
        None::<&str>,
        Some(json!({"uid": uid, "token": token, "new_password": third}))
    );
    assert_eq!(s, 204);
    // The same link again, now stale.
    let (s, _) = call!(
        post,
        "/auth/users/reset_password_confirm/",
        None::<&str>,
        Some(json!({"uid": uid, "token": token, "new_password": third}))
    );
    assert_eq!(s, 400);

    let (s, session) = call!(
        post,
        "/api/auth/login/",
        None::<&str>,
        Some(json!({"username": "leaky", "password": third}))
    );
    assert_eq!(s, 200, "{session}");
    let session_text = session.to_string();
    for field in ["access", "refresh"] {
        if let Some(t) = session[field].as_str() {
            secrets.push(t.to_string());
        }
    }
    assert!(session_text.len() > 20);
    let (s, _) = call!(
        post,
        "/api/auth/forgot-password/",
        None::<&str>,
        Some(json!({"email": "leaky@example.com"}))
    );
    assert!(s < 300, "forgot-password: {s}");

    let (s, login) = call!(
        post,
        "/auth/token/login/",
        None::<&str>,
        Some(json!({"username": "leaky", "password": third}))
    );
    assert_eq!(s, 200);
    let key = login["auth_token"].as_str().unwrap().to_string();
    secrets.push(key.clone());
    let token_auth = format!("Token {key}");
    let (s, _) = call!(
        post,
        "/auth/users/set_username/",
        Some(token_auth.as_str()),
        Some(json!({"current_password": third, "new_username": "leaky2"}))
    );
    assert_eq!(s, 204);
    let (s, _) = call!(
        delete,
        "/auth/users/me/",
        Some(token_auth.as_str()),
        Some(json!({"current_password": third}))
    );
    assert_eq!(s, 204);

    // Let the worker send what is queued (the forgot-password mail) while
    // the log is still being written.
    sink.wait_for(3).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let log = served.log();
    stop(served);
    sink.stop();

    if std::env::var_os("DOORMAN_DUMP_TRACE_LOG").is_some() {
        eprintln!("{}", log.join("\n"));
    }
    // Nothing of ours or of the stack logs at TRACE on these paths; the
    // most verbose lines are sqlx's DEBUG statements, which must be there.
    assert!(
        log.iter().any(|l| l.contains(r#""level":"DEBUG""#)),
        "verbose logging is on ({} lines)",
        log.len()
    );
    for secret in &secrets {
        for line in &log {
            assert!(
                !line.contains(secret.as_str()),
                "a secret ({}…) is in the log: {line}",
                &secret[..6]
            );
        }
    }
    // Error bodies never echo a password or a credential back; success
    // bodies hand out tokens, so only the passwords and the garbage
    // credential are searched for there.
    for body in &bodies {
        for secret in [first, second, third, wrong, garbage, SECRET_KEY] {
            assert!(!body.contains(secret), "{secret} in a response: {body}");
        }
    }
}

#[tokio::test]
async fn sqlite_no_secret_is_logged() {
    no_secret_is_logged(Backend::Sqlite).await
}

#[tokio::test]
async fn postgres_no_secret_is_logged() {
    no_secret_is_logged(Backend::Postgres).await
}
