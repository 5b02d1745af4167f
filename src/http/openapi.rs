//! What the OpenAPI document says that the handlers' own annotations
//! cannot know: the answers the Accounts API's access check gives before
//! any handler runs. They are derived from `ACCESS`, the same table the
//! check applies, so the document and the server cannot disagree about
//! them: every operation may answer 401 (bad credentials are refused even
//! on open endpoints), and every admin operation 403.

use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr, ResponseBuilder, path::Operation};

use super::accounts::rule_for;
use crate::{config::Settings, domain::access::Rule};

/// A `{"detail": …}` response with `description`.
fn detail_response(description: &str) -> RefOr<utoipa::openapi::Response> {
    RefOr::T(
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("Detail")))
                    .build(),
            )
            .build(),
    )
}

/// Adds the access check's answers to every `/api/auth/` operation, and
/// the 401 of every Djoser view that reads credentials: all but
/// simplejwt's, as in DRF, where a view authenticates the request before
/// anything else and refuses bad credentials even where it needs none.
fn document_access(api: &mut OpenApi) {
    for (path, item) in api.paths.paths.iter_mut() {
        if path.starts_with("/auth/") && !path.starts_with("/auth/jwt/") {
            for operation in [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.patch,
                &mut item.delete,
            ]
            .into_iter()
            .flatten()
            {
                operation
                    .responses
                    .responses
                    .entry("401".into())
                    .or_insert_with(|| detail_response("The credentials sent are not valid"));
            }
            continue;
        }
        if !path.starts_with("/api/auth/") {
            continue;
        }
        let operations: [(&str, &mut Option<Operation>); 5] = [
            ("GET", &mut item.get),
            ("POST", &mut item.post),
            ("PUT", &mut item.put),
            ("PATCH", &mut item.patch),
            ("DELETE", &mut item.delete),
        ];
        for (method, operation) in operations {
            let Some(operation) = operation else {
                continue;
            };
            let method = method.parse().expect("a method name");
            let Some(rule) = rule_for(&method, path) else {
                continue;
            };
            let responses = &mut operation.responses.responses;
            let unauthorized = match rule {
                Rule::Anyone => "Credentials were sent and are not valid",
                _ => "Not authenticated, or the credentials are not valid",
            };
            responses
                .entry("401".into())
                .or_insert_with(|| detail_response(unauthorized));
            if matches!(
                rule,
                Rule::Admin(_) | Rule::AdminOrSelf(_) | Rule::FullAdmin
            ) {
                responses
                    .entry("403".into())
                    .or_insert_with(|| detail_response("The caller may not do this"));
            }
        }
    }
}

/// Operations whose 400 may also come with no body at all (Djoser's
/// `resend_activation` while activation e-mails are off), which a content
/// entry cannot say: their 400 stays described in words only.
const EMPTY_400: &[&str] = &["/auth/users/resend_activation/"];

/// Request fields that accept `null` (to clear them); every other field
/// refuses it, as DRF's fields do by default.
const NULLABLE: &[&str] = &["birth_date", "province", "profile_picture"];

/// Non-blank after trimming and free of NUL characters: what DRF's
/// `CharField` asks of a required string.
const NON_BLANK: &str = "^[^\\u0000]*[^\\s\\u0000][^\\u0000]*$";

/// Completes the generated document with the rules the request readers
/// apply to every body, so the document says what the server does:
/// - every operation that reads a body may answer 400 with field errors or,
///   for a body that does not parse, `{"detail"}`;
/// - a PATCH reads a partial body: its schema is the PUT one without
///   `required` (`Patched…`, as DRF names it);
/// - text fields take strings or numbers (DRF's `CharField` turns numbers
///   into text) and never `null` unless listed in `NULLABLE`; a required
///   one may not be blank nor hold a NUL character;
/// - a body none of whose fields is required may be left out;
/// - a paginated list answers 404 for a page that does not exist and
///   takes any `page_size`.
///
/// The result is JSON, not utoipa's typed document: utoipa cannot read
/// back some of what these rules write (a `oneOf` of references, type
/// lists), and the document is only ever served.
pub fn complete(mut api: OpenApi, settings: &Settings) -> serde_json::Value {
    document_access(&mut api);
    let mut doc = serde_json::to_value(&api).expect("an OpenAPI document is JSON");
    djoser_bodies(&mut doc, settings);
    any_login_body(&mut doc);
    complete_json(&mut doc);
    document_transport(&mut doc, settings);
    unique_operation_ids(&mut doc);
    doc
}

