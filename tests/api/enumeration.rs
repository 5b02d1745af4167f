//! Failed logins cannot tell accounts apart: a wrong password for an
//! account still on an older Django's PBKDF2 (36,000 iterations: Django
//! 5.2's million take seconds in a debug build), for one on the
//! current hash, for an inactive one, and any password for a name nobody
//! has, get the same status and body, and take as long (medians of
//! interleaved attempts). The margin is generous because the suite runs
//! tests in parallel on two cores; without the floor the PBKDF2 account
//! answers tens of times slower than the others.

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use serde_json::json;

use crate::support::{Backend, TestApp, client::post};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[tokio::test]
async fn failed_logins_take_as_long_whatever_the_account() {
    let app = TestApp::with_settings(Backend::Sqlite, |s| {
        // Repeated failures are the measurement here, not an attack.
        s.rate_limit.enabled = false;
    })
    .await;
    app.user("modern").create().await;
    app.user("dormant").inactive().create().await;
    app.user("legacy").create().await;
    let vectors: serde_json::Value =
        serde_json::from_str(include_str!("../django/vectors.json")).unwrap();
    let pbkdf2 = vectors
        .as_array()
        .unwrap()
        .iter()
        .find(|v| {
            v["encoded"]
                .as_str()
                .unwrap()
                .starts_with("pbkdf2_sha256$36000$")
        })
        .unwrap()["encoded"]
        .as_str()
        .unwrap()
        .to_string();
    app.db
        .execute(&format!(
            "UPDATE auth_user SET password = '{pbkdf2}' WHERE username = 'legacy'"
        ))
        .await;
    // What `doorman serve` does at start.
    app.state.users.learn_hash_costs().await.unwrap();

    let names = ["legacy", "modern", "dormant", "nobody"];
    let mut times: Vec<Vec<Duration>> = vec![Vec::new(); names.len()];
    let mut answers = Vec::new();
    for _ in 0..9 {
        for (i, name) in names.iter().enumerate() {
            let started = Instant::now();
            let r = post(
                &app,
                "/auth/jwt/create/",
                json!({"username": name, "password": "not-the-password"}),
            )
            .await;
            times[i].push(started.elapsed());
            answers.push((r.status, r.body));
        }
    }
    let first = answers[0].clone();
    assert_eq!(first.0, StatusCode::UNAUTHORIZED);
    assert!(
        answers.iter().all(|a| *a == first),
        "every failure answers alike"
    );
    let medians: Vec<Duration> = times.into_iter().map(median).collect();
    let slowest = *medians.iter().max().unwrap();
    let fastest = *medians.iter().min().unwrap();
    assert!(
        slowest.as_secs_f64() / fastest.as_secs_f64() < 1.5,
        "medians {names:?}: {medians:?}"
    );
}
