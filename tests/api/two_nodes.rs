//! Two real doorman processes on one PostgreSQL database and the local
//! Redis, as two nodes behind a load balancer: they enforce one failed-login
//! budget, and a `logout_all` on one refuses the JWT on the other within
//! `database.user_cache_ttl_ms`.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::{
    Backend, TestDb,
    people::PW,
    served::{cli, serve, stop},
};

#[tokio::test]
async fn two_processes_share_one_budget_and_one_revocation() {
    let db = TestDb::new(Backend::Postgres).await;
    // Redis keeps budgets across runs: a name of this run's own, and no
    // per-address budgets (both nodes see the test as 127.0.0.1).
    let name = format!("node-user-{}", std::process::id());
    let env = [
        (
            "DOORMAN_RATE_LIMIT__REDIS_URL",
            "redis://127.0.0.1:6379".to_string(),
        ),
        (
            "DOORMAN_RATE_LIMIT__LOGIN_FAILURES_PER_ACCOUNT",
            "4/15m".into(),
        ),
        (
            "DOORMAN_RATE_LIMIT__LOGIN_FAILURES_PER_ADDRESS",
            "off".into(),
        ),
        ("DOORMAN_RATE_LIMIT__LOGINS_PER_ADDRESS", "off".into()),
        (
            "DOORMAN_RATE_LIMIT__REGISTRATIONS_PER_ADDRESS",
            "off".into(),
        ),
        ("DOORMAN_RATE_LIMIT__REQUESTS_PER_ADDRESS", "off".into()),
        ("DOORMAN_DATABASE__USER_CACHE_TTL_MS", "1000".into()),
    ];
    let (a, base_a) = serve(&db, &env);
    let (b, base_b) = serve(&db, &env);
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{base_a}/auth/users/"))
        .json(&json!({"username": name, "password": PW, "email": "nodes@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let login = |base: &str, password: &str| {
        http.post(format!("{base}/auth/jwt/create/"))
            .json(&json!({"username": name, "password": password}))
            .send()
    };

    // Four failures spread over both nodes spend the one budget...
    for base in [&base_a, &base_b, &base_a, &base_b] {
        assert_eq!(login(base, "wrong").await.unwrap().status(), 401);
    }
    // ...so either node now refuses, even the right password.
    assert_eq!(login(&base_a, PW).await.unwrap().status(), 429);
    assert_eq!(login(&base_b, PW).await.unwrap().status(), 429);

    // The operator clears it once, for both nodes.
    let out = cli(&db)
        .env("DOORMAN_RATE_LIMIT__REDIS_URL", "redis://127.0.0.1:6379")
        .args(["unlock", &name])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let pair: serde_json::Value = login(&base_b, PW).await.unwrap().json().await.unwrap();
    let access = pair["access"]
        .as_str()
        .expect("a token after unlock")
        .to_string();

    let me = |base: &str| {
        http.get(format!("{base}/auth/users/me/"))
            .bearer_auth(&access)
            .send()
    };
    assert_eq!(me(&base_a).await.unwrap().status(), 200);
    let r = http
        .post(format!("{base_b}/auth/token/logout_all/"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    // Node A learns of it within its user cache's lifetime (1 s), with a
    // margin for a loaded machine.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let status = me(&base_a).await.unwrap().status();
        if status == 401 {
            break;
        }
        assert_eq!(status, 200);
        assert!(Instant::now() < deadline, "node A still accepts the token");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop(a);
    stop(b);
}
