//! Query parameters as the OpenAPI document describes them.

use serde::Deserialize;
use serde_json::json;
use utoipa::IntoParams;
use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::schema::{ArrayBuilder, KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type};
use utoipa::openapi::{Deprecated, RefOr, Required};

use crate::incidents::ParamKind;

/// Paging of every list: the body stays a JSON array; `Link: <…>; rel="next"` points at the next page.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Rows per page, 1 to 1000 (100 when omitted).
    #[param(minimum = 1, maximum = 1000, example = 50)]
    pub limit: Option<u32>,
    /// Rows to skip; the `Link` header carries the next page's offset.
    #[param(minimum = 0)]
    pub offset: Option<u64>,
    /// Also count every matching row, returned as `X-Total-Count`.
    pub count: Option<bool>,
}

/// The original's incident filters (§3.2), described from the table the parser reads them with
/// ([`crate::incidents::LIST_PARAMS`]). Repeat `status`, `environment`, `priority`, `group` or
/// `incident_category` to match any of several values. Unknown parameters are ignored.
pub struct IncidentFilters;

impl IntoParams for IncidentFilters {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        crate::incidents::LIST_PARAMS
            .iter()
            .flat_map(|param| {
                param.names.iter().enumerate().map(move |(n, name)| {
                    let description = if n == 0 {
                        param.description.to_owned()
                    } else {
                        format!("The original's name for `{}`.", param.names[0])
                    };
                    let example = param.example.map(|example| match param.kind {
                        ParamKind::Integer => {
                            example.parse::<i64>().map_or_else(|_| json!(example), |n| json!(n))
                        }
                        ParamKind::Boolean => json!(example == "true"),
                        ParamKind::Text | ParamKind::Uuid => json!(example),
                    });
                    ParameterBuilder::new()
                        .name(*name)
                        .parameter_in(ParameterIn::Query)
                        .required(Required::False)
                        .description(Some(description))
                        .deprecated((n > 0).then_some(Deprecated::True))
                        .schema(Some(schema_of(param.kind, param.repeatable)))
                        .example(example)
                        .build()
                })
            })
            .collect()
    }
}

fn schema_of(kind: ParamKind, repeatable: bool) -> RefOr<Schema> {
    let one = match kind {
        ParamKind::Text => ObjectBuilder::new().schema_type(Type::String),
        ParamKind::Uuid => ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid))),
        ParamKind::Integer => ObjectBuilder::new()
            .schema_type(Type::Integer)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64))),
        ParamKind::Boolean => ObjectBuilder::new().schema_type(Type::Boolean),
    };
    if repeatable { ArrayBuilder::new().items(one).build().into() } else { one.build().into() }
}

/// CSV/TSV export of a list: every row (ignoring `limit` and `offset`), streamed.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[expect(
    dead_code,
    reason = "describes the parameters `export::list_export` reads, for the OpenAPI document"
)]
pub struct ExportParams {
    /// `csv` or `tsv` (or send `Accept: text/csv`); JSON otherwise.
    format: Option<String>,
    /// Columns, comma-separated dotted paths with `*` wildcards; every column when omitted.
    fields: Option<String>,
    /// `__hidden__` to leave out the header line.
    labels: Option<String>,
}
