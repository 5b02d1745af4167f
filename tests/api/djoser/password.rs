//! The password: changing it at `users/set_password/` (current password
//! first, `re_new_password`, revoking the other sessions or, with
//! `logout_on_password_change`, all of them, the changed mail) and resetting
//! it through a real mail at `users/reset_password/` and
//! `users/reset_password_confirm/` (single use, silent for unknown addresses,
//! errors in Djoser's order).

use axum::http::StatusCode;
use serde_json::json;

use super::{
    BAD_EMAIL, EMAIL_NOT_FOUND, INVALID_CREDENTIALS, INVALID_PASSWORD, INVALID_TOKEN, INVALID_UID,
    NEW_PW, NOT_PROVIDED, NUMERIC, PASSWORD_MISMATCH, REQUIRED, SIMILAR_USERNAME, TOO_COMMON,
    TOO_SHORT, app_with_mail, assert_no_content, bearer, delivered, get_as, link_in, login_jwt,
    login_status, mail_app_on, me_status, post_as, refresh_status, set_flag, token_rows, uid_of,
};
use crate::{
    on_both_backends,
    support::{
        TestApp,
        accounts::{login_token, register},
        apps::app_with,
        client::{assert_json, keys, post, text, token},
        people::PW,
    },
};

on_both_backends!(
    set_password_checks_the_current_password_before_strength,
    set_password_changes_it_and_revokes_the_other_sessions,
    set_password_retype_is_required_and_compared,
    logout_on_password_change_revokes_the_callers_token_too,
    password_changed_mail_is_sent_and_the_1x_alias_works,
    password_reset_through_a_real_mail_is_single_use_and_revokes_sessions,
    password_reset_is_silent_for_unknown_addresses_and_ignores_case,
    reset_password_confirm_reports_in_djoser_order,
    password_reset_aliases_work,
);

// ---------------------------------------------------------------------------
// Changing the password: POST users/set_password/
// ---------------------------------------------------------------------------

async fn set_password_checks_the_current_password_before_strength(app: TestApp) {
    register(&app, "ann").await;
    let auth = token(&login_token(&app, "ann", PW).await);
    let path = "/auth/users/set_password/";

    let r = post(
        &app,
        path,
        json!({"current_password": PW, "new_password": NEW_PW}),
    )
    .await;
    assert_json(
        &r,
        StatusCode::UNAUTHORIZED,
        json!({"detail": NOT_PROVIDED}),
    );
    let r = post_as(&app, &auth, path, json!({})).await;
    assert_json(
        &r,
        StatusCode::BAD_REQUEST,
        json!({"new_password": [REQUIRED], "current_password": [REQUIRED]}),
    );
    // A wrong current password hides the weak new one (field vs object phase).
    let r = post_as(
        &app,
        &auth,
        path,
        json!({"current_password": "wrong", "new_password": "1"}),
    )
    .await;
    assert_json(
        &r,
        StatusCode::BAD_REQUEST,
        json!({"current_password": [INVALID_PASSWORD]}),
    );
    let r = post_as(
        &app,
        &auth,
        path,
        json!({"current_password": PW, "new_password": "ann"}),
    )
    .await;
    assert_json(
        &r,
        StatusCode::BAD_REQUEST,
        json!({"new_password": [SIMILAR_USERNAME, TOO_SHORT, TOO_COMMON]}),
    );
    assert_eq!(
        login_status(&app, "ann", PW).await,
        StatusCode::OK,
        "unchanged"
    );
    assert_eq!(me_status(&app, &auth).await, StatusCode::OK);
}

