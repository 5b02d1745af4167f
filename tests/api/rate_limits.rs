//! `[rate_limit]` over HTTP: budgets per address and per class, failed
//! logins per account at an address (never the account everywhere), mails
//! per recipient, the client address behind trusted proxies, and budgets
//! shared by two nodes through Redis. Requests carry a socket address as
//! a served request does; each test uses addresses of its own (random
//! ones where Redis keeps budgets across runs).

use axum::http::{Method, StatusCode};
use doorman::config::{Cidr, Settings};
use serde_json::json;

use crate::{
    on_both_backends,
    support::{
        Backend, TestApp,
        limits::{assert_throttled, login_from, only, post_from, rate},
        people::PW,
    },
};

on_both_backends!(
    failed_logins_lock_one_address_out_of_one_account,
    a_success_starts_the_count_again,
    every_login_path_draws_on_one_budget,
    failed_logins_per_address_span_accounts,
    an_inbox_gets_a_few_mails_whoever_asks,
    concurrent_guesses_cannot_slip_past_the_budget,
    current_password_guesses_are_limited,
    mails_to_a_changed_login_spend_the_recipient_budget,
);

async fn app_with(app: TestApp, tweak: impl FnOnce(&mut Settings)) -> TestApp {
    let backend = app.db.backend;
    drop(app);
    TestApp::with_settings(backend, tweak).await
}