/// The answers the layers around every handler give, as shared responses:
/// 408 for a request still unanswered after `server.request_timeout_secs`, 413
/// and 415 for a body too large or of a type no reader takes, and 406 from
/// Djoser's views (DRF renders JSON only) for an `Accept` without JSON;
/// 429 wherever a budget is spent (every path but the probes, while
/// `rate_limit.enabled`) and 503 wherever the database is asked (every
/// path but `/healthz/`), both with `Retry-After`.
fn document_transport(doc: &mut serde_json::Value, settings: &Settings) {
    use serde_json::json;
    let detail = |description: &str| {
        json!({
            "description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Detail"}}},
        })
    };
    let retry = |mut response: serde_json::Value| {
        response["headers"] = json!({"Retry-After": {
            "description": "Seconds to wait before trying again",
            "schema": {"type": "integer", "minimum": 0},
        }});
        response
    };
    doc["components"]["responses"] = json!({
        "NotAcceptable": detail("`Accept` admits no JSON"),
        "RequestTimeout": detail("The request took longer than `server.request_timeout_secs`"),
        "PayloadTooLarge": detail("The body is larger than `server.max_body_bytes`"),
        "UnsupportedMediaType": detail("The body is of a type this operation does not read"),
        "Throttled": retry(detail("A `[rate_limit]` budget is spent; `Retry-After` says when it is not")),
        "ServiceUnavailable": retry(detail(
            "The database could not be reached within `database.acquire_timeout_ms`, or stayed locked",
        )),
    });
    let shared = |name: &str| json!({"$ref": format!("#/components/responses/{name}")});
    let Some(paths) = doc["paths"].as_object_mut() else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        let djoser = path.starts_with("/auth/");
        let throttled = settings.rate_limit.enabled
            && super::throttle::class_of(&axum::http::Method::GET, path).is_some();
        let asks_database = path != "/healthz/";
        for op in item
            .as_object_mut()
            .into_iter()
            .flat_map(|i| i.values_mut())
        {
            let has_body = op.get("requestBody").is_some();
            let responses = &mut op["responses"];
            responses["408"] = shared("RequestTimeout");
            if has_body {
                responses["413"] = shared("PayloadTooLarge");
                responses["415"] = shared("UnsupportedMediaType");
            }
            if djoser {
                responses["406"] = shared("NotAcceptable");
            }
            if throttled {
                responses["429"] = shared("Throttled");
            }
            if asks_database && responses.get("503").is_none() {
                responses["503"] = shared("ServiceUnavailable");
            }
        }
    }
}

/// `mfa/login/` answers one of the login endpoints' bodies. The Accounts
/// body (`access`, `refresh`, `user`) also has every field of the JWT pair,
/// so "exactly one of" would refuse it: the schema is "any of".
fn any_login_body(doc: &mut serde_json::Value) {
    let schema = &mut doc["components"]["schemas"]["MfaLoginBody"];
    if let Some(choices) = schema.as_object_mut().and_then(|s| s.remove("oneOf")) {
        schema["anyOf"] = choices;
    }
}

/// Both APIs name some handlers alike (`register`, `update_user`); an
/// operation id must be unique in the document, so an id used more than
/// once is prefixed with its operation's tag (`djoser_register`,
/// `accounts_register`).
fn unique_operation_ids(doc: &mut serde_json::Value) {
    let Some(paths) = doc["paths"].as_object_mut() else {
        return;
    };
    let mut seen = std::collections::HashMap::<String, usize>::new();
    for op in paths
        .values()
        .filter_map(|i| i.as_object())
        .flat_map(|i| i.values())
    {
        if let Some(id) = op["operationId"].as_str() {
            *seen.entry(id.to_string()).or_default() += 1;
        }
    }
    for op in paths
        .values_mut()
        .filter_map(|i| i.as_object_mut())
        .flat_map(|i| i.values_mut())
    {
        let (Some(id), Some(tag)) = (op["operationId"].as_str(), op["tags"][0].as_str()) else {
            continue;
        };
        if seen.get(id).is_some_and(|n| *n > 1) {
            op["operationId"] = serde_json::json!(format!("{tag}_{id}"));
        }
    }
}

