//! `users.login_field = email`: the username routes renamed after the email
//! field, and registration not blocked by an address a user gave up.

use axum::http::StatusCode;
use doorman::config::LoginField;
use serde_json::json;

use super::{
    BAD_EMAIL, EMAIL_TAKEN, NEW_PW, NOT_PROVIDED, REQUIRED, app_with_mail, assert_no_content,
    delivered, get_as, link_in, post_as, user_count,
};
use crate::{
    on_both_backends,
    support::{
        TestApp,
        apps::app_with,
        client::{assert_json, keys, post, text, token},
        people::PW,
    },
};

on_both_backends!(
    email_login_field_renames_the_username_routes,
    email_login_registration_is_not_blocked_by_a_former_address,
);

// ---------------------------------------------------------------------------
// users.login_field = email
// ---------------------------------------------------------------------------

async fn email_login_field_renames_the_username_routes(app: TestApp) {
    let (app, sink) = app_with_mail(app, |s| s.users.login_field = LoginField::Email).await;
    let r = post(
        &app,
        "/auth/users/",
        json!({"email": "ann@example.com", "password": PW}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", text(&r));
    let id = r.json()["id"].as_i64().unwrap();
    assert_eq!(r.json(), json!({"email": "ann@example.com", "id": id}));
    assert_eq!(keys(&r.json()), ["email", "id"]);
    let r = post(
        &app,
        "/auth/users/",
        json!({"username": "bob", "password": PW}),
    )
    .await;
    assert_json(&r, StatusCode::BAD_REQUEST, json!({"email": [REQUIRED]}));

    let r = post(
        &app,
        "/auth/token/login/",
        json!({"email": "ann@example.com", "password": PW}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", text(&r));
    let auth = token(r.json()["auth_token"].as_str().unwrap());
    let me = get_as(&app, &auth, "/auth/users/me/").await;
    assert_json(
        &me,
        StatusCode::OK,
        json!({"id": id, "email": "ann@example.com"}),
    );
    let r = post(
        &app,
        "/auth/jwt/create/",
        json!({"email": "ann@example.com", "password": PW}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", text(&r));

    // There is no set_username/ action: as in Djoser's router the path is
    // `users/{id}/` with id "set_username" (POST 405, GET 404); set_email/
    // is the action.
    let r = post_as(
        &app,
        &auth,
        "/auth/users/set_username/",
        json!({"current_password": PW, "new_username": "x"}),
    )
    .await;
    assert_json(
        &r,
        StatusCode::METHOD_NOT_ALLOWED,
        json!({"detail": "Method \"POST\" not allowed."}),
    );
    assert_eq!(
        r.header("allow"),
        Some("GET, PUT, PATCH, DELETE, HEAD, OPTIONS")
    );
    let r = get_as(&app, &auth, "/auth/users/set_username/").await;
    assert_json(&r, StatusCode::NOT_FOUND, json!({"detail": "Not found."}));
    let unchanged = app
        .db
        .scalar("SELECT COUNT(*) FROM auth_user WHERE username = 'ann@example.com'")
        .await;
    assert_eq!(unchanged, 1, "set_username/ changed nothing");
    let r = post_as(
        &app,
        &auth,
        "/auth/users/set_email/",
        json!({"current_password": PW, "new_email": "ANN@example.com"}),
    )
    .await;
    assert_json(
        &r,
        StatusCode::BAD_REQUEST,
        json!({"new_email": [EMAIL_TAKEN]}),
    );
    let r = post_as(
        &app,
        &auth,
        "/auth/users/set_email/",
        json!({"current_password": PW, "new_email": "nope"}),
    )
    .await;
    assert_json(
        &r,
        StatusCode::BAD_REQUEST,
        json!({"new_email": [BAD_EMAIL]}),
    );
    let r = post_as(
        &app,
        &auth,
        "/auth/users/set_email/",
        json!({"current_password": PW, "new_email": "anne@example.com"}),
    )
    .await;
    assert_no_content(&r);
    let r = post(
        &app,
        "/auth/token/login/",
        json!({"email": "anne@example.com", "password": PW}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", text(&r));

    // reset_email/ → mail → reset_email_confirm/.
    let r = post(
        &app,
        "/auth/users/reset_username/",
        json!({"email": "anne@example.com"}),
    )
    .await;
    assert_json(
        &r,
        StatusCode::UNAUTHORIZED,
        json!({"detail": NOT_PROVIDED}),
    );
    assert!(delivered(&app, &sink).await.is_empty());
    let r = post(
        &app,
        "/auth/users/reset_email/",
        json!({"email": "anne@example.com"}),
    )
    .await;
    assert_no_content(&r);
    let mails = delivered(&app, &sink).await;
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].to, "<anne@example.com>");
    let (uid, tok) = link_in(&mails[0], "#/username/reset/confirm/");
    let r = post(
        &app,
        "/auth/users/reset_email_confirm/",
        json!({"uid": uid, "token": tok, "new_email": "ann.lee@example.com"}),
    )
    .await;
    assert_no_content(&r);
    let r = post(
        &app,
        "/auth/token/login/",
        json!({"email": "ann.lee@example.com", "password": PW}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", text(&r));
    let email = app
        .db
        .text(&format!("SELECT email FROM auth_user WHERE id = {id}"))
        .await;
    assert_eq!(email, "ann.lee@example.com");
}

async fn email_login_registration_is_not_blocked_by_a_former_address(app: TestApp) {
    // Regression: with `users.login_field = email` doorman stores the address
    // as the (hidden) username too; it once stayed behind when the address
    // changed, so a former address could not be registered again. SPEC §2:
    // registration refuses only a taken login field, so this is a 201.
    let app = app_with(app, |s| s.users.login_field = LoginField::Email).await;
    let r = post(
        &app,
        "/auth/users/",
        json!({"email": "ann@example.com", "password": PW}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", text(&r));
    let r = post(
        &app,
        "/auth/token/login/",
        json!({"email": "ann@example.com", "password": PW}),
    )
    .await;
    let auth = token(r.json()["auth_token"].as_str().unwrap());
    let r = post_as(
        &app,
        &auth,
        "/auth/users/set_email/",
        json!({"current_password": PW, "new_email": "ann.new@example.com"}),
    )
    .await;
    assert_no_content(&r);
    let r = post(
        &app,
        "/auth/users/",
        json!({"email": "ann@example.com", "password": NEW_PW}),
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::CREATED,
        "the address is free: {}",
        text(&r)
    );
    assert_eq!(user_count(&app).await, 2);
}
