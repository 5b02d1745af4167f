//! `[rate_limit]`: one budget per class of request, written as allauth
//! writes them: `"5/15m"` is five requests, then one more every three
//! minutes (the budget refills evenly over the period), `"off"` none.

use std::{fmt, time::Duration};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A budget: `count` requests per `period`, refilled evenly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub count: u32,
    pub period: Duration,
}

impl Rate {
    pub const fn new(count: u32, period_secs: u64) -> Rate {
        Rate {
            count,
            period: Duration::from_secs(period_secs),
        }
    }

    /// Parses `N/period` (period `s`, `m`, `h` or `d`, optionally with a
    /// multiplier: `15m`), or `off` for no limit.
    pub fn parse(text: &str) -> Result<Option<Rate>, String> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("off") {
            return Ok(None);
        }
        let bad = || format!("`{text}` is not a rate such as `5/15m`, `100/h` or `off`");
        let (count, period) = text.split_once('/').ok_or_else(bad)?;
        let count: u32 = count.trim().parse().map_err(|_| bad())?;
        let period = period.trim();
        let unit_at = period.len().checked_sub(1).ok_or_else(bad)?;
        let (factor, unit) = period.split_at(unit_at);
        let factor: u64 = match factor {
            "" => 1,
            f => f.parse().map_err(|_| bad())?,
        };
        let unit = match unit {
            "s" => 1,
            "m" => 60,
            "h" => 3600,
            "d" => 86_400,
            _ => return Err(bad()),
        };
        let secs = factor.checked_mul(unit).ok_or_else(bad)?;
        if count == 0 || secs == 0 || secs > 30 * 86_400 {
            return Err(format!(
                "`{text}`: the count must be positive and the period between 1 s and 30 days"
            ));
        }
        Ok(Some(Rate {
            count,
            period: Duration::from_secs(secs),
        }))
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.period.as_secs();
        let (n, unit) = [(86_400, "d"), (3600, "h"), (60, "m")]
            .into_iter()
            .find(|(u, _)| secs.is_multiple_of(*u))
            .map(|(u, name)| (secs / u, name))
            .unwrap_or((secs, "s"));
        match n {
            1 => write!(f, "{}/{unit}", self.count),
            n => write!(f, "{}/{n}{unit}", self.count),
        }
    }
}

/// A rate or `off`, as written in the settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit(pub Option<Rate>);

impl Serialize for Limit {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Some(rate) => s.serialize_str(&rate.to_string()),
            None => s.serialize_str("off"),
        }
    }
}

impl<'de> Deserialize<'de> for Limit {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Limit, D::Error> {
        let text = String::deserialize(d)?;
        Rate::parse(&text)
            .map(Limit)
            .map_err(serde::de::Error::custom)
    }
}

const fn limit(count: u32, period_secs: u64) -> Limit {
    Limit(Some(Rate::new(count, period_secs)))
}

/// `[rate_limit]`. Each class is keyed by the client address (see
/// `server.trusted_proxies`) unless its name says otherwise.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitSettings {
    /// Off only for trusted set-ups such as a benchmark or a test.
    pub enabled: bool,
    /// With a Redis URL every node draws on one budget; without, each node
    /// keeps its own in memory. When Redis cannot be reached, nodes fall
    /// back to their own budgets until it can.
    pub redis_url: Option<String>,
    /// A file holding `redis_url` (it may carry a password); not with it.
    pub redis_url_file: Option<std::path::PathBuf>,
    /// Failed logins for one account from one address, in a row: a
    /// successful login starts the count again. Never the account as a
    /// whole, so nobody can lock its owner out from elsewhere.
    pub login_failures_per_account: Limit,
    /// Failed logins from one address, whatever the account.
    pub login_failures_per_address: Limit,
    /// Logins from one address, failed or not (every login path shares it).
    pub logins_per_address: Limit,
    pub registrations_per_address: Limit,
    /// Requests that send mail (reset, resend activation, username reset,
    /// forgot-password) from one address.
    pub mail_per_address: Limit,
    /// Requests that would send mail to one address, from anywhere: what
    /// one inbox receives at most.
    pub mail_per_recipient: Limit,
    /// Activation and reset confirmations.
    pub confirms_per_address: Limit,
    /// Token refreshes.
    pub refreshes_per_address: Limit,
    /// Every other request.
    pub requests_per_address: Limit,
}

impl Default for RateLimitSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            redis_url: None,
            redis_url_file: None,
            login_failures_per_account: limit(5, 15 * 60),
            login_failures_per_address: limit(30, 15 * 60),
            logins_per_address: limit(60, 60),
            registrations_per_address: limit(20, 3600),
            mail_per_address: limit(20, 3600),
            mail_per_recipient: limit(3, 3600),
            confirms_per_address: limit(30, 10 * 60),
            refreshes_per_address: limit(120, 60),
            requests_per_address: limit(1200, 60),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse_and_print_back() {
        for (text, count, secs, shown) in [
            ("5/15m", 5, 900, "5/15m"),
            ("100/h", 100, 3600, "100/h"),
            (" 3 / 1h ", 3, 3600, "3/h"),
            ("10/90s", 10, 90, "10/90s"),
            ("1/d", 1, 86_400, "1/d"),
        ] {
            let rate = Rate::parse(text).unwrap().unwrap();
            assert_eq!((rate.count, rate.period.as_secs()), (count, secs), "{text}");
            assert_eq!(rate.to_string(), shown);
        }
        assert_eq!(Rate::parse("OFF").unwrap(), None);
        for bad in [
            "", "5", "5/", "/m", "0/m", "5/0m", "5/x", "-1/m", "5/31d", "5/m/ip",
        ] {
            assert!(Rate::parse(bad).is_err(), "{bad}");
        }
    }
}
