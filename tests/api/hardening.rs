//! What every response and the edges of the service promise an attacker:
//! security headers, CORS only for configured origins, `/metrics` behind
//! its token, and picture decoding bounded by memory rather than pixels.

use std::io::Cursor;

use axum::{
    body::Body,
    http::{Method, Request, StatusCode},
};
use serde_json::json;

use crate::support::{Backend, TestApp, client::post, images::upload};

fn assert_secure(r: &crate::support::TestResponse, what: &str) {
    assert_eq!(
        r.header("x-content-type-options"),
        Some("nosniff"),
        "{what}"
    );
    assert_eq!(r.header("x-frame-options"), Some("DENY"), "{what}");
    assert_eq!(r.header("referrer-policy"), Some("no-referrer"), "{what}");
}

#[tokio::test]
async fn every_answer_carries_the_security_headers() {
    let app = TestApp::new(Backend::Sqlite).await;
    app.user("sam").create().await;
    let login = post(
        &app,
        "/auth/jwt/create/",
        json!({"username": "sam", "password": crate::support::people::PW}),
    )
    .await;
    assert_eq!(login.status, StatusCode::OK);
    assert_secure(&login, "a token answer");
    assert_eq!(
        login.header("cache-control"),
        Some("no-store"),
        "tokens are never cached"
    );
    let missing = app.get("/auth/nowhere/").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_secure(&missing, "a 404");
    assert_eq!(missing.header("cache-control"), Some("no-store"));
    // Without an https public URL there is no HSTS.
    assert_eq!(login.header("strict-transport-security"), None);
    // Swagger's files may be cached.
    let css = app.get("/api/docs/swagger-ui.css").await;
    assert_secure(&css, "a static file");
    assert_ne!(css.header("cache-control"), Some("no-store"));
}

#[tokio::test]
async fn https_deployments_get_hsts() {
    let app = TestApp::with_settings(Backend::Sqlite, |s| {
        s.server.public_url = Some("https://auth.example.com".into());
    })
    .await;
    let r = app.get("/healthz/").await;
    assert_eq!(
        r.header("strict-transport-security"),
        Some("max-age=31536000")
    );
}

async fn preflight(app: &TestApp, origin: &str) -> crate::support::TestResponse {
    let request = Request::builder()
        .method(Method::OPTIONS)
        .uri("/auth/jwt/create/")
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .body(Body::empty())
        .unwrap();
    app.send(request).await
}

#[tokio::test]
async fn cors_answers_only_configured_origins() {
    // By default no origin is allowed: no CORS header at all.
    let app = TestApp::new(Backend::Sqlite).await;
    let r = preflight(&app, "https://app.example.com").await;
    assert_eq!(r.header("access-control-allow-origin"), None);
    let app = TestApp::with_settings(Backend::Sqlite, |s| {
        s.server.cors_allowed_origins = vec!["https://app.example.com".into()];
    })
    .await;
    let r = preflight(&app, "https://app.example.com").await;
    assert!(r.status.is_success(), "{}", r.status);
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://app.example.com")
    );
    assert_eq!(r.header("access-control-max-age"), Some("600"));
    assert_eq!(r.header("access-control-allow-credentials"), None);
    let other = preflight(&app, "https://evil.example").await;
    assert_eq!(other.header("access-control-allow-origin"), None);
    // A simple request from the allowed origin gets the header too.
    let request = Request::builder()
        .uri("/healthz/")
        .header("origin", "https://app.example.com")
        .body(Body::empty())
        .unwrap();
    let r = app.send(request).await;
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://app.example.com")
    );
    assert_eq!(
        r.header("access-control-expose-headers"),
        Some("x-request-id")
    );
}