async fn set_password_changes_it_and_revokes_the_other_sessions(app: TestApp) {
    let id = register(&app, "ann").await;
    let mine = token(&login_token(&app, "ann", PW).await);
    let other = token(&login_token(&app, "ann", PW).await);
    let (refresh, access) = login_jwt(&app, "ann", PW).await;
    let bob_id = register(&app, "bob").await;
    let bob = token(&login_token(&app, "bob", PW).await);
    assert_eq!(me_status(&app, &bearer(&access)).await, StatusCode::OK);

    let r = post_as(
        &app,
        &mine,
        "/auth/users/set_password/",
        json!({"current_password": PW, "new_password": NEW_PW}),
    )
    .await;
    assert_no_content(&r);

    let r = post(
        &app,
        "/auth/token/login/",
        json!({"username": "ann", "password": PW}),
    )
    .await;
    assert_json(
        &r,
        StatusCode::BAD_REQUEST,
        json!({"non_field_errors": [INVALID_CREDENTIALS]}),
    );
    login_token(&app, "ann", NEW_PW).await;
    // The caller's own token survives; the others do not (doorman).
    assert_eq!(me_status(&app, &mine).await, StatusCode::OK);
    let r = get_as(&app, &other, "/auth/users/me/").await;
    assert_json(
        &r,
        StatusCode::UNAUTHORIZED,
        json!({"detail": "Invalid token."}),
    );
    assert_eq!(
        me_status(&app, &bearer(&access)).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        refresh_status(&app, &refresh).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(token_rows(&app, id).await, 2, "own token and the new login");
    // JWTs issued afterwards work; other users are untouched.
    let (refresh, access) = login_jwt(&app, "ann", NEW_PW).await;
    assert_eq!(me_status(&app, &bearer(&access)).await, StatusCode::OK);
    assert_eq!(refresh_status(&app, &refresh).await, StatusCode::OK);
    assert_eq!(me_status(&app, &bob).await, StatusCode::OK);
    assert_eq!(token_rows(&app, bob_id).await, 1);
}

async fn set_password_retype_is_required_and_compared(app: TestApp) {
    let app = app_with(app, |s| s.djoser.set_password_retype = true).await;
    register(&app, "ann").await;
    let auth = token(&login_token(&app, "ann", PW).await);
    let path = "/auth/users/set_password/";
    let r = post_as(
        &app,
        &auth,
        path,
        json!({"current_password": PW, "new_password": NEW_PW}),
    )
    .await;
    assert_json(
        &r,
        StatusCode::BAD_REQUEST,
        json!({"re_new_password": [REQUIRED]}),
    );
    let r = post_as(
        &app,
        &auth,
        path,
        json!({"current_password": PW, "new_password": NEW_PW, "re_new_password": PW}),
    )
    .await;
    assert_json(
        &r,
        StatusCode::BAD_REQUEST,
        json!({"non_field_errors": [PASSWORD_MISMATCH]}),
    );
    // Strength comes before the mismatch.
    let r = post_as(
        &app,
        &auth,
        path,
        json!({"current_password": PW, "new_password": "1234567", "re_new_password": PW}),
    )
    .await;
    assert_json(
        &r,
        StatusCode::BAD_REQUEST,
        json!({"new_password": [TOO_SHORT, TOO_COMMON, NUMERIC]}),
    );
    assert_eq!(login_status(&app, "ann", PW).await, StatusCode::OK);
    let r = post_as(
        &app,
        &auth,
        path,
        json!({"current_password": PW, "new_password": NEW_PW, "re_new_password": NEW_PW}),
    )
    .await;
    assert_no_content(&r);
    assert_eq!(login_status(&app, "ann", NEW_PW).await, StatusCode::OK);
}

async fn logout_on_password_change_revokes_the_callers_token_too(app: TestApp) {
    let app = app_with(app, |s| s.djoser.logout_on_password_change = true).await;
    let id = register(&app, "ann").await;
    let mine = token(&login_token(&app, "ann", PW).await);
    let other = token(&login_token(&app, "ann", PW).await);
    let r = post_as(
        &app,
        &mine,
        "/auth/users/set_password/",
        json!({"current_password": PW, "new_password": NEW_PW}),
    )
    .await;
    assert_no_content(&r);
    assert_eq!(me_status(&app, &mine).await, StatusCode::UNAUTHORIZED);
    assert_eq!(me_status(&app, &other).await, StatusCode::UNAUTHORIZED);
    assert_eq!(token_rows(&app, id).await, 0);
    login_token(&app, "ann", NEW_PW).await;
}

async fn password_changed_mail_is_sent_and_the_1x_alias_works(app: TestApp) {
    let (app, sink) = app_with_mail(app, |s| {
        s.djoser.password_changed_email_confirmation = true;
    })
    .await;
    register(&app, "ann").await;
    let auth = token(&login_token(&app, "ann", PW).await);
    assert!(delivered(&app, &sink).await.is_empty());
    let r = post_as(
        &app,
        &auth,
        "/auth/users/set_password/",
        json!({"current_password": PW, "new_password": NEW_PW}),
    )
    .await;
    assert_no_content(&r);
    let mails = delivered(&app, &sink).await;
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].to, "<ann@example.com>");
    assert_eq!(mails[0].subject, "Your password on Example was changed");

    // A failed change sends nothing.
    let r = post_as(
        &app,
        &auth,
        "/auth/password/",
        json!({"current_password": PW, "new_password": "third-Good-phrase-88"}),
    )
    .await;
    assert_json(
        &r,
        StatusCode::BAD_REQUEST,
        json!({"current_password": [INVALID_PASSWORD]}),
    );
    assert_eq!(delivered(&app, &sink).await.len(), 1);
    let r = post_as(
        &app,
        &auth,
        "/auth/password/",
        json!({"current_password": NEW_PW, "new_password": "third-Good-phrase-88"}),
    )
    .await;
    assert_no_content(&r);
    assert_eq!(delivered(&app, &sink).await.len(), 2);
    assert_eq!(
        login_status(&app, "ann", "third-Good-phrase-88").await,
        StatusCode::OK
    );
}

