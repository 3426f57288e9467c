//! A request id on every request and response, and one log line per request.
//!
//! An incoming `X-Request-Id` is kept when it looks like an id (so a proxy's id follows the request
//! through); otherwise a new one is made. Only the path is logged, never the query string, which may
//! carry secrets (Jira's legacy `?secret=` webhooks).

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use tracing::Instrument;

/// The header carrying the request id, both ways.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

const MAX_LEN: usize = 128;

fn acceptable(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_LEN
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

pub(super) async fn request_id(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let id = request
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|value| value.to_str().ok())
        .filter(|value| acceptable(value))
        .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned);
    let span =
        tracing::info_span!("http", request_id = %id, method = %request.method(), path = %request.path());
    let started = Instant::now();
    let result = next.call(request).instrument(span.clone()).await;
    let _entered = span.enter();
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    match result {
        Ok(mut response) => {
            let status = response.status().as_u16();
            if status >= 500 {
                tracing::error!(status, latency_ms, "request failed");
            } else {
                tracing::info!(status, latency_ms, "request");
            }
            if let Ok(value) = HeaderValue::from_str(&id) {
                response.headers_mut().insert(HeaderName::from_static(REQUEST_ID_HEADER), value);
            }
            Ok(response)
        }
        Err(error) => {
            tracing::error!(%error, latency_ms, "request error");
            Err(error)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::acceptable;

    #[test]
    fn only_id_like_values_are_kept() {
        assert!(acceptable("3f2a-99_x.y:z"));
        assert!(!acceptable(""));
        assert!(!acceptable("has space"));
        assert!(!acceptable("line\nbreak"));
        assert!(!acceptable(&"a".repeat(129)));
    }
}
