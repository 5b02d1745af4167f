//! Second factors as a user meets them: setting up an authenticator app
//! (with the password asked again), logins that wait for a code at each
//! login endpoint and finish at `mfa/login/` in that endpoint's shape,
//! codes good once (replays, two racing requests), recovery codes, the
//! wrong-code limits, removing the app; and users without a factor seeing
//! no change at all. Codes are computed here by an RFC 6238 implementation
//! of the test's own, from the secret the API hands out.

use axum::http::{Method, StatusCode};
use hmac::{KeyInit as _, Mac as _};
use serde_json::{Value, json};

use crate::support::{
    TestApp, TestResponse,
    accounts::{login_token, register},
    client::{jwt_claims, post, text, token},
    commands::{self, doorman},
    people::PW,
};

crate::on_both_backends!(
    a_login_waits_for_the_second_factor_at_every_endpoint,
    codes_work_once,
    wrong_codes_end_the_login_and_then_the_account_waits,
    setting_up_asks_for_the_password_and_a_code_confirms,
    removing_the_app_asks_again_and_turns_it_off,
    users_without_a_factor_see_no_change,
    an_administrator_resets_a_lost_factor,
    tokens_say_how_the_user_signed_in,
    every_change_to_a_factor_is_mailed,
    a_recent_sign_in_stands_in_for_the_password,
    a_guarded_password_change_or_deletion_asks_for_a_code,
);

/// RFC 4648 base32 without padding, as the setup answers the secret.
fn base32(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let (mut bits, mut value, mut out) = (0u32, 0u64, Vec::new());
    for c in text.trim_end_matches('=').bytes() {
        let digit = ALPHABET.iter().position(|a| *a == c).expect("base32") as u64;
        value = (value << 5) | digit;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((value >> bits) as u8);
            value &= (1 << bits) - 1;
        }
    }
    out
}

/// The six-digit code of `secret` for time step `step` (RFC 6238 over
/// RFC 4226's HOTP, SHA-1).
fn code_at(secret: &[u8], step: u64) -> String {
    let mut mac = hmac::Hmac::<sha1::Sha1>::new_from_slice(secret).unwrap();
    mac.update(&step.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = (digest[19] & 0xf) as usize;
    let number = u32::from_be_bytes(digest[offset..offset + 4].try_into().unwrap()) & 0x7fff_ffff;
    format!("{:06}", number % 1_000_000)
}

fn step_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        / 30
}

async fn call(app: &TestApp, method: Method, path: &str, auth: &str, body: Value) -> TestResponse {
    app.request(method, path, Some(auth), Some(body)).await
}

/// A user with the app confirmed: (Authorization value, secret, the
/// recovery codes). The step the confirmation used is `step_now()` at the
/// time, so the next code to work is that of the step after.
async fn with_app(app: &TestApp, name: &str) -> (String, Vec<u8>, Vec<String>) {
    register(app, name).await;
    turn_on(app, name).await
}

