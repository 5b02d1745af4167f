//! Which budget a request spends before routing (the per-address classes
//! of `[rate_limit]`); the budgets keyed by account or recipient are spent
//! where those are known, in the domain.

use axum::http::Method;

use crate::limits::Class;

/// Every login path of both APIs, Djoser 1.x aliases included: they share
/// one budget, so no path is a way around it.
const LOGINS: &[&str] = &[
    "/auth/jwt/create/",
    "/auth/token/login/",
    "/auth/token/create/",
    "/auth/login/",
    "/api/auth/login/",
    "/auth/mfa/login/",
    "/auth/reauthenticate/",
    "/auth/mfa/login/webauthn/options/",
    "/auth/passkeys/login/options/",
    "/auth/passkeys/login/",
];

const REGISTRATIONS: &[&str] = &[
    "/auth/users/",
    "/auth/users/create/",
    "/auth/register/",
    "/api/auth/register/",
];

const REFRESHES: &[&str] = &["/auth/jwt/refresh/", "/api/auth/token/refresh/"];

/// The last segment of every path that sends mail on request.
const MAIL_ENDINGS: &[&str] = &[
    "/reset_password/",
    "/password/reset/",
    "/resend_activation/",
    "/resend/",
    "/reset_username/",
    "/reset_email/",
    "/username/reset/",
    "/email/reset/",
    "/forgot-password/",
    "/change_email/",
];

/// Paths for load balancers and monitors, which ask often from one
/// address and must never be refused.
const EXEMPT: &[&str] = &["/healthz/", "/readyz/"];

/// The budget a request spends before it is routed; `None` for probes.
pub fn class_of(method: &Method, path: &str) -> Option<Class> {
    if EXEMPT.contains(&path) {
        return None;
    }
    if method != Method::POST {
        return Some(Class::Requests);
    }
    let auth = path.starts_with("/auth/") || path.starts_with("/api/auth/");
    Some(match path {
        _ if !auth => Class::Requests,
        p if LOGINS.contains(&p) => Class::Logins,
        p if REGISTRATIONS.contains(&p) => Class::Registrations,
        p if REFRESHES.contains(&p) => Class::Refreshes,
        p if MAIL_ENDINGS.iter().any(|e| p.ends_with(e)) => Class::Mail,
        p if p.ends_with("confirm/")
            || p.ends_with("/activation/")
            || p.ends_with("/activate/") =>
        {
            Class::Confirms
        }
        _ => Class::Requests,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_path_spends_its_class() {
        let post = Method::POST;
        for (path, class) in [
            ("/auth/jwt/create/", Class::Logins),
            ("/auth/token/login/", Class::Logins),
            ("/auth/login/", Class::Logins),
            ("/auth/mfa/login/", Class::Logins),
            ("/auth/reauthenticate/", Class::Logins),
            ("/auth/token/create/", Class::Logins),
            ("/api/auth/login/", Class::Logins),
            ("/auth/users/", Class::Registrations),
            ("/auth/register/", Class::Registrations),
            ("/api/auth/register/", Class::Registrations),
            ("/auth/jwt/refresh/", Class::Refreshes),
            ("/api/auth/token/refresh/", Class::Refreshes),
            ("/auth/users/reset_password/", Class::Mail),
            ("/auth/password/reset/", Class::Mail),
            ("/auth/users/resend_activation/", Class::Mail),
            ("/auth/users/reset_username/", Class::Mail),
            ("/auth/users/reset_email/", Class::Mail),
            ("/api/auth/forgot-password/", Class::Mail),
            ("/auth/users/change_email/", Class::Mail),
            ("/auth/users/change_email_confirm/", Class::Confirms),
            ("/auth/users/activation/", Class::Confirms),
            ("/auth/users/reset_password_confirm/", Class::Confirms),
            ("/auth/password/reset/confirm/", Class::Confirms),
            ("/auth/users/reset_username_confirm/", Class::Confirms),
            ("/api/auth/reset-password-confirm/", Class::Confirms),
            ("/auth/users/set_password/", Class::Requests),
            ("/auth/token/logout/", Class::Requests),
        ] {
            assert_eq!(class_of(&post, path), Some(class), "{path}");
        }
        assert_eq!(
            class_of(&Method::GET, "/auth/users/"),
            Some(Class::Requests)
        );
        assert_eq!(
            class_of(&Method::PUT, "/api/auth/login/"),
            Some(Class::Requests)
        );
        assert_eq!(class_of(&Method::GET, "/healthz/"), None);
        assert_eq!(class_of(&Method::GET, "/readyz/"), None);
    }
}
