//! Who may call what at `/auth/`: opaque-token login and logout (one key
//! per login, doorman's `token/logout_all/`), simplejwt's views plus
//! doorman's `jwt/blacklist/`, the `Authorization` header as DRF and
//! simplejwt read it, DRF's 401/405 rules, and the `users/` resource (list,
//! one user, update, delete) with `hide_users` and staff. Helpers live at
//! the top of `djoser_flows.rs`.

use axum::http::{HeaderValue, Method, StatusCode};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::{
    djoser_flows::{
        BAD_EMAIL, EMAIL_TAKEN, INVALID_CREDENTIALS, INVALID_PASSWORD, NOT_PROVIDED, NULL, PW,
        REQUIRED, app_with, app_with_mail, assert_json, assert_no_content, bearer, call, delivered,
        get_as, is_active, keys, link_in, login_jwt, login_status, login_token, me_status, post,
        post_as, refresh_status, register, set_flag, text, token, token_rows, user_count,
    },
    on_both_backends,
    support::{TestApp, TestResponse},
};

on_both_backends!(
    token_login_gives_a_new_key_per_login_and_each_works,
    token_login_errors_are_djoser_shaped,
    token_logout_revokes_only_the_presented_token,
    logout_all_revokes_every_token_and_jwt,
    token_logout_with_a_jwt_deletes_every_opaque_token,
    jwt_create_issues_simplejwt_tokens_usable_as_bearer,
    jwt_verify_checks_signature_expiry_and_revocation,
    jwt_refresh_without_and_with_rotation,
    blacklist_after_rotation_retires_the_old_refresh_token,
    jwt_blacklist_logs_a_refresh_token_out,
    tokens_of_deleted_or_inactive_users_are_401_not_500,
    malformed_authorization_headers_get_drf_and_simplejwt_bodies,
    bad_credentials_on_public_endpoints_are_refused,
    unsupported_methods_are_401_for_anonymous_and_405_for_users,
    options_and_head_on_users_me_are_answered,
    user_list_follows_hide_users_and_staff,
    user_detail_hides_other_users_as_missing,
    users_update_their_own_fields_only,
    changing_the_email_with_activation_on_deactivates_and_mails_the_new_address,
    deleting_an_account_needs_the_current_password,
    staff_delete_other_users_with_their_own_password,
);

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

const INVALID_TOKEN_HEADER: &str = "Invalid token.";
const PERMISSION_DENIED: &str = "You do not have permission to perform this action.";
const ALLOW_DETAIL: &str = "GET, PUT, PATCH, DELETE, HEAD, OPTIONS";

/// The JSON payload of a JWT.
fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).expect("three parts");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

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

/// simplejwt's 401 for a bad bearer token.
fn bad_bearer(message: &str) -> Value {
    json!({
        "detail": "Given token not valid for any token type",
        "code": "token_not_valid",
        "messages": [{"token_class": "AccessToken", "token_type": "access", "message": message}],
    })
}

/// A 401 with the challenge header.
#[track_caller]
fn assert_401(r: &TestResponse, body: Value) {
    assert_json(r, StatusCode::UNAUTHORIZED, body);
    assert_eq!(r.header("www-authenticate"), Some("Bearer realm=\"api\""));
}

fn token_not_valid(detail: &str) -> Value {
    json!({"detail": detail, "code": "token_not_valid"})
}

async fn make_staff(app: &TestApp, username: &str) {
    set_flag(app, username, "is_staff", true).await;
}

async fn user_exists(app: &TestApp, id: i64) -> bool {
    app.db
        .scalar(&format!("SELECT COUNT(*) FROM auth_user WHERE id = {id}"))
        .await
        == 1
}

fn user_body(id: i64, username: &str) -> Value {
    json!({"email": format!("{username}@example.com"), "id": id, "username": username})
}

// ---------------------------------------------------------------------------
// Opaque tokens: token/login/, token/logout/, token/logout_all/
// ---------------------------------------------------------------------------

