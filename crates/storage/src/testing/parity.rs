//! Schema parity: both migration trees (the core's and every integration's) must build the same
//! logical schema: same tables, columns (with the same kind of type and nullability), primary keys,
//! indexes and unique constraints. Used by the parity tests of storage and of every crate that ships
//! migrations.
#![expect(clippy::panic, reason = "test support: a schema that cannot be read fails the test")]

use std::collections::BTreeSet;

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Nullable, Text};

use crate::{Database, DbConnection};

/// The logical schema of a database.
#[must_use]
pub fn read_schema(database: &Database) -> Schema {
    let mut conn = database.connection().unwrap_or_else(|e| panic!("{e}"));
    match &mut *conn {
        DbConnection::Postgres(_) => postgres_schema(&mut conn),
        DbConnection::Sqlite(_) => sqlite_schema(&mut conn),
    }
}

/// Fails with every difference between the two schemas.
///
/// # Panics
/// When they differ.
pub fn assert_same_schema(sqlite: &Schema, postgres: &Schema) {
    assert_eq!(sqlite.tables, postgres.tables, "tables differ");
    assert_eq!(
        (difference(&sqlite.columns, &postgres.columns), difference(&postgres.columns, &sqlite.columns)),
        (vec![], vec![]),
        "columns differ (only in SQLite, only in PostgreSQL)"
    );
    assert_eq!(sqlite.primary_keys, postgres.primary_keys, "primary keys differ");
    assert_eq!(
        (difference(&sqlite.indexes, &postgres.indexes), difference(&postgres.indexes, &sqlite.indexes)),
        (vec![], vec![]),
        "indexes or unique constraints differ (only in SQLite, only in PostgreSQL)"
    );
    assert_eq!(sqlite.named_indexes, postgres.named_indexes, "index names differ");
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Column {
    pub table: String,
    pub name: String,
    pub kind: &'static str,
    pub nullable: bool,
}

/// An index or unique constraint, named by what it covers rather than by its generated name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Index {
    pub table: String,
    pub columns: Vec<String>,
    pub unique: bool,
    pub partial: bool,
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Schema {
    pub tables: BTreeSet<String>,
    pub columns: BTreeSet<Column>,
    pub primary_keys: BTreeSet<(String, Vec<String>)>,
    pub indexes: BTreeSet<Index>,
    pub named_indexes: BTreeSet<String>,
}

/// Reduces a declared type to the portable kind the schema promises.
fn kind(declared: &str) -> &'static str {
    let declared = declared.to_ascii_lowercase();
    if declared.contains("int") {
        "integer"
    } else if declared.contains("bool") {
        "bool"
    } else if declared.starts_with("timestamp") {
        "timestamp"
    } else if declared.contains("text") || declared.contains("char") {
        "text"
    } else {
        "other"
    }
}

#[derive(QueryableByName)]
struct PgColumn {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    column_name: String,
    #[diesel(sql_type = Text)]
    data_type: String,
    #[diesel(sql_type = Bool)]
    nullable: bool,
}

#[derive(QueryableByName)]
struct PgIndex {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    index_name: String,
    #[diesel(sql_type = Text)]
    columns: String,
    #[diesel(sql_type = Bool)]
    is_unique: bool,
    #[diesel(sql_type = Bool)]
    is_primary: bool,
    #[diesel(sql_type = Bool)]
    is_partial: bool,
    #[diesel(sql_type = Bool)]
    is_constraint: bool,
}

/// Full-text search is the one deliberate difference: a GIN expression index on PostgreSQL, an FTS5
/// table (and its shadow tables) on SQLite. Both are named `incidents_search…`.
pub fn is_search_object(name: &str) -> bool {
    name.starts_with("incidents_search")
}

