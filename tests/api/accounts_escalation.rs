//! "Nobody grants more than they hold": a holder of one Django permission
//! cannot grant itself (or an accomplice) an admin role or a group with
//! permissions it lacks, cannot make a group an admin role or load it with
//! permissions it lacks, and `forgot-password/` never hands a privileged
//! account's link to anyone. Each refusal leaves the rows as they were; a
//! full admin's grants still work; over-long id lists are a 400, not a 5xx.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{
    on_both_backends,
    support::{
        TestApp, TestResponse,
        accounts::{login_token, make_user, signed_in},
        client::{DENIED, assert_json, call, token},
        grants::{grant_group, grant_user, join_group, make_group, permission_id},
        people::PW,
    },
};

on_both_backends!(
    profile_roles_cannot_grant_more_than_the_caller_holds,
    user_groups_cannot_grant_more_than_the_caller_holds,
    roles_cannot_be_made_admin_or_loaded_with_foreign_permissions,
    long_id_lists_are_field_errors,
    forgot_password_never_hands_over_a_privileged_account,
);

async fn send(app: &TestApp, method: Method, path: &str, auth: &str, body: Value) -> TestResponse {
    call(app, method, path, Some(auth), Some(body)).await
}

#[track_caller]
fn assert_denied(r: &TestResponse) {
    assert_json(r, StatusCode::FORBIDDEN, json!({ "detail": DENIED }));
}

/// A signed-in user holding exactly these permissions directly.
async fn holder(app: &TestApp, name: &str, permissions: &[&str]) -> (i64, String) {
    let (id, auth) = signed_in(app, name, false).await;
    for p in permissions {
        grant_user(app, id, p).await;
    }
    (id, auth)
}

async fn scalar(app: &TestApp, sql: &str) -> i64 {
    app.db.scalar(sql).await
}

async fn profile_roles(app: &TestApp, user: i64) -> i64 {
    scalar(
        app,
        &format!(
            "SELECT count(*) FROM doorman_profile_roles r JOIN doorman_profile p \
             ON p.id = r.profile_id WHERE p.user_id = {user}"
        ),
    )
    .await
}

async fn user_groups(app: &TestApp, user: i64) -> i64 {
    scalar(
        app,
        &format!("SELECT count(*) FROM auth_user_groups WHERE user_id = {user}"),
    )
    .await
}

async fn group_grants(app: &TestApp, group: i64) -> i64 {
    scalar(
        app,
        &format!("SELECT count(*) FROM auth_group_permissions WHERE group_id = {group}"),
    )
    .await
}

async fn profile_roles_cannot_grant_more_than_the_caller_holds(app: TestApp) {
    let admin = make_group(&app, "admin").await;
    let strong = make_group(&app, "strong").await;
    grant_group(&app, strong, "auth.delete_user").await;
    let mild = make_group(&app, "mild").await;
    grant_group(&app, mild, "accounts.change_profile").await;
    let (me, auth) = holder(&app, "editor", &["accounts.change_profile"]).await;
    let other = make_user(&app, "other", false).await;

    for (user, roles) in [
        (me, json!([admin])),
        (other, json!([strong])),
        (me, json!([mild, admin])),
    ] {
        for method in [Method::PATCH, Method::PUT] {
            let path = format!("/api/auth/user_profile/{user}/update/");
            let r = send(&app, method, &path, &auth, json!({ "roles": roles })).await;
            assert_denied(&r);
            assert_eq!(profile_roles(&app, user).await, 0, "nothing granted");
        }
    }

    // A group whose permissions the caller holds can be granted.
    let path = format!("/api/auth/user_profile/{other}/update/");
    let r = send(
        &app,
        Method::PATCH,
        &path,
        &auth,
        json!({ "roles": [mild, mild] }),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.json());
    assert_eq!(profile_roles(&app, other).await, 1);
    // Other fields still work without touching roles.
    let r = send(&app, Method::PATCH, &path, &auth, json!({ "bio": "hi" })).await;
    assert_eq!(r.status, StatusCode::OK);

    // A full admin (admin role, not superuser) may grant the admin role.
    let (boss, boss_auth) = signed_in(&app, "boss", false).await;
    join_group(&app, boss, admin).await;
    let r = send(
        &app,
        Method::PATCH,
        &path,
        &boss_auth,
        json!({ "roles": [admin, strong] }),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.json());
    assert_eq!(profile_roles(&app, other).await, 2);
    // ...and the permission holder cannot take the admin role away again.
    let r = send(&app, Method::PATCH, &path, &auth, json!({ "roles": [] })).await;
    assert_denied(&r);
    assert_eq!(profile_roles(&app, other).await, 2);
}

