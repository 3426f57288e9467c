//! Paging of every list of the API: the body stays a JSON array (the original's shape); `limit`
//! (100 when omitted, at most 1000) and `offset` choose the page, `Link: <…>; rel="next"` points at
//! the next one while rows follow, and `count=true` adds `X-Total-Count`. Integrations page their
//! own lists with the same functions.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};
use incidents_core::query::PageRequest;
use serde::Serialize;

use crate::errors::ApiError;
use crate::incidents::{parse_bool, parse_int};
pub use crate::params::PageParams;

/// Rows per page when the client does not say; the original returned everything, which does not
/// scale to a long history.
pub const DEFAULT_LIMIT: u32 = 100;
/// The most rows one page returns.
pub const MAX_LIMIT: u32 = 1000;

/// `limit`, `offset` and `count` of a list request.
pub(crate) fn page_params(query: &str) -> Result<(u32, u64, bool), ApiError> {
    let mut params = PageParams::default();
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        match key.as_ref() {
            "limit" => {
                params.limit = Some(
                    u32::try_from(parse_int("limit", &value)?)
                        .ok()
                        .filter(|l| (1..=MAX_LIMIT).contains(l))
                        .ok_or_else(|| {
                        ApiError::invalid("limit", "invalid", format!("Must be between 1 and {MAX_LIMIT}."))
                    })?,
                );
            }
            "offset" => {
                params.offset = Some(
                    u64::try_from(parse_int("offset", &value)?)
                        .map_err(|_| ApiError::invalid("offset", "invalid", "Must be 0 or more."))?,
                );
            }
            "count" => params.count = Some(parse_bool("count", &value)?),
            _ => {}
        }
    }
    Ok((params.limit.unwrap_or(DEFAULT_LIMIT), params.offset.unwrap_or(0), params.count.unwrap_or(false)))
}

/// The same request with another offset, for the `Link` header.
pub(crate) fn page_url(request: &HttpRequest, base_url: &str, offset: u64) -> String {
    let mut pairs: Vec<(String, String)> = url::form_urlencoded::parse(request.query_string().as_bytes())
        .filter(|(key, _)| key != "offset")
        .map(|(key, value)| (key.into_owned(), value.into_owned()))
        .collect();
    pairs.push(("offset".to_owned(), offset.to_string()));
    let query = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish();
    format!("{base_url}{}?{query}", request.path())
}

/// A 200 response builder with the paging headers: `Link: <…>; rel="next"` when more rows follow,
/// `X-Total-Count` when counted.
pub fn paged_response(
    request: &HttpRequest,
    base_url: &str,
    page: PageRequest,
    has_more: bool,
    total: Option<u64>,
) -> actix_web::HttpResponseBuilder {
    let mut response = HttpResponse::Ok();
    if has_more {
        let next = page_url(request, base_url, page.offset + u64::from(page.limit));
        response.insert_header((header::LINK, format!("<{next}>; rel=\"next\"")));
    }
    if let Some(total) = total {
        response.insert_header(("X-Total-Count", total.to_string()));
    }
    response
}

/// The page a list request asks for (`limit`, `offset`, `count`).
///
/// # Errors
/// A 400 naming `limit`, `offset` or `count` when one is not valid.
pub fn page_request(request: &HttpRequest) -> Result<PageRequest, ApiError> {
    let (limit, offset, with_total) = page_params(request.query_string())?;
    Ok(PageRequest { limit, offset, with_total })
}

/// One page of a list held whole in memory (the small lists: reference data, webhooks, groups …),
/// with the paging headers.
///
/// # Errors
/// A 400 when the paging parameters are not valid.
pub fn in_memory<T: Serialize>(
    request: &HttpRequest,
    base_url: &str,
    items: Vec<T>,
) -> Result<HttpResponse, ApiError> {
    let page = page_request(request)?;
    let total = items.len() as u64;
    let start = usize::try_from(page.offset).unwrap_or(usize::MAX).min(items.len());
    let end = start.saturating_add(page.limit as usize).min(items.len());
    let has_more = end < items.len();
    let body: Vec<T> = items.into_iter().skip(start).take(end - start).collect();
    Ok(paged_response(request, base_url, page, has_more, page.with_total.then_some(total)).json(body))
}
