//! Text that PostgreSQL cannot store and Django would refuse: a NUL
//! character in any text field is a 400 with DRF's message, on both
//! backends, and nothing is written.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::{on_both_backends, support::TestApp};

on_both_backends!(nul_characters_are_refused_in_text_fields);

const NUL: &str = "Null characters are not allowed.";

async fn nul_characters_are_refused_in_text_fields(app: TestApp) {
    let root = app.user("root").superuser().signed_in().await;
    let ann = app.user("ann").signed_in().await;
    let cases = [
        (
            Method::PATCH,
            "/api/auth/profile/".to_string(),
            ann.auth(),
            "bio",
        ),
        (
            Method::PATCH,
            "/api/auth/profile/".to_string(),
            ann.auth(),
            "phone",
        ),
        (
            Method::PATCH,
            format!("/api/auth/users/{}/update/", ann.id),
            root.auth(),
            "first_name",
        ),
        (
            Method::POST,
            "/api/auth/provinces/".to_string(),
            root.auth(),
            "name",
        ),
        (
            Method::POST,
            "/api/auth/roles/create/".to_string(),
            root.auth(),
            "name",
        ),
        (
            Method::PATCH,
            "/auth/users/me/".to_string(),
            ann.auth(),
            "email",
        ),
    ];
    for (method, path, auth, field) in cases {
        let r = app
            .request(
                method.clone(),
                &path,
                Some(auth),
                Some(json!({ field: "a\u{0}b" })),
            )
            .await;
        assert_eq!(
            r.status,
            StatusCode::BAD_REQUEST,
            "{method} {path} {field}: {:?}",
            r
        );
        let messages = r.json()[field].clone();
        assert!(
            messages
                .as_array()
                .is_some_and(|m| m.iter().any(|m| m == NUL)),
            "{method} {path} {field}: {messages}"
        );
    }
    let stored = app
        .db
        .scalar("SELECT count(*) FROM doorman_profile WHERE bio <> '' OR phone <> ''")
        .await;
    assert_eq!(stored, 0);
    assert_eq!(
        app.db.scalar("SELECT count(*) FROM doorman_province").await,
        0
    );
}
