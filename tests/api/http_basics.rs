//! The HTTP skeleton every endpoint inherits: DRF-shaped errors, body
//! parsing, trailing slashes, request ids, panics. Probe routes written
//! here go through the application's real middleware stack.

use axum::{
    Json, Router,
    body::Body,
    http::{Method, Request, StatusCode},
    routing::{get, post},
};
use doorman::http::{
    error::ApiError,
    input::{Fields, Payload},
};
use serde_json::{Value, json};

use crate::{
    on_both_backends,
    support::{TestApp, send},
};

/// The app's routes plus probes, wrapped in the app's layers.
fn probed(app: &TestApp) -> Router {
    let probes = Router::new()
        .route("/probe/echo/", post(echo))
        .route("/probe/login/", post(login_like))
        .route("/probe/panic/", get(panics));
    let routes = doorman::http::routes(app.state.clone()).merge(probes);
    doorman::http::finish(routes, &app.state.settings, app.state.limits.clone())
}

async fn echo(payload: Payload) -> Json<Value> {
    let files: Vec<Value> = payload
        .files
        .iter()
        .map(|f| json!({"field": f.field, "filename": f.filename, "size": f.bytes.len()}))
        .collect();
    Json(json!({"data": payload.data, "files": files}))
}

async fn login_like(payload: Payload) -> Result<Json<Value>, ApiError> {
    let mut fields = Fields::new(&payload);
    let username = fields.required_string("username");
    let password = fields.required_string("password");
    fields.finish()?;
    Ok(Json(
        json!({"username": username, "password_len": password.map(|p| p.len())}),
    ))
}

async fn panics() -> &'static str {
    panic!("deliberate test panic")
}

on_both_backends!(
    unknown_routes_are_json_404,
    wrong_method_is_405_with_allow,
    bodies_in_three_encodings_parse_alike,
    bad_bodies_get_drf_errors,
    field_errors_are_reported_together,
    a_panic_is_a_500_with_the_request_id_and_serving_goes_on,
    request_ids_are_generated_or_propagated,
    oversized_bodies_are_refused,
);

async fn unknown_routes_are_json_404(app: TestApp) {
    for path in ["/nope", "/nope/", "/auth/nothing/here/", "/x.json"] {
        let r = app.get(path).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(r.json(), json!({"detail": "Not found."}));
        assert_eq!(r.header("content-type"), Some("application/json"));
    }
}

async fn wrong_method_is_405_with_allow(app: TestApp) {
    let r = app
        .call(Method::DELETE, "/healthz", "application/json", "")
        .await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(
        r.json(),
        json!({"detail": "Method \"DELETE\" not allowed."})
    );
    let allow = r.header("allow").expect("Allow header");
    assert!(allow.contains("GET"), "{allow}");
}

