//! Profile fields Django must be able to read back: `birth_date` within
//! DateField's years 1–9999, `bio` at most 10,000 characters; through
//! both endpoints that take them, on both backends.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{TestApp, TestResponse, client::text};

const WRONG_DATE: &str = "Date has wrong format. Use one of these formats instead: YYYY-MM-DD.";
const BIO_TOO_LONG: &str = "Ensure this field has no more than 10000 characters.";

/// `(path, Authorization)` of the two endpoints that update a profile:
/// the caller's own, and an admin's update of that same user's.
async fn endpoints(app: &TestApp) -> (i64, [(String, String); 2]) {
    let root = app.user("root").superuser().signed_in().await;
    let ann = app.user("ann").signed_in().await;
    let own = ("/api/auth/profile/".to_string(), ann.auth().to_string());
    let admin = (
        format!("/api/auth/user_profile/{}/update/", ann.id),
        root.auth().to_string(),
    );
    (ann.id, [own, admin])
}

async fn patch(app: &TestApp, path: &str, auth: &str, body: Value) -> TestResponse {
    app.request(Method::PATCH, path, Some(auth), Some(body))
        .await
}

async fn stored(app: &TestApp, id: i64, expr: &str) -> String {
    app.db
        .text(&format!(
            "SELECT {expr} FROM doorman_profile WHERE user_id = {id}"
        ))
        .await
}

async fn birth_dates_stay_within_years_1_to_9999(app: TestApp) {
    let (id, endpoints) = endpoints(&app).await;
    for (path, auth) in &endpoints {
        let r = patch(&app, path, auth, json!({"birth_date": "1990-05-17"})).await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {}", text(&r));
        for bad in ["0000-01-01", "0000-12-31", "-0001-01-01", "10000-01-01"] {
            let r = patch(&app, path, auth, json!({"birth_date": bad})).await;
            assert_eq!(
                r.status,
                StatusCode::BAD_REQUEST,
                "{path} {bad}: {}",
                text(&r)
            );
            assert_eq!(
                r.json(),
                json!({"birth_date": [WRONG_DATE]}),
                "{path} {bad}"
            );
            assert_eq!(
                stored(&app, id, "CAST(birth_date AS TEXT)").await,
                "1990-05-17",
                "{path} {bad}: nothing stored"
            );
        }
        // The first year Django can hold is accepted.
        let r = patch(&app, path, auth, json!({"birth_date": "0001-01-01"})).await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {}", text(&r));
        assert_eq!(r.json()["birth_date"], "0001-01-01");
    }
}

async fn bio_holds_at_most_10000_characters(app: TestApp) {
    let (id, endpoints) = endpoints(&app).await;
    for (n, (path, auth)) in endpoints.iter().enumerate() {
        // Characters, not bytes: 'é' is two bytes in UTF-8.
        let fits = if n == 0 { "é" } else { "b" }.repeat(10_000);
        let r = patch(&app, path, auth, json!({"bio": fits})).await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.status);
        assert_eq!(r.json()["bio"], fits.as_str());
        assert_eq!(stored(&app, id, "bio").await, fits);

        let r = patch(&app, path, auth, json!({"bio": "x".repeat(10_001)})).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{path}");
        assert_eq!(r.json(), json!({"bio": [BIO_TOO_LONG]}), "{path}");
        assert_eq!(
            stored(&app, id, "bio").await,
            fits,
            "{path}: nothing stored"
        );

        // Along with a valid field, nothing of the request is stored.
        let r = patch(
            &app,
            path,
            auth,
            json!({"phone": "555", "bio": "y".repeat(10_001)}),
        )
        .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{path}");
        assert_eq!(stored(&app, id, "phone").await, "", "{path}");
    }
}

/// The limit is in the OpenAPI document, where clients read it.
#[tokio::test]
async fn the_schema_states_the_bio_limit() {
    let app = TestApp::new(crate::support::Backend::Sqlite).await;
    let doc = app.get("/api/schema/").await.json();
    let bio = &doc["components"]["schemas"]["ProfileRequest"]["properties"]["bio"];
    assert_eq!(bio["maxLength"], 10_000, "{bio}");
}

crate::on_both_backends!(
    birth_dates_stay_within_years_1_to_9999,
    bio_holds_at_most_10000_characters,
);
