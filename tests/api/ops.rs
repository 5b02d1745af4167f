//! Liveness, readiness and the OpenAPI document.

use crate::{on_both_backends, support::TestApp};
use axum::http::StatusCode;

on_both_backends!(
    healthz_and_readyz_answer,
    readyz_fails_when_the_database_is_gone,
    openapi_and_swagger_are_served
);

async fn healthz_and_readyz_answer(app: TestApp) {
    for path in ["/healthz/", "/healthz", "/readyz/", "/readyz"] {
        let r = app.get(path).await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        assert_eq!(r.json(), serde_json::json!({"status": "ok"}));
    }
}

async fn readyz_fails_when_the_database_is_gone(app: TestApp) {
    app.state.store.close().await;
    let r = app.get("/readyz/").await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.json(), serde_json::json!({"status": "unavailable"}));
    // Liveness does not depend on the database.
    assert_eq!(app.get("/healthz/").await.status, StatusCode::OK);
}

async fn openapi_and_swagger_are_served(app: TestApp) {
    let r = app.get("/api/schema/").await;
    assert_eq!(r.status, StatusCode::OK);
    let doc = r.json();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    assert!(doc["paths"]["/healthz/"]["get"].is_object());
    assert!(doc["paths"]["/readyz/"]["get"]["responses"]["503"].is_object());
    let ui = app.get("/api/docs/").await;
    assert_eq!(ui.status, StatusCode::OK);
    assert!(
        String::from_utf8_lossy(&ui.body).contains("swagger"),
        "Swagger UI page"
    );
    let css = app.get("/api/docs/swagger-ui.css").await;
    assert_eq!(
        css.status,
        StatusCode::OK,
        "static files are not slash-normalised"
    );
}

/// The API surface (every documented path and its methods) is pinned, so
/// an endpoint appearing or vanishing shows up in review.
#[tokio::test]
async fn the_documented_surface_is_pinned() {
    let app = TestApp::new(crate::support::Backend::Sqlite).await;
    let doc = app.get("/api/schema/").await.json();
    let surface: std::collections::BTreeMap<String, Vec<String>> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(path, ops)| {
            let mut methods: Vec<String> = ops.as_object().unwrap().keys().cloned().collect();
            methods.sort();
            (path.clone(), methods)
        })
        .collect();
    insta::assert_json_snapshot!(surface);
}

/// The whole served document, so any change to a schema, a status or a
/// constraint shows in review (the surface above is the quick overview).
#[tokio::test]
async fn the_whole_document_is_pinned() {
    let app = TestApp::new(crate::support::Backend::Sqlite).await;
    let doc = app.get("/api/schema/").await.json();
    insta::assert_json_snapshot!(doc);
}