// ---------------------------------------------------------------------------
// Resetting the password: users/reset_password/ + reset_password_confirm/
// ---------------------------------------------------------------------------

async fn password_reset_through_a_real_mail_is_single_use_and_revokes_sessions(app: TestApp) {
    let (app, sink) = app_with_mail(app, |_| {}).await;
    let id = register(&app, "ann").await;
    let old_token = token(&login_token(&app, "ann", PW).await);
    let (old_refresh, old_access) = login_jwt(&app, "ann", PW).await;

    let r = post(
        &app,
        "/auth/users/reset_password/",
        json!({"email": "ann@example.com"}),
    )
    .await;
    assert_no_content(&r);
    let mails = delivered(&app, &sink).await;
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].to, "<ann@example.com>");
    assert_eq!(mails[0].subject, "Reset your password on Example");
    assert!(mails[0].text.contains("ann"), "names the username");
    let (uid, tok) = link_in(&mails[0], "#/password/reset/confirm/");
    assert_eq!(uid, uid_of(id));

    let confirm = json!({"uid": uid, "token": tok, "new_password": NEW_PW});
    let r = post(&app, "/auth/users/reset_password_confirm/", confirm.clone()).await;
    assert_no_content(&r);
    assert_eq!(login_status(&app, "ann", PW).await, StatusCode::BAD_REQUEST);
    let fresh = token(&login_token(&app, "ann", NEW_PW).await);

    // Single use.
    let r = post(&app, "/auth/users/reset_password_confirm/", confirm).await;
    assert_json(
        &r,
        StatusCode::BAD_REQUEST,
        json!({"token": [INVALID_TOKEN]}),
    );
    // doorman: every earlier session is gone.
    assert_eq!(me_status(&app, &old_token).await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        me_status(&app, &bearer(&old_access)).await,
        StatusCode::UNAUTHORIZED
    );
    let r = post(&app, "/auth/jwt/refresh/", json!({"refresh": old_refresh})).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", text(&r));
    assert_eq!(r.json()["code"], "token_not_valid");
    assert_eq!(me_status(&app, &fresh).await, StatusCode::OK);
    assert_eq!(token_rows(&app, id).await, 1);
    assert_eq!(
        delivered(&app, &sink).await.len(),
        1,
        "no password-changed mail unless asked for"
    );
}

async fn password_reset_is_silent_for_unknown_addresses_and_ignores_case(app: TestApp) {
    let backend = app.db.backend;
    let (app, sink) = app_with_mail(app, |_| {}).await;
    register(&app, "ann").await;
    register(&app, "idle").await;
    set_flag(&app, "idle", "is_active", false).await;
    register(&app, "nopw").await;
    app.db
        .execute("UPDATE auth_user SET password = '!unusable' WHERE username = 'nopw'")
        .await;
    for email in ["nobody@example.com", "idle@example.com", "nopw@example.com"] {
        let r = post(
            &app,
            "/auth/users/reset_password/",
            json!({ "email": email }),
        )
        .await;
        assert_no_content(&r);
    }
    assert!(
        delivered(&app, &sink).await.is_empty(),
        "no mail for unknown, inactive or password-less accounts"
    );
    let r = post(&app, "/auth/users/reset_password/", json!({"email": "x"})).await;
    assert_json(&r, StatusCode::BAD_REQUEST, json!({"email": [BAD_EMAIL]}));

    // doorman: the address matches ignoring case (Djoser: exact match).
    let r = post(
        &app,
        "/auth/users/reset_password/",
        json!({"email": "ANN@EXAMPLE.COM"}),
    )
    .await;
    assert_no_content(&r);
    let mails = delivered(&app, &sink).await;
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].to, "<ann@example.com>");
    let (uid, tok) = link_in(&mails[0], "#/password/reset/confirm/");
    assert_no_content(
        &post(
            &app,
            "/auth/users/reset_password_confirm/",
            json!({"uid": uid, "token": tok, "new_password": NEW_PW}),
        )
        .await,
    );
    assert_eq!(login_status(&app, "ann", NEW_PW).await, StatusCode::OK);

    // With the flag, unknown addresses are told apart (a bare list).
    drop(app);
    let (app, sink) = mail_app_on(backend, |s| {
        s.djoser.password_reset_show_email_not_found = true;
    })
    .await;
    register(&app, "ann").await;
    let r = post(
        &app,
        "/auth/users/reset_password/",
        json!({"email": "nobody@example.com"}),
    )
    .await;
    assert_json(&r, StatusCode::BAD_REQUEST, json!([EMAIL_NOT_FOUND]));
    assert!(delivered(&app, &sink).await.is_empty());
}

