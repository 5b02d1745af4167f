//! A stored Django hash string (`auth_user.password`, possibly written by
//! Django or edited by hand): parsing never panics. Inputs whose work
//! parameters would make one check take more than a few milliseconds are
//! only parsed, not verified — their bounds are unit-tested, and running
//! them would slow the fuzzer to a crawl without reaching new code.
#![no_main]

use doorman::security::hashers::{Argon2Params, cost_parameters, is_usable, verify_password};
use libfuzzer_sys::fuzz_target;

// Input: `password` LF `encoded hash` (so seeds are readable files).
fuzz_target!(|input: &str| {
    let (password, encoded) = input.split_once('\n').unwrap_or(("", input));
    let cost = cost_parameters(encoded);
    let _ = is_usable(encoded);
    let cheap = cost.as_deref().is_none_or(|c| {
        c.split(|ch: char| !ch.is_ascii_digit())
            .filter_map(|n| n.parse::<u64>().ok())
            .all(|n| n <= 64)
    });
    if cheap {
        let _ = verify_password(password, encoded, &Argon2Params::danger_fast_for_tests());
    }
});
