//! Absolute URLs (profile pictures, page links, the Djoser root) and the
//! `Host` header: built from `server.public_url` when set, else only from a
//! host `server.allowed_hosts` names (Django's ALLOWED_HOSTS matching);
//! any other host gets Django's DisallowedHost answer, a 400, and never a
//! URL that names it. On both backends.

use axum::{
    body::Body,
    http::{Method, Request, StatusCode},
};
use serde_json::{Value, json};

use crate::support::{
    TestApp, TestResponse, apps::app_with, client::text, images::image_bytes, people::Person,
};

const EVIL: &str = "evil.example";

/// A GET with this `Host` (none at all for `None`).
async fn get(app: &TestApp, path: &str, auth: &str, host: Option<&str>) -> TestResponse {
    let mut request = Request::get(path).header("authorization", auth);
    if let Some(host) = host {
        request = request.header("host", host);
    }
    // The harness's `send` would add `Host: testserver`; this one sends
    // the request as it is.
    crate::support::send(&app.router, request.body(Body::empty()).unwrap()).await
}

/// `PATCH profile/` with a new PNG and a new bio, as multipart, with this `Host`.
async fn upload(app: &TestApp, auth: &str, host: &str) -> TestResponse {
    let boundary = "hostsboundary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"bio\"\r\n\r\nfrom {host}\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"profile_picture\"; \
         filename=\"me.png\"\r\nContent-Type: image/png\r\n\r\n"
    )
    .into_bytes();
    body.extend(image_bytes(image::ImageFormat::Png));
    body.extend(format!("\r\n--{boundary}--\r\n").bytes());
    let request = Request::builder()
        .method(Method::PATCH)
        .uri("/api/auth/profile/")
        .header("authorization", auth)
        .header("host", host)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(Body::from(body))
        .unwrap();
    crate::support::send(&app.router, request).await
}

fn disallowed(raw: &str, domain: &str) -> Value {
    json!({"detail": format!(
        "Invalid HTTP_HOST header: '{raw}'. You may need to add '{domain}' to server.allowed_hosts."
    )})
}

fn not_a_domain(raw: &str) -> Value {
    json!({"detail": format!(
        "Invalid HTTP_HOST header: '{raw}'. The domain name provided is not valid according to RFC 1034/1035."
    )})
}

fn assert_refused(r: &TestResponse, body: Value, what: &str) {
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{what}: {}", text(r));
    assert_eq!(r.json(), body, "{what}");
}

fn no_url_to(r: &TestResponse, host: &str) {
    let text = String::from_utf8_lossy(&r.body);
    assert!(
        !text.contains(&format!("//{host}")),
        "a URL to {host}: {text}"
    );
}

/// Files under `profile_pics/`.
fn pictures(root: &std::path::Path) -> usize {
    std::fs::read_dir(root.join("profile_pics")).map_or(0, |d| d.count())
}

/// A superuser, and a member with a picture uploaded through an allowed host.
async fn people(app: &TestApp) -> (Person, Person) {
    let root = app.user("root").superuser().signed_in().await;
    let dave = app.user("dave").signed_in().await;
    let r = upload(app, dave.auth(), "testserver").await;
    assert_eq!(r.status, StatusCode::OK, "{}", text(&r));
    (root, dave)
}

