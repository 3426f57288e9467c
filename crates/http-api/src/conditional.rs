//! Conditional requests on single resources: a weak `ETag` from the representation, and
//! `If-None-Match` answered with 304 and no body.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// The entity tag of a JSON representation.
fn etag(body: &[u8]) -> String {
    format!("W/\"{}\"", &hex::encode(Sha256::digest(body))[..32])
}

/// 200 with `body` and its `ETag`, or 304 when the client already holds this representation.
pub fn respond(request: &HttpRequest, body: &impl Serialize) -> HttpResponse {
    match serde_json::to_vec(body) {
        Ok(bytes) => respond_json(request, bytes.into()),
        Err(_) => actix_web::ResponseError::error_response(&crate::errors::ApiError::internal()),
    }
}

/// [`respond`] for an already serialized JSON body.
pub fn respond_json(request: &HttpRequest, bytes: actix_web::web::Bytes) -> HttpResponse {
    let tag = etag(&bytes);
    let matches = request
        .headers()
        .get_all(header::IF_NONE_MATCH)
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .any(|candidate| {
            candidate == "*"
                || candidate == tag
                || candidate.trim_start_matches("W/") == tag.trim_start_matches("W/")
        });
    if matches {
        return HttpResponse::NotModified().insert_header((header::ETAG, tag)).finish();
    }
    HttpResponse::Ok().insert_header((header::ETAG, tag)).content_type("application/json").body(bytes)
}
