//! Activation at `users/activation/`, driven by the real mail delivered to an
//! SMTP sink (the link goes stale once used), the confirmation mail, the
//! aliases, and resending the activation mail at `users/resend_activation/`.

use axum::http::StatusCode;
use serde_json::json;

use super::{
    BAD_EMAIL, BLANK, EMAIL_NOT_FOUND, INVALID_CREDENTIALS, INVALID_TOKEN, INVALID_UID, NULL,
    REQUIRED, STALE_TOKEN, app_with_mail, assert_no_content, delivered, is_active, link_in,
    mail_app_on, set_flag, uid_of,
};
use crate::{
    on_both_backends,
    support::{
        TestApp,
        accounts::{login_token, register},
        client::{assert_json, post, text},
        people::PW,
        smtp::SmtpSink,
    },
};

on_both_backends!(
    activation_through_a_real_mail_then_the_link_is_stale,
    activation_errors_name_the_uid_or_the_token,
    confirmation_mail_follows_activation_or_registration,
    activation_aliases_activate_too,
    resend_activation_mails_inactive_accounts_only,
    resend_activation_is_a_bare_400_when_activation_mails_are_off,
    resend_activation_can_say_the_address_is_unknown,
);

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// Registers with activation mails on, delivers the mail; `(id, uid, token)`.
async fn register_and_read_activation(
    app: &TestApp,
    sink: &SmtpSink,
    username: &str,
) -> (i64, String, String) {
    let id = register(app, username).await;
    let mails = delivered(app, sink).await;
    let mail = mails
        .iter()
        .rev()
        .find(|m| m.to == format!("<{username}@example.com>"))
        .expect("an activation mail");
    let (uid, tok) = link_in(mail, "#/activate/");
    (id, uid, tok)
}

// ---------------------------------------------------------------------------
// Activation: POST users/activation/ (through the mail)
// ---------------------------------------------------------------------------

async fn activation_through_a_real_mail_then_the_link_is_stale(app: TestApp) {
    let (app, sink) = app_with_mail(app, |s| s.djoser.send_activation_email = true).await;
    let id = register(&app, "ann").await;
    assert!(!is_active(&app, "ann").await, "inactive until activated");
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

    let mails = delivered(&app, &sink).await;
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert_eq!(mails[0].to, "<ann@example.com>");
    assert_eq!(mails[0].subject, "Activate your account on Example");
    let (uid, tok) = link_in(&mails[0], "#/activate/");
    assert_eq!(uid, uid_of(id), "uid = base64url of the id");
    assert!(
        tok.split_once('-').is_some_and(|(ts, h)| !ts.is_empty()
            && h.len() == 32
            && h.bytes().all(|b| b.is_ascii_hexdigit())),
        "Django token shape: {tok}"
    );

    let r = post(
        &app,
        "/auth/users/activation/",
        json!({"uid": uid, "token": tok}),
    )
    .await;
    assert_no_content(&r);
    assert!(is_active(&app, "ann").await);

    // The same link again: the account is already active. (A login would
    // touch last_login and make the link invalid instead, as in Django.)
    let r = post(
        &app,
        "/auth/users/activation/",
        json!({"uid": uid, "token": tok}),
    )
    .await;
    assert_json(&r, StatusCode::FORBIDDEN, json!({"detail": STALE_TOKEN}));
    login_token(&app, "ann", PW).await;
    let r = post(
        &app,
        "/auth/users/activation/",
        json!({"uid": uid, "token": tok}),
    )
    .await;
    assert_json(
        &r,
        StatusCode::BAD_REQUEST,
        json!({"token": [INVALID_TOKEN]}),
    );
    assert_eq!(
        delivered(&app, &sink).await.len(),
        1,
        "no confirmation mail unless asked for"
    );
}

