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

/// OpenAPI asks for unique operation ids; clients generate one function
/// per id, so a repeated one loses an operation.
#[tokio::test]
async fn operation_ids_are_unique() {
    let app = TestApp::new(crate::support::Backend::Sqlite).await;
    let doc = app.get("/api/schema/").await.json();
    let mut ids = std::collections::BTreeMap::<String, usize>::new();
    for item in doc["paths"].as_object().unwrap().values() {
        for op in item.as_object().unwrap().values() {
            *ids.entry(op["operationId"].as_str().unwrap().to_string())
                .or_default() += 1;
        }
    }
    let repeated: Vec<_> = ids.iter().filter(|(_, n)| **n > 1).collect();
    assert!(repeated.is_empty(), "repeated operation ids: {repeated:?}");
    assert!(ids.contains_key("djoser_register") && ids.contains_key("partial_rename_role"));
}

/// The transport answers the document promises are the ones the server
/// gives: each operation is sent, as a superuser, a request whose `Accept`
/// admits no JSON and (where it reads a body) a body of a type nothing
/// reads; 406 and 415 come exactly where documented.
#[tokio::test]
async fn documented_transport_answers_are_given() {
    let app = TestApp::new(crate::support::Backend::Sqlite).await;
    let root = app.user("root").superuser().signed_in().await;
    let doc = app.get("/api/schema/").await.json();
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let uri = path
                .split('/')
                .map(|s| if s.starts_with('{') { "1" } else { s })
                .collect::<Vec<_>>()
                .join("/");
            let method: axum::http::Method = method.to_uppercase().parse().unwrap();
            let documents = |status: &str| op["responses"].get(status).is_some();
            let request = axum::http::Request::builder()
                .method(method.clone())
                .uri(&uri)
                .header("authorization", root.auth())
                .header("accept", "text/html")
                .body(axum::body::Body::empty())
                .unwrap();
            let r = app.send(request).await;
            assert_eq!(
                r.status == StatusCode::NOT_ACCEPTABLE,
                documents("406"),
                "{method} {path} answered {} to Accept: text/html",
                r.status
            );
            if op.get("requestBody").is_some() {
                let request = axum::http::Request::builder()
                    .method(method.clone())
                    .uri(&uri)
                    .header("authorization", root.auth())
                    .header("content-type", "text/plain")
                    .body(axum::body::Body::from("x"))
                    .unwrap();
                let r = app.send(request).await;
                assert_eq!(
                    r.status,
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "{method} {path} with a text/plain body"
                );
                assert!(documents("415") && documents("413"), "{method} {path}");
            }
            assert!(documents("408"), "{method} {path}");
            checked += 1;
        }
    }
    assert!(checked > 40, "only {checked} operations");
}
