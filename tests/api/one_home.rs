//! Each user operation has one home, so every surface gets all of it: a
//! delete through Djoser removes the picture at once, one reset link
//! changes the password once however many times it is sent at the same
//! moment, and the Accounts API answers a method it does not serve with
//! 405 and the route's `Allow`.

use axum::http::{Method, StatusCode};
use futures_util::future::join_all;
use serde_json::{Value, json};

use crate::{
    on_both_backends,
    support::{
        TestApp,
        apps::app_with,
        images::{image_bytes, upload},
        people::{PW, Person},
    },
};

on_both_backends!(
    deleting_through_djoser_removes_the_picture_at_once,
    one_reset_link_changes_the_password_once,
    unserved_methods_on_the_accounts_api_are_405,
);

/// Gives `who` a profile picture; the file's path on disk and its URL path.
async fn picture(
    app: &TestApp,
    who: &Person,
    root: &std::path::Path,
) -> (std::path::PathBuf, String) {
    let png = image_bytes(image::ImageFormat::Png);
    let r = upload(
        app,
        Method::PUT,
        "/api/auth/profile/",
        who.auth(),
        ("me.png", "image/png", &png),
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r);
    let url = r.json()["profile_picture"].as_str().unwrap().to_string();
    let path = url[url.find("/media/").unwrap()..].to_string();
    let file = root.join(path.trim_start_matches("/media/"));
    assert!(file.exists(), "{file:?}");
    (file, path)
}

/// Where a delete for this person is sent.
type PathOf = fn(&Person) -> String;

async fn deleting_through_djoser_removes_the_picture_at_once(app: TestApp) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    let app = app_with(app, |s| s.media.root = root.clone()).await;
    let root_user = app.user("root").superuser().signed_in().await;
    let deletes: [(&str, Method, PathOf); 3] = [
        ("me", Method::DELETE, |_| "/auth/users/me/".into()),
        ("byid", Method::DELETE, |p| format!("/auth/users/{}/", p.id)),
        ("legacy", Method::POST, |_| "/auth/users/delete/".into()),
    ];
    for (name, method, path) in deletes {
        let who = app.user(name).signed_in().await;
        let (file, url) = picture(&app, &who, &root).await;
        // Deleting by id is done by a superuser; the others by the user.
        let auth = match name {
            "byid" => root_user.auth(),
            _ => who.auth(),
        };
        let r = app
            .request(
                method,
                &path(&who),
                Some(auth),
                Some(json!({"current_password": PW})),
            )
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{name}: {:?}", r);
        assert!(!file.exists(), "{name}: the picture outlived its user");
        assert_eq!(app.get(&url).await.status, StatusCode::NOT_FOUND, "{name}");
    }
}

async fn one_reset_link_changes_the_password_once(app: TestApp) {
    let app = app_with(app, |s| s.accounts.reset_token_in_response = true).await;
    let paths = [
        "/api/auth/reset-password-confirm/",
        "/auth/users/reset_password_confirm/",
    ];
    for (n, path) in paths.into_iter().enumerate() {
        let who = app.user(&format!("reset{n}")).create().await;
        let r = app
            .request(
                Method::POST,
                "/api/auth/forgot-password/",
                None,
                Some(json!({"email": format!("reset{n}@example.com")})),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r);
        let link = r.json();
        let attempts = (0..10).map(|i| {
            let body = json!({
                "uid": link["uid"],
                "token": link["token"],
                "new_password": format!("brand-New-phrase-{i}-{n}"),
            });
            app.request(Method::POST, path, None, Some(body))
        });
        let answers = join_all(attempts).await;
        let won: Vec<usize> = answers
            .iter()
            .enumerate()
            .filter(|(_, r)| r.status.is_success())
            .map(|(i, _)| i)
            .collect();
        assert_eq!(
            won.len(),
            1,
            "{path}: {:?}",
            answers.iter().map(|r| r.status).collect::<Vec<_>>()
        );
        for r in answers.iter().filter(|r| !r.status.is_success()) {
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{path}");
            assert_eq!(
                r.json(),
                json!({"token": ["Invalid token for given user."]})
            );
        }
        // The winner's password is the one stored.
        let login = app
            .request(
                Method::POST,
                "/auth/token/login/",
                None,
                Some(json!({"username": who.username, "password": format!("brand-New-phrase-{}-{n}", won[0])})),
            )
            .await;
        assert_eq!(login.status, StatusCode::OK, "{path}: {:?}", login);
    }
}

async fn unserved_methods_on_the_accounts_api_are_405(app: TestApp) {
    let admin = app.user("root").superuser().signed_in().await;
    let cases = [
        (Method::PUT, "/api/auth/login/", "POST"),
        (Method::GET, "/api/auth/register/", "POST"),
        (Method::DELETE, "/api/auth/roles/", "GET,HEAD"),
        (Method::POST, "/api/auth/permissions/", "GET,HEAD"),
        (Method::TRACE, "/api/auth/profile/", "GET,PUT,PATCH,HEAD"),
        (Method::POST, "/api/auth/users/1/delete/", "DELETE"),
    ];
    for (method, path, allow) in cases {
        for auth in [None, Some(admin.auth())] {
            let r = app.request(method.clone(), path, auth, None::<Value>).await;
            assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
            assert_eq!(r.header("allow"), Some(allow), "{method} {path}");
            assert_eq!(
                r.json(),
                json!({"detail": format!("Method \"{method}\" not allowed.")})
            );
        }
    }
}