async fn activation_errors_name_the_uid_or_the_token(app: TestApp) {
    let (app, sink) = app_with_mail(app, |s| s.djoser.send_activation_email = true).await;
    let (id, uid, tok) = register_and_read_activation(&app, &sink, "ann").await;
    let path = "/auth/users/activation/";

    let r = post(&app, path, json!({})).await;
    assert_json(
        &r,
        StatusCode::BAD_REQUEST,
        json!({"uid": [REQUIRED], "token": [REQUIRED]}),
    );
    let r = post(&app, path, json!({"uid": "", "token": null})).await;
    assert_json(
        &r,
        StatusCode::BAD_REQUEST,
        json!({"uid": [BLANK], "token": [NULL]}),
    );
    for bad_uid in ["%%%", "!", &uid_of(id + 100), &uid_of(-1), "YWJj"] {
        let r = post(&app, path, json!({"uid": bad_uid, "token": tok})).await;
        assert_json(&r, StatusCode::BAD_REQUEST, json!({"uid": [INVALID_UID]}));
    }
    // doorman: a JSON number as uid is an invalid uid, not Djoser's 500.
    let r = post(&app, path, json!({"uid": id, "token": tok})).await;
    assert_json(&r, StatusCode::BAD_REQUEST, json!({"uid": [INVALID_UID]}));
    for bad_token in [
        "nope".to_string(),
        tok.to_uppercase(),
        format!("{tok}0"),
        "-".into(),
    ] {
        let r = post(&app, path, json!({"uid": uid, "token": bad_token})).await;
        assert_json(
            &r,
            StatusCode::BAD_REQUEST,
            json!({"token": [INVALID_TOKEN]}),
        );
    }
    assert!(!is_active(&app, "ann").await, "still inactive");
    // A token of another account does not fit this one.
    let (_, _, other_tok) = register_and_read_activation(&app, &sink, "bob").await;
    let r = post(&app, path, json!({"uid": uid, "token": other_tok})).await;
    assert_json(
        &r,
        StatusCode::BAD_REQUEST,
        json!({"token": [INVALID_TOKEN]}),
    );
    assert!(!is_active(&app, "ann").await);
    // The right pair still works afterwards.
    assert_no_content(&post(&app, path, json!({"uid": uid, "token": tok})).await);
    assert!(is_active(&app, "ann").await);
    assert!(!is_active(&app, "bob").await);
}

async fn confirmation_mail_follows_activation_or_registration(app: TestApp) {
    let backend = app.db.backend;
    let (app, sink) = app_with_mail(app, |s| {
        s.djoser.send_activation_email = true;
        s.djoser.send_confirmation_email = true;
    })
    .await;
    let (_, uid, tok) = register_and_read_activation(&app, &sink, "ann").await;
    let mails = delivered(&app, &sink).await;
    assert_eq!(mails.len(), 1, "only the activation mail at registration");
    assert_eq!(mails[0].subject, "Activate your account on Example");
    assert_no_content(
        &post(
            &app,
            "/auth/users/activation/",
            json!({"uid": uid, "token": tok}),
        )
        .await,
    );
    let mails = delivered(&app, &sink).await;
    assert_eq!(mails.len(), 2, "{mails:?}");
    assert_eq!(mails[1].to, "<ann@example.com>");
    assert_eq!(mails[1].subject, "Your account on Example is ready");

    // Confirmation alone: sent at registration, the account active at once.
    drop(app);
    let (app, sink) = mail_app_on(backend, |s| {
        s.djoser.send_confirmation_email = true;
    })
    .await;
    register(&app, "bob").await;
    assert!(is_active(&app, "bob").await);
    let mails = delivered(&app, &sink).await;
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].to, "<bob@example.com>");
    assert_eq!(mails[0].subject, "Your account on Example is ready");
    assert!(!mails[0].text.contains("#/activate/"), "no link");
}

async fn activation_aliases_activate_too(app: TestApp) {
    let (app, sink) = app_with_mail(app, |s| s.djoser.send_activation_email = true).await;
    for (path, name) in [
        ("/auth/users/activate/", "ann"),
        ("/auth/users/confirm/", "bob"),
        ("/auth/activate/", "carol"),
        ("/auth/users/activation", "dan"),
    ] {
        let (_, uid, tok) = register_and_read_activation(&app, &sink, name).await;
        let r = post(&app, path, json!({"uid": uid, "token": tok})).await;
        assert_no_content(&r);
        assert!(is_active(&app, name).await, "{path}");
        let again = post(&app, path, json!({"uid": uid, "token": tok})).await;
        assert_json(
            &again,
            StatusCode::FORBIDDEN,
            json!({"detail": STALE_TOKEN}),
        );
    }
}

