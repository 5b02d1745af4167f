//! One integration-test binary; a module per area. Behaviour tests run on
//! SQLite and on PostgreSQL through `on_both_backends!`.

mod support;

mod acceptance;
mod cli;
mod djoser;
mod http_basics;
mod mail;
mod ops;
mod properties;
mod storage;
mod users;
