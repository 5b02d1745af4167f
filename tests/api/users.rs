//! User operations over a real database: creating with validated
//! passwords, authenticating against Django-made hashes and upgrading them.

use doorman::domain::{
    Error,
    password::Password,
    users::{EmailAddress, NewUser, Username},
};
use serde_json::Value;

use crate::{on_both_backends, support::TestApp};

on_both_backends!(
    a_django_pbkdf2_hash_verifies_and_is_upgraded_to_argon2id,
    wrong_unknown_and_inactive_logins_are_refused,
    weak_passwords_are_refused_with_every_reason,
    with_pbkdf2_chosen_new_and_upgraded_hashes_are_django_pbkdf2,
);

/// A vector made by real Django (tests/django/make_vectors.py).
fn django_vector(prefix: &str) -> (String, String) {
    let vectors: Vec<Value> = serde_json::from_str(include_str!("../django/vectors.json")).unwrap();
    let v = vectors
        .iter()
        .find(|v| v["encoded"].as_str().unwrap().starts_with(prefix))
        .unwrap_or_else(|| panic!("no vector starting {prefix}"));
    (
        v["password"].as_str().unwrap().into(),
        v["encoded"].as_str().unwrap().into(),
    )
}

fn member(name: &str, password: Option<&str>) -> NewUser {
    NewUser {
        username: Username::parse(name).unwrap(),
        email: Some(EmailAddress::parse(&format!("{name}@example.com")).unwrap()),
        first_name: String::new(),
        last_name: String::new(),
        password: password.map(|p| Password::new(p.into())),
        is_active: true,
        is_staff: false,
        is_superuser: false,
    }
}

async fn a_django_pbkdf2_hash_verifies_and_is_upgraded_to_argon2id(app: TestApp) {
    let (password, encoded) = django_vector("pbkdf2_sha256$1000000$");
    let user = app
        .state
        .users
        .create(member("django", None))
        .await
        .unwrap();
    let mut tx = app.state.store.begin().await.unwrap();
    assert!(tx.set_password_hash(user.id, &encoded).await.unwrap());
    tx.commit().await.unwrap();

    let wrong = app
        .state
        .users
        .authenticate_by(
            doorman::config::LoginField::Username,
            "django",
            &Password::new("nope".into()),
        )
        .await;
    assert!(matches!(wrong, Err(Error::InvalidCredentials)));
    assert_eq!(
        app.state
            .store
            .password_hash(user.id)
            .await
            .unwrap()
            .unwrap(),
        encoded,
        "unchanged after a failure"
    );

    let ok = app
        .state
        .users
        .authenticate_by(
            doorman::config::LoginField::Username,
            "django",
            &Password::new(password.clone()),
        )
        .await
        .unwrap();
    assert_eq!(ok.id, user.id);
    let upgraded = app
        .state
        .store
        .password_hash(user.id)
        .await
        .unwrap()
        .unwrap();
    assert!(upgraded.starts_with("argon2$argon2id$v=19$"), "{upgraded}");
    // The new hash works, and needs no further upgrade.
    app.state
        .users
        .authenticate_by(
            doorman::config::LoginField::Username,
            "django",
            &Password::new(password),
        )
        .await
        .unwrap();
    assert_eq!(
        app.state
            .store
            .password_hash(user.id)
            .await
            .unwrap()
            .unwrap(),
        upgraded
    );
}

async fn wrong_unknown_and_inactive_logins_are_refused(app: TestApp) {
    let pw = "a-Sturdy-passphrase-42";
    app.state
        .users
        .create(member("ann", Some(pw)))
        .await
        .unwrap();
    let users = &app.state.users;
    assert!(
        users
            .authenticate_by(
                doorman::config::LoginField::Username,
                "ann",
                &Password::new(pw.into())
            )
            .await
            .is_ok()
    );
    assert!(matches!(
        users
            .authenticate_by(
                doorman::config::LoginField::Username,
                "ann",
                &Password::new("wrong-one".into())
            )
            .await,
        Err(Error::InvalidCredentials)
    ));
    assert!(matches!(
        users
            .authenticate_by(
                doorman::config::LoginField::Username,
                "nobody",
                &Password::new(pw.into())
            )
            .await,
        Err(Error::InvalidCredentials)
    ));
    let mut inactive = member("idle", Some(pw));
    inactive.is_active = false;
    users.create(inactive).await.unwrap();
    assert!(matches!(
        users
            .authenticate_by(
                doorman::config::LoginField::Username,
                "idle",
                &Password::new(pw.into())
            )
            .await,
        Err(Error::Inactive)
    ));
    // An unusable password never matches.
    users.create(member("nopw", None)).await.unwrap();
    assert!(matches!(
        users
            .authenticate_by(
                doorman::config::LoginField::Username,
                "nopw",
                &Password::new("".into())
            )
            .await,
        Err(Error::InvalidCredentials)
    ));
}

async fn weak_passwords_are_refused_with_every_reason(app: TestApp) {
    let err = app
        .state
        .users
        .create(member("carol", Some("1234567")))
        .await
        .unwrap_err();
    let Error::Validation(errors) = err else {
        panic!("{err:?}")
    };
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].0, "password");
    assert_eq!(
        errors[0].1,
        [
            "This password is too short. It must contain at least 8 characters.",
            "This password is too common.",
            "This password is entirely numeric.",
        ]
    );
    assert_eq!(
        app.state.store.count_users().await.unwrap(),
        0,
        "nothing written"
    );
}

/// `security.password_hasher = "pbkdf2_sha256"` (for while a Django
/// without argon2-cffi shares the database): registrations get Django's
/// PBKDF2 format, and an Argon2 hash is moved to it at the next login.
async fn with_pbkdf2_chosen_new_and_upgraded_hashes_are_django_pbkdf2(app: TestApp) {
    let backend = app.db.backend;
    let argon2_made = app
        .state
        .users
        .create(member("before", Some("a-Sturdy-passphrase-42")))
        .await
        .unwrap();
    let argon2_hash = app
        .state
        .store
        .password_hash(argon2_made.id)
        .await
        .unwrap()
        .unwrap();
    assert!(argon2_hash.starts_with("argon2$"), "{argon2_hash}");
    drop(app);
    let app = TestApp::with_settings(backend, |s| {
        s.security.password_hasher = doorman::security::hashers::HasherChoice::Pbkdf2Sha256;
    })
    .await;
    let users = &app.state.users;
    let new = users
        .create(member("after", Some("a-Sturdy-passphrase-42")))
        .await
        .unwrap();
    let hash = app
        .state
        .store
        .password_hash(new.id)
        .await
        .unwrap()
        .unwrap();
    // Tests hash with the least work; production uses pbkdf2_iterations.
    assert!(hash.starts_with("pbkdf2_sha256$1000$"), "{hash}");

    let old = users.create(member("before", None)).await.unwrap();
    let mut tx = app.state.store.begin().await.unwrap();
    assert!(tx.set_password_hash(old.id, &argon2_hash).await.unwrap());
    tx.commit().await.unwrap();
    users
        .authenticate_by(
            doorman::config::LoginField::Username,
            "before",
            &Password::new("a-Sturdy-passphrase-42".into()),
        )
        .await
        .unwrap();
    let upgraded = app
        .state
        .store
        .password_hash(old.id)
        .await
        .unwrap()
        .unwrap();
    assert!(upgraded.starts_with("pbkdf2_sha256$1000$"), "{upgraded}");
}
