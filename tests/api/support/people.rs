//! Builders for the people a test needs: `app.user("ann").staff()
//! .permissions(&["auth.change_user"]).signed_in().await`. Users are made
//! through the domain (password [`PW`], address `<name>@example.com`); rank
//! and grants are written straight into Django's tables, as an operator or
//! the Django admin would.

use axum::{
    body::Body,
    http::{Method, Request, StatusCode},
};
use doorman::domain::{
    password::Password,
    users::{EmailAddress, NewUser, Username},
};
use serde_json::{Value, json};

use super::{TestApp, TestResponse};

/// The password of every user a builder makes.
pub const PW: &str = "a-Sturdy-passphrase-42";

/// A user a builder made; `auth` is an `Authorization` header value when
/// signed in.
#[derive(Debug, Clone)]
pub struct Person {
    pub id: i64,
    pub username: String,
    pub auth: Option<String>,
}

impl Person {
    /// The `Authorization` header (the person must be signed in).
    pub fn auth(&self) -> &str {
        self.auth.as_deref().expect("signed_in() was called")
    }
}

#[must_use = "call create() or signed_in()"]
pub struct PersonBuilder<'a> {
    app: &'a TestApp,
    username: String,
    staff: bool,
    superuser: bool,
    permissions: Vec<String>,
    roles: Vec<String>,
    active: bool,
}

impl TestApp {
    /// Starts building user `username`.
    pub fn user(&self, username: &str) -> PersonBuilder<'_> {
        PersonBuilder {
            app: self,
            username: username.to_string(),
            staff: false,
            superuser: false,
            permissions: Vec::new(),
            roles: Vec::new(),
            active: true,
        }
    }

    /// Sends a request with an optional `Authorization` header and JSON body.
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        auth: Option<&str>,
        body: Option<Value>,
    ) -> TestResponse {
        let mut builder = Request::builder().method(method).uri(path);
        if let Some(auth) = auth {
            builder = builder.header("authorization", auth);
        }
        let body = match body {
            Some(v) => {
                builder = builder.header("content-type", "application/json");
                Body::from(v.to_string())
            }
            None => Body::empty(),
        };
        self.send(builder.body(body).unwrap()).await
    }

    /// The id of permission `app_label.codename`.
    pub async fn permission_id(&self, permission: &str) -> i64 {
        let (app_label, codename) = permission.split_once('.').unwrap();
        self.db
            .scalar(&format!(
                "SELECT CAST(p.id AS BIGINT) FROM auth_permission p \
                 JOIN django_content_type ct ON ct.id = p.content_type_id \
                 WHERE ct.app_label = '{app_label}' AND p.codename = '{codename}'"
            ))
            .await
    }

    /// The id of group `name`, made if missing.
    pub async fn group(&self, name: &str) -> i64 {
        let find = format!("SELECT count(*) FROM auth_group WHERE name = '{name}'");
        if self.db.scalar(&find).await == 0 {
            self.db
                .execute(&format!("INSERT INTO auth_group (name) VALUES ('{name}')"))
                .await;
        }
        self.db
            .scalar(&format!(
                "SELECT CAST(id AS BIGINT) FROM auth_group WHERE name = '{name}'"
            ))
            .await
    }
}

impl PersonBuilder<'_> {
    /// `is_staff`.
    pub fn staff(mut self) -> Self {
        self.staff = true;
        self
    }

    /// `is_superuser` (and `is_staff`, as Django's `createsuperuser` makes one).
    pub fn superuser(mut self) -> Self {
        self.superuser = true;
        self.staff = true;
        self
    }

    /// Holds these permissions (`app_label.codename`) directly.
    pub fn permissions(mut self, permissions: &[&str]) -> Self {
        self.permissions
            .extend(permissions.iter().map(|p| p.to_string()));
        self
    }

    /// A member of the group `name` (made if missing).
    pub fn role(mut self, name: &str) -> Self {
        self.roles.push(name.to_string());
        self
    }

    /// `is_active = false` (cannot sign in).
    pub fn inactive(mut self) -> Self {
        self.active = false;
        self
    }

    /// A full admin: a member of the `admin` role.
    pub fn admin(self) -> Self {
        self.role("admin")
    }

    pub async fn create(self) -> Person {
        let app = self.app;
        let email = format!("{}@example.com", self.username);
        let user = app
            .state
            .users
            .create(NewUser {
                username: Username::parse(&self.username).unwrap(),
                email: Some(EmailAddress::parse(&email).unwrap()),
                first_name: String::new(),
                last_name: String::new(),
                password: Some(Password::new(PW.into())),
                is_active: self.active,
                is_staff: self.staff,
                is_superuser: self.superuser,
            })
            .await
            .unwrap();
        let id = i64::from(user.id);
        for p in &self.permissions {
            let p = app.permission_id(p).await;
            app.db
                .execute(&format!(
                    "INSERT INTO auth_user_user_permissions (user_id, permission_id) \
                     VALUES ({id}, {p})"
                ))
                .await;
        }
        for role in &self.roles {
            let g = app.group(role).await;
            app.db
                .execute(&format!(
                    "INSERT INTO auth_user_groups (user_id, group_id) VALUES ({id}, {g})"
                ))
                .await;
        }
        Person {
            id,
            username: self.username,
            auth: None,
        }
    }

    /// Creates the user and signs in at `token/login/`.
    pub async fn signed_in(self) -> Person {
        let app = self.app;
        let mut person = self.create().await;
        let r = app
            .request(
                Method::POST,
                "/auth/token/login/",
                None,
                Some(json!({"username": person.username, "password": PW})),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "login: {:?}", r);
        let key = r.json()["auth_token"].as_str().unwrap().to_string();
        person.auth = Some(format!("Token {key}"));
        person
    }
}