/// Djoser's user bodies follow the settings: registration reads the login
/// field, `password` (and `re_password` with
/// `djoser.user_create_password_retype`) and `users.required_fields`; an
/// update reads only `users.required_fields` but the login field.
fn djoser_bodies(doc: &mut serde_json::Value, settings: &Settings) {
    use serde_json::json;
    let schemas = &mut doc["components"]["schemas"];
    let extra = super::djoser::extra_fields(settings);
    // The longest value each column takes (Django's `max_length`).
    let limit = |field: &str| match field {
        "email" => Some(254),
        "username" | "first_name" | "last_name" => Some(150),
        _ => None,
    };
    let text = |name: &str, description: &str| match limit(name) {
        Some(max) => json!({"type": "string", "description": description, "maxLength": max}),
        None => json!({"type": "string", "description": description}),
    };
    let mut update = serde_json::Map::new();
    for field in &extra {
        update.insert(
            field.to_string(),
            text(field, "Editable (`users.required_fields`)."),
        );
    }
    schemas["UserUpdate"]["properties"] = serde_json::Value::Object(update);
    let login = settings.users.login_field.name();
    let mut register = serde_json::Map::new();
    let mut required = vec![json!(login), json!("password")];
    register.insert(login.to_string(), text(login, "The login field."));
    register.insert(
        "password".into(),
        text("password", "Checked by the password validators."),
    );
    if settings.djoser.user_create_password_retype {
        register.insert(
            "re_password".into(),
            text("re_password", "The same password again."),
        );
        required.push(json!("re_password"));
    }
    for field in &extra {
        register.insert(
            field.to_string(),
            text(field, "From `users.required_fields`."),
        );
    }
    schemas["RegisterRequest"]["properties"] = serde_json::Value::Object(register);
    schemas["RegisterRequest"]["required"] = serde_json::Value::Array(required);
}

