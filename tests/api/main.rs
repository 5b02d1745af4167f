//! One integration-test binary; a module per area. Behaviour tests run on
//! SQLite and on PostgreSQL through `on_both_backends!`.

mod support;

mod acceptance;
mod accounts_access;
mod accounts_admin_users;
mod accounts_escalation;
mod accounts_profile_fields;
mod accounts_profiles;
mod accounts_roles;
mod accounts_search;
mod accounts_signin;
mod allowed_hosts;
mod audit;
mod cli;
mod connections;
mod delegation;
mod django_proof;
mod djoser;
mod email_change;
mod enumeration;
mod faults;
mod hardening;
mod http_basics;
mod import_django;
mod inputs;
mod layers;
mod lockouts;
mod mail;
mod mfa;
mod migrations;
mod names;
mod one_home;
mod ops;
mod passkeys;
mod properties;
mod rate_limits;
mod secrets_in_logs;
mod shared_database;
mod storage;
mod two_nodes;
mod users;