#[test]
fn bad_cors_settings_stop_start_up() {
    for (bad, key) in [
        (
            r#"cors_allowed_origins = ["https://app.example.com/"]"#,
            "cors_allowed_origins",
        ),
        (
            r#"cors_allowed_origins = ["app.example.com"]"#,
            "cors_allowed_origins",
        ),
        (
            r#"cors_allowed_origins = ["https://app.example.com/path"]"#,
            "cors_allowed_origins",
        ),
        (r#"cors_allowed_methods = ["G ET"]"#, "cors_allowed_methods"),
        (r#"cors_allowed_headers = ["a b"]"#, "cors_allowed_headers"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("doorman.toml");
        std::fs::write(&file, format!("[server]\ndev = true\n{bad}\n")).unwrap();
        let err = doorman::config::Settings::load(Some(&file)).unwrap_err();
        assert!(err.to_string().contains(key), "{bad}: {err}");
    }
}

#[tokio::test]
async fn metrics_need_their_token() {
    let closed = TestApp::new(Backend::Sqlite).await;
    let r = closed.get("/metrics/").await;
    assert_eq!(
        r.status,
        StatusCode::UNAUTHORIZED,
        "no token configured: nobody reads"
    );
    let app = TestApp::with_settings(Backend::Sqlite, |s| {
        s.server.metrics_token = Some("scrape-me-0123456789".into());
    })
    .await;
    assert_eq!(app.get("/metrics/").await.status, StatusCode::UNAUTHORIZED);
    let with = |token: &str| {
        Request::builder()
            .uri("/metrics/")
            .header("authorization", format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap()
    };
    let wrong = app.send(with("scrape-me-0123456788")).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(
        wrong
            .header("www-authenticate")
            .unwrap()
            .starts_with("Bearer")
    );
    let right = app.send(with("scrape-me-0123456789")).await;
    assert_eq!(right.status, StatusCode::OK);
    assert!(String::from_utf8_lossy(&right.body).contains("doorman_mail_sent_total"));
}

fn png(width: u32, height: u32, sixteen_bits: bool) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    let image = if sixteen_bits {
        image::DynamicImage::ImageRgba16(image::ImageBuffer::new(width, height))
    } else {
        image::DynamicImage::ImageRgba8(image::ImageBuffer::new(width, height))
    };
    image.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

#[tokio::test]
async fn pictures_are_bounded_by_decoded_bytes_not_pixels() {
    let app = TestApp::with_settings(Backend::Sqlite, |s| {
        // 300×300 RGBA: 360,000 bytes at 8 bits, 720,000 at 16.
        s.media.max_decode_bytes = 500_000;
    })
    .await;
    let pat = app.user("pat").signed_in().await;
    let eight = png(300, 300, false);
    let r = upload(
        &app,
        Method::PATCH,
        "/api/auth/profile/",
        pat.auth(),
        ("a.png", "image/png", &eight),
        &[],
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    let sixteen = png(300, 300, true);
    let r = upload(
        &app,
        Method::PATCH,
        "/api/auth/profile/",
        pat.auth(),
        ("b.png", "image/png", &sixteen),
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let message = r.json()["profile_picture"][0].as_str().unwrap().to_string();
    assert!(
        message.contains("too large to process") && message.contains("8 bytes"),
        "{message}"
    );
}

/// Rotating the secret key with the old one in `secret_key_fallbacks`
/// signs nobody out: access and refresh tokens signed with the old key
/// still work, new ones are signed with the new key only.
async fn rotating_the_secret_key_keeps_jwts_valid(backend: Backend) {
    let before = TestApp::new(backend).await;
    let r = post(
        &before,
        "/auth/users/",
        json!({"username": "rotor", "password": "a-Sturdy-pass-42", "email": "rotor@example.com"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let pair = post(
        &before,
        "/auth/jwt/create/",
        json!({"username": "rotor", "password": "a-Sturdy-pass-42"}),
    )
    .await
    .json();
    let old_key = before.state.settings.security.secret_key.clone().unwrap();

    let mut settings = crate::support::test_settings(&before.db);
    settings.security.secret_key =
        Some("the-new-secret-key-after-rotation-0123456789-abcdefgh".into());
    settings.security.secret_key_fallbacks = vec![old_key];
    let state = doorman::build_state(settings, doorman::BuildOptions::default())
        .await
        .unwrap();
    let after = doorman::http::app(state);
    let access = pair["access"].as_str().unwrap();
    assert_eq!(me(&after, access).await.status, StatusCode::OK);
    let request = Request::post("/auth/jwt/refresh/")
        .header("host", crate::support::TEST_HOST)
        .header("content-type", "application/json")
        .body(Body::from(json!({"refresh": pair["refresh"]}).to_string()))
        .unwrap();
    let refreshed = crate::support::send(&after, request).await;
    assert_eq!(refreshed.status, StatusCode::OK, "{refreshed:?}");
    let fresh = refreshed.json()["access"].as_str().unwrap().to_string();
    assert_eq!(me(&after, &fresh).await.status, StatusCode::OK);
    // Signed with the new key: a node still on the old key alone refuses it.
    assert_eq!(
        me(&before.router, &fresh).await.status,
        StatusCode::UNAUTHORIZED
    );
}

async fn me(router: &axum::Router, access: &str) -> crate::support::TestResponse {
    let request = Request::get("/auth/users/me/")
        .header("host", crate::support::TEST_HOST)
        .header("authorization", format!("Bearer {access}"))
        .body(Body::empty())
        .unwrap();
    crate::support::send(router, request).await
}

#[tokio::test]
async fn sqlite_rotating_the_secret_key_keeps_jwts_valid() {
    rotating_the_secret_key_keeps_jwts_valid(Backend::Sqlite).await
}

#[tokio::test]
async fn postgres_rotating_the_secret_key_keeps_jwts_valid() {
    rotating_the_secret_key_keeps_jwts_valid(Backend::Postgres).await
}

/// An empty fallback key would verify tokens anyone can sign: refused at
/// start-up. A weak one is warned about, as the key itself is.
#[test]
fn fallback_keys_are_checked_like_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("doorman.toml");
    for (bad, key) in [
        (
            "[security]\nsecret_key_fallbacks = [\"\"]",
            "security.secret_key_fallbacks",
        ),
        ("[audit]\nretention_days = 99999", "audit.retention_days"),
    ] {
        std::fs::write(&file, format!("{bad}\n[server]\ndev = true\n")).unwrap();
        let err = doorman::config::Settings::load(Some(&file)).unwrap_err();
        assert!(err.to_string().contains(key), "{bad}: {err}");
    }
    let mut settings = doorman::config::Settings::default();
    settings.security.secret_key =
        Some("k".repeat(10) + "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGH");
    assert_eq!(doorman::weak_key_warning(&settings), None);
    settings.security.secret_key_fallbacks = vec!["django-insecure-old".into()];
    let warning = doorman::weak_key_warning(&settings).expect("a warning");
    assert!(
        warning.contains("1 of security.secret_key_fallbacks is weak"),
        "{warning}"
    );
}
