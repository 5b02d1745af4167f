//! Request bodies. `Payload` is the one extractor for JSON,
//! `application/x-www-form-urlencoded` and `multipart/form-data` bodies: each
//! becomes the same JSON object (form values as strings, uploaded files set
//! aside), so handlers validate one shape whatever the client sent, as DRF's
//! parsers do. `Fields` reads that object field by field with DRF's
//! per-field errors, collecting all of them before failing.

use axum::{
    body::Bytes,
    extract::{FromRequest, Multipart, Request},
    http::{StatusCode, header},
};
use serde_json::{Map, Value};

use super::error::ApiError;
use crate::domain::FieldErrors;

/// A file from a multipart body.
#[derive(Debug, Clone)]
pub struct UploadedFile {
    pub field: String,
    pub filename: Option<String>,
    pub content_type: Option<String>,
    pub bytes: Bytes,
}

/// The largest JSON or form body (`server.max_json_bytes`), set on each
/// request by the frame.
#[derive(Debug, Clone, Copy)]
pub struct JsonLimit(pub usize);

impl JsonLimit {
    pub const DEFAULT: usize = 64 * 1024;
}

/// A request body as a JSON object, plus any uploaded files.
#[derive(Debug, Default, Clone)]
pub struct Payload {
    pub data: Map<String, Value>,
    pub files: Vec<UploadedFile>,
}

impl<S: Send + Sync> FromRequest<S> for Payload {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let media_type = content_type
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if media_type == "multipart/form-data" {
            return parse_multipart(req, state).await;
        }
        // JSON and forms carry a few fields: a body larger than
        // `server.max_json_bytes` is refused before it is parsed (parsing
        // megabytes of JSON costs seconds of CPU for a 401).
        let limit = req
            .extensions()
            .get::<JsonLimit>()
            .map_or(JsonLimit::DEFAULT, |l| l.0);
        let body = axum::body::to_bytes(req.into_body(), limit)
            .await
            .map_err(|_| {
                ApiError::detail(StatusCode::PAYLOAD_TOO_LARGE, "Request body is too large.")
            })?;
        if body.is_empty() {
            return Ok(Payload::default());
        }
        match media_type.as_str() {
            "application/json" => parse_json(&body),
            t if t.starts_with("application/") && t.ends_with("+json") => parse_json(&body),
            "application/x-www-form-urlencoded" => parse_form(&body),
            _ => Err(unsupported(&content_type)),
        }
    }
}

fn unsupported(content_type: &str) -> ApiError {
    ApiError::detail(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        format!("Unsupported media type \"{content_type}\" in request."),
    )
}

fn parse_json(body: &[u8]) -> Result<Payload, ApiError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("JSON parse error - {e}")))?;
    match value {
        Value::Object(data) => Ok(Payload {
            data,
            files: Vec::new(),
        }),
        other => Err(ApiError::non_field(vec![format!(
            "Invalid data. Expected a dictionary, but got {}.",
            python_type_name(&other)
        )])),
    }
}

/// The name DRF's message uses for a JSON value's Python type.
fn python_type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "NoneType",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

fn parse_form(body: &[u8]) -> Result<Payload, ApiError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
        .map_err(|e| ApiError::bad_request(format!("Form parse error - {e}")))?;
    // A repeated key keeps its last value, as Django's QueryDict does.
    let data = pairs
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect();
    Ok(Payload {
        data,
        files: Vec::new(),
    })
}

async fn parse_multipart<S: Send + Sync>(req: Request, state: &S) -> Result<Payload, ApiError> {
    let parse_error = |e: &dyn std::fmt::Display| {
        ApiError::bad_request(format!("Multipart form parse error - {e}"))
    };
    let mut multipart = Multipart::from_request(req, state)
        .await
        .map_err(|e| parse_error(&e.body_text()))?;
    let mut payload = Payload::default();
    while let Some(field) = multipart.next_field().await.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::detail(StatusCode::PAYLOAD_TOO_LARGE, "Request body is too large.")
        } else {
            parse_error(&e)
        }
    })? {
        let name = field.name().unwrap_or_default().to_string();
        let filename = field.file_name().map(str::to_string);
        let content_type = field.content_type().map(str::to_string);
        let bytes = field.bytes().await.map_err(|e| parse_error(&e))?;
        if filename.is_some() {
            payload.files.push(UploadedFile {
                field: name,
                filename,
                content_type,
                bytes,
            });
        } else {
            let text = String::from_utf8(bytes.to_vec())
                .map_err(|_| parse_error(&format!("field `{name}` is not UTF-8")))?;
            payload.data.insert(name, Value::String(text));
        }
    }
    Ok(payload)
}

/// Which DRF field reads a value: its message for a value of the wrong
/// type, and who reports a NUL character.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `CharField`: refuses NUL here.
    Text,
    /// `EmailField`: `EmailAddress::parse` reports NUL with its other
    /// messages, as DRF runs all of the field's validators.
    Email,
}

impl Kind {
    fn invalid(self) -> &'static str {
        match self {
            Kind::Text => "Not a valid string.",
            Kind::Email => "Enter a valid email address.",
        }
    }
}