// ---------------------------------------------------------------------------
// Resending the activation mail: POST users/resend_activation/
// ---------------------------------------------------------------------------

async fn resend_activation_mails_inactive_accounts_only(app: TestApp) {
    let (app, sink) = app_with_mail(app, |s| s.djoser.send_activation_email = true).await;
    let path = "/auth/users/resend_activation/";
    register(&app, "ann").await;
    register(&app, "bob").await;
    set_flag(&app, "bob", "is_active", true).await;
    assert_eq!(delivered(&app, &sink).await.len(), 2);

    for email in ["nobody@example.com", "bob@example.com"] {
        let r = post(&app, path, json!({ "email": email })).await;
        assert_no_content(&r);
    }
    assert_eq!(
        delivered(&app, &sink).await.len(),
        2,
        "nothing for unknown or active addresses"
    );

    // doorman: the address matches ignoring case.
    let r = post(&app, path, json!({"email": "ANN@example.com"})).await;
    assert_no_content(&r);
    let mails = delivered(&app, &sink).await;
    assert_eq!(mails.len(), 3);
    assert_eq!(mails[2].to, "<ann@example.com>");
    assert_eq!(mails[2].subject, "Activate your account on Example");
    let (uid, tok) = link_in(&mails[2], "#/activate/");

    // The 1.x alias.
    assert_no_content(
        &post(
            &app,
            "/auth/users/resend/",
            json!({"email": "ann@example.com"}),
        )
        .await,
    );
    assert_eq!(delivered(&app, &sink).await.len(), 4);

    let r = post(&app, path, json!({"email": "not-an-address"})).await;
    assert_json(&r, StatusCode::BAD_REQUEST, json!({"email": [BAD_EMAIL]}));
    let r = post(&app, path, json!({})).await;
    assert_json(&r, StatusCode::BAD_REQUEST, json!({"email": [REQUIRED]}));

    // The resent link activates.
    assert_no_content(
        &post(
            &app,
            "/auth/users/activation/",
            json!({"uid": uid, "token": tok}),
        )
        .await,
    );
    assert!(is_active(&app, "ann").await);
    assert_no_content(&post(&app, path, json!({"email": "ann@example.com"})).await);
    assert_eq!(delivered(&app, &sink).await.len(), 4, "no mail once active");
}

async fn resend_activation_is_a_bare_400_when_activation_mails_are_off(app: TestApp) {
    let (app, sink) = app_with_mail(app, |_| {}).await;
    register(&app, "ann").await;
    set_flag(&app, "ann", "is_active", false).await;
    for email in ["ann@example.com", "nobody@example.com"] {
        let r = post(
            &app,
            "/auth/users/resend_activation/",
            json!({ "email": email }),
        )
        .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{email}");
        assert!(r.body.is_empty(), "empty body, got {:?}", text(&r));
        assert_eq!(r.header("content-type"), None, "no content type");
    }
    assert!(delivered(&app, &sink).await.is_empty());
}

async fn resend_activation_can_say_the_address_is_unknown(app: TestApp) {
    let backend = app.db.backend;
    for flag in ["password", "username"] {
        let (app, sink) = mail_app_on(backend, |s| {
            s.djoser.send_activation_email = true;
            if flag == "password" {
                s.djoser.password_reset_show_email_not_found = true;
            } else {
                s.djoser.username_reset_show_email_not_found = true;
            }
        })
        .await;
        register(&app, "ann").await;
        register(&app, "bob").await;
        set_flag(&app, "bob", "is_active", true).await;
        assert_eq!(delivered(&app, &sink).await.len(), 2);
        for email in ["nobody@example.com", "bob@example.com"] {
            let r = post(
                &app,
                "/auth/users/resend_activation/",
                json!({ "email": email }),
            )
            .await;
            assert_json(&r, StatusCode::BAD_REQUEST, json!([EMAIL_NOT_FOUND]));
        }
        let r = post(
            &app,
            "/auth/users/resend_activation/",
            json!({"email": "ann@example.com"}),
        )
        .await;
        assert_no_content(&r);
        assert_eq!(delivered(&app, &sink).await.len(), 3, "{flag}");
    }
}
