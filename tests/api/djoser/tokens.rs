//! Opaque tokens: `token/login/` (a new key per login, Djoser-shaped errors),
//! `token/logout/` (only the presented token, or every opaque token when
//! called with a JWT) and doorman's `token/logout_all/`.

use axum::http::{Method, StatusCode};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::{
    ALLOW_DETAIL, INVALID_CREDENTIALS, INVALID_TOKEN_HEADER, NOT_PROVIDED, NULL, assert_401,
    assert_no_content, bearer, get_as, login_jwt, me_status, refresh_status, set_flag,
    token_not_valid, token_rows, user_body,
};
use crate::{
    on_both_backends,
    support::{
        TestApp,
        accounts::{login_token, register},
        client::{assert_json, call, keys, post, text, token},
        people::PW,
    },
};

on_both_backends!(
    token_login_gives_a_new_key_per_login_and_each_works,
    token_login_errors_are_djoser_shaped,
    token_logout_revokes_only_the_presented_token,
    logout_all_revokes_every_token_and_jwt,
    logout_all_is_exact_however_close_the_logins,
    token_logout_with_a_jwt_deletes_every_opaque_token,
    jwt_users_are_cached_and_writes_here_clear_the_cache,
    without_the_cache_an_outside_write_is_seen_at_once,
);

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
// The user cache behind JWT authentication (database.user_cache_ttl_ms)
// ---------------------------------------------------------------------------

async fn jwt_users_are_cached_and_writes_here_clear_the_cache(app: TestApp) {
    // A long lifetime, so that what is cached is still fresh when checked.
    let app =
        TestApp::with_settings(app.db.backend, |s| s.database.user_cache_ttl_ms = 600_000).await;
    register(&app, "ann").await;
    let (_, access) = login_jwt(&app, "ann", PW).await;
    let auth = bearer(&access);
    assert_eq!(me_status(&app, &auth).await, StatusCode::OK);

    // A write by someone else (Django, another node) is not seen while the
    // entry is fresh: that is the documented bound.
    set_flag(&app, "ann", "is_active", false).await;
    assert_eq!(me_status(&app, &auth).await, StatusCode::OK);

    // A write through doorman clears the cache at once, so the next request
    // reads the row again and sees both changes.
    let r = call(
        &app,
        Method::PATCH,
        "/auth/users/me/",
        Some(&auth),
        Some(json!({"email": "ann.new@example.com"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", text(&r));
    let r = get_as(&app, &auth, "/auth/users/me/").await;
    assert_401(
        &r,
        json!({"detail": "User is inactive", "code": "user_inactive"}),
    );

    // Revocation through doorman is immediate even with a fresh entry.
    register(&app, "bob").await;
    let bob = token(&login_token(&app, "bob", PW).await);
    let (_, bob_access) = login_jwt(&app, "bob", PW).await;
    let bob_jwt = bearer(&bob_access);
    assert_eq!(me_status(&app, &bob_jwt).await, StatusCode::OK);
    let r = call(
        &app,
        Method::POST,
        "/auth/token/logout_all/",
        Some(&bob),
        None,
    )
    .await;
    assert_no_content(&r);
    assert_eq!(me_status(&app, &bob_jwt).await, StatusCode::UNAUTHORIZED);
}

async fn without_the_cache_an_outside_write_is_seen_at_once(app: TestApp) {
    let app = TestApp::with_settings(app.db.backend, |s| s.database.user_cache_ttl_ms = 0).await;
    register(&app, "ann").await;
    let (_, access) = login_jwt(&app, "ann", PW).await;
    let auth = bearer(&access);
    assert_eq!(me_status(&app, &auth).await, StatusCode::OK);
    set_flag(&app, "ann", "is_active", false).await;
    assert_eq!(me_status(&app, &auth).await, StatusCode::UNAUTHORIZED);
}

/// A JWT issued just before `logout_all` (often in the same millisecond
/// here) is revoked; one issued just after it is valid. Repeated, because a
/// tie within one millisecond is what once let a token through.
async fn logout_all_is_exact_however_close_the_logins(app: TestApp) {
    register(&app, "ann").await;
    for round in 0..15 {
        let (_, before) = login_jwt(&app, "ann", PW).await;
        let r = call(
            &app,
            Method::POST,
            "/auth/token/logout_all/",
            Some(&bearer(&before)),
            None,
        )
        .await;
        assert_no_content(&r);
        let (_, after) = login_jwt(&app, "ann", PW).await;
        assert_eq!(
            me_status(&app, &bearer(&before)).await,
            StatusCode::UNAUTHORIZED,
            "round {round}: issued before"
        );
        assert_eq!(
            me_status(&app, &bearer(&after)).await,
            StatusCode::OK,
            "round {round}: issued after"
        );
    }
}
