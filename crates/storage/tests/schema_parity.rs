//! Both migration trees must build the same logical schema: same tables, columns (with the same
//! kind of type and nullability), primary keys, indexes and unique constraints.

use firefighter_storage as storage;
use storage::testing::TestDatabase;
use storage::testing::parity::{Index, assert_same_schema, is_search_object, read_schema};

#[test]
fn sqlite_and_postgres_migrations_build_the_same_schema() {
    let sqlite = TestDatabase::sqlite();
    let Some(postgres) = TestDatabase::postgres() else {
        eprintln!("FF_TEST_DATABASE_URL unset: schema parity needs PostgreSQL, skipped");
        return;
    };
    let sqlite_schema = read_schema(&sqlite.database);
    let pg_schema = read_schema(&postgres.database);

    assert!(sqlite_schema.tables.len() >= 24, "tables: {:?}", sqlite_schema.tables);
    assert_same_schema(&sqlite_schema, &pg_schema);
    for (backend, schema) in [("SQLite", &sqlite_schema), ("PostgreSQL", &pg_schema)] {
        assert!(!schema.tables.is_empty() && schema.tables.iter().all(|t| !is_search_object(t)), "{backend}");
    }
    assert!(
        pg_schema.indexes.contains(&Index {
            table: "incidents".into(),
            columns: vec!["dedup_key".into()],
            unique: true,
            partial: true
        }),
        "the partial unique index on open dedup keys exists"
    );
}
