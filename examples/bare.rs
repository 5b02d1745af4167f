//! The framework baseline for `bench/`: an axum server on the same tokio
//! runtime doorman uses, answering `GET /` with a fixed small JSON body and
//! doing nothing else. Whatever doorman loses against it is doorman's own
//! work (middleware, authentication, database, hashing).
//!
//! Usage: `cargo run --release --example bare -- [PORT]` (or `BARE_PORT`);
//! it listens on 127.0.0.1, port 8099 by default.

use axum::{Router, http::header, routing::get};

const BODY: &str = r#"{"id":1,"username":"bench","email":"bench@example.com"}"#;

async fn index() -> ([(header::HeaderName, &'static str); 1], &'static str) {
    ([(header::CONTENT_TYPE, "application/json")], BODY)
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = std::env::args()
        .nth(1)
        .or_else(|| std::env::var("BARE_PORT").ok())
        .map(|p| p.parse().expect("port must be a number"))
        .unwrap_or(8099);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("bare listening on http://{}", listener.local_addr()?);
    let app = Router::new().route("/", get(index));
    axum::serve(listener, app).await
}
