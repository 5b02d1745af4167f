//! Django REST framework's page-number pagination:
//! `?page=N&page_size=M` → `{"count", "next", "previous", "results"}`, with
//! absolute `next`/`previous` URLs. A page past the end, or a page that is
//! not a positive number, is a 404 `{"detail": "Invalid page."}` as in DRF.

use axum::http::{StatusCode, Uri};
use serde_json::{Value, json};

use crate::{config::Settings, http::error::ApiError};

/// The page a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub number: u32,
    pub size: u32,
}

impl Page {
    /// Reads `page` and `page_size` from a query string; `page_size` is
    /// capped at `accounts.max_page_size`.
    pub fn from_query(query: Option<&str>, settings: &Settings) -> Result<Page, ApiError> {
        let pairs: Vec<(String, String)> =
            serde_urlencoded::from_str(query.unwrap_or("")).unwrap_or_default();
        let get = |key: &str| {
            pairs
                .iter()
                .rev()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_str())
        };
        let number = match get("page") {
            None | Some("") => 1,
            Some("last") => u32::MAX,
            Some(v) => v
                .parse::<u32>()
                .ok()
                .filter(|n| *n >= 1)
                .ok_or_else(invalid_page)?,
        };
        let accounts = &settings.accounts;
        let size = get("page_size")
            .and_then(|v| v.parse::<u32>().ok())
            .filter(|n| *n >= 1)
            .unwrap_or(accounts.page_size)
            .min(accounts.max_page_size);
        Ok(Page { number, size })
    }

    pub fn offset(&self) -> i64 {
        i64::from(self.number.saturating_sub(1)) * i64::from(self.size)
    }

    pub fn limit(&self) -> i64 {
        i64::from(self.size)
    }
}

fn invalid_page() -> ApiError {
    ApiError::detail(StatusCode::NOT_FOUND, "Invalid page.")
}

/// The paginated body for `results` out of `count` items, its links
/// starting with `base` (from `http::host::BaseUrl`). `page` with
/// `u32::MAX` (`?page=last`) resolves to the last page before calling.
pub fn paginate(
    uri: &Uri,
    base: &str,
    page: Page,
    count: i64,
    results: Vec<Value>,
) -> Result<Value, ApiError> {
    let pages = ((count.max(1) - 1) / i64::from(page.size) + 1) as u32;
    if page.number > pages {
        return Err(invalid_page());
    }
    let link = |n: u32| {
        let mut pairs: Vec<(String, String)> =
            serde_urlencoded::from_str(uri.query().unwrap_or("")).unwrap_or_default();
        pairs.retain(|(k, _)| k != "page");
        if n > 1 {
            pairs.push(("page".into(), n.to_string()));
        }
        let query = serde_urlencoded::to_string(&pairs).unwrap_or_default();
        if query.is_empty() {
            format!("{base}{}", uri.path())
        } else {
            format!("{base}{}?{query}", uri.path())
        }
    };
    Ok(json!({
        "count": count,
        "next": (page.number < pages).then(|| link(page.number + 1)),
        "previous": (page.number > 1).then(|| link(page.number - 1)),
        "results": results,
    }))
}
