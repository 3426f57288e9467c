//! The webhooks integration's tables are the same on both backends.

use platform::Integration;
use storage::testing::TestDatabase;
use storage::testing::parity::{assert_same_schema, read_schema};

#[test]
fn the_webhook_tables_are_the_same_on_both_backends() {
    let sets = [firefighter_webhooks::Webhooks::default().migrations().expect("webhooks has tables")];
    let sqlite = TestDatabase::sqlite().with_migrations(&sets);
    let schema = read_schema(&sqlite.database);
    assert!(schema.tables.contains("webhook_endpoints") && schema.tables.contains("webhook_deliveries"));
    let Some(postgres) = TestDatabase::postgres() else { return };
    assert_same_schema(&schema, &read_schema(&postgres.with_migrations(&sets).database));
}

#[test]
fn a_database_that_got_the_webhook_tables_from_the_core_keeps_them() {
    use diesel::connection::SimpleConnection;
    let sets = [firefighter_webhooks::Webhooks::default().migrations().expect("webhooks has tables")];
    for test in TestDatabase::each_backend() {
        let test = test.with_migrations(&sets);
        // As a database migrated before the tables moved: their versions are the core's, and the
        // renaming migration has not run.
        test.database
            .connection()
            .expect("connection")
            .batch_execute(
                "INSERT INTO webhook_endpoints (url, secret, events, created_at) \
                 VALUES ('https://hooks.example.com/x', 'a-secret-of-16-chars', '[\"incident_created\"]', CURRENT_TIMESTAMP);
                 UPDATE __diesel_schema_migrations SET version = '20261128000008' WHERE version = 'webhooks.20261128000008';
                 UPDATE __diesel_schema_migrations SET version = '20261128000010' WHERE version = 'webhooks.20261128000010';
                 DELETE FROM __diesel_schema_migrations WHERE version = '20261201000012';",
            )
            .expect("rewind");
        let core = test.database.run_migrations().expect("core migrations");
        assert_eq!(core.applied, vec!["20261201000012".to_owned()]);
        let integration = test.database.run_integration_migrations(&sets).expect("webhooks migrations");
        assert!(integration.applied.is_empty(), "nothing re-created: {:?}", integration.applied);
        use firefighter_webhooks::WebhookStore;
        assert_eq!(test.database.endpoints().expect("endpoints").len(), 1, "the endpoint is still there");
    }
}