fn postgres_schema(conn: &mut DbConnection) -> Schema {
    let mut schema = Schema::default();
    let columns: Vec<PgColumn> = diesel::sql_query(
        "SELECT table_name::text, column_name::text, data_type::text, (is_nullable = 'YES') AS nullable
         FROM information_schema.columns
         WHERE table_schema = current_schema() AND table_name <> '__diesel_schema_migrations'",
    )
    .load(conn)
    .unwrap_or_else(|e| panic!("read PostgreSQL columns: {e}"));
    for column in columns {
        schema.tables.insert(column.table_name.clone());
        schema.columns.insert(Column {
            table: column.table_name,
            name: column.column_name,
            kind: kind(&column.data_type),
            nullable: column.nullable,
        });
    }
    let indexes: Vec<PgIndex> = diesel::sql_query(
        "SELECT t.relname::text AS table_name, i.relname::text AS index_name,
                string_agg(a.attname::text, ',' ORDER BY k.ord) AS columns,
                ix.indisunique AS is_unique, ix.indisprimary AS is_primary,
                (ix.indpred IS NOT NULL) AS is_partial,
                EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = ix.indexrelid) AS is_constraint
         FROM pg_index ix
         JOIN pg_class t ON t.oid = ix.indrelid
         JOIN pg_class i ON i.oid = ix.indexrelid
         JOIN pg_namespace n ON n.oid = t.relnamespace
         CROSS JOIN LATERAL unnest(ix.indkey) WITH ORDINALITY AS k(attnum, ord)
         JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
         WHERE n.nspname = current_schema() AND t.relname <> '__diesel_schema_migrations'
         GROUP BY t.relname, i.relname, ix.indexrelid, ix.indisunique, ix.indisprimary, ix.indpred",
    )
    .load(conn)
    .unwrap_or_else(|e| panic!("read PostgreSQL indexes: {e}"));
    for index in indexes.into_iter().filter(|index| !is_search_object(&index.index_name)) {
        let columns: Vec<String> = index.columns.split(',').map(str::to_owned).collect();
        if index.is_primary {
            schema.primary_keys.insert((index.table_name, columns));
            continue;
        }
        // Indexes made by CREATE INDEX (not by a constraint) must carry the same name on both backends.
        if !index.is_constraint {
            schema.named_indexes.insert(index.index_name);
        }
        schema.indexes.insert(Index {
            table: index.table_name,
            columns,
            unique: index.is_unique,
            partial: index.is_partial,
        });
    }
    schema
}

#[derive(QueryableByName)]
struct SqliteColumn {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    column_name: String,
    #[diesel(sql_type = Text)]
    data_type: String,
    #[diesel(sql_type = Bool)]
    not_null: bool,
    #[diesel(sql_type = BigInt)]
    pk: i64,
}

#[derive(QueryableByName)]
struct SqliteIndex {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    index_name: String,
    #[diesel(sql_type = Bool)]
    is_unique: bool,
    #[diesel(sql_type = Text)]
    origin: String,
    #[diesel(sql_type = Bool)]
    is_partial: bool,
    #[diesel(sql_type = Nullable<Text>)]
    columns: Option<String>,
}

fn sqlite_schema(conn: &mut DbConnection) -> Schema {
    let mut schema = Schema::default();
    let user_tables = "SELECT name FROM sqlite_master WHERE type = 'table'
        AND name NOT LIKE 'sqlite_%' AND name <> '__diesel_schema_migrations'";
    let columns: Vec<SqliteColumn> = diesel::sql_query(format!(
        "SELECT m.name AS table_name, c.name AS column_name, c.type AS data_type,
                c.\"notnull\" AS not_null, c.pk AS pk
         FROM ({user_tables}) m, pragma_table_info(m.name) c"
    ))
    .load(conn)
    .unwrap_or_else(|e| panic!("read SQLite columns: {e}"));
    let mut primary_keys: Vec<(String, i64, String)> = Vec::new();
    for column in columns.into_iter().filter(|column| !is_search_object(&column.table_name)) {
        schema.tables.insert(column.table_name.clone());
        if column.pk > 0 {
            primary_keys.push((column.table_name.clone(), column.pk, column.column_name.clone()));
        }
        schema.columns.insert(Column {
            table: column.table_name,
            name: column.column_name,
            kind: kind(&column.data_type),
            // A primary key column is never null, declared or not.
            nullable: !column.not_null && column.pk == 0,
        });
    }
    primary_keys.sort();
    for (table, _, column) in primary_keys {
        let entry = schema.primary_keys.iter().find(|(t, _)| *t == table).cloned();
        let mut columns = entry.clone().map(|(_, c)| c).unwrap_or_default();
        if let Some(entry) = entry {
            schema.primary_keys.remove(&entry);
        }
        columns.push(column);
        schema.primary_keys.insert((table, columns));
    }
    let indexes: Vec<SqliteIndex> = diesel::sql_query(format!(
        "SELECT m.name AS table_name, il.name AS index_name, il.\"unique\" AS is_unique, il.origin AS origin,
                il.partial AS is_partial,
                (SELECT group_concat(name, ',') FROM (SELECT ii.name FROM pragma_index_info(il.name) ii ORDER BY ii.seqno)) AS columns
         FROM ({user_tables}) m, pragma_index_list(m.name) il"
    ))
    .load(conn)
    .unwrap_or_else(|e| panic!("read SQLite indexes: {e}"));
    for index in indexes.into_iter().filter(|index| !is_search_object(&index.table_name)) {
        if index.origin == "pk" {
            continue;
        }
        if index.origin == "c" {
            schema.named_indexes.insert(index.index_name);
        }
        schema.indexes.insert(Index {
            table: index.table_name,
            columns: index.columns.unwrap_or_default().split(',').map(str::to_owned).collect(),
            unique: index.is_unique,
            partial: index.is_partial,
        });
    }
    schema
}

pub fn difference<T: Ord + Clone + std::fmt::Debug>(left: &BTreeSet<T>, right: &BTreeSet<T>) -> Vec<T> {
    left.difference(right).cloned().collect()
}