async fn token_login_gives_a_new_key_per_login_and_each_works(app: TestApp) {
    let id = register(&app, "ann").await;
    let never = app
        .db
        .scalar("SELECT COUNT(*) FROM auth_user WHERE last_login IS NULL")
        .await;
    assert_eq!(never, 1);

    let r = post(
        &app,
        "/auth/token/login/",
        json!({"username": "ann", "password": PW}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", text(&r));
    assert_eq!(keys(&r.json()), ["auth_token"]);
    let first = r.json()["auth_token"].as_str().unwrap().to_string();
    let second = login_token(&app, "ann", PW).await;
    for key in [&first, &second] {
        assert_eq!(key.len(), 40, "{key}");
        assert!(
            key.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')),
            "{key}"
        );
    }
    assert_ne!(first, second, "doorman: one key per login (device)");
    for key in [&first, &second] {
        let me = get_as(&app, &token(key), "/auth/users/me/").await;
        assert_json(&me, StatusCode::OK, user_body(id, "ann"));
        assert_eq!(keys(&me.json()), ["email", "id", "username"]);
        assert_eq!(me.header("allow"), Some(ALLOW_DETAIL));
    }
    assert_eq!(token_rows(&app, id).await, 2);
    // Stored as digests only.
    let clear = app
        .db
        .scalar(&format!(
            "SELECT COUNT(*) FROM doorman_token WHERE digest = '{first}'"
        ))
        .await;
    assert_eq!(clear, 0);
    let digest = hex::encode(Sha256::digest(first.as_bytes()));
    let hashed = app
        .db
        .scalar(&format!(
            "SELECT COUNT(*) FROM doorman_token WHERE digest = '{digest}'"
        ))
        .await;
    assert_eq!(hashed, 1);
    let logged = app
        .db
        .scalar("SELECT COUNT(*) FROM auth_user WHERE last_login IS NOT NULL")
        .await;
    assert_eq!(logged, 1, "token login records last_login");

    // Aliases, a slash-less path, a form body, a case-insensitive scheme.
    for path in ["/auth/token/create/", "/auth/login/", "/auth/token/login"] {
        let r = post(&app, path, json!({"username": "ann", "password": PW})).await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {}", text(&r));
        assert_eq!(
            me_status(&app, &token(r.json()["auth_token"].as_str().unwrap())).await,
            StatusCode::OK
        );
    }
    let form = app
        .call(
            Method::POST,
            "/auth/token/login/",
            "application/x-www-form-urlencoded",
            format!("username=ann&password={PW}"),
        )
        .await;
    assert_eq!(form.status, StatusCode::OK, "{}", text(&form));
    assert_eq!(
        me_status(&app, &format!("TOKEN {first}")).await,
        StatusCode::OK
    );
    assert_eq!(token_rows(&app, id).await, 6);
}

async fn token_login_errors_are_djoser_shaped(app: TestApp) {
    let id = register(&app, "ann").await;
    register(&app, "idle").await;
    set_flag(&app, "idle", "is_active", false).await;
    let refused = json!({"non_field_errors": [INVALID_CREDENTIALS]});
    for body in [
        json!({"username": "ann", "password": "wrong-password-1"}),
        json!({"username": "nobody", "password": PW}),
        json!({"username": "idle", "password": PW}),
        json!({"username": "ann"}),
        json!({}),
    ] {
        let r = post(&app, "/auth/token/login/", body.clone()).await;
        assert_json(&r, StatusCode::BAD_REQUEST, refused.clone());
    }
    // Explicit blank / null are field errors (key order aside: Djoser lists
    // `password` first).
    let r = post(
        &app,
        "/auth/token/login/",
        json!({"username": "", "password": null}),
    )
    .await;
    assert_json(
        &r,
        StatusCode::BAD_REQUEST,
        json!({"username": ["This field may not be blank."], "password": [NULL]}),
    );
    assert_eq!(token_rows(&app, id).await, 0);
    let r = post(
        &app,
        "/auth/token/login/",
        json!({"username": " ann ", "password": format!(" {PW} ")}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "values are trimmed: {}", text(&r));
}

async fn token_logout_revokes_only_the_presented_token(app: TestApp) {
    let id = register(&app, "ann").await;
    let a = token(&login_token(&app, "ann", PW).await);
    let b = token(&login_token(&app, "ann", PW).await);
    let c = token(&login_token(&app, "ann", PW).await);
    let d = token(&login_token(&app, "ann", PW).await);

    let r = call(&app, Method::POST, "/auth/token/logout/", Some(&a), None).await;
    assert_no_content(&r);
    let r = get_as(&app, &a, "/auth/users/me/").await;
    assert_401(&r, json!({"detail": INVALID_TOKEN_HEADER}));
    assert_eq!(me_status(&app, &b).await, StatusCode::OK);
    assert_eq!(token_rows(&app, id).await, 3);
    let again = call(&app, Method::POST, "/auth/token/logout/", Some(&a), None).await;
    assert_401(&again, json!({"detail": INVALID_TOKEN_HEADER}));

    for (path, key) in [("/auth/token/destroy/", &b), ("/auth/logout/", &c)] {
        let r = call(&app, Method::POST, path, Some(key), None).await;
        assert_no_content(&r);
        assert_eq!(
            me_status(&app, key).await,
            StatusCode::UNAUTHORIZED,
            "{path}"
        );
    }
    assert_eq!(me_status(&app, &d).await, StatusCode::OK);
    assert_eq!(token_rows(&app, id).await, 1);

    let anonymous = call(&app, Method::POST, "/auth/token/logout/", None, None).await;
    assert_401(&anonymous, json!({"detail": NOT_PROVIDED}));
}

async fn logout_all_revokes_every_token_and_jwt(app: TestApp) {
    let id = register(&app, "ann").await;
    let bob_id = register(&app, "bob").await;
    let bob = token(&login_token(&app, "bob", PW).await);
    let (bob_refresh, bob_access) = login_jwt(&app, "bob", PW).await;
    let a = token(&login_token(&app, "ann", PW).await);
    let b = token(&login_token(&app, "ann", PW).await);
    let (refresh, access) = login_jwt(&app, "ann", PW).await;

    let r = call(
        &app,
        Method::POST,
        "/auth/token/logout_all/",
        Some(&a),
        None,
    )
    .await;
    assert_no_content(&r);
    for auth in [&a, &b, &bearer(&access)] {
        assert_eq!(
            me_status(&app, auth).await,
            StatusCode::UNAUTHORIZED,
            "{auth}"
        );
    }
    let r = post(&app, "/auth/jwt/refresh/", json!({ "refresh": refresh })).await;
    assert_401(&r, token_not_valid("Token is invalid"));
    let r = post(&app, "/auth/jwt/verify/", json!({ "token": access })).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", text(&r));
    assert_eq!(token_rows(&app, id).await, 0);

    // Signing in again works; bob is untouched.
    let fresh = token(&login_token(&app, "ann", PW).await);
    assert_eq!(me_status(&app, &fresh).await, StatusCode::OK);
    let (refresh, access) = login_jwt(&app, "ann", PW).await;
    assert_eq!(me_status(&app, &bearer(&access)).await, StatusCode::OK);
    assert_eq!(refresh_status(&app, &refresh).await, StatusCode::OK);
    assert_eq!(me_status(&app, &bob).await, StatusCode::OK);
    assert_eq!(me_status(&app, &bearer(&bob_access)).await, StatusCode::OK);
    assert_eq!(refresh_status(&app, &bob_refresh).await, StatusCode::OK);
    assert_eq!(token_rows(&app, bob_id).await, 1);

    // With a JWT as the credential, too.
    let (_, access) = login_jwt(&app, "ann", PW).await;
    let r = call(
        &app,
        Method::POST,
        "/auth/token/logout_all/",
        Some(&bearer(&access)),
        None,
    )
    .await;
    assert_no_content(&r);
    assert_eq!(
        me_status(&app, &bearer(&access)).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(me_status(&app, &fresh).await, StatusCode::UNAUTHORIZED);
    let anonymous = call(&app, Method::POST, "/auth/token/logout_all/", None, None).await;
    assert_401(&anonymous, json!({"detail": NOT_PROVIDED}));
}

async fn token_logout_with_a_jwt_deletes_every_opaque_token(app: TestApp) {
    let id = register(&app, "ann").await;
    let a = token(&login_token(&app, "ann", PW).await);
    let b = token(&login_token(&app, "ann", PW).await);
    let (_, access) = login_jwt(&app, "ann", PW).await;
    let r = call(
        &app,
        Method::POST,
        "/auth/token/logout/",
        Some(&bearer(&access)),
        None,
    )
    .await;
    assert_no_content(&r);
    assert_eq!(me_status(&app, &a).await, StatusCode::UNAUTHORIZED);
    assert_eq!(me_status(&app, &b).await, StatusCode::UNAUTHORIZED);
    assert_eq!(token_rows(&app, id).await, 0);
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
    let app = crate::djoser_flows::app_on(backend, |s| s.jwt.rotate_refresh_tokens = true).await;
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

// ---------------------------------------------------------------------------
// The Authorization header
// ---------------------------------------------------------------------------

async fn malformed_authorization_headers_get_drf_and_simplejwt_bodies(app: TestApp) {
    register(&app, "ann").await;
    let key = login_token(&app, "ann", PW).await;
    let (refresh, access) = login_jwt(&app, "ann", PW).await;
    let two_values = json!({
        "detail": "Authorization header must contain two space-delimited values",
        "code": "bad_authorization_header",
    });
    let cases = [
        (
            "Token".to_string(),
            json!({"detail": "Invalid token header. No credentials provided."}),
        ),
        (
            "Token a b".into(),
            json!({"detail": "Invalid token header. Token string should not contain spaces."}),
        ),
        (
            "Token 0123456789abcdef0123456789abcdef01234567".into(),
            json!({"detail": INVALID_TOKEN_HEADER}),
        ),
        ("Bearer".into(), two_values.clone()),
        ("Bearer a b".into(), two_values),
        ("Bearer garbage".into(), bad_bearer("Token is invalid")),
        (bearer(&refresh), bad_bearer("Token has wrong type")),
        // Schemes nobody reads count as no credentials.
        ("Basic YW5uOnB3".into(), json!({"detail": NOT_PROVIDED})),
        (format!("bearer {access}"), json!({"detail": NOT_PROVIDED})),
        (format!("JWT {access}"), json!({"detail": NOT_PROVIDED})),
    ];
    for (header, body) in cases {
        let r = get_as(&app, &header, "/auth/users/me/").await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{header}: {}", text(&r));
        assert_401(&r, body);
    }
    let r = call(&app, Method::GET, "/auth/users/me/", None, None).await;
    assert_401(&r, json!({"detail": NOT_PROVIDED}));
    // Bytes that are not UTF-8.
    for (raw, body) in [
        (
            &b"Token \xff\xfe"[..],
            json!({"detail": "Invalid token header. Token string should not contain invalid characters."}),
        ),
        (&b"Bearer \xff\xfe"[..], bad_bearer("Token is invalid")),
    ] {
        let request = axum::http::Request::get("/auth/users/me/")
            .header("authorization", HeaderValue::from_bytes(raw).unwrap())
            .body(axum::body::Body::empty())
            .unwrap();
        assert_401(&app.send(request).await, body);
    }
    // The token scheme word is case-insensitive; Bearer is not.
    for header in [
        format!("token {key}"),
        format!("TOKEN {key}"),
        bearer(&access),
    ] {
        assert_eq!(me_status(&app, &header).await, StatusCode::OK, "{header}");
    }
}

async fn bad_credentials_on_public_endpoints_are_refused(app: TestApp) {
    register(&app, "ann").await;
    let key = token(&login_token(&app, "ann", PW).await);
    let body = json!({"username": "bob", "password": PW, "email": "bob@example.com"});
    for header in ["Token 0123456789abcdef0123456789abcdef01234567", "Token"] {
        let r = call(
            &app,
            Method::POST,
            "/auth/users/",
            Some(header),
            Some(body.clone()),
        )
        .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{header}: {}", text(&r));
        assert_eq!(r.header("www-authenticate"), Some("Bearer realm=\"api\""));
    }
    let r = call(
        &app,
        Method::POST,
        "/auth/users/",
        Some("Bearer garbage"),
        Some(body.clone()),
    )
    .await;
    assert_401(&r, bad_bearer("Token is invalid"));
    assert_eq!(user_count(&app).await, 1, "nobody registered");
    let r = call(
        &app,
        Method::POST,
        "/auth/token/login/",
        Some("Token 0123456789abcdef0123456789abcdef01234567"),
        Some(json!({"username": "ann", "password": PW})),
    )
    .await;
    assert_401(&r, json!({"detail": INVALID_TOKEN_HEADER}));
    let r = call(
        &app,
        Method::POST,
        "/auth/users/reset_password/",
        Some("Bearer garbage"),
        Some(json!({"email": "ann@example.com"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // Good credentials are fine on public endpoints: a signed-in caller may
    // register someone.
    let r = call(&app, Method::POST, "/auth/users/", Some(&key), Some(body)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", text(&r));
    assert_eq!(user_count(&app).await, 2);
}

// ---------------------------------------------------------------------------
// Methods: DRF's 401-before-405 rule, OPTIONS and HEAD
// ---------------------------------------------------------------------------

async fn unsupported_methods_are_401_for_anonymous_and_405_for_users(app: TestApp) {
    register(&app, "ann").await;
    let key = token(&login_token(&app, "ann", PW).await);
    let id = app
        .db
        .scalar("SELECT CAST(id AS BIGINT) FROM auth_user")
        .await;
    let cases = [
        (
            Method::PUT,
            "/auth/users/".to_string(),
            "GET, POST, HEAD, OPTIONS",
        ),
        (
            Method::DELETE,
            "/auth/users/".into(),
            "GET, POST, HEAD, OPTIONS",
        ),
        (
            Method::GET,
            "/auth/users/activation/".into(),
            "POST, OPTIONS",
        ),
        (
            Method::GET,
            "/auth/users/set_password/".into(),
            "POST, OPTIONS",
        ),
        (
            Method::GET,
            "/auth/users/reset_password/".into(),
            "POST, OPTIONS",
        ),
        (Method::POST, "/auth/users/me/".into(), ALLOW_DETAIL),
        (Method::POST, format!("/auth/users/{id}/"), ALLOW_DETAIL),
        (Method::GET, "/auth/token/logout/".into(), "POST, OPTIONS"),
    ];
    for (method, path, allow) in cases {
        let anonymous = call(&app, method.clone(), &path, None, None).await;
        assert_401(&anonymous, json!({"detail": NOT_PROVIDED}));
        let r = call(&app, method.clone(), &path, Some(&key), None).await;
        assert_json(
            &r,
            StatusCode::METHOD_NOT_ALLOWED,
            json!({ "detail": format!("Method \"{method}\" not allowed.") }),
        );
        assert_eq!(r.header("allow"), Some(allow), "{method} {path}");
    }
    // Public views answer 405 straight away.
    for path in [
        "/auth/token/login/",
        "/auth/jwt/create/",
        "/auth/jwt/refresh/",
    ] {
        let r = call(&app, Method::GET, path, None, None).await;
        assert_json(
            &r,
            StatusCode::METHOD_NOT_ALLOWED,
            json!({"detail": "Method \"GET\" not allowed."}),
        );
        assert_eq!(r.header("allow"), Some("POST, OPTIONS"), "{path}");
    }
    // The 1.x `me/` has no DELETE.
    let r = call(
        &app,
        Method::DELETE,
        "/auth/me/",
        Some(&key),
        Some(json!({"current_password": PW})),
    )
    .await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED, "{}", text(&r));
    assert!(user_exists(&app, id).await);
}

async fn options_and_head_on_users_me_are_answered(app: TestApp) {
    let id = register(&app, "ann").await;
    let key = token(&login_token(&app, "ann", PW).await);
    // doorman: both are 500s in Djoser 2.3.5 (wire notes §9.1).
    let r = call(&app, Method::OPTIONS, "/auth/users/me/", Some(&key), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", text(&r));
    assert!(r.json()["name"].is_string(), "DRF metadata: {}", text(&r));
    assert_eq!(r.header("allow"), Some(ALLOW_DETAIL));
    let r = call(&app, Method::HEAD, "/auth/users/me/", Some(&key), None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.is_empty());
    let r = call(&app, Method::HEAD, "/auth/users/", Some(&key), None).await;
    assert_eq!(r.status, StatusCode::OK);
    let r = call(
        &app,
        Method::HEAD,
        &format!("/auth/users/{id}/"),
        Some(&key),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    for method in [Method::OPTIONS, Method::HEAD] {
        let r = call(&app, method.clone(), "/auth/users/me/", None, None).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "anonymous {method}");
    }
}

// ---------------------------------------------------------------------------
// The users/ resource
// ---------------------------------------------------------------------------

async fn user_list_follows_hide_users_and_staff(app: TestApp) {
    let backend = app.db.backend;
    let ann = register(&app, "ann").await;
    let bob = register(&app, "bob").await;
    let carol = register(&app, "carol").await;
    make_staff(&app, "carol").await;
    let everyone = json!([
        user_body(ann, "ann"),
        user_body(bob, "bob"),
        user_body(carol, "carol")
    ]);

    let r = get_as(
        &app,
        &token(&login_token(&app, "ann", PW).await),
        "/auth/users/",
    )
    .await;
    assert_json(&r, StatusCode::OK, json!([user_body(ann, "ann")]));
    assert_eq!(keys(&r.json()[0]), ["email", "id", "username"]);
    let r = get_as(
        &app,
        &token(&login_token(&app, "carol", PW).await),
        "/auth/users/",
    )
    .await;
    assert_json(&r, StatusCode::OK, everyone.clone());
    let r = call(&app, Method::GET, "/auth/users/", None, None).await;
    assert_401(&r, json!({"detail": NOT_PROVIDED}));

    drop(app);
    let app = crate::djoser_flows::app_on(backend, |s| s.djoser.hide_users = false).await;
    let ann = register(&app, "ann").await;
    let bob = register(&app, "bob").await;
    let carol = register(&app, "carol").await;
    let r = get_as(
        &app,
        &token(&login_token(&app, "ann", PW).await),
        "/auth/users/",
    )
    .await;
    assert_json(
        &r,
        StatusCode::OK,
        json!([
            user_body(ann, "ann"),
            user_body(bob, "bob"),
            user_body(carol, "carol")
        ]),
    );
}

async fn user_detail_hides_other_users_as_missing(app: TestApp) {
    let backend = app.db.backend;
    let ann = register(&app, "ann").await;
    let bob = register(&app, "bob").await;
    register(&app, "carol").await;
    make_staff(&app, "carol").await;
    let auth = token(&login_token(&app, "ann", PW).await);

    let r = get_as(&app, &auth, &format!("/auth/users/{ann}/")).await;
    assert_json(&r, StatusCode::OK, user_body(ann, "ann"));
    let hidden = get_as(&app, &auth, &format!("/auth/users/{bob}/")).await;
    let missing = get_as(&app, &auth, "/auth/users/999999/").await;
    let garbage = get_as(&app, &auth, "/auth/users/abc/").await;
    for r in [&hidden, &missing, &garbage] {
        assert_json(r, StatusCode::NOT_FOUND, json!({"detail": "Not found."}));
    }
    assert_eq!(
        hidden.body, missing.body,
        "doorman: no way to tell them apart"
    );
    // Writes are hidden alike and change nothing.
    let r = call(
        &app,
        Method::PATCH,
        &format!("/auth/users/{bob}/"),
        Some(&auth),
        Some(json!({"email": "taken@example.com"})),
    )
    .await;
    assert_json(&r, StatusCode::NOT_FOUND, json!({"detail": "Not found."}));
    let r = call(
        &app,
        Method::DELETE,
        &format!("/auth/users/{bob}/"),
        Some(&auth),
        Some(json!({"current_password": PW})),
    )
    .await;
    assert_json(&r, StatusCode::NOT_FOUND, json!({"detail": "Not found."}));
    assert!(user_exists(&app, bob).await);
    let email = app
        .db
        .text(&format!("SELECT email FROM auth_user WHERE id = {bob}"))
        .await;
    assert_eq!(email, "bob@example.com");

    let staff = token(&login_token(&app, "carol", PW).await);
    let r = get_as(&app, &staff, &format!("/auth/users/{bob}/")).await;
    assert_json(&r, StatusCode::OK, user_body(bob, "bob"));
    let r = call(
        &app,
        Method::GET,
        &format!("/auth/users/{ann}/"),
        None,
        None,
    )
    .await;
    assert_401(&r, json!({"detail": NOT_PROVIDED}));

    // Without hide_users, another user is forbidden rather than missing.
    drop(app);
    let app = crate::djoser_flows::app_on(backend, |s| s.djoser.hide_users = false).await;
    register(&app, "ann").await;
    let bob = register(&app, "bob").await;
    let auth = token(&login_token(&app, "ann", PW).await);
    let r = get_as(&app, &auth, &format!("/auth/users/{bob}/")).await;
    assert_json(
        &r,
        StatusCode::FORBIDDEN,
        json!({ "detail": PERMISSION_DENIED }),
    );
    let r = get_as(&app, &auth, "/auth/users/999999/").await;
    assert_json(&r, StatusCode::NOT_FOUND, json!({"detail": "Not found."}));
}

async fn users_update_their_own_fields_only(app: TestApp) {
    let ann = register(&app, "ann").await;
    register(&app, "bob").await;
    let auth = token(&login_token(&app, "ann", PW).await);

    let r = call(
        &app,
        Method::PATCH,
        "/auth/users/me/",
        Some(&auth),
        Some(json!({"email": "ann.new@Example.COM", "username": "hacker", "is_staff": true})),
    )
    .await;
    assert_json(
        &r,
        StatusCode::OK,
        json!({"email": "ann.new@example.com", "id": ann, "username": "ann"}),
    );
    assert_eq!(keys(&r.json()), ["email", "id", "username"]);
    let row = app
        .db
        .scalar(&format!(
            "SELECT COUNT(*) FROM auth_user WHERE id = {ann} AND username = 'ann' \
             AND email = 'ann.new@example.com' AND NOT is_staff"
        ))
        .await;
    assert_eq!(row, 1, "login field read-only, is_staff ignored");

    let r = call(
        &app,
        Method::PUT,
        &format!("/auth/users/{ann}/"),
        Some(&auth),
        Some(json!({})),
    )
    .await;
    assert_json(
        &r,
        StatusCode::OK,
        json!({"email": "ann.new@example.com", "id": ann, "username": "ann"}),
    );
    for (email, error) in [("bad", BAD_EMAIL), ("BOB@example.com", EMAIL_TAKEN)] {
        let r = call(
            &app,
            Method::PATCH,
            "/auth/users/me/",
            Some(&auth),
            Some(json!({ "email": email })),
        )
        .await;
        assert_json(&r, StatusCode::BAD_REQUEST, json!({ "email": [error] }));
    }
    // The caller's own address in another case is not "taken".
    let r = call(
        &app,
        Method::PUT,
        "/auth/users/me/",
        Some(&auth),
        Some(json!({"email": "ANN.NEW@example.com"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", text(&r));
    let r = call(
        &app,
        Method::PATCH,
        "/auth/me/",
        Some(&auth),
        Some(json!({"email": ""})),
    )
    .await;
    assert_json(
        &r,
        StatusCode::OK,
        json!({"email": "", "id": ann, "username": "ann"}),
    );
    let r = get_as(&app, &auth, "/auth/me/").await;
    assert_json(
        &r,
        StatusCode::OK,
        json!({"email": "", "id": ann, "username": "ann"}),
    );
    let r = call(
        &app,
        Method::PATCH,
        "/auth/users/me/",
        None,
        Some(json!({"email": "x@example.com"})),
    )
    .await;
    assert_401(&r, json!({"detail": NOT_PROVIDED}));
}

async fn changing_the_email_with_activation_on_deactivates_and_mails_the_new_address(app: TestApp) {
    let (app, sink) = app_with_mail(app, |s| s.djoser.send_activation_email = true).await;
    let id = register(&app, "ann").await;
    let (uid, tok) = link_in(&delivered(&app, &sink).await[0], "#/activate/");
    assert_no_content(
        &post(
            &app,
            "/auth/users/activation/",
            json!({"uid": uid, "token": tok}),
        )
        .await,
    );
    let key = token(&login_token(&app, "ann", PW).await);
    let (_, access) = login_jwt(&app, "ann", PW).await;

    // The same address: nothing happens.
    let r = call(
        &app,
        Method::PATCH,
        "/auth/users/me/",
        Some(&key),
        Some(json!({"email": "ann@example.com"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", text(&r));
    assert!(is_active(&app, "ann").await);
    assert_eq!(delivered(&app, &sink).await.len(), 1);

    let r = call(
        &app,
        Method::PATCH,
        "/auth/users/me/",
        Some(&key),
        Some(json!({"email": "ann.new@example.com"})),
    )
    .await;
    assert_json(
        &r,
        StatusCode::OK,
        json!({"email": "ann.new@example.com", "id": id, "username": "ann"}),
    );
    assert!(
        !is_active(&app, "ann").await,
        "deactivated until the new address is confirmed"
    );
    let r = get_as(&app, &key, "/auth/users/me/").await;
    assert_401(&r, json!({"detail": "User inactive or deleted."}));
    let r = get_as(&app, &bearer(&access), "/auth/users/me/").await;
    assert_401(
        &r,
        json!({"detail": "User is inactive", "code": "user_inactive"}),
    );
    assert_eq!(login_status(&app, "ann", PW).await, StatusCode::BAD_REQUEST);

    let mails = delivered(&app, &sink).await;
    assert_eq!(mails.len(), 2, "{mails:?}");
    assert_eq!(mails[1].to, "<ann.new@example.com>");
    assert_eq!(mails[1].subject, "Activate your account on Example");
    let (uid, tok) = link_in(&mails[1], "#/activate/");
    assert_no_content(
        &post(
            &app,
            "/auth/users/activation/",
            json!({"uid": uid, "token": tok}),
        )
        .await,
    );
    assert!(is_active(&app, "ann").await);
    assert_eq!(
        me_status(&app, &key).await,
        StatusCode::OK,
        "the token works again"
    );
}

async fn deleting_an_account_needs_the_current_password(app: TestApp) {
    let ann = register(&app, "ann").await;
    let bob = register(&app, "bob").await;
    let carol = register(&app, "carol").await;
    let key = token(&login_token(&app, "ann", PW).await);
    let (_, access) = login_jwt(&app, "ann", PW).await;

    let r = call(
        &app,
        Method::DELETE,
        "/auth/users/me/",
        Some(&key),
        Some(json!({})),
    )
    .await;
    assert_json(
        &r,
        StatusCode::BAD_REQUEST,
        json!({"current_password": [REQUIRED]}),
    );
    let r = call(
        &app,
        Method::DELETE,
        "/auth/users/me/",
        Some(&key),
        Some(json!({"current_password": "wrong-password-1"})),
    )
    .await;
    assert_json(
        &r,
        StatusCode::BAD_REQUEST,
        json!({"current_password": [INVALID_PASSWORD]}),
    );
    let r = call(
        &app,
        Method::DELETE,
        "/auth/users/me/",
        None,
        Some(json!({"current_password": PW})),
    )
    .await;
    assert_401(&r, json!({"detail": NOT_PROVIDED}));
    assert!(user_exists(&app, ann).await);

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
    assert_eq!(token_rows(&app, ann).await, 0, "its tokens went with it");
    let r = get_as(&app, &key, "/auth/users/me/").await;
    assert_401(&r, json!({"detail": INVALID_TOKEN_HEADER}));
    assert_eq!(
        me_status(&app, &bearer(&access)).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(login_status(&app, "ann", PW).await, StatusCode::BAD_REQUEST);

    // The 1.x `POST users/delete/`, and DELETE on one's own id.
    let bob_key = token(&login_token(&app, "bob", PW).await);
    let r = post_as(
        &app,
        &bob_key,
        "/auth/users/delete/",
        json!({"current_password": PW}),
    )
    .await;
    assert_no_content(&r);
    assert!(!user_exists(&app, bob).await);
    let carol_key = token(&login_token(&app, "carol", PW).await);
    let r = call(
        &app,
        Method::DELETE,
        &format!("/auth/users/{carol}/"),
        Some(&carol_key),
        Some(json!({"current_password": PW})),
    )
    .await;
    assert_no_content(&r);
    assert_eq!(user_count(&app).await, 0);
}

async fn staff_delete_other_users_with_their_own_password(app: TestApp) {
    let ann = register(&app, "ann").await;
    let carol = register(&app, "carol").await;
    make_staff(&app, "carol").await;
    let ann_key = token(&login_token(&app, "ann", PW).await);
    let staff = token(&login_token(&app, "carol", PW).await);
    let path = format!("/auth/users/{ann}/");
    let r = call(
        &app,
        Method::DELETE,
        &path,
        Some(&staff),
        Some(json!({"current_password": "wrong-password-1"})),
    )
    .await;
    assert_json(
        &r,
        StatusCode::BAD_REQUEST,
        json!({"current_password": [INVALID_PASSWORD]}),
    );
    assert!(user_exists(&app, ann).await);
    let r = call(
        &app,
        Method::DELETE,
        &path,
        Some(&staff),
        Some(json!({"current_password": PW})),
    )
    .await;
    assert_no_content(&r);
    assert!(!user_exists(&app, ann).await);
    assert!(user_exists(&app, carol).await);
    assert_eq!(me_status(&app, &ann_key).await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        me_status(&app, &staff).await,
        StatusCode::OK,
        "the caller stays signed in"
    );
    let r = call(
        &app,
        Method::DELETE,
        &path,
        Some(&staff),
        Some(json!({"current_password": PW})),
    )
    .await;
    assert_json(&r, StatusCode::NOT_FOUND, json!({"detail": "Not found."}));
}