/// Reads fields from a payload the way DRF serializers do: strings are
/// trimmed, numbers and booleans become their text, `null`, lists and
/// objects are refused; every problem is recorded and reported at once.
pub struct Fields<'a> {
    data: &'a Map<String, Value>,
    errors: FieldErrors,
}

impl<'a> Fields<'a> {
    pub fn new(payload: &'a Payload) -> Self {
        Fields {
            data: &payload.data,
            errors: Vec::new(),
        }
    }

    pub fn error(&mut self, field: &str, message: impl Into<String>) {
        self.errors.push((field.to_string(), vec![message.into()]));
    }

    /// A required, non-blank string.
    pub fn required_string(&mut self, field: &str) -> Option<String> {
        self.required_with(field, Kind::Text)
    }

    fn required_with(&mut self, field: &str, kind: Kind) -> Option<String> {
        match self.string_or(field, kind) {
            Some(s) if s.is_empty() => {
                self.error(field, "This field may not be blank.");
                None
            }
            Some(s) => Some(s),
            None if self.data.contains_key(field) => None,
            None => {
                self.error(field, "This field is required.");
                None
            }
        }
    }

    /// A string that may be absent (`None`) or empty.
    pub fn optional_string(&mut self, field: &str) -> Option<String> {
        self.string_or(field, Kind::Text)
    }

    /// Like `optional_string`, for an e-mail field: a value that is no
    /// string gets DRF's e-mail message.
    pub fn optional_email_text(&mut self, field: &str) -> Option<String> {
        self.string_or(field, Kind::Email)
    }

    /// A required, non-blank e-mail field's text.
    pub fn required_email_text(&mut self, field: &str) -> Option<String> {
        self.required_with(field, Kind::Email)
    }

    /// DRF's CharField: strings are trimmed, numbers become their text;
    /// booleans, lists and objects are invalid, `null` is refused, and so is
    /// a NUL character (DRF's `ProhibitNullCharactersValidator`; PostgreSQL
    /// cannot store one in text, and Django would refuse it).
    fn string_or(&mut self, field: &str, kind: Kind) -> Option<String> {
        match self.data.get(field)? {
            Value::String(s) if s.contains('\0') && kind == Kind::Text => {
                self.error(field, "Null characters are not allowed.");
                None
            }
            Value::String(s) => Some(s.trim().to_string()),
            Value::Number(n) => Some(n.to_string()),
            Value::Null => {
                self.error(field, "This field may not be null.");
                None
            }
            Value::Bool(_) | Value::Array(_) | Value::Object(_) => {
                self.error(field, kind.invalid());
                None
            }
        }
    }

    /// Whether the body has this key at all.
    pub fn has(&self, field: &str) -> bool {
        self.data.contains_key(field)
    }

    /// An optional string of at most `max` characters.
    pub fn optional_string_max(&mut self, field: &str, max: usize) -> Option<String> {
        let value = self.optional_string(field)?;
        if value.chars().count() > max {
            self.error(
                field,
                format!("Ensure this field has no more than {max} characters."),
            );
            return None;
        }
        Some(value)
    }

    /// Ends reading, handing over the errors to combine with others.
    pub fn into_errors(self) -> FieldErrors {
        self.errors
    }

    /// Ends reading: the collected field errors, if any, as a 400.
    pub fn finish(self) -> Result<(), ApiError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::fields(self.errors))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn payload(v: Value) -> Payload {
        Payload {
            data: v.as_object().cloned().unwrap_or_default(),
            files: Vec::new(),
        }
    }

    #[test]
    fn fields_collect_every_error_in_order() {
        let p = payload(json!({"a": "  x ", "b": null, "c": [1], "d": "  ", "n": 12}));
        let mut f = Fields::new(&p);
        assert_eq!(f.required_string("a").as_deref(), Some("x"));
        assert_eq!(f.required_string("n").as_deref(), Some("12"));
        assert_eq!(f.required_string("b"), None);
        assert_eq!(f.required_string("c"), None);
        assert_eq!(f.required_string("d"), None);
        assert_eq!(f.required_string("missing"), None);
        let err = f.finish().unwrap_err();
        assert_eq!(
            err.body(),
            &json!({
                "b": ["This field may not be null."],
                "c": ["Not a valid string."],
                "d": ["This field may not be blank."],
                "missing": ["This field is required."],
            })
        );
        let keys: Vec<_> = err.body().as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys, ["b", "c", "d", "missing"]);
    }

    #[test]
    fn non_object_json_is_refused_with_drfs_message() {
        let err = parse_json(b"[1,2]").unwrap_err();
        assert_eq!(
            err.body(),
            &json!({"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]})
        );
        assert_eq!(err.status(), StatusCode::BAD_REQUEST);
        let err = parse_json(b"{nope").unwrap_err();
        assert!(
            err.body()["detail"]
                .as_str()
                .unwrap()
                .starts_with("JSON parse error - ")
        );
    }

    #[test]
    fn form_bodies_keep_the_last_value() {
        let p = parse_form(b"a=1&b=x+y&a=2").unwrap();
        assert_eq!(p.data["a"], json!("2"));
        assert_eq!(p.data["b"], json!("x y"));
    }
}