fn complete_json(doc: &mut serde_json::Value) {
    use serde_json::{Value, json};
    let mut request_schemas = std::collections::BTreeSet::new();
    let mut patched = Vec::new();
    let mut bodies: Vec<(String, String, String)> = Vec::new();
    if let Some(paths) = doc["paths"].as_object_mut() {
        for (path, item) in paths.iter_mut() {
            let Some(item) = item.as_object_mut() else {
                continue;
            };
            // One handler serving PUT and PATCH is one annotation, so both
            // carry its name; operation ids must be unique, and the partial
            // one takes DRF's prefix.
            let put_id = item.get("put").map(|op| op["operationId"].clone());
            if let Some(patch) = item.get_mut("patch")
                && put_id.is_some_and(|id| id == patch["operationId"])
                && let Some(id) = patch["operationId"].as_str()
            {
                patch["operationId"] = json!(format!("partial_{id}"));
            }
            for (method, op) in item.iter_mut() {
                // OpenAPI requires a description on every response; an
                // annotation that gave none gets the status's reason.
                if let Some(responses) = op.get_mut("responses").and_then(|r| r.as_object_mut()) {
                    for (status, response) in responses.iter_mut() {
                        if response.get("description").is_none() {
                            let reason = status
                                .parse::<u16>()
                                .ok()
                                .and_then(|s| axum::http::StatusCode::from_u16(s).ok())
                                .and_then(|s| s.canonical_reason())
                                .unwrap_or("Response");
                            response["description"] = json!(reason);
                        }
                    }
                }
                // A paginated list answers 404 `{"detail": "Invalid page."}`
                // for a page that does not exist.
                let paginated = op["parameters"]
                    .as_array()
                    .is_some_and(|ps| ps.iter().any(|p| p["name"] == "page"));
                if paginated {
                    // Any page_size is taken: one that is no positive
                    // number gets the default, a larger one the maximum.
                    if let Some(ps) = op["parameters"].as_array_mut() {
                        for p in ps.iter_mut().filter(|p| p["name"] == "page_size") {
                            p["schema"] = json!({"type": "string"});
                            p["description"] = json!(
                                "Rows per page; values that are not a positive integer give \
                                 accounts.page_size, larger ones accounts.max_page_size"
                            );
                        }
                    }
                    op["responses"]["404"] = json!({
                        "description": "No such page",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Detail"}}},
                    });
                }
                let Some(content) = op
                    .get_mut("requestBody")
                    .and_then(|b| b.get_mut("content"))
                    .and_then(|c| c.as_object_mut())
                else {
                    continue;
                };
                for media in content.values_mut() {
                    let Some(name) = media["schema"]["$ref"]
                        .as_str()
                        .and_then(|r| r.strip_prefix("#/components/schemas/"))
                        .map(str::to_string)
                    else {
                        continue;
                    };
                    let name = match method.as_str() {
                        "patch" => {
                            let partial = format!("Patched{name}");
                            media["schema"] =
                                json!({ "$ref": format!("#/components/schemas/{partial}") });
                            patched.push((name, partial.clone()));
                            partial
                        }
                        _ => name,
                    };
                    request_schemas.insert(name.clone());
                    bodies.push((path.clone(), method.clone(), name));
                }
                if EMPTY_400.contains(&path.as_str()) {
                    op["responses"]["400"] = json!({
                        "description": "Field errors (JSON), or an empty body while activation e-mails are off"
                    });
                    continue;
                }
                let description = op["responses"]["400"]["description"]
                    .as_str()
                    .unwrap_or("Field errors, or a body that does not parse")
                    .to_string();
                op["responses"]["400"] = json!({
                    "description": description,
                    "content": {"application/json": {"schema": {"oneOf": [
                        {"$ref": "#/components/schemas/FieldErrors"},
                        {"$ref": "#/components/schemas/Detail"},
                    ]}}},
                });
            }
        }
    }
    let Some(schemas) = doc["components"]["schemas"].as_object_mut() else {
        return;
    };
    for (name, partial) in patched {
        if let Some(mut schema) = schemas.get(&name).cloned() {
            if let Some(object) = schema.as_object_mut() {
                object.remove("required");
            }
            schemas.insert(partial, schema);
        }
    }
    // A body none of whose fields is required may be left out entirely.
    let optional: Vec<(String, String)> = bodies
        .into_iter()
        .filter(|(_, _, name)| {
            schemas
                .get(name)
                .is_none_or(|s| s["required"].as_array().is_none_or(|r| r.is_empty()))
        })
        .map(|(path, method, _)| (path, method))
        .collect();
    for name in &request_schemas {
        let Some(schema) = schemas.get_mut(name) else {
            continue;
        };
        let required: Vec<String> = schema["required"]
            .as_array()
            .map(|r| {
                r.iter()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        let Some(properties) = schema.get_mut("properties").and_then(|p| p.as_object_mut()) else {
            continue;
        };
        for (field, property) in properties.iter_mut() {
            let types: Vec<String> = match &property["type"] {
                Value::String(t) => vec![t.clone()],
                Value::Array(ts) => ts
                    .iter()
                    .filter_map(|t| t.as_str().map(String::from))
                    .collect(),
                _ => continue,
            };
            if !types.iter().any(|t| t == "string") {
                continue;
            }
            // DRF's CharField takes a number as its text; an e-mail field
            // would then refuse it, so it is documented as text only.
            let mut new_types = match field.contains("email") {
                true => vec![json!("string")],
                false => vec![json!("string"), json!("number")],
            };
            if NULLABLE.contains(&field.as_str()) {
                new_types.push(json!("null"));
            }
            property["type"] = Value::Array(new_types);
            // An optional field may be one the surface ignores (Djoser
            // reads only `users.required_fields`), so only a required one
            // says what it refuses.
            if required.contains(field) {
                property["pattern"] = json!(NON_BLANK);
            }
        }
    }
    for (path, method) in optional {
        if let Some(body) = doc["paths"][&path][&method].get_mut("requestBody") {
            body["required"] = json!(false);
        }
    }
}
