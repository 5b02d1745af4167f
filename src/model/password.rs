//! The `Password` secret newtype. It owns one policy: a plain-text password
//! must never reach a log line, an error message or a response by accident.
//! So there is no `Display`, `Debug` prints a fixed mask, and the only way
//! to read the text is the explicit, greppable `expose()`.

use serde::Deserialize;

/// A plain-text password as submitted by a user.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct Password(String);

impl Password {
    pub fn new(text: String) -> Self {
        Self(text)
    }

    /// The plain text, for hashing and validation only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not even the length: it narrows a brute-force search.
        f.write_str("Password(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_masked() {
        let password = Password::new("hunter2".to_owned());
        assert_eq!(format!("{password:?}"), "Password(***)");
        assert_eq!(
            format!("{:?}", Some(password.clone())),
            "Some(Password(***))"
        );
        assert_eq!(password.expose(), "hunter2");
    }

    #[test]
    fn deserializes_from_a_plain_string() {
        #[derive(Deserialize)]
        struct Form {
            password: Password,
        }
        let form: Form = serde_json::from_str(r#"{"password":"pässwörd✓"}"#).expect("parses");
        assert_eq!(form.password.expose(), "pässwörd✓");
        assert!(serde_json::from_str::<Password>("12").is_err());
    }
}
