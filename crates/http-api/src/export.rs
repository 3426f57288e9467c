//! CSV and TSV exports of lists, with the original's rules: objects flattened to dotted keys (`a.b`,
//! lists as `a.0`), `fields` (`__all__`, a comma list, `*` wildcards such as `roles.*.email`),
//! `labels` (`__hidden__` drops the header) and, for incidents, the original's default columns.
//!
//! Rows are streamed page by page, so an export of the whole history runs in constant memory. Columns
//! that depend on the data (`__all__`, wildcards) are found by a first pass over the same pages.

use std::collections::{BTreeMap, BTreeSet};

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::StreamExt;
use serde_json::Value;

use crate::errors::ApiError;

/// A tabular format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tabular {
    Csv,
    Tsv,
}

impl Tabular {
    fn delimiter(self) -> char {
        match self {
            Self::Csv => ',',
            Self::Tsv => '\t',
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Self::Csv => "text/csv; charset=utf-8",
            Self::Tsv => "text/tab-separated-values; charset=utf-8",
        }
    }
}

/// The requested format: the path suffix wins, then `?format=`, then `Accept`; `None` means JSON.
///
/// # Errors
/// An unknown `format`.
pub fn requested(request: &HttpRequest, suffix: Option<&str>) -> Result<Option<Tabular>, ApiError> {
    let from_name = |name: &str| match name {
        "csv" => Ok(Some(Tabular::Csv)),
        "tsv" => Ok(Some(Tabular::Tsv)),
        "json" => Ok(None),
        other => Err(ApiError::invalid(
            "format",
            "invalid_choice",
            format!("Unknown format {other:?} (use json, csv or tsv)."),
        )),
    };
    if let Some(suffix) = suffix {
        return from_name(suffix);
    }
    // An empty `format=` is no format, like every empty parameter.
    if let Some((_, format)) = url::form_urlencoded::parse(request.query_string().as_bytes())
        .find(|(key, value)| key == "format" && !value.is_empty())
    {
        return from_name(&format);
    }
    let accept = request.headers().get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or_default();
    Ok(if accept.contains("text/csv") {
        Some(Tabular::Csv)
    } else if accept.contains("text/tab-separated-values") {
        Some(Tabular::Tsv)
    } else {
        None
    })
}

/// Flattens a JSON object into dotted keys and printable values (Python's spelling of booleans and
/// null, as the original's exports).
#[must_use]
pub fn flatten(value: &Value) -> BTreeMap<String, String> {
    fn walk(prefix: &str, value: &Value, out: &mut BTreeMap<String, String>) {
        let key =
            |child: &str| if prefix.is_empty() { child.to_owned() } else { format!("{prefix}.{child}") };
        match value {
            Value::Object(map) => {
                for (k, v) in map {
                    walk(&key(k), v, out);
                }
            }
            Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    walk(&key(&i.to_string()), v, out);
                }
            }
            Value::Null => {
                out.insert(prefix.to_owned(), String::new());
            }
            Value::Bool(flag) => {
                out.insert(prefix.to_owned(), if *flag { "True" } else { "False" }.to_owned());
            }
            Value::Number(n) => {
                out.insert(prefix.to_owned(), n.to_string());
            }
            Value::String(text) => {
                out.insert(prefix.to_owned(), text.clone());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk("", value, &mut out);
    out
}

/// Which columns, before expansion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Columns {
    /// Every key of every row, sorted.
    All,
    /// These, in order; a path with `*` expands to the matching keys, sorted, in place.
    Listed(Vec<String>),
}

impl Columns {
    /// From the `fields` parameter, or `default` when absent.
    #[must_use]
    pub fn from_request(request: &HttpRequest, default: &[&str]) -> Self {
        match url::form_urlencoded::parse(request.query_string().as_bytes()).find(|(key, _)| key == "fields")
        {
            Some((_, fields)) if fields == "__all__" => Self::All,
            Some((_, fields)) if !fields.trim().is_empty() => Self::Listed(
                fields.split(',').map(|f| f.trim().to_owned()).filter(|f| !f.is_empty()).collect(),
            ),
            _ => Self::Listed(default.iter().map(|f| (*f).to_owned()).collect()),
        }
    }