async fn reset_password_confirm_reports_in_djoser_order(app: TestApp) {
    let (app, sink) = app_with_mail(app, |s| s.djoser.password_reset_confirm_retype = true).await;
    let id = register(&app, "ann").await;
    assert_no_content(
        &post(
            &app,
            "/auth/users/reset_password/",
            json!({"email": "ann@example.com"}),
        )
        .await,
    );
    let (uid, tok) = link_in(
        &delivered(&app, &sink).await[0],
        "#/password/reset/confirm/",
    );
    let path = "/auth/users/reset_password_confirm/";

    let r = post(&app, path, json!({})).await;
    assert_json(
        &r,
        StatusCode::BAD_REQUEST,
        json!({"uid": [REQUIRED], "token": [REQUIRED], "new_password": [REQUIRED], "re_new_password": [REQUIRED]}),
    );
    // Password strength, then the retype, then the uid, then the token.
    let r = post(
        &app,
        path,
        json!({"uid": "zz", "token": "x", "new_password": "1", "re_new_password": "2"}),
    )
    .await;
    assert_json(
        &r,
        StatusCode::BAD_REQUEST,
        json!({"new_password": [TOO_SHORT, TOO_COMMON, NUMERIC]}),
    );
    let r = post(
        &app,
        path,
        json!({"uid": "zz", "token": "x", "new_password": NEW_PW, "re_new_password": PW}),
    )
    .await;
    assert_json(
        &r,
        StatusCode::BAD_REQUEST,
        json!({"non_field_errors": [PASSWORD_MISMATCH]}),
    );
    let r = post(
        &app,
        path,
        json!({"uid": "zz", "token": "x", "new_password": NEW_PW, "re_new_password": NEW_PW}),
    )
    .await;
    assert_json(&r, StatusCode::BAD_REQUEST, json!({"uid": [INVALID_UID]}));
    let r = post(
        &app,
        path,
        json!({"uid": id, "token": tok, "new_password": NEW_PW, "re_new_password": NEW_PW}),
    )
    .await;
    assert_json(&r, StatusCode::BAD_REQUEST, json!({"uid": [INVALID_UID]}));
    let r = post(
        &app,
        path,
        json!({"uid": uid, "token": "x", "new_password": NEW_PW, "re_new_password": NEW_PW}),
    )
    .await;
    assert_json(
        &r,
        StatusCode::BAD_REQUEST,
        json!({"token": [INVALID_TOKEN]}),
    );
    // doorman: the similarity check sees the user the link names (Djoser
    // checks against the anonymous user, wire notes §9.9).
    let r = post(
        &app,
        path,
        json!({"uid": uid, "token": tok, "new_password": "ann@example.com", "re_new_password": "ann@example.com"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", text(&r));
    assert_eq!(keys(&r.json()), ["new_password"]);
    assert_eq!(
        login_status(&app, "ann", PW).await,
        StatusCode::OK,
        "unchanged"
    );
}

async fn password_reset_aliases_work(app: TestApp) {
    let (app, sink) = app_with_mail(app, |_| {}).await;
    register(&app, "ann").await;
    assert_no_content(
        &post(
            &app,
            "/auth/password/reset/",
            json!({"email": "ann@example.com"}),
        )
        .await,
    );
    let mails = delivered(&app, &sink).await;
    assert_eq!(mails.len(), 1);
    let (uid, tok) = link_in(&mails[0], "#/password/reset/confirm/");
    let r = post(
        &app,
        "/auth/password/reset/confirm/",
        json!({"uid": uid, "token": tok, "new_password": NEW_PW}),
    )
    .await;
    assert_no_content(&r);
    assert_eq!(login_status(&app, "ann", NEW_PW).await, StatusCode::OK);

    // A link dies when the user logs in after it was sent (last_login is
    // part of Django's token, to the second: start from "never").
    app.db
        .execute("UPDATE auth_user SET last_login = NULL")
        .await;
    assert_no_content(
        &post(
            &app,
            "/auth/password/reset/",
            json!({"email": "ann@example.com"}),
        )
        .await,
    );
    let mails = delivered(&app, &sink).await;
    assert_eq!(mails.len(), 2);
    let (uid, tok) = link_in(&mails[1], "#/password/reset/confirm/");
    login_token(&app, "ann", NEW_PW).await;
    let r = post(
        &app,
        "/auth/password/reset/confirm/",
        json!({"uid": uid, "token": tok, "new_password": PW}),
    )
    .await;
    assert_json(
        &r,
        StatusCode::BAD_REQUEST,
        json!({"token": [INVALID_TOKEN]}),
    );
    assert_eq!(login_status(&app, "ann", NEW_PW).await, StatusCode::OK);
}