async fn failed_logins_lock_one_address_out_of_one_account(app: TestApp) {
    let app = app_with(app, |s| {
        only(s, |r| r.login_failures_per_account = rate("3/15m"))
    })
    .await;
    app.user("victim").create().await;
    let attacker = "198.51.100.7";
    for _ in 0..3 {
        assert_eq!(
            login_from(&app, attacker, "victim", "guess").await,
            StatusCode::UNAUTHORIZED
        );
    }
    // Even the right password is refused from there, before it is checked.
    let r = post_from(
        &app,
        attacker,
        "/auth/jwt/create/",
        json!({"username": "victim", "password": PW}),
        &[],
    )
    .await;
    assert_throttled(&r);
    // Look-alike spellings of the name share the budget.
    assert_eq!(
        login_from(&app, attacker, "VICTIM", "guess").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // The owner, elsewhere, signs in at once; the attacker may still try
    // other accounts.
    assert_eq!(
        login_from(&app, "203.0.113.5", "victim", PW).await,
        StatusCode::OK
    );
    assert_eq!(
        login_from(&app, attacker, "someone", "guess").await,
        StatusCode::UNAUTHORIZED
    );
}

async fn a_success_starts_the_count_again(app: TestApp) {
    let app = app_with(app, |s| {
        only(s, |r| r.login_failures_per_account = rate("3/15m"))
    })
    .await;
    app.user("typo").create().await;
    let home = "192.0.2.10";
    for _ in 0..3 {
        assert_eq!(
            login_from(&app, home, "typo", "oops").await,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            login_from(&app, home, "typo", "oops").await,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(login_from(&app, home, "typo", PW).await, StatusCode::OK);
    }
}

async fn every_login_path_draws_on_one_budget(app: TestApp) {
    let app = app_with(app, |s| {
        only(s, |r| {
            r.login_failures_per_account = rate("4/15m");
            r.logins_per_address = rate("100/m");
        })
    })
    .await;
    app.user("multi").create().await;
    let from = "198.51.100.20";
    let wrong = json!({"username": "multi", "password": "nope"});
    for path in [
        "/auth/jwt/create/",
        "/auth/token/login/",
        "/auth/token/create/",
        "/api/auth/login/",
    ] {
        let r = post_from(&app, from, path, wrong.clone(), &[]).await;
        assert!(
            r.status.is_client_error() && r.status != StatusCode::TOO_MANY_REQUESTS,
            "{path}: {}",
            r.status
        );
    }
    for path in ["/auth/login/", "/auth/jwt/create/", "/api/auth/login/"] {
        let r = post_from(&app, from, path, wrong.clone(), &[]).await;
        assert_throttled(&r);
    }
    // The Accounts API's e-mail login names the same account.
    let by_mail = json!({"username": "multi@example.com", "password": PW});
    let r = post_from(&app, from, "/api/auth/login/", by_mail, &[]).await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "another name for it is another key"
    );
}

async fn failed_logins_per_address_span_accounts(app: TestApp) {
    let app = app_with(app, |s| {
        only(s, |r| r.login_failures_per_address = rate("4/15m"))
    })
    .await;
    app.user("real").create().await;
    let sprayer = "198.51.100.30";
    for name in ["a1", "a2", "a3", "real"] {
        assert_eq!(
            login_from(&app, sprayer, name, "Spring2026!").await,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        login_from(&app, sprayer, "a5", "x").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        login_from(&app, sprayer, "real", PW).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        login_from(&app, "203.0.113.30", "real", PW).await,
        StatusCode::OK
    );
}

async fn an_inbox_gets_a_few_mails_whoever_asks(app: TestApp) {
    let app = app_with(app, |s| only(s, |r| r.mail_per_recipient = rate("2/h"))).await;
    app.user("inbox").create().await;
    let mut answers = Vec::new();
    let mut unknown = Vec::new();
    for i in 0..6 {
        let from = format!("198.51.100.{}", 100 + i);
        let r = post_from(
            &app,
            &from,
            "/auth/users/reset_password/",
            json!({"email": "Inbox@example.com"}),
            &[],
        )
        .await;
        answers.push(r.status);
        let r = post_from(
            &app,
            &from,
            "/api/auth/forgot-password/",
            json!({"email": "nobody@example.com"}),
            &[],
        )
        .await;
        unknown.push(r.status);
    }
    let throttled = StatusCode::TOO_MANY_REQUESTS;
    assert_eq!(&answers[2..], &[throttled; 4], "{answers:?}");
    assert!(answers[..2].iter().all(|s| s.is_success()), "{answers:?}");
    // An address with no account is answered the same way: the budget
    // counts requests for an address, not mails to an account.
    assert!(unknown[..2].iter().all(|s| s.is_success()), "{unknown:?}");
    assert_eq!(&unknown[2..], &[throttled; 4], "{unknown:?}");
    let queued = app
        .db
        .scalar("SELECT COUNT(*) FROM doorman_outbox WHERE recipient = 'inbox@example.com'")
        .await;
    assert_eq!(queued, 2);
}

#[tokio::test]
async fn per_address_budgets_and_trusted_proxies() {
    let app = TestApp::with_settings(Backend::Sqlite, |s| {
        only(s, |r| r.registrations_per_address = rate("2/h"));
        s.server.trusted_proxies = vec![Cidr::parse("10.0.0.0/8").unwrap()];
    })
    .await;
    let register = |name: &str| json!({"username": name, "password": "a-Sturdy-passphrase-42", "email": format!("{name}@example.com")});
    let mut n = 0;
    let mut next = || {
        n += 1;
        register(&format!("reg{n}"))
    };
    // Straight from a client: two, then refused.
    let direct = "198.51.100.40";
    for _ in 0..2 {
        assert_eq!(
            post_from(&app, direct, "/auth/users/", next(), &[])
                .await
                .status,
            StatusCode::CREATED
        );
    }
    assert_throttled(&post_from(&app, direct, "/auth/users/", next(), &[]).await);
    // A spoofed header from an untrusted peer changes nothing.
    let spoof = [("x-forwarded-for", "203.0.113.99")];
    assert_throttled(&post_from(&app, direct, "/auth/users/", next(), &spoof).await);
    // Through a trusted proxy each client has its own budget...
    let proxy = "10.0.0.1";
    for client in ["203.0.113.1", "203.0.113.2"] {
        let via = [("x-forwarded-for", client)];
        for _ in 0..2 {
            let r = post_from(&app, proxy, "/auth/users/", next(), &via).await;
            assert_eq!(r.status, StatusCode::CREATED, "{client}");
        }
        assert_throttled(&post_from(&app, proxy, "/auth/users/", next(), &via).await);
    }
    // ...and what a client writes left of the address its proxy saw is
    // ignored.
    let forged = [("x-forwarded-for", "192.0.2.77, 203.0.113.1")];
    assert_throttled(&post_from(&app, proxy, "/auth/users/", next(), &forged).await);
    // Probes are never refused.
    for _ in 0..5 {
        assert_eq!(app.get("/healthz/").await.status, StatusCode::OK);
    }
}

/// A random documentation address (2001:db8::/32), so budgets Redis keeps
/// from an earlier run are not this run's.
fn fresh_address() -> String {
    let n: u64 = rand::random();
    format!("2001:db8:{:x}:{:x}::1", (n >> 16) & 0xffff, n & 0xffff)
}

#[tokio::test]
async fn two_nodes_sharing_redis_draw_on_one_budget() {
    let tweak = |s: &mut Settings| {
        only(s, |r| {
            r.login_failures_per_account = rate("4/15m");
            r.redis_url = Some("redis://127.0.0.1:6379".into());
        })
    };
    let a = TestApp::with_settings(Backend::Sqlite, tweak).await;
    let b = TestApp::with_settings(Backend::Sqlite, tweak).await;
    a.user("shared").create().await;
    b.user("shared").create().await;
    let attacker = fresh_address();
    for node in [&a, &b, &a, &b] {
        assert_eq!(
            login_from(node, &attacker, "shared", "guess").await,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        login_from(&a, &attacker, "shared", PW).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        login_from(&b, &attacker, "shared", PW).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    let r = a.get("/readyz/").await;
    assert_eq!(r.json(), json!({"status": "ok"}));
}

#[tokio::test]
async fn without_redis_each_node_keeps_its_own_budgets() {
    let app = TestApp::with_settings(Backend::Sqlite, |s| {
        only(s, |r| {
            r.login_failures_per_account = rate("2/15m");
            // Nothing listens there.
            r.redis_url = Some("redis://127.0.0.1:9".into());
        })
    })
    .await;
    app.user("alone").create().await;
    let from = "198.51.100.50";
    for _ in 0..2 {
        assert_eq!(
            login_from(&app, from, "alone", "guess").await,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        login_from(&app, from, "alone", PW).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        login_from(&app, "198.51.100.51", "alone", PW).await,
        StatusCode::OK
    );
    let r = app.get("/readyz/").await;
    assert_eq!(r.status, StatusCode::OK, "still ready");
    let detail = r.json()["detail"].as_str().unwrap().to_string();
    assert!(
        detail.contains("per node") && detail.contains("Redis"),
        "{detail}"
    );
}

async fn concurrent_guesses_cannot_slip_past_the_budget(app: TestApp) {
    let app = app_with(app, |s| {
        only(s, |r| r.login_failures_per_account = rate("3/15m"))
    })
    .await;
    app.user("racer").create().await;
    let attacker = "198.51.100.60";
    let guesses = (0..20).map(|i| {
        let app = &app;
        async move { login_from(app, attacker, "racer", &format!("guess-{i}")).await }
    });
    let answers = futures_util::future::join_all(guesses).await;
    let checked = answers
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    assert_eq!(
        checked, 3,
        "only the budget's worth is checked: {answers:?}"
    );
    assert!(
        answers
            .iter()
            .all(|s| *s == StatusCode::UNAUTHORIZED || *s == StatusCode::TOO_MANY_REQUESTS)
    );
}

async fn current_password_guesses_are_limited(app: TestApp) {
    let app = app_with(app, |s| {
        only(s, |r| r.login_failures_per_account = rate("3/15m"))
    })
    .await;
    let thief = app.user("stolen").signed_in().await;
    let guess = |password: &str| {
        let body = json!({"current_password": password});
        let auth = thief.auth().to_string();
        let app = &app;
        async move {
            app.request(Method::DELETE, "/auth/users/me/", Some(&auth), Some(body))
                .await
        }
    };
    for i in 0..3 {
        assert_eq!(
            guess(&format!("nope-{i}")).await.status,
            StatusCode::BAD_REQUEST
        );
    }
    assert_throttled(&guess(PW).await);
    // An admin's unlock clears this budget as it clears the login's.
    let boss = app.user("boss").superuser().signed_in().await;
    let r = app
        .request(
            Method::DELETE,
            &format!("/api/auth/users/{}/lockouts/", thief.id),
            Some(boss.auth()),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{r:?}");
    assert_eq!(
        guess("still-wrong").await.status,
        StatusCode::BAD_REQUEST,
        "the unlock reached the current-password budget"
    );
}

async fn mails_to_a_changed_login_spend_the_recipient_budget(app: TestApp) {
    let app = app_with(app, |s| {
        only(s, |r| r.mail_per_recipient = rate("1/h"));
        s.djoser.username_changed_email_confirmation = true;
    })
    .await;
    let me = app.user("renamer").signed_in().await;
    let rename = |name: &str| {
        let body = json!({"current_password": PW, "new_username": name});
        let auth = me.auth().to_string();
        let app = &app;
        async move {
            app.request(
                Method::POST,
                "/auth/users/set_username/",
                Some(&auth),
                Some(body),
            )
            .await
        }
    };
    assert_eq!(rename("renamed1").await.status, StatusCode::NO_CONTENT);
    assert_throttled(&rename("renamed2").await);
    // Refused, nothing changed.
    let name = app
        .db
        .text(&format!(
            "SELECT username FROM auth_user WHERE id = {}",
            me.id
        ))
        .await;
    assert_eq!(name, "renamed1");
}

#[tokio::test]
async fn forged_forwarded_headers_and_ipv6_neighbours_change_nothing() {
    let app = TestApp::with_settings(Backend::Sqlite, |s| {
        only(s, |r| r.registrations_per_address = rate("1/h"));
        s.server.trusted_proxies = vec![Cidr::parse("10.0.0.0/8").unwrap()];
    })
    .await;
    let register = |n: u32| json!({"username": format!("n{n}"), "password": "a-Sturdy-passphrase-42", "email": format!("n{n}@example.com")});
    // Through a proxy that appends to X-Forwarded-For, a `Forwarded` the
    // client wrote is not read.
    let via = [("x-forwarded-for", "203.0.113.70")];
    assert_eq!(
        post_from(&app, "10.0.0.1", "/auth/users/", register(1), &via)
            .await
            .status,
        StatusCode::CREATED
    );
    for (i, fake) in ["for=192.0.2.1", "for=192.0.2.2"].iter().enumerate() {
        let headers = [("x-forwarded-for", "203.0.113.70"), ("forwarded", *fake)];
        let r = post_from(
            &app,
            "10.0.0.1",
            "/auth/users/",
            register(10 + i as u32),
            &headers,
        )
        .await;
        assert_throttled(&r);
    }
    // Two addresses of one IPv6 /64 are one client.
    let a = "2001:db8:aa:bb::1";
    let b = "2001:db8:aa:bb:ffff::2";
    assert_eq!(
        post_from(&app, a, "/auth/users/", register(2), &[])
            .await
            .status,
        StatusCode::CREATED
    );
    assert_throttled(&post_from(&app, b, "/auth/users/", register(3), &[]).await);
    let elsewhere = "2001:db8:aa:bc::1";
    assert_eq!(
        post_from(&app, elsewhere, "/auth/users/", register(4), &[])
            .await
            .status,
        StatusCode::CREATED
    );
}
