//! The Accounts API's roles (Django groups) and permissions: listing,
//! creating, renaming and deleting roles, listing permissions and replacing
//! a role's set, with DRF's error shapes and the rows each call leaves.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{
    on_both_backends,
    support::{
        TestApp,
        accounts::{make_user, signed_in},
        client::{DENIED, assert_json, call, keys, text},
        grants::{give_profile_role, grant_group, join_group, make_group, permission_id},
    },
};

on_both_backends!(
    listing_roles_needs_a_caller_and_gives_permission_ids_by_role_id,
    creating_a_role_checks_the_name_like_django,
    renaming_a_role_checks_the_name_and_the_id,
    deleting_a_role_removes_its_grants_and_memberships,
    listing_permissions_orders_by_app_label_and_codename,
    replacing_permissions_sets_exactly_the_given_ids,
    replacing_permissions_refuses_bad_lists_and_changes_nothing,
    permissions_given_to_a_role_reach_its_members,
    the_openapi_document_describes_the_role_endpoints,
);

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

const NOT_FOUND: &str = "Not found.";
const NOT_PROVIDED: &str = "Authentication credentials were not provided.";
const NAME_TAKEN: &str = "group with this name already exists.";

async fn count(app: &TestApp, sql: &str) -> i64 {
    app.db.scalar(sql).await
}

async fn grants_of(app: &TestApp, group: i64) -> i64 {
    count(
        app,
        &format!("SELECT count(*) FROM auth_group_permissions WHERE group_id = {group}"),
    )
    .await
}

async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    auth: Option<&str>,
    body: Option<Value>,
) -> crate::support::TestResponse {
    call(app, method, path, auth, body).await
}

fn role(id: i64, name: &str, permissions: &[i64]) -> Value {
    json!({"id": id, "name": name, "permissions": permissions})
}

#[track_caller]
fn assert_field(r: &crate::support::TestResponse, field: &str, messages: &[&str]) {
    assert_json(r, StatusCode::BAD_REQUEST, json!({ field: messages }));
}

// ---------------------------------------------------------------------------
// roles/
// ---------------------------------------------------------------------------

async fn listing_roles_needs_a_caller_and_gives_permission_ids_by_role_id(app: TestApp) {
    let r = send(&app, Method::GET, "/api/auth/roles/", None, None).await;
    assert_json(
        &r,
        StatusCode::UNAUTHORIZED,
        json!({ "detail": NOT_PROVIDED }),
    );

    let (_, plain) = signed_in(&app, "plain", false).await;
    let r = send(&app, Method::GET, "/api/auth/roles/", Some(&plain), None).await;
    assert_json(&r, StatusCode::OK, json!([]));

    let editors = make_group(&app, "editors").await;
    let readers = make_group(&app, "readers").await;
    let empty = make_group(&app, "empty").await;
    grant_group(&app, editors, "auth.view_user").await;
    grant_group(&app, editors, "auth.add_user").await;
    grant_group(&app, readers, "auth.view_group").await;
    let mut editor_perms = vec![
        permission_id(&app, "auth.view_user").await,
        permission_id(&app, "auth.add_user").await,
    ];
    editor_perms.sort();
    let view_group = permission_id(&app, "auth.view_group").await;

    let r = send(&app, Method::GET, "/api/auth/roles", Some(&plain), None).await;
    assert_json(
        &r,
        StatusCode::OK,
        json!([
            role(editors, "editors", &editor_perms),
            role(readers, "readers", &[view_group]),
            role(empty, "empty", &[]),
        ]),
    );
    assert_eq!(keys(&r.json()[0]), ["id", "name", "permissions"]);
}