async fn bodies_in_three_encodings_parse_alike(app: TestApp) {
    let router = probed(&app);
    let want = json!({"username": "ann", "note": "a b&c"});
    let json_body = send(
        &router,
        Request::post("/probe/echo")
            .header("content-type", "application/json; charset=utf-8")
            .body(Body::from(want.to_string()))
            .unwrap(),
    )
    .await;
    assert_eq!(json_body.status, StatusCode::OK);
    assert_eq!(json_body.json()["data"], want);

    let form = send(
        &router,
        Request::post("/probe/echo/")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from("username=ann&note=a+b%26c"))
            .unwrap(),
    )
    .await;
    assert_eq!(form.json()["data"], want);

    let boundary = "XyZzY";
    let multipart = format!(
        "--{b}\r\nContent-Disposition: form-data; name=\"username\"\r\n\r\nann\r\n\
         --{b}\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\na b&c\r\n\
         --{b}\r\nContent-Disposition: form-data; name=\"pic\"; filename=\"p.png\"\r\nContent-Type: image/png\r\n\r\n\x01\x02\x03\r\n\
         --{b}--\r\n",
        b = boundary
    );
    let mp = send(
        &router,
        Request::post("/probe/echo/")
            .header(
                "content-type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(Body::from(multipart))
            .unwrap(),
    )
    .await;
    assert_eq!(mp.status, StatusCode::OK);
    assert_eq!(mp.json()["data"], want);
    assert_eq!(
        mp.json()["files"],
        json!([{"field": "pic", "filename": "p.png", "size": 3}])
    );

    // An empty body is an empty object, whatever the declared type.
    let empty = send(
        &router,
        Request::post("/probe/echo/").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(empty.json()["data"], json!({}));
}

async fn bad_bodies_get_drf_errors(app: TestApp) {
    let router = probed(&app);
    let post = |ct: &str, body: &'static str| {
        Request::post("/probe/echo/")
            .header("content-type", ct)
            .body(Body::from(body))
            .unwrap()
    };
    let r = send(&router, post("application/json", "{\"a\": ")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.json()["detail"]
            .as_str()
            .unwrap()
            .starts_with("JSON parse error - ")
    );

    let r = send(&router, post("application/json", "[1, 2]")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.json(),
        json!({"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]})
    );

    let r = send(&router, post("text/plain", "hello")).await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(
        r.json(),
        json!({"detail": "Unsupported media type \"text/plain\" in request."})
    );

    let r = send(&router, post("multipart/form-data; boundary=zz", "garbage")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.json()["detail"]
            .as_str()
            .unwrap()
            .starts_with("Multipart form parse error")
    );

    let r = send(&router, post("application/json", "\u{0}\u{1}binary")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

async fn field_errors_are_reported_together(app: TestApp) {
    let router = probed(&app);
    let r = send(
        &router,
        Request::post("/probe/login/")
            .header("content-type", "application/json")
            .body(Body::from(r#"{"username": "   ", "password": null}"#))
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.json(),
        json!({"username": ["This field may not be blank."], "password": ["This field may not be null."]})
    );
    let r = send(
        &router,
        Request::post("/probe/login/")
            .header("content-type", "application/json")
            .body(Body::from(r#"{"username": " ann ", "password": 12345}"#))
            .unwrap(),
    )
    .await;
    assert_eq!(r.json(), json!({"username": "ann", "password_len": 5}));
}

async fn a_panic_is_a_500_with_the_request_id_and_serving_goes_on(app: TestApp) {
    let router = probed(&app);
    let r = send(
        &router,
        Request::get("/probe/panic/")
            .header("x-request-id", "req-123")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        r.json(),
        json!({"detail": "A server error occurred.", "request_id": "req-123"})
    );
    assert_eq!(r.header("x-request-id"), Some("req-123"));
    let after = send(
        &router,
        Request::get("/healthz/").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(after.status, StatusCode::OK);
}

async fn request_ids_are_generated_or_propagated(app: TestApp) {
    let a = app.get("/healthz/").await;
    let b = app.get("/healthz/").await;
    let (ida, idb) = (
        a.header("x-request-id").unwrap(),
        b.header("x-request-id").unwrap(),
    );
    assert_eq!(ida.len(), 36, "a UUID: {ida}");
    let parsed = uuid::Uuid::parse_str(ida).expect("a UUID");
    assert_eq!(parsed.get_version_num(), 4, "random: {ida}");
    assert_eq!(
        ida,
        parsed.hyphenated().to_string(),
        "lower-case, hyphenated"
    );
    assert_ne!(ida, idb);
    let c = app
        .send(
            Request::get("/healthz/")
                .header("x-request-id", "mine")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(c.header("x-request-id"), Some("mine"));
    // Ids too long or with other characters are replaced, not echoed.
    for bad in ["x".repeat(129), "two words".to_string(), "a/b".to_string()] {
        let r = app
            .send(
                Request::get("/healthz/")
                    .header("x-request-id", bad.as_str())
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        let id = r.header("x-request-id").unwrap();
        assert_ne!(id, bad);
        assert_eq!(uuid::Uuid::parse_str(id).unwrap().get_version_num(), 4);
    }
    let longest = "a".repeat(128);
    let r = app
        .send(
            Request::get("/healthz/")
                .header("x-request-id", longest.as_str())
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(r.header("x-request-id"), Some(longest.as_str()));
}

async fn oversized_bodies_are_refused(app: TestApp) {
    let router = probed(&app);
    let limit = app.state.settings.server.max_body_bytes;
    let big = format!("{{\"a\": \"{}\"}}", "x".repeat(limit + 10));
    let r = send(
        &router,
        Request::post("/probe/echo/")
            .header("content-type", "application/json")
            .body(Body::from(big))
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(r.json()["detail"].is_string());

    // Declared too long: refused before any handler, even one that never
    // reads its body.
    for path in ["/probe/echo/", "/healthz/"] {
        let r = send(
            &router,
            Request::post(path)
                .header("content-type", "application/json")
                .header("content-length", (limit + 1).to_string())
                .body(Body::from("{}"))
                .unwrap(),
        )
        .await;
        assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{path}");
        assert_eq!(r.json(), json!({"detail": "Request body is too large."}));
        assert!(r.header("x-request-id").is_some());
    }

    // Streamed without a length: cut at the limit while being read.
    let chunks = futures_util::stream::iter(
        (0..(limit / 4096 + 2)).map(|_| Ok::<_, std::io::Error>(vec![b' '; 4096])),
    );
    let r = send(
        &router,
        Request::post("/probe/echo/")
            .header("content-type", "application/json")
            .body(Body::from_stream(chunks))
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);

    // JSON has its own, smaller limit (server.max_json_bytes): at it
    // exactly a body is read, one byte more is refused unparsed.
    let json_limit = app.state.settings.server.max_json_bytes;
    for (size, status) in [
        (json_limit, StatusCode::OK),
        (json_limit + 1, StatusCode::PAYLOAD_TOO_LARGE),
    ] {
        let padded = format!("{{}}{}", " ".repeat(size - 2));
        let r = send(
            &router,
            Request::post("/probe/echo/")
                .header("content-type", "application/json")
                .header("content-length", size.to_string())
                .body(Body::from(padded))
                .unwrap(),
        )
        .await;
        assert_eq!(r.status, status, "{size} bytes");
    }
}