    /// From the `fields` parameter, or every column when absent (the lists other than incidents have
    /// no default columns).
    #[must_use]
    pub fn from_request_or_all(request: &HttpRequest) -> Self {
        let listed =
            url::form_urlencoded::parse(request.query_string().as_bytes()).any(|(key, _)| key == "fields");
        if listed { Self::from_request(request, &[]) } else { Self::All }
    }

    /// Whether the data must be read once to know the columns.
    #[must_use]
    pub fn needs_keys(&self) -> bool {
        match self {
            Self::All => true,
            Self::Listed(fields) => fields.iter().any(|f| f.contains('*')),
        }
    }

    /// The final columns, given every key seen in the data.
    #[must_use]
    pub fn expand(&self, keys: &BTreeSet<String>) -> Vec<String> {
        match self {
            Self::All => keys.iter().cloned().collect(),
            Self::Listed(fields) => fields
                .iter()
                .flat_map(|field| {
                    if field.contains('*') {
                        keys.iter().filter(|key| wildcard_matches(field, key)).cloned().collect::<Vec<_>>()
                    } else {
                        vec![field.clone()]
                    }
                })
                .collect(),
        }
    }
}

/// `roles.*.email` matches `roles.commander.email` (the original turned `.*.` into the regex `.+`).
fn wildcard_matches(pattern: &str, key: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    let (Some(first), Some(last)) = (parts.first(), parts.last()) else { return false };
    if !key.starts_with(first) || !key.ends_with(last) || key.len() < first.len() + last.len() {
        return false;
    }
    let mut rest = &key[first.len()..key.len() - last.len()];
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle) {
            Some(at) if at > 0 => rest = &rest[at + middle.len()..],
            _ => return false,
        }
    }
    !rest.is_empty()
}

