//! The back-office's reads and writes of any [`Model`] (`incidents_core::backoffice`): the one
//! application service behind the dashboard's `/admin/` pages and the CLI's `admin` command.
//!
//! Models are static descriptions, so their table and column names are ours, not a request's: they are
//! written into the SQL text, and every value is a bound parameter. Rows are read as one JSON object
//! each (`json_build_object` / `json_object`), whatever their columns. Every change runs in one
//! transaction with its audit row: the change and its record land together or not at all.

use std::collections::BTreeMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Nullable, Text, Timestamp};
use incidents_core::backoffice::{Catalog, Input, Invalid, Key, Kind, Link, Model, Row, Value};
use incidents_core::{EntryPoint, RepositoryError, UserId};

use crate::connection::{Database, DbConnection};
use crate::error::repository_error;

/// Rows shown on one page of a list.
pub const PAGE: i64 = 100;

/// Why a back-office change did not happen.
#[derive(Debug, thiserror::Error)]
pub enum BackofficeError {
    /// The input breaks a rule; the messages are for the person who typed it.
    #[error("{0}")]
    Invalid(Invalid),
    /// No such row.
    #[error("no such {0}")]
    NotFound(&'static str),
    #[error(transparent)]
    Storage(#[from] RepositoryError),
}

impl From<diesel::result::Error> for BackofficeError {
    fn from(error: diesel::result::Error) -> Self {
        Self::Storage(repository_error(error))
    }
}

/// Who makes a change, for the audit log.
#[derive(Debug, Clone, Copy)]
pub struct Change {
    pub actor: Option<UserId>,
    pub entry_point: EntryPoint,
}

/// For each reference field, the rows it may point to: `(id, title)`.
pub type Choices = BTreeMap<&'static str, Vec<(String, String)>>;

/// A model, and its rows linked to another row: `(id, title)`.
pub type Linked = (&'static Model, Vec<(String, String)>);

/// One page of a model's rows.
#[derive(Debug, Clone, Default)]
pub struct RowPage {
    pub rows: Vec<Row>,
    pub has_more: bool,
}

/// A bound parameter.
#[derive(Debug, Clone)]
enum Bind {
    Text(Option<String>),
    Int(Option<i64>),
    Bool(bool),
    Time(NaiveDateTime),
}

/// One JSON object per row.
#[derive(QueryableByName)]
struct JsonRow {
    #[diesel(sql_type = Text)]
    row: String,
}

/// Binds `binds` to a boxed `sql_query` of either backend.
macro_rules! bound {
    ($query:expr, $binds:expr) => {{
        let mut query = $query;
        for bind in $binds {
            query = match bind {
                Bind::Text(value) => query.bind::<Nullable<Text>, _>(value.clone()),
                Bind::Int(value) => query.bind::<Nullable<BigInt>, _>(*value),
                Bind::Bool(value) => query.bind::<Bool, _>(*value),
                Bind::Time(value) => query.bind::<Timestamp, _>(*value),
            };
        }
        query
    }};
}

/// `?` placeholders become `$1 …` on PostgreSQL (the SQL here never holds a literal `?`).
fn numbered(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut n = 0;
    for c in sql.chars() {
        if c == '?' {
            n += 1;
            out.push('$');
            out.push_str(&n.to_string());
        } else {
            out.push(c);
        }
    }
    out
}

fn execute(conn: &mut DbConnection, sql: &str, binds: &[Bind]) -> QueryResult<usize> {
    match conn {
        DbConnection::Postgres(pg) => {
            bound!(diesel::sql_query(numbered(sql)).into_boxed::<diesel::pg::Pg>(), binds).execute(pg)
        }
        DbConnection::Sqlite(lite) => {
            bound!(diesel::sql_query(sql).into_boxed::<diesel::sqlite::Sqlite>(), binds).execute(lite)
        }
    }
}

fn load(conn: &mut DbConnection, sql: &str, binds: &[Bind]) -> QueryResult<Vec<String>> {
    let rows: Vec<JsonRow> = match conn {
        DbConnection::Postgres(pg) => {
            bound!(diesel::sql_query(numbered(sql)).into_boxed::<diesel::pg::Pg>(), binds).load(pg)?
        }
        DbConnection::Sqlite(lite) => {
            bound!(diesel::sql_query(sql).into_boxed::<diesel::sqlite::Sqlite>(), binds).load(lite)?
        }
    };
    Ok(rows.into_iter().map(|r| r.row).collect())
}

/// `SELECT <one JSON object per row> AS row FROM <table>`.
fn select(conn: &DbConnection, model: &Model) -> String {
    let mut pairs = vec!["'id', id".to_owned()];
    pairs.extend(model.fields.iter().map(|field| format!("'{0}', {0}", field.name)));
    let object = match conn {
        DbConnection::Postgres(_) => format!("json_build_object({})::text", pairs.join(", ")),
        DbConnection::Sqlite(_) => format!("json_object({})", pairs.join(", ")),
    };
    format!("SELECT {object} AS row FROM {}", model.table)
}

/// A JSON row in the model's terms (SQLite's booleans are 0 and 1).
fn decode(model: &Model, text: &str) -> Result<Row, RepositoryError> {
    let object: serde_json::Map<String, serde_json::Value> = serde_json::from_str(text)
        .map_err(|error| RepositoryError::Internal(format!("{}: {error}", model.table)))?;
    let value = |json: &serde_json::Value, boolean: bool| match json {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(flag) => Value::Bool(*flag),
        serde_json::Value::Number(number) if boolean => Value::Bool(number.as_i64() != Some(0)),
        serde_json::Value::Number(number) => {
            number.as_i64().map_or_else(|| Value::Text(number.to_string()), Value::Int)
        }
        serde_json::Value::String(text) => Value::Text(text.clone()),
        other => Value::Text(other.to_string()),
    };
    let mut row = Row::new();
    row.insert("id".to_owned(), object.get("id").map_or(Value::Null, |id| value(id, false)));
    for field in model.fields {
        let json = object.get(field.name).unwrap_or(&serde_json::Value::Null);
        row.insert(field.name.to_owned(), value(json, field.kind == Kind::Bool));
    }
    Ok(row)
}

/// How a row's id is bound.
fn key_bind(model: &Model, id: &str) -> Option<Bind> {
    match model.key {
        Key::Uuid => Some(Bind::Text(Some(id.to_owned()))),
        Key::Serial => id.trim().parse().ok().map(|n| Bind::Int(Some(n))),
    }
}

fn value_bind(catalog: &Catalog, field: &incidents_core::backoffice::Field, value: &Value) -> Bind {
    let integer = match field.kind {
        Kind::Int { .. } => true,
        Kind::Ref { model, .. } => catalog.get(model).is_some_and(|target| target.key == Key::Serial),
        _ => false,
    };
    match value {
        Value::Null if integer => Bind::Int(None),
        Value::Null => Bind::Text(None),
        Value::Text(text) => Bind::Text(Some(text.clone())),
        Value::Int(number) if integer => Bind::Int(Some(*number)),
        Value::Int(number) => Bind::Text(Some(number.to_string())),
        Value::Bool(flag) => Bind::Bool(*flag),
    }
}

fn find(conn: &mut DbConnection, model: &Model, id: &str) -> Result<Option<Row>, RepositoryError> {
    let Some(key) = key_bind(model, id) else { return Ok(None) };
    let sql = format!("{} WHERE id = ?", select(conn, model));
    let rows = load(conn, &sql, std::slice::from_ref(&key)).map_err(repository_error)?;
    let Some(mut row) = rows.first().map(|text| decode(model, text)).transpose()? else { return Ok(None) };
    for link in model.links {
        let sql = format!(
            "SELECT CAST({} AS TEXT) AS row FROM {} WHERE {} = ? ORDER BY 1",
            link.target, link.table, link.owner
        );
        let ids = load(conn, &sql, std::slice::from_ref(&key)).map_err(repository_error)?;
        row.insert(link.name.to_owned(), Value::Text(ids.join(",")));
    }
    Ok(Some(row))
}

/// Replaces the links `given` (ids or titles of the linked model's rows) of row `id`; the ids set,
/// per link. Unchanged links are left alone (`None`).
fn set_links(
    conn: &mut DbConnection,
    catalog: &Catalog,
    model: &Model,
    id: &str,
    given: &[(&'static Link, Vec<String>)],
    before: Option<&Row>,
) -> Result<Vec<(&'static str, Vec<String>)>, BackofficeError> {
    let mut invalid = Invalid::default();
    let mut changed = Vec::new();
    for (link, values) in given {
        let target = catalog
            .get(link.model)
            .ok_or_else(|| RepositoryError::Internal(format!("no model {}", link.model)))?;
        let mut ids = Vec::new();
        for value in values {
            match resolve(conn, target, &Value::Text(value.clone()))? {
                Some(found) => ids.push(found.to_form()),
                None => {
                    invalid.fields.insert(link.name.to_owned(), format!("No {} {value:?}.", target.label));
                }
            }
        }
        ids.sort();
        ids.dedup();
        let was = before.and_then(|row| row.get(link.name)).map(Value::to_form).unwrap_or_default();
        if before.is_some() && was == ids.join(",") {
            continue;
        }
        changed.push((link, ids));
    }
    if !invalid.fields.is_empty() {
        return Err(BackofficeError::Invalid(invalid));
    }
    let owner = key_bind(model, id).ok_or(BackofficeError::NotFound(model.label))?;
    let mut set = Vec::new();
    for (link, ids) in changed {
        let target = catalog
            .get(link.model)
            .ok_or_else(|| RepositoryError::Internal(format!("no model {}", link.model)))?;
        execute(
            conn,
            &format!("DELETE FROM {} WHERE {} = ?", link.table, link.owner),
            std::slice::from_ref(&owner),
        )?;
        for linked in &ids {
            let bind = key_bind(target, linked).ok_or(BackofficeError::NotFound(target.label))?;
            let sql = format!("INSERT INTO {} ({}, {}) VALUES (?, ?)", link.table, link.owner, link.target);
            execute(conn, &sql, &[owner.clone(), bind])?;
        }
        set.push((link.name, ids));
    }
    Ok(set)
}

/// The id of the row of `target` that `given` names: its id, or else its title.
fn resolve(conn: &mut DbConnection, target: &Model, given: &Value) -> Result<Option<Value>, RepositoryError> {
    let text = given.to_form();
    if let Some(row) = find(conn, target, &text)? {
        return Ok(row.get("id").cloned());
    }
    let sql = format!("{} WHERE {} = ?", select(conn, target), target.title);
    let rows = load(conn, &sql, &[Bind::Text(Some(text))]).map_err(repository_error)?;
    match rows.as_slice() {
        [one] => Ok(decode(target, one)?.get("id").cloned()),
        _ => Ok(None),
    }
}

/// Replaces references given by title with ids, and refuses the ones that name nothing.
fn resolve_references(
    conn: &mut DbConnection,
    catalog: &Catalog,
    values: &mut [(&'static incidents_core::backoffice::Field, Value)],
) -> Result<(), BackofficeError> {
    let mut invalid = Invalid::default();
    for (field, value) in values.iter_mut() {
        let Kind::Ref { model, .. } = field.kind else { continue };
        if *value == Value::Null {
            continue;
        }
        let target =
            catalog.get(model).ok_or_else(|| RepositoryError::Internal(format!("no model {model}")))?;
        match resolve(conn, target, value)? {
            Some(id) => *value = id,
            None => {
                invalid
                    .fields
                    .insert(field.name.to_owned(), format!("No {} {:?}.", target.label, value.to_form()));
            }
        }
    }
    if invalid.fields.is_empty() { Ok(()) } else { Err(BackofficeError::Invalid(invalid)) }
}

/// The schema's refusal, in the model's words.
fn conflict(model: &Model, error: RepositoryError, deleting: bool) -> BackofficeError {
    let constraint = match error {
        RepositoryError::Conflict { constraint } => constraint,
        // diesel reports SQLite's foreign-key failures without their kind.
        RepositoryError::Internal(message) if message.contains("FOREIGN KEY constraint failed") => message,
        other => return BackofficeError::Storage(other),
    };
    if deleting {
        return BackofficeError::Invalid(Invalid::general(format!(
            "This {} is still used (by incidents or other records): it cannot be deleted.",
            model.label
        )));
    }
    let lowered = constraint.to_lowercase();
    // PostgreSQL names the constraint (`environments_value_key`), SQLite the columns
    // (`UNIQUE constraint failed: environments.value`).
    let field = model
        .fields
        .iter()
        .filter(|field| {
            lowered.contains(&format!("{}_{}", model.table, field.name))
                || lowered.contains(&format!("{}.{}", model.table, field.name))
        })
        .max_by_key(|field| field.name.len());
    match field {
        Some(field) if lowered.contains("unique") || lowered.ends_with("_key") => {
            BackofficeError::Invalid(Invalid::field(
                field.name,
                format!("Another {} already has this {}.", model.label, field.label.to_lowercase()),
            ))
        }
        Some(field) => BackofficeError::Invalid(Invalid::field(field.name, "The schema refuses this value.")),
        None if lowered.contains("single_default") || lowered.contains("is_default") => {
            BackofficeError::Invalid(Invalid::field("is_default", "Only one row may be the default."))
        }
        None if lowered.contains("foreign key") || lowered.contains("fkey") => {
            BackofficeError::Invalid(Invalid::general("A referenced row does not exist."))
        }
        None => BackofficeError::Invalid(Invalid::general(format!(
            "The schema refuses this change ({constraint})."
        ))),
    }
}

fn audit(
    conn: &mut DbConnection,
    change: Change,
    action: &str,
    model: &Model,
    id: &str,
    details: &serde_json::Value,
) -> QueryResult<()> {
    use crate::schema::audit_log;
    diesel::insert_into(audit_log::table)
        .values((
            audit_log::occurred_at.eq(crate::now()),
            audit_log::actor_user_id.eq(change.actor.map(|user| user.to_string())),
            audit_log::entry_point.eq(change.entry_point.as_str()),
            audit_log::action.eq(action),
            audit_log::object_type.eq(model.slug),
            audit_log::object_id.eq(id),
            audit_log::details.eq(details.to_string()),
        ))
        .execute(conn)
        .map(drop)
}

fn json(value: &Value) -> serde_json::Value {
    match value {
        Value::Null => serde_json::Value::Null,
        Value::Text(text) => serde_json::Value::String(text.clone()),
        Value::Int(number) => serde_json::Value::from(*number),
        Value::Bool(flag) => serde_json::Value::Bool(*flag),
    }
}

/// Clears `field` on every other row, before this one takes it.
fn clear_others(
    conn: &mut DbConnection,
    model: &Model,
    values: &[(&'static incidents_core::backoffice::Field, Value)],
    id: Option<&str>,
) -> QueryResult<()> {
    for (field, value) in values {
        if !model.single_true.contains(&field.name) || !value.is_true() {
            continue;
        }
        let mut binds = Vec::new();
        let mut sql = format!("UPDATE {} SET {1} = ? WHERE {1} = ?", model.table, field.name);
        binds.extend([Bind::Bool(false), Bind::Bool(true)]);
        if let Some(bind) = id.and_then(|id| key_bind(model, id)) {
            sql.push_str(" AND id <> ?");
            binds.push(bind);
        }
        execute(conn, &sql, &binds)?;
    }
    Ok(())
}

impl Database {
    /// A page of a model's rows, in its order; `search` keeps those whose title contains it.
    ///
    /// # Errors
    /// A storage failure.
    pub fn backoffice_rows(
        &self,
        model: &Model,
        search: Option<&str>,
        page: i64,
    ) -> Result<RowPage, RepositoryError> {
        let mut conn = self.connection()?;
        let mut sql = select(&conn, model);
        let mut binds = Vec::new();
        if let Some(search) = search.map(str::trim).filter(|s| !s.is_empty()) {
            sql.push_str(&format!(" WHERE LOWER({}) LIKE ? ESCAPE '\\'", model.title));
            binds.push(Bind::Text(Some(format!("%{}%", crate::escape_like(&search.to_lowercase())))));
        }
        sql.push_str(&format!(
            " ORDER BY {}, id LIMIT {} OFFSET {}",
            model.order_by,
            PAGE + 1,
            page.max(0) * PAGE
        ));
        let texts = load(&mut conn, &sql, &binds).map_err(repository_error)?;
        let mut rows = texts.iter().map(|text| decode(model, text)).collect::<Result<Vec<_>, _>>()?;
        let has_more = rows.len() > usize::try_from(PAGE).unwrap_or(usize::MAX);
        rows.truncate(usize::try_from(PAGE).unwrap_or(usize::MAX));
        Ok(RowPage { rows, has_more })
    }

    /// One row by id.
    ///
    /// # Errors
    /// A storage failure.
    pub fn backoffice_row(&self, model: &Model, id: &str) -> Result<Option<Row>, RepositoryError> {
        let mut conn = self.connection()?;
        find(&mut conn, model, id)
    }

    /// The rows of every model linked to row `id` of `target` (Slack conversations and user groups of
    /// an incident category): each model, with the linked rows' `(id, title)`.
    ///
    /// # Errors
    /// A storage failure.
    pub fn backoffice_linked_to(
        &self,
        catalog: &Catalog,
        target: &Model,
        id: &str,
    ) -> Result<Vec<Linked>, RepositoryError> {
        let Some(key) = key_bind(target, id) else { return Ok(Vec::new()) };
        let mut conn = self.connection()?;
        let mut linked = Vec::new();
        for model in catalog.models() {
            for link in model.links.iter().filter(|link| link.model == target.slug) {
                let sql = format!(
                    "{} WHERE id IN (SELECT {} FROM {} WHERE {} = ?) ORDER BY {}, id LIMIT 200",
                    select(&conn, model),
                    link.owner,
                    link.table,
                    link.target,
                    model.order_by
                );
                let rows = load(&mut conn, &sql, std::slice::from_ref(&key)).map_err(repository_error)?;
                let rows = rows
                    .iter()
                    .map(|text| {
                        let row = decode(model, text)?;
                        Ok((
                            row.get("id").map(Value::to_form).unwrap_or_default(),
                            row.get(model.title).map(Value::to_form).unwrap_or_default(),
                        ))
                    })
                    .collect::<Result<Vec<_>, RepositoryError>>()?;
                if !rows.is_empty() {
                    linked.push((*model, rows));
                }
            }
        }
        Ok(linked)
    }

    /// For each reference field and link of `model`, the rows it may point to: `(id, title)`.
    ///
    /// # Errors
    /// A storage failure.
    pub fn backoffice_choices(&self, catalog: &Catalog, model: &Model) -> Result<Choices, RepositoryError> {
        let mut conn = self.connection()?;
        let mut choices = BTreeMap::new();
        let targets = model
            .fields
            .iter()
            .filter_map(|field| match field.kind {
                Kind::Ref { model: target, .. } => Some((field.name, target)),
                _ => None,
            })
            .chain(model.links.iter().map(|link| (link.name, link.model)));
        for (name, target) in targets {
            let target =
                catalog.get(target).ok_or_else(|| RepositoryError::Internal(format!("no model {target}")))?;
            let sql = format!("{} ORDER BY {}, id LIMIT 1000", select(&conn, target), target.order_by);
            let rows = load(&mut conn, &sql, &[]).map_err(repository_error)?;
            let options = rows
                .iter()
                .map(|text| {
                    let row = decode(target, text)?;
                    let id = row.get("id").map(Value::to_form).unwrap_or_default();
                    let title = row.get(target.title).map(Value::to_form).unwrap_or_default();
                    Ok((id, title))
                })
                .collect::<Result<Vec<_>, RepositoryError>>()?;
            choices.insert(name, options);
        }
        Ok(choices)
    }

    /// Adds a row from `input` (validated by the model, then by the schema), audited as
    /// `backoffice.create`. Returns it as stored.
    ///
    /// # Errors
    /// [`BackofficeError::Invalid`] with the reasons, or a storage failure.
    pub fn backoffice_create(
        &self,
        catalog: &Catalog,
        model: &'static Model,
        input: &BTreeMap<String, String>,
        from: Input,
        change: Change,
    ) -> Result<Row, BackofficeError> {
        let mut values = model.new_row(input, from).map_err(BackofficeError::Invalid)?;
        let links = model.link_values(input, from);
        let result = self.transaction(|conn| -> Result<Row, BackofficeError> {
            resolve_references(conn, catalog, &mut values)?;
            clear_others(conn, model, &values, None)?;
            let mut columns: Vec<&str> = Vec::new();
            let mut binds: Vec<Bind> = Vec::new();
            let id = match model.key {
                Key::Uuid => {
                    let id = crate::uuid_text();
                    columns.push("id");
                    binds.push(Bind::Text(Some(id.clone())));
                    Some(id)
                }
                Key::Serial => None,
            };
            for (field, value) in &values {
                columns.push(field.name);
                binds.push(value_bind(catalog, field, value));
            }
            if model.timestamps {
                let now = crate::now();
                columns.extend(["created_at", "updated_at"]);
                binds.extend([Bind::Time(now), Bind::Time(now)]);
            }
            let placeholders = vec!["?"; columns.len()].join(", ");
            let insert =
                format!("INSERT INTO {} ({}) VALUES ({placeholders})", model.table, columns.join(", "));
            let id = match id {
                Some(id) => {
                    execute(conn, &insert, &binds)
                        .map_err(|e| conflict(model, repository_error(e), false))?;
                    id
                }
                None => {
                    let sql = format!("{insert} RETURNING CAST(id AS TEXT) AS row");
                    let ids =
                        load(conn, &sql, &binds).map_err(|e| conflict(model, repository_error(e), false))?;
                    ids.into_iter()
                        .next()
                        .ok_or_else(|| RepositoryError::Internal("no id returned".to_owned()))?
                }
            };
            let mut details: serde_json::Map<String, serde_json::Value> =
                values.iter().map(|(field, value)| (field.name.to_owned(), json(value))).collect();
            for (name, ids) in set_links(conn, catalog, model, &id, &links, None)? {
                details.insert(name.to_owned(), serde_json::json!(ids));
            }
            audit(conn, change, "backoffice.create", model, &id, &serde_json::json!({"values": details}))?;
            find(conn, model, &id)?.ok_or(BackofficeError::NotFound(model.label))
        });
        self.references().invalidate();
        result
    }

    /// Changes a row from `input`, audited as `backoffice.update` with each changed field's old and
    /// new value. Returns it as stored.
    ///
    /// # Errors
    /// [`BackofficeError::Invalid`], [`BackofficeError::NotFound`], or a storage failure.
    pub fn backoffice_update(
        &self,
        catalog: &Catalog,
        model: &'static Model,
        id: &str,
        input: &BTreeMap<String, String>,
        from: Input,
        change: Change,
    ) -> Result<Row, BackofficeError> {
        let mut values = model.changes(input, from).map_err(BackofficeError::Invalid)?;
        let links = model.link_values(input, from);
        let result = self.transaction(|conn| -> Result<Row, BackofficeError> {
            let before = find(conn, model, id)?.ok_or(BackofficeError::NotFound(model.label))?;
            resolve_references(conn, catalog, &mut values)?;
            values.retain(|(field, value)| before.get(field.name) != Some(value));
            let linked = set_links(conn, catalog, model, id, &links, Some(&before))?;
            if values.is_empty() && linked.is_empty() {
                return Ok(before);
            }
            clear_others(conn, model, &values, Some(id))?;
            let mut sets: Vec<String> = Vec::new();
            let mut binds: Vec<Bind> = Vec::new();
            for (field, value) in &values {
                sets.push(format!("{} = ?", field.name));
                binds.push(value_bind(catalog, field, value));
            }
            if model.timestamps {
                sets.push("updated_at = ?".to_owned());
                binds.push(Bind::Time(crate::now()));
            }
            binds.push(key_bind(model, id).ok_or(BackofficeError::NotFound(model.label))?);
            if !sets.is_empty() {
                let sql = format!("UPDATE {} SET {} WHERE id = ?", model.table, sets.join(", "));
                execute(conn, &sql, &binds).map_err(|e| conflict(model, repository_error(e), false))?;
            }
            let mut changed: serde_json::Map<String, serde_json::Value> = values
                .iter()
                .map(|(field, value)| {
                    let old = before.get(field.name).map_or(serde_json::Value::Null, json);
                    (field.name.to_owned(), serde_json::json!({"from": old, "to": json(value)}))
                })
                .collect();
            for (name, ids) in linked {
                let old: Vec<String> = before
                    .get(name)
                    .map(Value::to_form)
                    .unwrap_or_default()
                    .split(',')
                    .filter(|id| !id.is_empty())
                    .map(str::to_owned)
                    .collect();
                changed.insert(name.to_owned(), serde_json::json!({"from": old, "to": ids}));
            }
            audit(conn, change, "backoffice.update", model, id, &serde_json::json!({"changes": changed}))?;
            find(conn, model, id)?.ok_or(BackofficeError::NotFound(model.label))
        });
        self.references().invalidate();
        result
    }

    /// Deletes a row (the schema refuses one still in use), audited as `backoffice.delete` with what
    /// it held.
    ///
    /// # Errors
    /// [`BackofficeError::Invalid`] for a row in use or a model that keeps its rows,
    /// [`BackofficeError::NotFound`], or a storage failure.
    pub fn backoffice_delete(
        &self,
        model: &'static Model,
        id: &str,
        change: Change,
    ) -> Result<(), BackofficeError> {
        if !model.delete {
            return Err(BackofficeError::Invalid(Invalid::general(format!(
                "{} are not deleted here: the product relies on them.",
                model.plural
            ))));
        }
        let result = self.transaction(|conn| -> Result<(), BackofficeError> {
            let before = find(conn, model, id)?.ok_or(BackofficeError::NotFound(model.label))?;
            let key = key_bind(model, id).ok_or(BackofficeError::NotFound(model.label))?;
            execute(conn, &format!("DELETE FROM {} WHERE id = ?", model.table), &[key])
                .map_err(|e| conflict(model, repository_error(e), true))?;
            let held: serde_json::Map<String, serde_json::Value> =
                before.iter().map(|(name, value)| (name.clone(), json(value))).collect();
            audit(conn, change, "backoffice.delete", model, id, &serde_json::json!({"values": held}))?;
            Ok(())
        });
        self.references().invalidate();
        result
    }
}
