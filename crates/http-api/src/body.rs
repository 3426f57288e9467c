//! Request bodies: JSON (the default) or form-encoded, decoded into the same typed request the
//! OpenAPI document describes. A wrong type is a 400 naming the attribute; unknown fields are ignored,
//! as in the original; another content type is a 415.

use actix_web::HttpRequest;
use actix_web::http::header;
use serde::de::DeserializeOwned;

use crate::errors::ApiError;

/// Decodes `bytes` as the request's content type says: `application/json` (or none) or
/// `application/x-www-form-urlencoded`.
///
/// # Errors
/// 400 naming the attribute for a malformed body or a wrong type, 415 for another content type.
pub fn decode<T: DeserializeOwned>(request: &HttpRequest, bytes: &[u8]) -> Result<T, ApiError> {
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .map(|value| value.split(';').next().unwrap_or_default().trim().to_ascii_lowercase());
    match content_type.as_deref() {
        None | Some("" | "application/json") => json(bytes),
        Some(media) if media.ends_with("+json") => json(bytes),
        Some("application/x-www-form-urlencoded") => form(bytes),
        Some(other) => Err(ApiError::unsupported_media_type(other)),
    }
}

fn json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::invalid("non_field_errors", "parse_error", "JSON parse error - empty body"));
    }
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
        ApiError::invalid("non_field_errors", "parse_error", format!("JSON parse error - {e}"))
    })?;
    if !value.is_object() {
        return Err(ApiError::invalid("non_field_errors", "invalid", "Invalid data. Expected a dictionary."));
    }
    if let Some(attr) = nul_path(&value, "") {
        return Err(nul_error(&attr));
    }
    serde_path_to_error::deserialize(value).map_err(|error| {
        let attr = attribute(&error.path().to_string());
        ApiError::invalid(&attr, "invalid", detail(&error.into_inner().to_string()))
    })
}

fn form<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    for (key, value) in url::form_urlencoded::parse(bytes) {
        refuse_nul(&key, &value)?;
    }
    let deserializer = serde_urlencoded::Deserializer::new(url::form_urlencoded::parse(bytes));
    serde_path_to_error::deserialize(deserializer).map_err(|error| {
        let attr = attribute(&error.path().to_string());
        ApiError::invalid(&attr, "invalid", detail(&error.into_inner().to_string()))
    })
}

/// Refuses a parameter whose name or value holds a NUL character: no text column stores one
/// (PostgreSQL refuses it), and no legitimate client sends one.
///
/// # Errors
/// 400 naming the parameter.
pub fn refuse_nul(key: &str, value: &str) -> Result<(), ApiError> {
    if key.contains('\0') || value.contains('\0') {
        return Err(nul_error(&key.replace('\0', "")));
    }
    Ok(())
}

fn nul_error(attr: &str) -> ApiError {
    ApiError::invalid(attr, "null_characters_not_allowed", "Null characters are not allowed.")
}

/// The path (`title`, `impacts.0`) of the first string or key holding a NUL character.
fn nul_path(value: &serde_json::Value, at: &str) -> Option<String> {
    let join = |key: &str| if at.is_empty() { key.to_owned() } else { format!("{at}.{key}") };
    match value {
        serde_json::Value::String(text) => text.contains('\0').then(|| at.to_owned()),
        serde_json::Value::Array(items) => {
            items.iter().enumerate().find_map(|(n, item)| nul_path(item, &join(&n.to_string())))
        }
        serde_json::Value::Object(fields) => fields.iter().find_map(|(key, field)| {
            if key.contains('\0') { Some(join(&key.replace('\0', ""))) } else { nul_path(field, &join(key)) }
        }),
        _ => None,
    }
}

/// `serde_path_to_error` prints the root as `.`; the error body calls it `non_field_errors`.
fn attribute(path: &str) -> String {
    if path.is_empty() || path == "." { "non_field_errors".to_owned() } else { path.to_owned() }
}

/// serde's message without its position suffix (`… at line 1 column 12`).
fn detail(message: &str) -> String {
    message.split(" at line ").next().unwrap_or(message).to_owned()
}

/// A required field, or the original's 400.
pub fn required<T>(value: Option<T>, attr: &str) -> Result<T, ApiError> {
    value.ok_or_else(|| ApiError::invalid(attr, "required", "This field is required."))
}