async fn user_groups_cannot_grant_more_than_the_caller_holds(app: TestApp) {
    let admin = make_group(&app, "admin").await;
    let strong = make_group(&app, "strong").await;
    grant_group(&app, strong, "auth.delete_user").await;
    let mild = make_group(&app, "mild").await;
    grant_group(&app, mild, "auth.change_user").await;
    let (me, auth) = holder(&app, "clerk", &["auth.change_user"]).await;
    let accomplice = make_user(&app, "accomplice", false).await;

    for (user, groups) in [
        (me, json!([admin])),
        (me, json!([strong])),
        (accomplice, json!([admin])),
        (accomplice, json!([mild, strong])),
    ] {
        for method in [Method::PATCH, Method::PUT] {
            let path = format!("/api/auth/users/{user}/update/");
            let r = send(&app, method, &path, &auth, json!({ "groups": groups })).await;
            assert_denied(&r);
            assert_eq!(user_groups(&app, user).await, 0, "nothing granted");
        }
    }

    let path = format!("/api/auth/users/{accomplice}/update/");
    let r = send(
        &app,
        Method::PATCH,
        &path,
        &auth,
        json!({ "groups": [mild] }),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.json());
    assert_eq!(r.json()["groups"], json!([mild]));

    // A superuser's account is out of a permission holder's reach (its
    // e-mail address would lead to a password reset).
    let root = make_user(&app, "root", true).await;
    let path = format!("/api/auth/users/{root}/update/");
    let r = send(
        &app,
        Method::PATCH,
        &path,
        &auth,
        json!({ "email": "clerk@example.com" }),
    )
    .await;
    assert_denied(&r);
    assert_eq!(
        scalar(
            &app,
            &format!("SELECT count(*) FROM auth_user WHERE id = {root} AND email = ''")
        )
        .await,
        1
    );

    // A superuser grants anything.
    let (_, root_auth) = signed_in(&app, "root2", true).await;
    let path = format!("/api/auth/users/{accomplice}/update/");
    let r = send(
        &app,
        Method::PUT,
        &path,
        &root_auth,
        json!({ "groups": [admin, strong] }),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.json());
    assert_eq!(user_groups(&app, accomplice).await, 2);
}

