//! `?search=` on the admin lists (`users/`, `user_profile/`): a substring
//! of username, e-mail, first or last name, ignoring case, with `%`, `_`
//! and `\` matched as themselves, on both backends.

use axum::http::{Method, StatusCode};
use serde_json::Value;

use crate::support::{TestApp, client::text};

/// Adds a user row as Django (or a data import) could have left it: the
/// username is not checked against Django's validator, so it may hold `%`
/// or `\`, which `Username::parse` refuses.
async fn raw_user(app: &TestApp, username: &str) {
    let quoted = username.replace('\'', "''");
    app.db
        .execute(&format!(
            "INSERT INTO auth_user (password, is_superuser, username, first_name, last_name, \
             email, is_staff, is_active, date_joined) \
             VALUES ('!', false, '{quoted}', '', '', '', false, true, '2026-01-01 00:00:00')"
        ))
        .await;
}

/// The usernames a list answers `?search=<term>` with (`term` is
/// percent-encoded here), after checking that `count` agrees.
async fn found(app: &TestApp, auth: &str, list: &str, term: &str) -> Vec<String> {
    let query = serde_urlencoded::to_string([("search", term), ("page_size", "100")]).unwrap();
    let r = app
        .request(
            Method::GET,
            &format!("/api/auth/{list}/?{query}"),
            Some(auth),
            None,
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "{list} ?search={term}: {}",
        text(&r)
    );
    let body = r.json();
    let names: Vec<String> = body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        body["count"].as_u64(),
        Some(names.len() as u64),
        "{list} ?search={term}: {body}"
    );
    names
}

async fn wildcards_in_a_search_match_themselves(app: TestApp) {
    let root = app.user("root").superuser().signed_in().await;
    app.user("u_abc123").create().await;
    app.user("uxabc123").create().await;
    raw_user(&app, "a%b").await;
    raw_user(&app, "back\\slash").await;
    for list in ["users", "user_profile"] {
        assert_eq!(
            found(&app, root.auth(), list, "u_abc123").await,
            ["u_abc123"],
            "`_` is not a one-character wildcard ({list})"
        );
        assert_eq!(found(&app, root.auth(), list, "%").await, ["a%b"], "{list}");
        assert_eq!(
            found(&app, root.auth(), list, "\\").await,
            ["back\\slash"],
            "{list}"
        );
        assert_eq!(
            found(&app, root.auth(), list, "_").await,
            ["u_abc123"],
            "{list}"
        );
        assert_eq!(
            found(&app, root.auth(), list, "ABC1").await,
            ["u_abc123", "uxabc123"],
            "case is ignored ({list})"
        );
    }
}

async fn user_profile_search_matches_names_and_addresses(app: TestApp) {
    let root = app.user("root").superuser().signed_in().await;
    let amy = app.user("amy").create().await;
    app.user("ben").create().await;
    app.user("benedict").create().await;
    app.db
        .execute(&format!(
            "UPDATE auth_user SET first_name = 'Zelda', last_name = 'Quist' WHERE id = {}",
            amy.id
        ))
        .await;
    let auth = root.auth();
    assert_eq!(
        found(&app, auth, "user_profile", "ben").await,
        ["ben", "benedict"]
    );
    assert_eq!(
        found(&app, auth, "user_profile", "AMY@example.com").await,
        ["amy"]
    );
    assert_eq!(found(&app, auth, "user_profile", "zeld").await, ["amy"]);
    assert_eq!(found(&app, auth, "user_profile", "QUIST").await, ["amy"]);
    assert!(found(&app, auth, "user_profile", "nobody").await.is_empty());
    assert_eq!(found(&app, auth, "user_profile", "").await.len(), 4);

    // The page links keep the search.
    let r = app
        .request(
            Method::GET,
            "/api/auth/user_profile/?search=ben&page_size=1",
            Some(auth),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", text(&r));
    let body = r.json();
    assert_eq!(body["count"], 2);
    assert_eq!(body["results"][0]["username"], "ben");
    let next = body["next"].as_str().unwrap();
    assert!(next.contains("search=ben"), "{next}");
    assert!(next.contains("page=2"), "{next}");
    assert_eq!(body["previous"], Value::Null);
}

crate::on_both_backends!(
    wildcards_in_a_search_match_themselves,
    user_profile_search_matches_names_and_addresses,
    a_name_is_found_as_it_is_spelt,
);

/// A name with a non-ASCII capital is found by its exact spelling and by
/// its ASCII letters in any case on both backends (SQLite's `lower()`
/// folds only ASCII; PostgreSQL folds as its locale does).
async fn a_name_is_found_as_it_is_spelt(app: TestApp) {
    let root = app.user("root").superuser().signed_in().await;
    raw_user(&app, "Émile").await;
    app.user("emilia").create().await;
    for list in ["users", "user_profile"] {
        for term in ["Émile", "ÉMILE", "mile"] {
            let names = found(&app, root.auth(), list, term).await;
            assert!(
                names.contains(&"Émile".to_string()),
                "{list} {term}: {names:?}"
            );
        }
        assert_eq!(found(&app, root.auth(), list, "Émile").await, ["Émile"]);
    }
}
