//! Registration at `POST users/`: the 201 body in Djoser's key order, every
//! field error reported together, password validators and `re_password`,
//! case-insensitive duplicates, form bodies, aliases and slashless paths.

use axum::http::{Method, StatusCode};
use serde_json::json;

use super::{
    BAD_EMAIL, BAD_USERNAME, BLANK, EMAIL_TAKEN, NEW_PW, NULL, NUMERIC, PASSWORD_MISMATCH,
    REQUIRED, SIMILAR_USERNAME, TOO_COMMON, TOO_LONG_150, TOO_SHORT, USERNAME_TAKEN, is_active,
    token_rows, user_count,
};
use crate::{
    on_both_backends,
    support::{
        TestApp,
        accounts::{login_token, register},
        apps::app_with,
        client::{assert_json, keys, post, text},
        people::PW,
    },
};

on_both_backends!(
    registration_answers_201_with_the_user_in_djoser_key_order,
    registration_reports_every_field_error_together,
    an_overlong_username_with_bad_characters_reports_both_problems,
    a_json_boolean_is_not_a_valid_string,
    non_string_emails_are_invalid_addresses,
    weak_passwords_report_every_validator_message,
    password_retype_on_registration_is_required_and_checked_after_strength,
    duplicate_usernames_and_emails_ignoring_case_are_refused,
    registration_takes_form_bodies_aliases_and_slashless_paths,
);

// ---------------------------------------------------------------------------
// Registration: POST users/
// ---------------------------------------------------------------------------