async fn roles_cannot_be_made_admin_or_loaded_with_foreign_permissions(app: TestApp) {
    let (me, auth) = holder(&app, "grouper", &["auth.change_group", "auth.add_group"]).await;
    let plain = make_group(&app, "plain").await;
    let mine = make_group(&app, "mine").await;
    join_group(&app, me, mine).await;
    let delete_user = permission_id(&app, "auth.delete_user").await;
    let change_group = permission_id(&app, "auth.change_group").await;

    // Renaming to an admin role name, either verb.
    for method in [Method::PUT, Method::PATCH] {
        let r = send(
            &app,
            method,
            &format!("/api/auth/roles/{plain}/"),
            &auth,
            json!({"name": "admin"}),
        )
        .await;
        assert_denied(&r);
    }
    assert_eq!(
        scalar(
            &app,
            &format!("SELECT count(*) FROM auth_group WHERE id = {plain} AND name = 'plain'")
        )
        .await,
        1
    );
    // Creating one.
    let r = send(
        &app,
        Method::POST,
        "/api/auth/roles/create/",
        &auth,
        json!({"name": "admin"}),
    )
    .await;
    assert_denied(&r);
    assert_eq!(
        scalar(&app, "SELECT count(*) FROM auth_group WHERE name = 'admin'").await,
        0
    );
    // Granting a permission the caller lacks.
    let path = format!("/api/auth/permissions/{plain}/update/");
    let r = send(
        &app,
        Method::PUT,
        &path,
        &auth,
        json!({"permissions": [change_group, delete_user]}),
    )
    .await;
    assert_denied(&r);
    assert_eq!(group_grants(&app, plain).await, 0);
    // Changing a group the caller belongs to.
    let path_mine = format!("/api/auth/permissions/{mine}/update/");
    let r = send(
        &app,
        Method::PUT,
        &path_mine,
        &auth,
        json!({"permissions": [change_group]}),
    )
    .await;
    assert_denied(&r);
    assert_eq!(group_grants(&app, mine).await, 0);
    let r = send(
        &app,
        Method::PATCH,
        &format!("/api/auth/roles/{mine}/"),
        &auth,
        json!({"name": "renamed"}),
    )
    .await;
    assert_denied(&r);

    // What the caller holds, on a group they are not in, is fine.
    let r = send(
        &app,
        Method::PUT,
        &path,
        &auth,
        json!({"permissions": [change_group]}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.json());
    assert_eq!(group_grants(&app, plain).await, 1);
    let r = send(
        &app,
        Method::PATCH,
        &format!("/api/auth/roles/{plain}/"),
        &auth,
        json!({"name": "plainer"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = send(
        &app,
        Method::POST,
        "/api/auth/roles/create/",
        &auth,
        json!({"name": "fresh"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED);

    // A superuser may do all of it.
    let (_, root) = signed_in(&app, "root", true).await;
    let r = send(
        &app,
        Method::PUT,
        &path,
        &root,
        json!({"permissions": [change_group, delete_user]}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(group_grants(&app, plain).await, 2);
    let r = send(
        &app,
        Method::PUT,
        &format!("/api/auth/roles/{plain}/"),
        &root,
        json!({"name": "admin"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = send(
        &app,
        Method::POST,
        "/api/auth/roles/create/",
        &root,
        json!({"name": "staffers"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED);
}

async fn long_id_lists_are_field_errors(app: TestApp) {
    let (_, root) = signed_in(&app, "root", true).await;
    let target = make_user(&app, "target", false).await;
    // Over the 1,000-id cap and under server.max_json_bytes (a bigger body
    // is a 413 before it is read: tests/api/connections.rs).
    let ids: Vec<i64> = (1..=5_000).collect();
    let message = "Ensure this field has no more than 1000 elements.";
    let r = send(
        &app,
        Method::PATCH,
        &format!("/api/auth/users/{target}/update/"),
        &root,
        json!({"groups": ids}),
    )
    .await;
    assert_json(&r, StatusCode::BAD_REQUEST, json!({"groups": [message]}));
    let r = send(
        &app,
        Method::PATCH,
        &format!("/api/auth/user_profile/{target}/update/"),
        &root,
        json!({"roles": ids}),
    )
    .await;
    assert_json(&r, StatusCode::BAD_REQUEST, json!({"roles": [message]}));
    let group = make_group(&app, "g").await;
    let r = send(
        &app,
        Method::PUT,
        &format!("/api/auth/permissions/{group}/update/"),
        &root,
        json!({"permissions": ids}),
    )
    .await;
    assert_json(
        &r,
        StatusCode::BAD_REQUEST,
        json!({"permissions": [message]}),
    );
    assert_eq!(user_groups(&app, target).await, 0);
    assert_eq!(profile_roles(&app, target).await, 0);
    // 1,000 repeats of one real id are within the cap and count once.
    let same = vec![group; 1000];
    let r = send(
        &app,
        Method::PUT,
        &format!("/api/auth/users/{target}/update/"),
        &root,
        json!({"groups": same}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.json());
    assert_eq!(user_groups(&app, target).await, 1);
    let r = send(
        &app,
        Method::PUT,
        &format!("/api/auth/user_profile/{target}/update/"),
        &root,
        json!({"roles": same}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.json());
    assert_eq!(profile_roles(&app, target).await, 1);
}

async fn forgot_password_never_hands_over_a_privileged_account(app: TestApp) {
    let root = make_user(&app, "root", true).await;
    let other_root = make_user(&app, "root2", true).await;
    let plain = make_user(&app, "plain", false).await;
    let staff = make_user(&app, "staff", false).await;
    for (id, email) in [
        (root, "root@example.com"),
        (other_root, "root2@example.com"),
        (plain, "plain@example.com"),
        (staff, "staff@example.com"),
    ] {
        app.db
            .execute(&format!(
                "UPDATE auth_user SET email = '{email}' WHERE id = {id}"
            ))
            .await;
    }
    app.db
        .execute(&format!(
            "UPDATE auth_user SET is_staff = true WHERE id = {staff}"
        ))
        .await;
    let admin = make_group(&app, "admin").await;
    let (boss, boss_auth) = signed_in(&app, "boss", false).await;
    join_group(&app, boss, admin).await;
    let root_auth = token(&login_token(&app, "root", PW).await);

    let ask = |auth: String, email: &'static str| {
        let app = &app;
        async move {
            let r = send(
                app,
                Method::POST,
                "/api/auth/forgot-password/",
                &auth,
                json!({"email": email}),
            )
            .await;
            assert_eq!(r.status, StatusCode::OK);
            r.json()
        }
    };
    for email in ["root@example.com", "root2@example.com", "staff@example.com"] {
        let body = ask(root_auth.clone(), email).await;
        assert!(
            body.get("uid").is_none() && body.get("token").is_none(),
            "{email}: {body}"
        );
    }
    let body = ask(root_auth.clone(), "plain@example.com").await;
    assert!(
        body["uid"].is_string() && body["token"].is_string(),
        "{body}"
    );
    for email in ["plain@example.com", "root@example.com"] {
        let body = ask(boss_auth.clone(), email).await;
        assert!(
            body.get("uid").is_none() && body.get("token").is_none(),
            "{email}: {body}"
        );
        assert_eq!(body.as_object().unwrap().len(), 1, "only detail: {body}");
    }
}
