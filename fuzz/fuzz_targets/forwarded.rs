//! `X-Forwarded-For` and `Forwarded` from a trusted proxy: any header
//! value gives an address, and an untrusted peer's header is ignored.
#![no_main]

use std::net::IpAddr;

use axum::http::{HeaderMap, HeaderValue};
use doorman::{
    config::Cidr,
    http::client::{ForwardedHeader, resolve},
};
use libfuzzer_sys::fuzz_target;

// Input: one byte (odd: `Forwarded`, even: `X-Forwarded-For`), then the
// header value.
fuzz_target!(|input: &[u8]| {
    let Some((&kind, value)) = input.split_first() else {
        return;
    };
    let rfc7239 = kind % 2 == 1;
    let Ok(value) = HeaderValue::from_bytes(value) else {
        return;
    };
    let (name, header) = if rfc7239 {
        ("forwarded", ForwardedHeader::Forwarded)
    } else {
        ("x-forwarded-for", ForwardedHeader::XForwardedFor)
    };
    let mut headers = HeaderMap::new();
    headers.insert(name, value);
    let trusted = [Cidr::parse("10.0.0.0/8").unwrap()];
    let proxy: IpAddr = "10.1.2.3".parse().unwrap();
    assert!(resolve(Some(proxy), &headers, &trusted, header).is_some());
    let stranger: IpAddr = "203.0.113.9".parse().unwrap();
    assert_eq!(
        resolve(Some(stranger), &headers, &trusted, header),
        Some(stranger)
    );
});
