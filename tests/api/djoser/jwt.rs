//! simplejwt's views at `jwt/create/`, `jwt/verify/` and `jwt/refresh/`
//! (with and without rotation), doorman's `jwt/blacklist/`, and tokens of
//! deleted or inactive users refused with a 401, never a 500.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use super::{
    REQUIRED, assert_401, assert_no_content, bad_bearer, bearer, get_as, login_jwt, me_status,
    refresh_status, set_flag, token_not_valid, user_body, user_exists,
};
use crate::{
    on_both_backends,
    support::{
        TestApp,
        accounts::{login_token, register},
        apps::{app_on, app_with},
        client::{assert_json, call, keys, post, text, token},
        people::PW,
    },
};

on_both_backends!(
    jwt_create_issues_simplejwt_tokens_usable_as_bearer,
    jwt_verify_checks_signature_expiry_and_revocation,
    jwt_refresh_without_and_with_rotation,
    blacklist_after_rotation_retires_the_old_refresh_token,
    jwt_blacklist_logs_a_refresh_token_out,
    tokens_of_deleted_or_inactive_users_are_401_not_500,
);

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

use crate::support::client::jwt_claims as claims;

/// A JWT signed with the app's secret key, as simplejwt would make it.
fn signed(app: &TestApp, claims: Value) -> String {
    let key = app.state.settings.security.secret_key.clone().unwrap();
    jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(key.as_bytes()),
    )
    .unwrap()
}

fn now_secs() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

// ---------------------------------------------------------------------------
// JWTs: jwt/create/, jwt/verify/, jwt/refresh/, jwt/blacklist/
// ---------------------------------------------------------------------------

