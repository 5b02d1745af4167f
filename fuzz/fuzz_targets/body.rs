//! Request bodies as every endpoint reads them (JSON, form, multipart):
//! any bytes under any of the three content types give a payload or a
//! 4xx, never a panic or a 5xx.
#![no_main]

use axum::{body::Body, extract::FromRequest, http::Request};
use doorman::http::input::Payload;
use libfuzzer_sys::fuzz_target;

const TYPES: [&str; 5] = [
    "application/json",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=XyZ",
    "multipart/form-data",
    "text/plain",
];

// Input: one byte choosing the content type, then the body.
fuzz_target!(|input: &[u8]| {
    let Some((&kind, body)) = input.split_first() else {
        return;
    };
    let content_type = TYPES[usize::from(kind) % TYPES.len()];
    let request = Request::post("/auth/users/")
        .header("content-type", content_type)
        .body(Body::from(body.to_vec()))
        .unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    if let Err(refused) = runtime.block_on(Payload::from_request(request, &())) {
        let status = refused.status();
        assert!(status.is_client_error(), "{status} for {content_type}");
    }
});