/// `with_app` for a user who exists already.
async fn turn_on(app: &TestApp, name: &str) -> (String, Vec<u8>, Vec<String>) {
    let auth = token(&login_token(app, name, PW).await);
    let r = call(
        app,
        Method::POST,
        "/auth/mfa/totp/setup/",
        &auth,
        json!({"current_password": PW}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", text(&r));
    let secret = base32(r.json()["secret"].as_str().unwrap());
    let r = call(
        app,
        Method::POST,
        "/auth/mfa/totp/confirm/",
        &auth,
        json!({"code": code_at(&secret, step_now())}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", text(&r));
    let codes = r.json()["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    (auth, secret, codes)
}

/// Logs in at `path` with the password; the `mfa_required` answer.
async fn waits(app: &TestApp, path: &str, name: &str) -> Value {
    let r = post(app, path, json!({"username": name, "password": PW})).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{path}: {}", text(&r));
    assert_eq!(
        r.header("www-authenticate"),
        Some("Bearer realm=\"api\""),
        "{path}"
    );
    let body = r.json();
    assert_eq!(body["code"], "mfa_required", "{body}");
    assert_eq!(body["detail"], "Two-factor authentication is required.");
    assert_eq!(body["expires_in"], 300);
    assert_eq!(body["mfa_token"].as_str().unwrap().len(), 43, "{body}");
    body
}

async fn finish(app: &TestApp, mfa_token: &Value, code: &str) -> TestResponse {
    post(
        app,
        "/auth/mfa/login/",
        json!({"mfa_token": mfa_token, "code": code}),
    )
    .await
}

async fn me(app: &TestApp, auth: &str) -> StatusCode {
    app.request(Method::GET, "/auth/users/me/", Some(auth), None)
        .await
        .status
}

async fn a_login_waits_for_the_second_factor_at_every_endpoint(app: TestApp) {
    let (_, secret, codes) = with_app(&app, "alice").await;

    // jwt/create: nothing is issued, then the pair.
    let last_login =
        "SELECT COALESCE(CAST(last_login AS TEXT), '') FROM auth_user WHERE username = 'alice'";
    let wait = waits(&app, "/auth/jwt/create/", "alice").await;
    assert_eq!(wait["methods"], json!(["totp", "recovery_codes"]));
    let r = finish(&app, &wait["mfa_token"], &code_at(&secret, step_now() + 1)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", text(&r));
    let body = r.json();
    let mut keys: Vec<_> = body.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    assert_eq!(keys, ["access", "refresh"], "jwt/create's shape: {body}");
    let access = format!("Bearer {}", body["access"].as_str().unwrap());
    assert_eq!(me(&app, &access).await, StatusCode::OK);
    let r = post(
        &app,
        "/auth/jwt/refresh/",
        json!({"refresh": body["refresh"]}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", text(&r));

    // token/login/ and its 1.x names: a token, and last_login only now.
    for (at, path) in ["/auth/token/login/", "/auth/token/create/", "/auth/login/"]
        .into_iter()
        .enumerate()
    {
        let before = app.db.text(last_login).await;
        let wait = waits(&app, path, "alice").await;
        let after_password = app.db.text(last_login).await;
        assert_eq!(
            after_password, before,
            "{path}: no last_login before the factor"
        );
        let r = finish(&app, &wait["mfa_token"], &codes[at]).await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {}", text(&r));
        let key = r.json()["auth_token"].as_str().unwrap().to_string();
        assert_eq!(me(&app, &token(&key)).await, StatusCode::OK, "{path}");
        assert_ne!(
            app.db.text(last_login).await,
            before,
            "{path}: last_login now"
        );
    }

    // The Accounts API's login: a session with the user.
    let wait = waits(&app, "/api/auth/login/", "alice").await;
    let r = finish(&app, &wait["mfa_token"], &codes[5]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", text(&r));
    let body = r.json();
    assert_eq!(body["user"]["username"], "alice", "{body}");
    let access = format!("Bearer {}", body["access"].as_str().unwrap());
    let r = app
        .request(Method::GET, "/api/auth/sessions/", Some(&access), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", text(&r));

    // A script logs in in one request with the code along.
    let r = post(
        &app,
        "/auth/jwt/create/",
        json!({"username": "alice", "password": PW, "code": codes[6]}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", text(&r));
    assert!(r.json()["access"].is_string());
    let r = post(
        &app,
        "/auth/jwt/create/",
        json!({"username": "alice", "password": PW, "code": "000000"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", text(&r));
    assert_eq!(r.json(), json!({"code": ["Invalid code."]}));

    // A wrong password answers as it always did: MFA is never revealed
    // before the password is right.
    let r = post(
        &app,
        "/auth/jwt/create/",
        json!({"username": "alice", "password": "wrong-password"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        r.json(),
        json!({"detail": "No active account found with the given credentials"})
    );
    let r = post(
        &app,
        "/auth/token/login/",
        json!({"username": "alice", "password": "wrong-password"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.json(),
        json!({"non_field_errors": ["Unable to log in with provided credentials."]})
    );
}

async fn codes_work_once(app: TestApp) {
    let (_, secret, codes) = with_app(&app, "bob").await;
    let confirmed_with = code_at(&secret, step_now());
    let next = code_at(&secret, step_now() + 1);

    // The code that confirmed the app is spent.
    let wait = waits(&app, "/auth/jwt/create/", "bob").await;
    let r = finish(&app, &wait["mfa_token"], &confirmed_with).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", text(&r));
    assert_eq!(r.json(), json!({"code": ["Invalid code."]}));

    // Two logins race one code: exactly one wins.
    let a = waits(&app, "/auth/jwt/create/", "bob").await;
    let b = waits(&app, "/auth/jwt/create/", "bob").await;
    let (ra, rb) = tokio::join!(
        finish(&app, &a["mfa_token"], &next),
        finish(&app, &b["mfa_token"], &next)
    );
    // The loser is told the code is spent, or (when it came while the
    // winner's try was being checked) to try again in a second.
    let won = [&ra, &rb]
        .iter()
        .filter(|r| r.status == StatusCode::OK)
        .count();
    assert_eq!(won, 1, "{} / {}", text(&ra), text(&rb));
    let lost = if ra.status == StatusCode::OK {
        &rb
    } else {
        &ra
    };
    assert!(
        matches!(
            lost.status,
            StatusCode::BAD_REQUEST | StatusCode::TOO_MANY_REQUESTS
        ),
        "{}",
        text(lost)
    );
    // A finished login's token is spent (the code sent with it is not).
    let won = if ra.status == StatusCode::OK { &a } else { &b };
    let r = finish(&app, &won["mfa_token"], &codes[0]).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", text(&r));
    assert_eq!(r.json()["code"], "mfa_token_invalid");

    // A recovery code works once, typed loosely.
    let wait = waits(&app, "/auth/jwt/create/", "bob").await;
    let loose = codes[1].to_lowercase().replace('-', " ");
    let r = finish(&app, &wait["mfa_token"], &loose).await;
    assert_eq!(r.status, StatusCode::OK, "{}", text(&r));
    let wait = waits(&app, "/auth/jwt/create/", "bob").await;
    let r = finish(&app, &wait["mfa_token"], &codes[1]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", text(&r));

    // The count says so.
    let r = post(
        &app,
        "/auth/jwt/create/",
        json!({"username": "bob", "password": PW, "code": codes[2]}),
    )
    .await;
    let auth = format!("Bearer {}", r.json()["access"].as_str().unwrap());
    let r = app
        .request(Method::GET, "/auth/mfa/recovery_codes/", Some(&auth), None)
        .await;
    assert_eq!(r.json(), json!({"total": 10, "unused": 8}), "{}", text(&r));

    // A new set kills the old one (the password and a code again).
    let r = call(
        &app,
        Method::POST,
        "/auth/mfa/recovery_codes/",
        &auth,
        json!({"current_password": PW}),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", text(&r));
    assert_eq!(r.json()["code"], "reauthentication_required");
    let r = call(
        &app,
        Method::POST,
        "/auth/mfa/recovery_codes/",
        &auth,
        json!({"current_password": PW, "code": codes[3]}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", text(&r));
    let fresh = r.json()["recovery_codes"].as_array().unwrap().clone();
    assert_eq!(fresh.len(), 10);
    let wait = waits(&app, "/auth/jwt/create/", "bob").await;
    let r = finish(&app, &wait["mfa_token"], &codes[4]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "old set: {}", text(&r));
    let r = finish(&app, &wait["mfa_token"], fresh[0].as_str().unwrap()).await;
    assert_eq!(r.status, StatusCode::OK, "new set: {}", text(&r));
}

async fn wrong_codes_end_the_login_and_then_the_account_waits(app: TestApp) {
    let (_, _, codes) = with_app(&app, "carol").await;
    let wait = waits(&app, "/auth/jwt/create/", "carol").await;
    for _ in 0..5 {
        let r = finish(&app, &wait["mfa_token"], "123456").await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", text(&r));
    }
    // Even the right code cannot finish this login now.
    let r = finish(&app, &wait["mfa_token"], &codes[0]).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", text(&r));
    assert_eq!(r.json()["code"], "mfa_token_invalid");
    // The account counts wrong codes in a row, whatever the rate limits
    // (which this test leaves on): from the fifth each try waits, and a
    // try while a wait lasts is refused unchecked.
    assert_eq!(
        app.db
            .scalar("SELECT CAST(failures AS BIGINT) FROM doorman_totp")
            .await,
        5
    );
    app.db
        .execute("UPDATE doorman_totp SET next_try_at = '2999-01-01 00:00:00'")
        .await;
    let wait = waits(&app, "/auth/jwt/create/", "carol").await;
    let r = finish(&app, &wait["mfa_token"], &codes[0]).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", text(&r));
    assert!(r.header("retry-after").is_some());
    // After 100 the app's codes are refused; a recovery code still works
    // and starts the count again.
    app.db
        .execute("UPDATE doorman_totp SET next_try_at = NULL, failures = 100")
        .await;
    let r = finish(&app, &wait["mfa_token"], "123456").await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", text(&r));
    assert!(text(&r).contains("recovery code"), "{}", text(&r));
    let r = finish(&app, &wait["mfa_token"], &codes[0]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", text(&r));
    assert_eq!(
        app.db
            .scalar("SELECT CAST(failures AS BIGINT) FROM doorman_totp")
            .await,
        0
    );
    // Unknown and malformed tokens.
    for token in [json!("x"), json!(""), json!(12), json!(null)] {
        let r = finish(&app, &token, "123456").await;
        assert!(
            matches!(r.status, StatusCode::UNAUTHORIZED | StatusCode::BAD_REQUEST),
            "{token}: {}",
            text(&r)
        );
    }
    // A user deactivated while a login waits cannot finish it.
    let wait = waits(&app, "/auth/jwt/create/", "carol").await;
    app.db
        .execute("UPDATE auth_user SET is_active = false WHERE username = 'carol'")
        .await;
    let r = finish(&app, &wait["mfa_token"], &codes[1]).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", text(&r));
}

async fn setting_up_asks_for_the_password_and_a_code_confirms(app: TestApp) {
    register(&app, "dave").await;
    let auth = token(&login_token(&app, "dave", PW).await);
    let setup = |body: Value| call(&app, Method::POST, "/auth/mfa/totp/setup/", &auth, body);
    // A credential that did not sign in lately (a password login's JWT
    // does not say when it did) sends the password.
    let jwt = password_jwt(&app, "dave").await;
    let r = call(&app, Method::POST, "/auth/mfa/totp/setup/", &jwt, json!({})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", text(&r));
    assert_eq!(
        r.json(),
        json!({"detail": "Reauthentication required.", "code": "reauthentication_required"})
    );
    let r = setup(json!({"current_password": "not-it"})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.json(), json!({"current_password": ["Invalid password."]}));
    let r = app
        .request(Method::POST, "/auth/mfa/totp/setup/", None, Some(json!({})))
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);

    // A second setup replaces the first, whose codes then fail.
    let first = base32(
        setup(json!({"current_password": PW})).await.json()["secret"]
            .as_str()
            .unwrap(),
    );
    let r = setup(json!({"current_password": PW})).await;
    let body = r.json();
    let secret_text = body["secret"].as_str().unwrap();
    let url = body["otpauth_url"].as_str().unwrap();
    assert!(url.starts_with("otpauth://totp/"), "{url}");
    assert!(url.contains(&format!("secret={secret_text}")), "{url}");
    assert!(url.contains("dave"), "{url}");
    let secret = base32(secret_text);
    assert_eq!(secret.len(), 20, "160 bits");
    let confirm = |code: String| {
        call(
            &app,
            Method::POST,
            "/auth/mfa/totp/confirm/",
            &auth,
            json!({ "code": code }),
        )
    };
    let r = confirm(code_at(&first, step_now())).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", text(&r));
    assert_eq!(r.json(), json!({"code": ["Invalid code."]}));
    // Until confirmed, logins are as before.
    let r = post(
        &app,
        "/auth/jwt/create/",
        json!({"username": "dave", "password": PW}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    // Another login, made before the app was confirmed.
    let other = token(&login_token(&app, "dave", PW).await);
    let r = post(
        &app,
        "/auth/jwt/create/",
        json!({"username": "dave", "password": PW}),
    )
    .await;
    let other_jwt = format!("Bearer {}", r.json()["access"].as_str().unwrap());
    let r = confirm(code_at(&secret, step_now())).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", text(&r));
    // Whoever was signed in without the factor is signed out; the caller's
    // own token stays.
    assert_eq!(me(&app, &other).await, StatusCode::UNAUTHORIZED);
    assert_eq!(me(&app, &other_jwt).await, StatusCode::UNAUTHORIZED);
    assert_eq!(me(&app, &auth).await, StatusCode::OK);
    let codes = r.json()["recovery_codes"].as_array().unwrap().clone();
    assert_eq!(codes.len(), 10);
    assert!(codes.iter().all(|c| c.as_str().unwrap().len() == 11));
    let r = confirm(code_at(&secret, step_now() + 1)).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "confirmed already");
    let r = setup(json!({"current_password": PW})).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", text(&r));

    let r = app
        .request(Method::GET, "/auth/mfa/", Some(&auth), None)
        .await;
    let status = r.json();
    assert_eq!(status["enabled"], true, "{status}");
    assert!(status["totp"]["created_at"].is_string(), "{status}");
    assert_eq!(status["recovery_codes"], json!({"total": 10, "unused": 10}));
    assert_eq!(
        app.db
            .scalar("SELECT count(*) FROM doorman_audit WHERE kind = 'mfa_changed'")
            .await,
        1
    );
    // The secret is sealed at rest.
    let stored = app.db.text("SELECT secret FROM doorman_totp").await;
    assert!(stored.starts_with("v1:"), "{stored}");
    assert!(!stored.contains(secret_text), "{stored}");
    waits(&app, "/auth/jwt/create/", "dave").await;
}

async fn removing_the_app_asks_again_and_turns_it_off(app: TestApp) {
    let (auth, _, codes) = with_app(&app, "erin").await;
    let remove = |body: Value| call(&app, Method::DELETE, "/auth/mfa/totp/", &auth, body);
    let r = remove(json!({"current_password": PW})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", text(&r));
    let r = remove(json!({"current_password": PW, "code": "999999"})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", text(&r));
    assert_eq!(r.json(), json!({"code": ["Invalid code."]}));
    let r = remove(json!({"current_password": "nope", "code": codes[0]})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", text(&r));
    let r = remove(json!({"current_password": PW, "code": codes[0]})).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", text(&r));
    let r = post(
        &app,
        "/auth/jwt/create/",
        json!({"username": "erin", "password": PW}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", text(&r));
    let r = app
        .request(Method::GET, "/auth/mfa/recovery_codes/", Some(&auth), None)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = remove(json!({"current_password": PW})).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

async fn users_without_a_factor_see_no_change(app: TestApp) {
    register(&app, "frank").await;
    let bodies = [
        json!({"username": "frank", "password": PW}),
        json!({"username": "frank", "password": PW, "code": "123456"}),
        json!({"username": "frank", "password": PW, "code": {"x": 1}}),
    ];
    for body in &bodies {
        let r = post(&app, "/auth/jwt/create/", body.clone()).await;
        assert_eq!(r.status, StatusCode::OK, "{body}: {}", text(&r));
        let r = post(&app, "/auth/token/login/", body.clone()).await;
        assert_eq!(r.status, StatusCode::OK, "{body}: {}", text(&r));
        let r = post(&app, "/api/auth/login/", body.clone()).await;
        assert_eq!(r.status, StatusCode::OK, "{body}: {}", text(&r));
    }
    let auth = token(&login_token(&app, "frank", PW).await);
    let r = app
        .request(Method::GET, "/auth/mfa/", Some(&auth), None)
        .await;
    let mut status = r.json();
    let session = status.as_object_mut().unwrap().remove("session").unwrap();
    assert_eq!(
        status,
        json!({"enabled": false, "totp": null, "recovery_codes": null, "webauthn": []})
    );
    assert_eq!(session["amr"], json!(["pwd"]), "{session}");
    assert_eq!(session["aal"], "aal1", "{session}");
    // A password login's JWTs are simplejwt's five claims, nothing more.
    let r = post(&app, "/auth/jwt/create/", bodies[0].clone()).await;
    for name in ["access", "refresh"] {
        let claims = jwt_claims(r.json()[name].as_str().unwrap());
        let names: Vec<&String> = claims.as_object().unwrap().keys().collect();
        assert_eq!(
            names,
            ["token_type", "exp", "iat", "jti", "user_id"],
            "{claims}"
        );
    }
    let r = call(
        &app,
        Method::POST,
        "/auth/mfa/totp/confirm/",
        &auth,
        json!({"code": "123456"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", text(&r));
    let r = call(
        &app,
        Method::POST,
        "/auth/mfa/recovery_codes/",
        &auth,
        json!({"current_password": PW}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", text(&r));
    let r = app
        .request(Method::GET, "/auth/mfa/recovery_codes/", Some(&auth), None)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = app.request(Method::GET, "/auth/mfa/", None, None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

async fn an_administrator_resets_a_lost_factor(app: TestApp) {
    let (gina_auth, _, _) = with_app(&app, "gina").await;
    let gina = app
        .db
        .scalar("SELECT CAST(id AS BIGINT) FROM auth_user WHERE username = 'gina'")
        .await;
    let helper = app
        .user("hal")
        .staff()
        .permissions(&["auth.change_user"])
        .signed_in()
        .await;
    let boss = app.user("boss").superuser().create().await;
    turn_on(&app, "boss").await;
    // Not a superuser's factors (their credentials are above the helper),
    // not one's own (that asks for the password and a code), not by
    // someone without the permission.
    let r = reset(&app, helper.auth(), boss.id).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", text(&r));
    let r = reset(&app, helper.auth(), helper.id).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", text(&r));
    let r = reset(&app, &gina_auth, gina).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", text(&r));
    let r = reset(&app, helper.auth(), 999_999).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", text(&r));
    waits(&app, "/auth/jwt/create/", "boss").await;

    let r = reset(&app, helper.auth(), gina).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", text(&r));
    assert_eq!(
        me(&app, &gina_auth).await,
        StatusCode::UNAUTHORIZED,
        "signed out"
    );
    let r = post(
        &app,
        "/auth/jwt/create/",
        json!({"username": "gina", "password": PW}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "the password alone: {}", text(&r));
    assert_eq!(
        app.db
            .scalar(&format!(
                "SELECT count(*) FROM doorman_audit WHERE kind = 'mfa_changed' \
                 AND target_id = {gina} AND actor_id = {}",
                helper.id
            ))
            .await,
        1
    );
    let mails = notices(&app, "gina").await;
    assert_eq!(mails.len(), 2, "set up, then reset: {mails:?}");
    assert!(mails[1].contains("An administrator"), "{}", mails[1]);

    // The command line does the same for the superuser.
    let out = doorman(&app.db)
        .args(["mfa", "reset", "boss"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", commands::text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("Removed the second factors of 'boss'"),
        "{}",
        commands::text(&out)
    );
    let r = post(
        &app,
        "/auth/jwt/create/",
        json!({"username": "boss", "password": PW}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", text(&r));
    let out = doorman(&app.db)
        .args(["mfa", "reset", "nobody"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(commands::text(&out).contains("does not exist"));
}

async fn reset(app: &TestApp, auth: &str, id: i64) -> TestResponse {
    let path = format!("/api/auth/users/{id}/mfa/");
    app.request(Method::DELETE, &path, Some(auth), None).await
}

/// GET mfa/'s account of how this request's credential signed in.
async fn session_of(app: &TestApp, auth: &str) -> Value {
    let r = app
        .request(Method::GET, "/auth/mfa/", Some(auth), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", text(&r));
    r.json()["session"].clone()
}

fn bearer(jwt: &Value) -> String {
    format!("Bearer {}", jwt.as_str().unwrap())
}

async fn tokens_say_how_the_user_signed_in(app: TestApp) {
    let (kept, secret, codes) = with_app(&app, "hana").await;
    // The token kept from before the app was set up: a password login.
    let session = session_of(&app, &kept).await;
    assert_eq!(session["amr"], json!(["pwd"]), "{session}");
    assert_eq!(session["aal"], "aal1", "{session}");
    assert!(session["auth_time"].is_string(), "{session}");

    let wait = waits(&app, "/auth/jwt/create/", "hana").await;
    let r = finish(&app, &wait["mfa_token"], &code_at(&secret, step_now() + 1)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", text(&r));
    let pair = r.json();
    let access = jwt_claims(pair["access"].as_str().unwrap());
    assert_eq!(access["amr"], json!(["pwd", "otp", "mfa"]), "{access}");
    assert_eq!(access["aal"], "aal2", "{access}");
    let auth_time = access["auth_time"].as_i64().unwrap();
    assert!(auth_time <= access["iat"].as_i64().unwrap());
    let refresh = jwt_claims(pair["refresh"].as_str().unwrap());
    assert_eq!(
        (&refresh["auth_time"], &refresh["aal"]),
        (&access["auth_time"], &access["aal"])
    );
    let session = session_of(&app, &bearer(&pair["access"])).await;
    assert_eq!(session["aal"], "aal2", "{session}");
    assert_eq!(session["amr"], json!(["pwd", "otp", "mfa"]), "{session}");
    // A refreshed access token says the same, as simplejwt's would.
    let r = post(
        &app,
        "/auth/jwt/refresh/",
        json!({"refresh": pair["refresh"]}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", text(&r));
    let renewed = jwt_claims(r.json()["access"].as_str().unwrap());
    assert_eq!(renewed["auth_time"], auth_time);
    assert_eq!(renewed["amr"], access["amr"]);

    // An Accounts API login with a recovery code in the same request: its
    // session row keeps it, and rotation carries it on.
    let r = post(
        &app,
        "/api/auth/login/",
        json!({"username": "hana", "password": PW, "code": codes[0]}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", text(&r));
    assert_eq!(
        jwt_claims(r.json()["access"].as_str().unwrap())["aal"],
        "aal2"
    );
    assert_eq!(
        app.db
            .text("SELECT amr FROM doorman_session ORDER BY id DESC LIMIT 1")
            .await,
        "pwd otp mfa"
    );
    let r = post(
        &app,
        "/api/auth/token/refresh/",
        json!({"refresh": r.json()["refresh"]}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", text(&r));
    for name in ["access", "refresh"] {
        let claims = jwt_claims(r.json()[name].as_str().unwrap());
        assert_eq!(claims["aal"], "aal2", "{name}: {claims}");
        assert!(claims["auth_time"].is_i64(), "{name}: {claims}");
    }

    // An opaque token of a two-factor login.
    let r = post(
        &app,
        "/auth/token/login/",
        json!({"username": "hana", "password": PW, "code": codes[1]}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", text(&r));
    let key = token(r.json()["auth_token"].as_str().unwrap());
    let session = session_of(&app, &key).await;
    assert_eq!(session["aal"], "aal2", "{session}");
}

async fn setup(app: &TestApp, auth: &str) -> TestResponse {
    call(app, Method::POST, "/auth/mfa/totp/setup/", auth, json!({})).await
}

async fn reauthenticate(app: &TestApp, auth: &str, body: Value) -> TestResponse {
    call(app, Method::POST, "/auth/reauthenticate/", auth, body).await
}

async fn regenerate(app: &TestApp, auth: &str, body: Value) -> TestResponse {
    call(app, Method::POST, "/auth/mfa/recovery_codes/", auth, body).await
}

/// A password login's access JWT, as an Authorization value.
async fn password_jwt(app: &TestApp, name: &str) -> String {
    let r = post(
        app,
        "/auth/jwt/create/",
        json!({"username": name, "password": PW}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", text(&r));
    bearer(&r.json()["access"])
}

async fn a_recent_sign_in_stands_in_for_the_password(app: TestApp) {
    register(&app, "ivan").await;
    // A password sign-in alone, however fresh, does not stand in: a
    // stolen token looks the same.
    let fresh = token(&login_token(&app, "ivan", PW).await);
    let r = setup(&app, &fresh).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", text(&r));
    // A password login's JWT does not say when it signed in: it asks.
    let first = password_jwt(&app, "ivan").await;
    let other = password_jwt(&app, "ivan").await;
    assert_eq!(setup(&app, &first).await.status, StatusCode::FORBIDDEN);
    let r = reauthenticate(&app, &first, json!({})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", text(&r));
    assert_eq!(r.json()["code"], "reauthentication_required");
    let r = reauthenticate(&app, &first, json!({"current_password": "wrong"})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", text(&r));
    assert_eq!(r.json(), json!({"current_password": ["Invalid password."]}));
    let r = reauthenticate(&app, &first, json!({"current_password": PW})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", text(&r));
    let body = r.json();
    assert_eq!(body["expires_in"], 300, "{body}");
    assert_eq!(body["session"]["amr"], json!(["pwd"]), "{body}");
    assert_eq!(session_of(&app, &first).await["amr"], json!(["pwd"]));
    let r = setup(&app, &first).await;
    assert_eq!(r.status, StatusCode::OK, "{}", text(&r));
    // It was this credential that proved itself, not the user's others.
    assert_eq!(setup(&app, &other).await.status, StatusCode::FORBIDDEN);

    // With MFA on, a recent password-only sign-in is not enough.
    let (kept, secret, codes) = turn_on(&app, "ivan").await;
    let r = regenerate(&app, &kept, json!({})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", text(&r));
    let r = reauthenticate(&app, &kept, json!({"current_password": PW})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", text(&r));
    let r = reauthenticate(
        &app,
        &kept,
        json!({"current_password": PW, "code": "000000"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", text(&r));
    let r = reauthenticate(
        &app,
        &kept,
        json!({"current_password": PW, "code": code_at(&secret, step_now() + 1)}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", text(&r));
    assert_eq!(r.json()["session"]["aal"], "aal2");
    let r = regenerate(&app, &kept, json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", text(&r));
    assert_ne!(r.json()["recovery_codes"][0], json!(codes[0]));
    // A two-factor sign-in stands in by itself.
    let code = r.json()["recovery_codes"][0].clone();
    let r = post(
        &app,
        "/auth/token/login/",
        json!({"username": "ivan", "password": PW, "code": code}),
    )
    .await;
    let both = token(r.json()["auth_token"].as_str().unwrap());
    let r = regenerate(&app, &both, json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", text(&r));
    // Signing out everywhere ends the reauthentication with the rest.
    let r = call(
        &app,
        Method::POST,
        "/auth/token/logout_all/",
        &kept,
        json!({}),
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.db.scalar("SELECT count(*) FROM doorman_reauth").await,
        0
    );

    // With a timeout of 0 nothing counts as recent.
    let strict =
        TestApp::with_settings(app.db.backend, |s| s.mfa.reauthentication_timeout = 0).await;
    register(&strict, "judy").await;
    let fresh = token(&login_token(&strict, "judy", PW).await);
    let r = call(
        &strict,
        Method::POST,
        "/auth/mfa/totp/setup/",
        &fresh,
        json!({}),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", text(&r));
}

async fn a_guarded_password_change_or_deletion_asks_for_a_code(app: TestApp) {
    // Off (the default): the current password is all Djoser asks.
    let (auth, _, _) = with_app(&app, "kate").await;
    let r = call(
        &app,
        Method::POST,
        "/auth/users/set_password/",
        &auth,
        json!({"current_password": PW, "new_password": "another-Sturdy-one-77"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", text(&r));

    // On, with nothing recent: a user with MFA sends a code too.
    let app = TestApp::with_settings(app.db.backend, |s| {
        s.security.reauthentication = true;
        s.mfa.reauthentication_timeout = 0;
    })
    .await;
    let (auth, _, codes) = with_app(&app, "liam").await;
    let change = |body: Value| call(&app, Method::POST, "/auth/users/set_password/", &auth, body);
    let new = "another-Sturdy-one-77";
    let r = change(json!({"current_password": PW, "new_password": new})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", text(&r));
    assert_eq!(r.json()["code"], "reauthentication_required");
    let r =
        change(json!({"current_password": PW, "new_password": new, "code": "ABCDE-FGHJK"})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", text(&r));
    assert_eq!(r.json(), json!({"code": ["Invalid code."]}));
    // A wrong password is still the first thing said.
    let r = change(json!({"current_password": "nope", "new_password": new})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", text(&r));
    let r = change(json!({"current_password": PW, "new_password": new, "code": codes[0]})).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", text(&r));

    let r = call(
        &app,
        Method::POST,
        "/auth/users/set_username/",
        &auth,
        json!({"current_password": new, "new_username": "liam2"}),
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::FORBIDDEN,
        "set_username too: {}",
        text(&r)
    );
    let delete = |body: Value| call(&app, Method::DELETE, "/auth/users/me/", &auth, body);
    let r = delete(json!({"current_password": new})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", text(&r));
    let r = call(
        &app,
        Method::POST,
        "/auth/users/delete/",
        &auth,
        json!({"current_password": new}),
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::FORBIDDEN,
        "the 1.x name too: {}",
        text(&r)
    );
    let r = delete(json!({"current_password": new, "code": codes[1]})).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", text(&r));

    // A user without a factor: the current password is enough.
    register(&app, "mona").await;
    let auth = token(&login_token(&app, "mona", PW).await);
    let r = call(
        &app,
        Method::DELETE,
        "/auth/users/me/",
        &auth,
        json!({"current_password": PW}),
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", text(&r));
}

/// The bodies of the factor-change notices mailed to `name`, oldest first.
async fn notices(app: &TestApp, name: &str) -> Vec<String> {
    let count = app
        .db
        .scalar(&format!(
            "SELECT count(*) FROM doorman_outbox WHERE kind = 'mfa_changed' \
             AND recipient = '{name}@example.com'"
        ))
        .await;
    let mut bodies = Vec::new();
    for n in 0..count {
        bodies.push(
            app.db
                .text(&format!(
                    "SELECT body_text FROM doorman_outbox WHERE kind = 'mfa_changed' \
                     AND recipient = '{name}@example.com' ORDER BY id LIMIT 1 OFFSET {n}"
                ))
                .await,
        );
    }
    bodies
}

async fn every_change_to_a_factor_is_mailed(app: TestApp) {
    let (auth, _, codes) = with_app(&app, "nina").await;
    let mails = notices(&app, "nina").await;
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert!(
        mails[0].starts_with("Hello nina,\n\nAn authenticator app was just set up"),
        "{}",
        mails[0]
    );
    assert!(mails[0].contains("If this was not you"), "{}", mails[0]);
    assert_eq!(
        app.db
            .text("SELECT subject FROM doorman_outbox WHERE kind = 'mfa_changed' LIMIT 1")
            .await,
        format!(
            "Two-factor sign-in changed on {}",
            app.state.settings.site_context().site_name
        )
    );
    let r = regenerate(
        &app,
        &auth,
        json!({"current_password": PW, "code": codes[0]}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", text(&r));
    let fresh = r.json()["recovery_codes"][0].clone();
    let r = call(
        &app,
        Method::DELETE,
        "/auth/mfa/totp/",
        &auth,
        json!({"current_password": PW, "code": fresh}),
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", text(&r));
    let mails = notices(&app, "nina").await;
    assert_eq!(mails.len(), 3, "{mails:?}");
    assert!(
        mails[1].contains("New recovery codes were just made"),
        "{}",
        mails[1]
    );
    assert!(mails[2].contains("was just removed"), "{}", mails[2]);
    // No link and no code is ever in a notice.
    for mail in &mails {
        assert!(
            !mail.contains("http") && !mail.contains(&codes[2]),
            "{mail}"
        );
    }
    // A setup begun and dropped before its first code is no change.
    let r = call(
        &app,
        Method::POST,
        "/auth/mfa/totp/setup/",
        &auth,
        json!({"current_password": PW}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", text(&r));
    let r = call(
        &app,
        Method::DELETE,
        "/auth/mfa/totp/",
        &auth,
        json!({"current_password": PW}),
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", text(&r));
    assert_eq!(notices(&app, "nina").await.len(), 3);
}