/// A cell as it is written: a value a spreadsheet would run as a formula (starting with `=`, `+`,
/// `-`, `@`, a tab or a carriage return, and not a plain number) gets a leading `'`, which
/// spreadsheets show as text (OWASP's CSV injection advice); then quoted when it must be.
fn field(value: &str, delimiter: char) -> String {
    let formula = value.starts_with(['=', '+', '-', '@', '\t', '\r']) && value.trim().parse::<f64>().is_err();
    let value = if formula {
        std::borrow::Cow::Owned(format!("'{value}"))
    } else {
        std::borrow::Cow::Borrowed(value)
    };
    if value.contains([delimiter, '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.into_owned()
    }
}

/// One line of the table.
#[must_use]
pub fn line(values: impl IntoIterator<Item = String>, format: Tabular) -> String {
    let delimiter = format.delimiter();
    let mut line =
        values.into_iter().map(|v| field(&v, delimiter)).collect::<Vec<_>>().join(&delimiter.to_string());
    line.push_str("\r\n");
    line
}

/// Whether `labels=__hidden__` asks for no header row.
#[must_use]
pub fn header_hidden(request: &HttpRequest) -> bool {
    url::form_urlencoded::parse(request.query_string().as_bytes())
        .any(|(key, value)| key == "labels" && value == "__hidden__")
}

/// Streams a table: `pages(n)` returns page `n` of rows (empty when done), called on the blocking pool.
pub fn stream<F>(format: Tabular, columns: Columns, show_header: bool, pages: F) -> HttpResponse
where
    F: Fn(u64) -> Result<Vec<Value>, ApiError> + Send + 'static,
{
    let (sender, mut receiver) = tokio::sync::mpsc::channel::<Result<web::Bytes, ApiError>>(4);
    actix_web::rt::task::spawn_blocking(move || {
        let columns = if columns.needs_keys() {
            let mut keys = BTreeSet::new();
            let mut page = 0;
            loop {
                match pages(page) {
                    Ok(rows) if rows.is_empty() => break,
                    Ok(rows) => rows.iter().for_each(|row| keys.extend(flatten(row).into_keys())),
                    Err(error) => {
                        let _ = sender.blocking_send(Err(error));
                        return;
                    }
                }
                page += 1;
            }
            columns.expand(&keys)
        } else {
            columns.expand(&BTreeSet::new())
        };
        if show_header && sender.blocking_send(Ok(web::Bytes::from(line(columns.clone(), format)))).is_err() {
            return;
        }
        let mut page = 0;
        loop {
            let rows = match pages(page) {
                Ok(rows) if rows.is_empty() => return,
                Ok(rows) => rows,
                Err(error) => {
                    let _ = sender.blocking_send(Err(error));
                    return;
                }
            };
            let mut chunk = String::new();
            for row in &rows {
                let flat = flatten(row);
                chunk.push_str(&line(
                    columns.iter().map(|c| flat.get(c).cloned().unwrap_or_default()),
                    format,
                ));
            }
            // The client went away: stop reading the database.
            if sender.blocking_send(Ok(web::Bytes::from(chunk))).is_err() {
                return;
            }
            page += 1;
        }
    });
    let body = futures_util::stream::poll_fn(move |cx| receiver.poll_recv(cx))
        .map(|item| item.map_err(actix_web::Error::from));
    HttpResponse::Ok().content_type(format.content_type()).streaming(body)
}

/// A list as CSV or TSV when the request asks for one (`?format=`, `Accept`), every column unless
/// `fields` says otherwise; `pages(n)` returns page `n` of rows, empty when done. `None`: answer JSON.
///
/// # Errors
/// An unknown `format`.
pub fn list_export<F>(request: &HttpRequest, pages: F) -> Result<Option<HttpResponse>, ApiError>
where
    F: Fn(u64) -> Result<Vec<Value>, ApiError> + Send + 'static,
{
    let Some(format) = requested(request, None)? else { return Ok(None) };
    Ok(Some(stream(format, Columns::from_request_or_all(request), !header_hidden(request), pages)))
}

/// Rows as JSON values, for [`list_export`].
///
/// # Errors
/// A value that does not serialize (never, for the API's types).
pub fn rows<T: serde::Serialize>(items: &[T]) -> Result<Vec<Value>, ApiError> {
    items.iter().map(|item| serde_json::to_value(item).map_err(|_| ApiError::internal())).collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn flattening_and_wildcards_follow_the_original() {
        let flat = flatten(
            &json!({"id": 1, "ignore": false, "priority": {"name": "P1"}, "tags": ["a", "b"], "roles": {"commander": {"email": "c@x"}, "communication_lead": {"email": "l@x"}}, "postmortem_url": null}),
        );
        assert_eq!(flat["priority.name"], "P1");
        assert_eq!(flat["tags.1"], "b");
        assert_eq!(flat["ignore"], "False");
        assert_eq!(flat["postmortem_url"], "");
        let keys: BTreeSet<String> = flat.keys().cloned().collect();
        let columns = Columns::Listed(vec!["id".into(), "roles.*.email".into(), "missing.column".into()]);
        assert_eq!(
            columns.expand(&keys),
            vec!["id", "roles.commander.email", "roles.communication_lead.email", "missing.column"]
        );
        assert_eq!(Columns::All.expand(&keys).first().map(String::as_str), Some("id"));
        assert!(!wildcard_matches("roles.*.email", "roles..email"));
        assert!(wildcard_matches("meta.*.value", "meta.a.b.value"));
    }

    #[test]
    fn formulas_reach_spreadsheets_as_text() {
        let cells = |values: &[&str]| line(values.iter().map(|v| (*v).to_owned()), Tabular::Csv);
        assert_eq!(
            cells(&["=HYPERLINK(\"http://evil\")", "+1+2", "@SUM(A1)", "-cmd|' /C calc'!A0"]),
            "\"'=HYPERLINK(\"\"http://evil\"\")\",'+1+2,'@SUM(A1),'-cmd|' /C calc'!A0\r\n"
        );
        assert_eq!(cells(&["\t=1", "\r=1"]), "'\t=1,\"'\r=1\"\r\n");
        assert_eq!(line(vec!["\t=1".into()], Tabular::Tsv), "\"'\t=1\"\r\n");
        // Numbers, dates and ordinary text are left alone.
        assert_eq!(
            cells(&["-12.5", "+3", "2026-12-01", "Checkout down", "a=b"]),
            "-12.5,+3,2026-12-01,Checkout down,a=b\r\n"
        );
    }

    #[test]
    fn fields_are_quoted_when_needed() {
        assert_eq!(
            line(vec!["a".into(), "b,c".into(), "say \"hi\"".into()], Tabular::Csv),
            "a,\"b,c\",\"say \"\"hi\"\"\"\r\n"
        );
        assert_eq!(line(vec!["a,b".into(), "c\td".into()], Tabular::Tsv), "a,b\t\"c\td\"\r\n");
    }
}
