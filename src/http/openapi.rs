//! What the OpenAPI document says that the handlers' own annotations
//! cannot know: the answers the Accounts API's access check gives before
//! any handler runs. They are derived from `ACCESS`, the same table the
//! check applies, so the document and the server cannot disagree about
//! them: every operation may answer 401 (bad credentials are refused even
//! on open endpoints), and every admin operation 403.

use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr, ResponseBuilder, path::Operation};

use super::accounts::rule_for;
use crate::domain::access::Rule;

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

/// Adds the access check's answers to every `/api/auth/` operation.
pub fn document_access(api: &mut OpenApi) {
    for (path, item) in api.paths.paths.iter_mut() {
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
            if matches!(rule, Rule::Admin(_) | Rule::AdminOrSelf(_)) {
                responses
                    .entry("403".into())
                    .or_insert_with(|| detail_response("The caller may not do this"));
            }
        }
    }
}