async fn untrusted_hosts_get_400_and_never_a_url(app: TestApp) {
    let media = tempfile::tempdir().unwrap();
    let dir = media.path().to_path_buf();
    let app = app_with(app, move |s| s.media.root = dir).await;
    let (root, dave) = people(&app).await;
    let dave_profile = format!("/api/auth/user_profile/{}/", dave.id);
    let pages = [
        ("/api/auth/users/?page_size=1", root.auth()),
        ("/api/auth/user_profile/?page_size=1", root.auth()),
        (dave_profile.as_str(), root.auth()),
        ("/api/auth/profile/", dave.auth()),
        ("/auth/", dave.auth()),
    ];
    for (path, auth) in pages {
        let r = get(&app, path, auth, Some(EVIL)).await;
        assert_refused(&r, disallowed(EVIL, EVIL), path);
        no_url_to(&r, EVIL);
        // Django names the domain without its port in the advice.
        let r = get(&app, path, auth, Some("evil.example:8080")).await;
        assert_refused(&r, disallowed("evil.example:8080", EVIL), path);
        let r = get(&app, path, auth, Some("testserver/evil")).await;
        assert_refused(&r, not_a_domain("testserver/evil"), path);
        let r = get(&app, path, auth, Some("testserver@evil.example")).await;
        assert_refused(&r, not_a_domain("testserver@evil.example"), path);
        no_url_to(&r, EVIL);
        let r = get(&app, path, auth, None).await;
        assert_refused(&r, not_a_domain(""), path);
    }

    // An upload through an untrusted host changes nothing.
    let before = app
        .db
        .text(&format!(
            "SELECT profile_picture FROM doorman_profile WHERE user_id = {}",
            dave.id
        ))
        .await;
    let r = upload(&app, dave.auth(), EVIL).await;
    assert_refused(&r, disallowed(EVIL, EVIL), "upload");
    no_url_to(&r, EVIL);
    let after = format!(
        "SELECT profile_picture || '|' || bio FROM doorman_profile WHERE user_id = {}",
        dave.id
    );
    assert_eq!(
        app.db.text(&after).await,
        format!("{before}|from testserver")
    );
    assert_eq!(pictures(media.path()), 1, "no new file");

    // Endpoints that build no URL do not look at the host.
    let r = get(&app, "/auth/users/me/", dave.auth(), Some(EVIL)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", text(&r));

    // Allowed hosts: any case, any port, a trailing dot (a fully qualified
    // name); the URL keeps the host as sent.
    for host in [
        "testserver",
        "TestServer:8000",
        "testserver.",
        "127.0.0.1:9",
        "[::1]:8000",
    ] {
        let r = get(
            &app,
            "/api/auth/users/?page_size=1",
            root.auth(),
            Some(host),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{host}: {}", text(&r));
        let next = r.json()["next"].as_str().unwrap().to_string();
        assert_eq!(
            next,
            format!("http://{host}/api/auth/users/?page_size=1&page=2")
        );
        let r = get(&app, "/api/auth/profile/", dave.auth(), Some(host)).await;
        let picture = r.json()["profile_picture"].as_str().unwrap().to_string();
        assert!(
            picture.starts_with(&format!("http://{host}/media/profile_pics/")),
            "{picture}"
        );
    }
}

async fn public_url_is_used_whatever_the_host(app: TestApp) {
    let media = tempfile::tempdir().unwrap();
    let dir = media.path().to_path_buf();
    let app = app_with(app, move |s| {
        s.server.public_url = Some("https://accounts.example.org/".into());
        s.media.root = dir;
    })
    .await;
    let (root, dave) = people(&app).await;
    for host in [Some(EVIL), Some("testserver"), None] {
        let r = get(&app, "/api/auth/users/?page_size=1", root.auth(), host).await;
        assert_eq!(r.status, StatusCode::OK, "{host:?}: {}", text(&r));
        assert_eq!(
            r.json()["next"],
            "https://accounts.example.org/api/auth/users/?page_size=1&page=2"
        );
        no_url_to(&r, EVIL);
        let r = get(&app, "/api/auth/profile/", dave.auth(), host).await;
        assert_eq!(r.status, StatusCode::OK, "{host:?}: {}", text(&r));
        let picture = r.json()["profile_picture"].as_str().unwrap().to_string();
        assert!(
            picture.starts_with("https://accounts.example.org/media/profile_pics/"),
            "{picture}"
        );
        let r = get(&app, "/auth/", dave.auth(), host).await;
        assert_eq!(
            r.json(),
            json!({"users": "https://accounts.example.org/auth/users/"})
        );
    }
    let r = upload(&app, dave.auth(), EVIL).await;
    assert_eq!(r.status, StatusCode::OK, "{}", text(&r));
    no_url_to(&r, EVIL);
}

async fn dot_entries_match_a_domain_and_its_subdomains(app: TestApp) {
    let backend = app.db.backend;
    let app = app_with(app, |s| {
        s.server.allowed_hosts = vec![".Example.com".into()]
    })
    .await;
    let root = app.user("root").superuser().signed_in().await;
    app.user("amy").create().await;
    let path = "/api/auth/users/?page_size=1";
    for host in ["api.example.com", "example.com", "A.B.EXAMPLE.COM:8443"] {
        let r = get(&app, path, root.auth(), Some(host)).await;
        assert_eq!(r.status, StatusCode::OK, "{host}: {}", text(&r));
        assert_eq!(
            r.json()["next"],
            format!("http://{host}/api/auth/users/?page_size=1&page=2")
        );
    }
    for (host, domain) in [
        ("badexample.com", "badexample.com"),
        ("example.com.evil", "example.com.evil"),
        ("testserver", "testserver"),
        ("localhost", "localhost"),
    ] {
        let r = get(&app, path, root.auth(), Some(host)).await;
        assert_refused(&r, disallowed(host, domain), host);
    }

    // `*` lets any well-formed host through, and nothing else.
    drop(app);
    let app = TestApp::with_settings(backend, |s| s.server.allowed_hosts = vec!["*".into()]).await;
    let root = app.user("root").superuser().signed_in().await;
    let r = get(&app, path, root.auth(), Some(EVIL)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", text(&r));
    let r = get(&app, path, root.auth(), Some("evil.example/x?")).await;
    assert_refused(&r, not_a_domain("evil.example/x?"), "not a host");
}

/// The setting's default is Django's development list.
#[test]
fn the_default_allows_only_this_machine() {
    let defaults = doorman::config::Settings::default();
    assert_eq!(
        defaults.server.allowed_hosts,
        ["localhost", "127.0.0.1", "[::1]"]
    );
}

crate::on_both_backends!(
    untrusted_hosts_get_400_and_never_a_url,
    public_url_is_used_whatever_the_host,
    dot_entries_match_a_domain_and_its_subdomains,
);