async fn creating_a_role_checks_the_name_like_django(app: TestApp) {
    let path = "/api/auth/roles/create/";
    let r = send(&app, Method::POST, path, None, Some(json!({"name": "x"}))).await;
    assert_json(
        &r,
        StatusCode::UNAUTHORIZED,
        json!({ "detail": NOT_PROVIDED }),
    );
    let (_, plain) = signed_in(&app, "plain", false).await;
    let r = send(
        &app,
        Method::POST,
        path,
        Some(&plain),
        Some(json!({"name": "x"})),
    )
    .await;
    assert_json(&r, StatusCode::FORBIDDEN, json!({ "detail": DENIED }));
    assert_eq!(count(&app, "SELECT count(*) FROM auth_group").await, 0);

    let (_, admin) = signed_in(&app, "root", true).await;
    let r = send(
        &app,
        Method::POST,
        path,
        Some(&admin),
        Some(json!({"name": "  editors "})),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", text(&r));
    let id = r.json()["id"].as_i64().unwrap();
    assert_eq!(r.json(), role(id, "editors", &[]));
    assert_eq!(
        app.db
            .text(&format!("SELECT name FROM auth_group WHERE id = {id}"))
            .await,
        "editors"
    );

    let bad: [(Value, &str); 6] = [
        (json!({"name": "editors"}), NAME_TAKEN),
        (json!({"name": " editors\t"}), NAME_TAKEN),
        (json!({"name": "   "}), "This field may not be blank."),
        (json!({}), "This field is required."),
        (json!({"name": null}), "This field may not be null."),
        (
            json!({ "name": "r".repeat(151) }),
            "Ensure this field has no more than 150 characters.",
        ),
    ];
    for (body, message) in bad {
        let r = send(&app, Method::POST, path, Some(&admin), Some(body.clone())).await;
        assert_field(&r, "name", &[message]);
    }
    assert_eq!(count(&app, "SELECT count(*) FROM auth_group").await, 1);

    // Django's `exact` lookup and unique constraint are case-sensitive.
    let r = send(
        &app,
        Method::POST,
        path,
        Some(&admin),
        Some(json!({"name": "Editors"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", text(&r));
    let long = "é".repeat(150);
    let r = send(
        &app,
        Method::POST,
        path,
        Some(&admin),
        Some(json!({ "name": long })),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", text(&r));
    assert_eq!(r.json()["name"], json!(long));
    // A form body works too.
    let request = axum::http::Request::post(path)
        .header("authorization", &admin)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(axum::body::Body::from("name=writers"))
        .unwrap();
    let r = app.send(request).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", text(&r));
    assert_eq!(r.json()["name"], json!("writers"));
    assert_eq!(count(&app, "SELECT count(*) FROM auth_group").await, 4);
}

async fn renaming_a_role_checks_the_name_and_the_id(app: TestApp) {
    let (_, admin) = signed_in(&app, "root", true).await;
    let editors = make_group(&app, "editors").await;
    let readers = make_group(&app, "readers").await;
    grant_group(&app, editors, "auth.view_user").await;
    let view_user = permission_id(&app, "auth.view_user").await;
    let path = format!("/api/auth/roles/{editors}/");
    let name_of = |id: i64| format!("SELECT name FROM auth_group WHERE id = {id}");

    let r = send(
        &app,
        Method::PUT,
        &path,
        Some(&admin),
        Some(json!({"name": "writers"})),
    )
    .await;
    assert_json(&r, StatusCode::OK, role(editors, "writers", &[view_user]));
    assert_eq!(app.db.text(&name_of(editors)).await, "writers");

    // Its own name is no clash; another role's is.
    let r = send(
        &app,
        Method::PUT,
        &path,
        Some(&admin),
        Some(json!({"name": "writers"})),
    )
    .await;
    assert_json(&r, StatusCode::OK, role(editors, "writers", &[view_user]));
    let r = send(
        &app,
        Method::PATCH,
        &path,
        Some(&admin),
        Some(json!({"name": "readers"})),
    )
    .await;
    assert_field(&r, "name", &[NAME_TAKEN]);
    let r = send(
        &app,
        Method::PUT,
        &path,
        Some(&admin),
        Some(json!({"name": ""})),
    )
    .await;
    assert_field(&r, "name", &["This field may not be blank."]);
    let r = send(&app, Method::PUT, &path, Some(&admin), Some(json!({}))).await;
    assert_field(&r, "name", &["This field is required."]);
    let r = send(
        &app,
        Method::PATCH,
        &path,
        Some(&admin),
        Some(json!({"name": "x".repeat(151)})),
    )
    .await;
    assert_field(
        &r,
        "name",
        &["Ensure this field has no more than 150 characters."],
    );
    assert_eq!(app.db.text(&name_of(editors)).await, "writers");
    assert_eq!(app.db.text(&name_of(readers)).await, "readers");

    // PATCH without a name changes nothing; with one it renames.
    let r = send(&app, Method::PATCH, &path, Some(&admin), Some(json!({}))).await;
    assert_json(&r, StatusCode::OK, role(editors, "writers", &[view_user]));
    let r = send(
        &app,
        Method::PATCH,
        &path,
        Some(&admin),
        Some(json!({"name": "Readers"})),
    )
    .await;
    assert_json(&r, StatusCode::OK, role(editors, "Readers", &[view_user]));

    for missing in ["999999", "abc", "-1", "99999999999999999999"] {
        let r = send(
            &app,
            Method::PUT,
            &format!("/api/auth/roles/{missing}/"),
            Some(&admin),
            Some(json!({"name": ""})),
        )
        .await;
        assert_json(&r, StatusCode::NOT_FOUND, json!({ "detail": NOT_FOUND }));
    }
    let (_, plain) = signed_in(&app, "plain", false).await;
    let r = send(
        &app,
        Method::PUT,
        &path,
        Some(&plain),
        Some(json!({"name": "mine"})),
    )
    .await;
    assert_json(&r, StatusCode::FORBIDDEN, json!({ "detail": DENIED }));
    assert_eq!(app.db.text(&name_of(editors)).await, "Readers");
}

async fn deleting_a_role_removes_its_grants_and_memberships(app: TestApp) {
    let (_, admin) = signed_in(&app, "root", true).await;
    let member = make_user(&app, "member", false).await;
    let doomed = make_group(&app, "doomed").await;
    let kept = make_group(&app, "kept").await;
    for group in [doomed, kept] {
        grant_group(&app, group, "auth.view_user").await;
        grant_group(&app, group, "auth.change_user").await;
        join_group(&app, member, group).await;
        give_profile_role(&app, member, group).await;
    }
    let (_, plain) = signed_in(&app, "plain", false).await;
    let path = format!("/api/auth/roles/{doomed}/");
    let r = send(&app, Method::DELETE, &path, Some(&plain), None).await;
    assert_json(&r, StatusCode::FORBIDDEN, json!({ "detail": DENIED }));

    let r = send(&app, Method::DELETE, &path, Some(&admin), None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", text(&r));
    assert!(r.body.is_empty());
    for (table, column) in [
        ("auth_group", "id"),
        ("auth_group_permissions", "group_id"),
        ("auth_user_groups", "group_id"),
        ("doorman_profile_roles", "group_id"),
    ] {
        let sql = |g: i64| format!("SELECT count(*) FROM {table} WHERE {column} = {g}");
        assert_eq!(count(&app, &sql(doomed)).await, 0, "{table}");
        let expected = if table == "auth_group_permissions" {
            2
        } else {
            1
        };
        assert_eq!(count(&app, &sql(kept)).await, expected, "{table}");
    }
    let r = send(&app, Method::DELETE, &path, Some(&admin), None).await;
    assert_json(&r, StatusCode::NOT_FOUND, json!({ "detail": NOT_FOUND }));
    let r = send(
        &app,
        Method::DELETE,
        "/api/auth/roles/x1/",
        Some(&admin),
        None,
    )
    .await;
    assert_json(&r, StatusCode::NOT_FOUND, json!({ "detail": NOT_FOUND }));
}

// ---------------------------------------------------------------------------
// permissions/
// ---------------------------------------------------------------------------

async fn listing_permissions_orders_by_app_label_and_codename(app: TestApp) {
    let (_, plain) = signed_in(&app, "plain", false).await;
    let r = send(
        &app,
        Method::GET,
        "/api/auth/permissions/",
        Some(&plain),
        None,
    )
    .await;
    assert_json(&r, StatusCode::FORBIDDEN, json!({ "detail": DENIED }));

    let (_, admin) = signed_in(&app, "root", true).await;
    let r = send(
        &app,
        Method::GET,
        "/api/auth/permissions/",
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", text(&r));
    let list = r.json().as_array().unwrap().clone();
    assert_eq!(
        list.len() as i64,
        count(&app, "SELECT count(*) FROM auth_permission").await
    );
    let order: Vec<(String, String)> = list
        .iter()
        .map(|p| {
            (
                p["app_label"].as_str().unwrap().to_string(),
                p["codename"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let mut sorted = order.clone();
    sorted.sort();
    assert_eq!(order, sorted);
    assert_eq!(
        order[0],
        ("accounts".to_string(), "add_profile".to_string())
    );
    let view_user = permission_id(&app, "auth.view_user").await;
    let entry = list.iter().find(|p| p["codename"] == "view_user").unwrap();
    assert_eq!(
        entry,
        &json!({"id": view_user, "name": "Can view user", "codename": "view_user", "app_label": "auth"})
    );
    assert_eq!(keys(entry), ["id", "name", "codename", "app_label"]);
}

async fn replacing_permissions_sets_exactly_the_given_ids(app: TestApp) {
    let (_, admin) = signed_in(&app, "root", true).await;
    let group = make_group(&app, "editors").await;
    let other = make_group(&app, "other").await;
    grant_group(&app, other, "auth.view_user").await;
    let a = permission_id(&app, "auth.view_user").await;
    let b = permission_id(&app, "auth.add_user").await;
    let c = permission_id(&app, "accounts.view_profile").await;
    let path = format!("/api/auth/permissions/{group}/update/");

    let r = send(
        &app,
        Method::PUT,
        &path,
        Some(&admin),
        Some(json!({"permissions": [b, a]})),
    )
    .await;
    let mut ab = [a, b];
    ab.sort();
    assert_json(&r, StatusCode::OK, role(group, "editors", &ab));
    assert_eq!(grants_of(&app, group).await, 2);
    let row_of = |p: i64| {
        format!(
            "SELECT CAST(id AS BIGINT) FROM auth_group_permissions WHERE group_id = {group} AND permission_id = {p}"
        )
    };
    let b_row = app.db.scalar(&row_of(b)).await;

    // Duplicates collapse, ids may come as strings, kept grants keep their row.
    let r = send(
        &app,
        Method::PUT,
        &path,
        Some(&admin),
        Some(json!({"permissions": [c, b, c, format!("{b}")]})),
    )
    .await;
    let mut bc = [b, c];
    bc.sort();
    assert_json(&r, StatusCode::OK, role(group, "editors", &bc));
    assert_eq!(grants_of(&app, group).await, 2);
    assert_eq!(app.db.scalar(&row_of(b)).await, b_row);
    let sql = format!(
        "SELECT count(*) FROM auth_group_permissions WHERE group_id = {group} AND permission_id = {a}"
    );
    assert_eq!(count(&app, &sql).await, 0);

    let r = send(
        &app,
        Method::PUT,
        &path,
        Some(&admin),
        Some(json!({"permissions": []})),
    )
    .await;
    assert_json(&r, StatusCode::OK, role(group, "editors", &[]));
    assert_eq!(grants_of(&app, group).await, 0);
    // The other role was never touched.
    assert_eq!(grants_of(&app, other).await, 1);

    let r = send(
        &app,
        Method::PUT,
        "/api/auth/permissions/999999/update/",
        Some(&admin),
        Some(json!({"permissions": [a]})),
    )
    .await;
    assert_json(&r, StatusCode::NOT_FOUND, json!({ "detail": NOT_FOUND }));
}

async fn replacing_permissions_refuses_bad_lists_and_changes_nothing(app: TestApp) {
    let (_, admin) = signed_in(&app, "root", true).await;
    let group = make_group(&app, "editors").await;
    let a = permission_id(&app, "auth.view_user").await;
    grant_group(&app, group, "auth.view_user").await;
    let b = permission_id(&app, "auth.add_user").await;
    let path = format!("/api/auth/permissions/{group}/update/");

    let r = send(
        &app,
        Method::PUT,
        &path,
        Some(&admin),
        Some(json!({"permissions": [b, 999999, 999998, 999999]})),
    )
    .await;
    assert_field(
        &r,
        "permissions",
        &[
            "Invalid pk \"999999\" - object does not exist.",
            "Invalid pk \"999998\" - object does not exist.",
        ],
    );
    let cases: [(Value, &str); 9] = [
        (json!({}), "This field is required."),
        (json!({"permissions": null}), "This field may not be null."),
        (
            json!({"permissions": "1"}),
            "Expected a list of items but got type \"str\".",
        ),
        (
            json!({"permissions": 1}),
            "Expected a list of items but got type \"int\".",
        ),
        (
            json!({"permissions": {"a": 1}}),
            "Expected a list of items but got type \"dict\".",
        ),
        (
            json!({"permissions": [b, "x"]}),
            "Incorrect type. Expected pk value, received str.",
        ),
        (
            json!({"permissions": [true]}),
            "Incorrect type. Expected pk value, received bool.",
        ),
        (
            json!({"permissions": [1.5]}),
            "Incorrect type. Expected pk value, received float.",
        ),
        (
            json!({"permissions": [[1]]}),
            "Incorrect type. Expected pk value, received list.",
        ),
    ];
    for (body, message) in cases {
        let r = send(&app, Method::PUT, &path, Some(&admin), Some(body.clone())).await;
        assert_field(&r, "permissions", &[message]);
    }
    let r = send(
        &app,
        Method::PUT,
        &path,
        Some(&admin),
        Some(json!({"permissions": [-3, 18446744073709551615u64]})),
    )
    .await;
    assert_field(
        &r,
        "permissions",
        &["Invalid pk \"18446744073709551615\" - object does not exist."],
    );
    // A long list is a 400 (lists are capped at 1,000 ids).
    let many: Vec<i64> = (1_000_000..1_005_000).collect();
    let r = send(
        &app,
        Method::PUT,
        &path,
        Some(&admin),
        Some(json!({ "permissions": many })),
    )
    .await;
    assert_field(
        &r,
        "permissions",
        &["Ensure this field has no more than 1000 elements."],
    );
    // Nothing changed: still exactly `a`.
    assert_eq!(grants_of(&app, group).await, 1);
    let sql = format!(
        "SELECT count(*) FROM auth_group_permissions WHERE group_id = {group} AND permission_id = {a}"
    );
    assert_eq!(count(&app, &sql).await, 1);

    let (_, plain) = signed_in(&app, "plain", false).await;
    let r = send(
        &app,
        Method::PUT,
        &path,
        Some(&plain),
        Some(json!({"permissions": [b]})),
    )
    .await;
    assert_json(&r, StatusCode::FORBIDDEN, json!({ "detail": DENIED }));
    assert_eq!(grants_of(&app, group).await, 1);
}

async fn permissions_given_to_a_role_reach_its_members(app: TestApp) {
    let (_, admin) = signed_in(&app, "root", true).await;
    let (member, auth) = signed_in(&app, "member", false).await;
    let r = send(
        &app,
        Method::POST,
        "/api/auth/roles/create/",
        Some(&admin),
        Some(json!({"name": "auditors"})),
    )
    .await;
    let group = r.json()["id"].as_i64().unwrap();
    join_group(&app, member, group).await;
    let r = send(
        &app,
        Method::GET,
        "/api/auth/permissions/",
        Some(&auth),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    let view_permission = permission_id(&app, "auth.view_permission").await;
    let path = format!("/api/auth/permissions/{group}/update/");
    let r = send(
        &app,
        Method::PUT,
        &path,
        Some(&admin),
        Some(json!({"permissions": [view_permission]})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", text(&r));
    let r = send(
        &app,
        Method::GET,
        "/api/auth/permissions/",
        Some(&auth),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", text(&r));

    // Deleting the role takes the permission away again.
    let r = send(
        &app,
        Method::DELETE,
        &format!("/api/auth/roles/{group}/"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = send(
        &app,
        Method::GET,
        "/api/auth/permissions/",
        Some(&auth),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

async fn the_openapi_document_describes_the_role_endpoints(app: TestApp) {
    let r = app.get("/api/schema/").await;
    assert_eq!(r.status, StatusCode::OK);
    let doc = r.json();
    let paths = &doc["paths"];
    for (path, method) in [
        ("/api/auth/roles/", "get"),
        ("/api/auth/roles/create/", "post"),
        ("/api/auth/roles/{id}/", "put"),
        ("/api/auth/roles/{id}/", "patch"),
        ("/api/auth/roles/{id}/", "delete"),
        ("/api/auth/permissions/", "get"),
        ("/api/auth/permissions/{group_id}/update/", "put"),
    ] {
        let op = &paths[path][method];
        assert_eq!(op["tags"], json!(["accounts"]), "{method} {path}");
        assert!(
            op["responses"].as_object().is_some_and(|r| !r.is_empty()),
            "{method} {path}"
        );
    }
    let schemas = &doc["components"]["schemas"];
    for name in [
        "RoleBody",
        "RoleRequest",
        "PermissionBody",
        "PermissionsRequest",
    ] {
        assert!(schemas[name].is_object(), "{name} missing");
    }
    assert_eq!(
        paths["/api/auth/roles/create/"]["post"]["requestBody"]["content"]["application/json"]["schema"]
            ["$ref"],
        json!("#/components/schemas/RoleRequest")
    );
}