async fn registration_answers_201_with_the_user_in_djoser_key_order(app: TestApp) {
    let r = post(
        &app,
        "/auth/users/",
        json!({
            "username": "  ann  ",
            "password": PW,
            "email": "ann@Example.COM",
            "is_staff": true,
            "is_superuser": true,
            "id": 999,
        }),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", text(&r));
    let body = r.json();
    assert_eq!(keys(&body), ["email", "username", "id"]);
    let id = app
        .db
        .scalar("SELECT CAST(id AS BIGINT) FROM auth_user")
        .await;
    assert_ne!(id, 999, "a sent id is ignored");
    assert_eq!(
        body,
        json!({"email": "ann@example.com", "username": "ann", "id": id}),
        "trimmed username, domain lower-cased as Django's normalize_email does"
    );
    assert_eq!(user_count(&app).await, 1);
    let privileged = app
        .db
        .scalar("SELECT COUNT(*) FROM auth_user WHERE is_staff OR is_superuser")
        .await;
    assert_eq!(privileged, 0, "is_staff / is_superuser are not honoured");
    assert!(
        is_active(&app, "ann").await,
        "active without activation mails"
    );
    let hash = app.db.text("SELECT password FROM auth_user").await;
    assert!(hash.starts_with("argon2$argon2id$"), "{hash}");
    assert_eq!(token_rows(&app, id).await, 0, "registration logs nobody in");
    // The account works.
    login_token(&app, "ann", PW).await;
}

async fn registration_reports_every_field_error_together(app: TestApp) {
    let r = post(&app, "/auth/users/", json!({})).await;
    assert_json(
        &r,
        StatusCode::BAD_REQUEST,
        json!({"username": [REQUIRED], "password": [REQUIRED]}),
    );

    let r = post(
        &app,
        "/auth/users/",
        json!({"username": "", "password": null, "email": "bad"}),
    )
    .await;
    assert_json(
        &r,
        StatusCode::BAD_REQUEST,
        json!({"email": [BAD_EMAIL], "username": [BLANK], "password": [NULL]}),
    );
    assert_eq!(
        keys(&r.json()),
        ["email", "username", "password"],
        "required fields, then the login field, then password"
    );

    let r = post(
        &app,
        "/auth/users/",
        json!({"username": "a b!", "password": "x", "email": "a@"}),
    )
    .await;
    assert_json(
        &r,
        StatusCode::BAD_REQUEST,
        json!({"email": [BAD_EMAIL], "username": [BAD_USERNAME]}),
    );

    let r = post(
        &app,
        "/auth/users/",
        json!({"username": "a".repeat(151), "password": PW}),
    )
    .await;
    assert_json(
        &r,
        StatusCode::BAD_REQUEST,
        json!({"username": [TOO_LONG_150]}),
    );

    let r = post(
        &app,
        "/auth/users/",
        json!({"username": ["ann"], "password": {"a": 1}, "email": null}),
    )
    .await;
    assert_json(
        &r,
        StatusCode::BAD_REQUEST,
        json!({"email": [NULL], "username": ["Not a valid string."], "password": ["Not a valid string."]}),
    );
    assert_eq!(user_count(&app).await, 0, "nothing written");

    // 150 characters is the limit, not over it.
    let r = post(
        &app,
        "/auth/users/",
        json!({"username": "a".repeat(150), "password": PW}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", text(&r));
    assert_eq!(r.json()["email"], "", "the optional e-mail is empty");
}

async fn an_overlong_username_with_bad_characters_reports_both_problems(app: TestApp) {
    // Regression: DRF runs every validator of a field and reports all failures;
    // Djoser 2.3.5 answers `{"username": [<invalid username>, <max length>]}`
    // here (observed on the reference project). doorman stops at the first
    // problem and reports only the length.
    let r = post(
        &app,
        "/auth/users/",
        json!({"username": format!("a b{}", "a".repeat(151)), "password": PW}),
    )
    .await;
    assert_json(
        &r,
        StatusCode::BAD_REQUEST,
        json!({"username": [BAD_USERNAME, TOO_LONG_150]}),
    );
    assert_eq!(user_count(&app).await, 0);
}

async fn a_json_boolean_is_not_a_valid_string(app: TestApp) {
    // Regression: DRF's CharField refuses JSON booleans (`invalid`: "Not a valid
    // string."; numbers are coerced). Djoser 2.3.5 answers
    // `400 {"username": ["Not a valid string."]}` for `{"username": true}`
    // (observed on the reference project). doorman turns `true` into the
    // text "True" and creates a user named "True" (201).
    let r = post(
        &app,
        "/auth/users/",
        json!({"username": true, "password": PW}),
    )
    .await;
    assert_json(
        &r,
        StatusCode::BAD_REQUEST,
        json!({"username": ["Not a valid string."]}),
    );
    assert_eq!(user_count(&app).await, 0);
    // Numbers are coerced, as in DRF.
    let r = post(
        &app,
        "/auth/users/",
        json!({"username": 12345, "password": PW}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", text(&r));
    assert_eq!(r.json()["username"], "12345");
}

async fn non_string_emails_are_invalid_addresses(app: TestApp) {
    // Regression: DRF's EmailField overrides the `invalid` message, so a list or
    // an object sent as an e-mail gets "Enter a valid email address."
    // (observed on the reference project for POST users/ with
    // `"email": ["ann@example.com"]` and reset_password with
    // `"email": {"a": 1}`). doorman answers "Not a valid string." there.
    let r = post(
        &app,
        "/auth/users/",
        json!({"username": "ann", "password": PW, "email": ["ann@example.com"]}),
    )
    .await;
    assert_json(&r, StatusCode::BAD_REQUEST, json!({"email": [BAD_EMAIL]}));
    assert_eq!(user_count(&app).await, 0);
    let r = post(
        &app,
        "/auth/users/reset_password/",
        json!({"email": {"a": 1}}),
    )
    .await;
    assert_json(&r, StatusCode::BAD_REQUEST, json!({"email": [BAD_EMAIL]}));
    // A boolean is already refused with the right message.
    let r = post(
        &app,
        "/auth/users/resend_activation/",
        json!({"email": true}),
    )
    .await;
    assert_json(&r, StatusCode::BAD_REQUEST, json!({"email": [BAD_EMAIL]}));
}

async fn weak_passwords_report_every_validator_message(app: TestApp) {
    let r = post(
        &app,
        "/auth/users/",
        json!({"username": "bob", "password": "bob", "email": "bob@example.com"}),
    )
    .await;
    assert_json(
        &r,
        StatusCode::BAD_REQUEST,
        json!({"password": [SIMILAR_USERNAME, TOO_SHORT, TOO_COMMON]}),
    );
    let r = post(
        &app,
        "/auth/users/",
        json!({"username": "carol", "password": "1234567"}),
    )
    .await;
    assert_json(
        &r,
        StatusCode::BAD_REQUEST,
        json!({"password": [TOO_SHORT, TOO_COMMON, NUMERIC]}),
    );
    assert_eq!(user_count(&app).await, 0);

    // Strength is object-level: any field error hides it.
    register(&app, "ann").await;
    let r = post(
        &app,
        "/auth/users/",
        json!({"username": "ann", "password": "1", "email": "x"}),
    )
    .await;
    assert_json(
        &r,
        StatusCode::BAD_REQUEST,
        json!({"email": [BAD_EMAIL], "username": [USERNAME_TAKEN]}),
    );
    assert_eq!(user_count(&app).await, 1);
}

async fn password_retype_on_registration_is_required_and_checked_after_strength(app: TestApp) {
    let app = app_with(app, |s| s.djoser.user_create_password_retype = true).await;
    let r = post(
        &app,
        "/auth/users/",
        json!({"username": "ann", "password": PW}),
    )
    .await;
    assert_json(
        &r,
        StatusCode::BAD_REQUEST,
        json!({"re_password": [REQUIRED]}),
    );
    let r = post(
        &app,
        "/auth/users/",
        json!({"username": "ann", "password": "1234567", "re_password": "other"}),
    )
    .await;
    assert_json(
        &r,
        StatusCode::BAD_REQUEST,
        json!({"password": [TOO_SHORT, TOO_COMMON, NUMERIC]}),
    );
    let r = post(
        &app,
        "/auth/users/",
        json!({"username": "ann", "password": PW, "re_password": NEW_PW}),
    )
    .await;
    assert_json(
        &r,
        StatusCode::BAD_REQUEST,
        json!({"non_field_errors": [PASSWORD_MISMATCH]}),
    );
    assert_eq!(user_count(&app).await, 0);
    let r = post(
        &app,
        "/auth/users/",
        json!({"username": "ann", "password": PW, "re_password": PW}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", text(&r));
    assert_eq!(keys(&r.json()), ["email", "username", "id"]);
    login_token(&app, "ann", PW).await;
}

async fn duplicate_usernames_and_emails_ignoring_case_are_refused(app: TestApp) {
    register(&app, "ann").await;
    let r = post(
        &app,
        "/auth/users/",
        json!({"username": "ann", "password": PW, "email": "other@example.com"}),
    )
    .await;
    assert_json(
        &r,
        StatusCode::BAD_REQUEST,
        json!({"username": [USERNAME_TAKEN]}),
    );
    // doorman: e-mail addresses are unique ignoring case (Djoser accepts
    // duplicates and later fails with 500s).
    let r = post(
        &app,
        "/auth/users/",
        json!({"username": "bob", "password": PW, "email": "ANN@Example.COM"}),
    )
    .await;
    assert_json(&r, StatusCode::BAD_REQUEST, json!({"email": [EMAIL_TAKEN]}));
    // Both at once.
    let r = post(
        &app,
        "/auth/users/",
        json!({"username": "ann", "password": PW, "email": "ann@example.com"}),
    )
    .await;
    assert_json(
        &r,
        StatusCode::BAD_REQUEST,
        json!({"email": [EMAIL_TAKEN], "username": [USERNAME_TAKEN]}),
    );
    assert_eq!(user_count(&app).await, 1);
    // Usernames are case-sensitive (as in Django); empty e-mails may repeat.
    for name in ["Ann", "dan", "eve"] {
        let r = post(
            &app,
            "/auth/users/",
            json!({"username": name, "password": PW}),
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED, "{name}: {}", text(&r));
    }
    assert_eq!(user_count(&app).await, 4);
}

async fn registration_takes_form_bodies_aliases_and_slashless_paths(app: TestApp) {
    let form = app
        .call(
            Method::POST,
            "/auth/users/",
            "application/x-www-form-urlencoded",
            format!("username=ann&email=ann%40example.com&password={PW}&is_staff=true"),
        )
        .await;
    assert_eq!(form.status, StatusCode::CREATED, "{}", text(&form));
    assert_eq!(keys(&form.json()), ["email", "username", "id"]);
    assert_eq!(form.json()["email"], "ann@example.com");
    let bad_form = app
        .call(
            Method::POST,
            "/auth/users/",
            "application/x-www-form-urlencoded",
            "username=&password=",
        )
        .await;
    assert_json(
        &bad_form,
        StatusCode::BAD_REQUEST,
        json!({"username": [BLANK], "password": [BLANK]}),
    );

    for (path, name) in [
        ("/auth/users/create/", "bob"),
        ("/auth/register/", "carol"),
        ("/auth/users", "dan"),
        ("/auth/register", "eve"),
    ] {
        let r = post(
            &app,
            path,
            json!({"username": name, "password": PW, "email": format!("{name}@example.com")}),
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED, "{path}: {}", text(&r));
        assert_eq!(keys(&r.json()), ["email", "username", "id"], "{path}");
        login_token(&app, name, PW).await;
    }
    assert_eq!(user_count(&app).await, 5);
    let staff = app
        .db
        .scalar("SELECT COUNT(*) FROM auth_user WHERE is_staff")
        .await;
    assert_eq!(staff, 0);
}
