//! The `users/` resource: the list and one user under `hide_users` and
//! staff, updating one's own fields (a new email with activation on
//! deactivates and mails the new address), and deleting an account with the
//! current password, one's own or a staff member's.

use axum::http::{Method, StatusCode};
use serde_json::json;

use super::{
    BAD_EMAIL, EMAIL_TAKEN, INVALID_PASSWORD, INVALID_TOKEN_HEADER, NOT_PROVIDED, REQUIRED,
    app_with_mail, assert_401, assert_no_content, bearer, delivered, get_as, is_active, link_in,
    login_jwt, login_status, me_status, post_as, set_flag, token_rows, user_body, user_count,
    user_exists,
};
use crate::{
    on_both_backends,
    support::{
        TestApp,
        accounts::{login_token, register},
        apps::app_on,
        client::{assert_json, call, keys, post, text, token},
        people::PW,
    },
};

on_both_backends!(
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

const PERMISSION_DENIED: &str = "You do not have permission to perform this action.";

async fn make_staff(app: &TestApp, username: &str) {
    set_flag(app, username, "is_staff", true).await;
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
    let app = app_on(backend, |s| s.djoser.hide_users = false).await;
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
    let app = app_on(backend, |s| s.djoser.hide_users = false).await;
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