async fn jwt_create_issues_simplejwt_tokens_usable_as_bearer(app: TestApp) {
    let id = register(&app, "ann").await;
    // Any Authorization header is ignored by simplejwt's views.
    let r = call(
        &app,
        Method::POST,
        "/auth/jwt/create/",
        Some("Token not-a-real-key"),
        Some(json!({"username": "ann", "password": PW})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", text(&r));
    assert_eq!(keys(&r.json()), ["refresh", "access"]);
    let access = r.json()["access"].as_str().unwrap().to_string();
    let refresh = r.json()["refresh"].as_str().unwrap().to_string();

    let a = claims(&access);
    assert_eq!(keys(&a), ["token_type", "exp", "iat", "jti", "user_id"]);
    assert_eq!(a["token_type"], "access");
    assert_eq!(
        a["user_id"],
        json!(id.to_string()),
        "simplejwt 5.5.1: a string"
    );
    assert_eq!(a["exp"].as_i64().unwrap() - a["iat"].as_i64().unwrap(), 300);
    let jti = a["jti"].as_str().unwrap();
    assert!(
        jti.len() == 32 && jti.bytes().all(|b| b.is_ascii_hexdigit()),
        "{jti}"
    );
    let rc = claims(&refresh);
    assert_eq!(rc["token_type"], "refresh");
    assert_eq!(
        rc["exp"].as_i64().unwrap() - rc["iat"].as_i64().unwrap(),
        86_400
    );
    assert_ne!(rc["jti"], a["jti"]);

    let me = get_as(&app, &bearer(&access), "/auth/users/me/").await;
    assert_json(&me, StatusCode::OK, user_body(id, "ann"));
    let r = get_as(&app, &bearer(&refresh), "/auth/users/me/").await;
    assert_401(&r, bad_bearer("Token has wrong type"));
    let never = app
        .db
        .scalar("SELECT COUNT(*) FROM auth_user WHERE last_login IS NULL")
        .await;
    assert_eq!(never, 1, "jwt/create does not touch last_login by default");

    // A token made by simplejwt itself (uuid4 jti, string user_id) works.
    let now = now_secs();
    let foreign = signed(
        &app,
        json!({"token_type": "access", "exp": now + 300, "iat": now, "jti": "9f1c3a5e7b2d4f6081a3c5e7092b4d6f", "user_id": id.to_string()}),
    );
    assert_eq!(me_status(&app, &bearer(&foreign)).await, StatusCode::OK);
    // simplejwt up to 5.5.0 wrote an integer user_id.
    let older = signed(
        &app,
        json!({"token_type": "access", "exp": now + 300, "iat": now, "jti": "8e0b2a4c6d8f4a1b9c3d5e7f80a2b4c6", "user_id": id}),
    );
    assert_eq!(me_status(&app, &bearer(&older)).await, StatusCode::OK);
    let nobody = signed(
        &app,
        json!({"token_type": "access", "exp": now + 300, "iat": now, "jti": "7d9f1b3c5e7a4b2c8d0e2f4a6b8c0d1e", "user_id": "999999"}),
    );
    let r = get_as(&app, &bearer(&nobody), "/auth/users/me/").await;
    assert_401(
        &r,
        json!({"detail": "User not found", "code": "user_not_found"}),
    );

    let refused = json!({"detail": "No active account found with the given credentials"});
    let r = post(
        &app,
        "/auth/jwt/create/",
        json!({"username": "ann", "password": "wrong-password-1"}),
    )
    .await;
    assert_401(&r, refused.clone());
    set_flag(&app, "ann", "is_active", false).await;
    let r = post(
        &app,
        "/auth/jwt/create/",
        json!({"username": "ann", "password": PW}),
    )
    .await;
    assert_401(&r, refused);
    let r = post(&app, "/auth/jwt/create/", json!({})).await;
    assert_json(
        &r,
        StatusCode::BAD_REQUEST,
        json!({"username": [REQUIRED], "password": [REQUIRED]}),
    );
}

async fn jwt_verify_checks_signature_expiry_and_revocation(app: TestApp) {
    let id = register(&app, "ann").await;
    let (refresh, access) = login_jwt(&app, "ann", PW).await;
    for good in [&access, &refresh] {
        let r = post(&app, "/auth/jwt/verify/", json!({ "token": good })).await;
        assert_json(&r, StatusCode::OK, json!({}));
    }
    let mut tampered = access.clone();
    tampered.push('x');
    for bad in ["garbage", tampered.as_str()] {
        let r = post(&app, "/auth/jwt/verify/", json!({ "token": bad })).await;
        assert_401(&r, token_not_valid("Token is invalid"));
    }
    let now = now_secs();
    let expired = signed(
        &app,
        json!({"token_type": "access", "exp": now - 10, "iat": now - 310, "jti": "0123456789abcdef0123456789abcdef", "user_id": id.to_string()}),
    );
    let r = post(&app, "/auth/jwt/verify/", json!({ "token": expired })).await;
    assert_401(&r, token_not_valid("Token is expired"));
    let r = get_as(&app, &bearer(&expired), "/auth/users/me/").await;
    assert_401(&r, bad_bearer("Token is expired"));
    let r = post(&app, "/auth/jwt/verify/", json!({})).await;
    assert_json(&r, StatusCode::BAD_REQUEST, json!({"token": [REQUIRED]}));

    // A blacklisted refresh token no longer verifies.
    assert_no_content(&post(&app, "/auth/jwt/blacklist/", json!({ "refresh": refresh })).await);
    let r = post(&app, "/auth/jwt/verify/", json!({ "token": refresh })).await;
    assert_401(&r, token_not_valid("Token is blacklisted"));
}

async fn jwt_refresh_without_and_with_rotation(app: TestApp) {
    let backend = app.db.backend;
    register(&app, "ann").await;
    let (refresh, access) = login_jwt(&app, "ann", PW).await;
    let r = post(&app, "/auth/jwt/refresh/", json!({ "refresh": refresh })).await;
    assert_eq!(r.status, StatusCode::OK, "{}", text(&r));
    assert_eq!(keys(&r.json()), ["access"]);
    let new_access = r.json()["access"].as_str().unwrap().to_string();
    assert_ne!(new_access, access);
    assert_eq!(claims(&new_access)["token_type"], "access");
    assert_eq!(me_status(&app, &bearer(&new_access)).await, StatusCode::OK);
    assert_eq!(
        refresh_status(&app, &refresh).await,
        StatusCode::OK,
        "reusable"
    );

    let r = post(&app, "/auth/jwt/refresh/", json!({ "refresh": access })).await;
    assert_401(&r, token_not_valid("Token has wrong type"));
    let r = post(&app, "/auth/jwt/refresh/", json!({"refresh": "garbage"})).await;
    assert_401(&r, token_not_valid("Token is invalid"));
    let r = post(&app, "/auth/jwt/refresh/", json!({})).await;
    assert_json(&r, StatusCode::BAD_REQUEST, json!({"refresh": [REQUIRED]}));

    drop(app);
    let app = app_on(backend, |s| s.jwt.rotate_refresh_tokens = true).await;
    register(&app, "ann").await;
    let (first, _) = login_jwt(&app, "ann", PW).await;
    let r = post(&app, "/auth/jwt/refresh/", json!({ "refresh": first })).await;
    assert_eq!(r.status, StatusCode::OK, "{}", text(&r));
    assert_eq!(keys(&r.json()), ["access", "refresh"]);
    let second = r.json()["refresh"].as_str().unwrap().to_string();
    assert_ne!(second, first);
    assert_eq!(claims(&second)["token_type"], "refresh");
    assert_ne!(claims(&second)["jti"], claims(&first)["jti"]);
    assert_eq!(refresh_status(&app, &second).await, StatusCode::OK);
    assert_eq!(
        refresh_status(&app, &first).await,
        StatusCode::OK,
        "without blacklist_after_rotation the old one still works"
    );
}

async fn blacklist_after_rotation_retires_the_old_refresh_token(app: TestApp) {
    let app = app_with(app, |s| {
        s.jwt.rotate_refresh_tokens = true;
        s.jwt.blacklist_after_rotation = true;
    })
    .await;
    register(&app, "ann").await;
    let (first, _) = login_jwt(&app, "ann", PW).await;
    let r = post(&app, "/auth/jwt/refresh/", json!({ "refresh": first })).await;
    assert_eq!(r.status, StatusCode::OK, "{}", text(&r));
    let second = r.json()["refresh"].as_str().unwrap().to_string();
    let r = post(&app, "/auth/jwt/refresh/", json!({ "refresh": first })).await;
    assert_401(&r, token_not_valid("Token is blacklisted"));
    let r = post(&app, "/auth/jwt/refresh/", json!({ "refresh": second })).await;
    assert_eq!(r.status, StatusCode::OK, "{}", text(&r));
    let denied = app
        .db
        .scalar("SELECT COUNT(*) FROM doorman_jwt_denylist")
        .await;
    assert_eq!(denied, 2, "first and second were each rotated out once");
}

async fn jwt_blacklist_logs_a_refresh_token_out(app: TestApp) {
    register(&app, "ann").await;
    let (refresh, access) = login_jwt(&app, "ann", PW).await;
    let (other_refresh, _) = login_jwt(&app, "ann", PW).await;
    let r = post(&app, "/auth/jwt/blacklist/", json!({ "refresh": refresh })).await;
    assert_no_content(&r);
    let r = post(&app, "/auth/jwt/refresh/", json!({ "refresh": refresh })).await;
    assert_401(&r, token_not_valid("Token is blacklisted"));
    let r = post(&app, "/auth/jwt/blacklist/", json!({ "refresh": refresh })).await;
    assert_401(&r, token_not_valid("Token is blacklisted"));
    let denied = app
        .db
        .scalar("SELECT COUNT(*) FROM doorman_jwt_denylist")
        .await;
    assert_eq!(denied, 1);
    // Only that refresh token: the user's other one and the access token work.
    assert_eq!(refresh_status(&app, &other_refresh).await, StatusCode::OK);
    assert_eq!(me_status(&app, &bearer(&access)).await, StatusCode::OK);

    let r = post(&app, "/auth/jwt/blacklist/", json!({ "refresh": access })).await;
    assert_401(&r, token_not_valid("Token has wrong type"));
    let r = post(&app, "/auth/jwt/blacklist/", json!({})).await;
    assert_json(&r, StatusCode::BAD_REQUEST, json!({"refresh": [REQUIRED]}));
}

async fn tokens_of_deleted_or_inactive_users_are_401_not_500(app: TestApp) {
    let ann = register(&app, "ann").await;
    let key = token(&login_token(&app, "ann", PW).await);
    let (refresh, access) = login_jwt(&app, "ann", PW).await;
    let r = call(
        &app,
        Method::DELETE,
        "/auth/users/me/",
        Some(&key),
        Some(json!({"current_password": PW})),
    )
    .await;
    assert_no_content(&r);
    assert!(!user_exists(&app, ann).await);
    // doorman: simplejwt 5.5.1 answers 500 here.
    let r = post(&app, "/auth/jwt/refresh/", json!({ "refresh": refresh })).await;
    assert_401(
        &r,
        json!({"detail": "No active account found for the given token."}),
    );
    let r = get_as(&app, &bearer(&access), "/auth/users/me/").await;
    assert_401(
        &r,
        json!({"detail": "User not found", "code": "user_not_found"}),
    );

    register(&app, "bob").await;
    let key = token(&login_token(&app, "bob", PW).await);
    let (refresh, access) = login_jwt(&app, "bob", PW).await;
    set_flag(&app, "bob", "is_active", false).await;
    let r = post(&app, "/auth/jwt/refresh/", json!({ "refresh": refresh })).await;
    assert_401(
        &r,
        json!({"detail": "No active account found for the given token."}),
    );
    let r = get_as(&app, &bearer(&access), "/auth/users/me/").await;
    assert_401(
        &r,
        json!({"detail": "User is inactive", "code": "user_inactive"}),
    );
    let r = get_as(&app, &key, "/auth/users/me/").await;
    assert_401(&r, json!({"detail": "User inactive or deleted."}));
}
