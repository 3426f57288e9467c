//! Migrations apply once and report what they did, on both backends.

use firefighter_storage as storage;
use storage::testing::TestDatabase;

#[test]
fn migrations_are_idempotent() {
    for test in TestDatabase::each_backend() {
        // TestDatabase already migrated: a second run applies nothing and nothing is pending.
        let report = test.database.run_migrations().unwrap_or_else(|e| panic!("{:?}: {e}", test.backend()));
        assert!(report.applied.is_empty(), "{:?}: {report:?}", test.backend());
        assert_eq!(test.database.pending_migrations().ok(), Some(0));
        assert!(test.database.ensure_migrated().is_ok());
    }
}

#[test]
fn ping_answers_on_a_healthy_database() {
    for test in TestDatabase::each_backend() {
        assert!(test.database.ping(std::time::Duration::from_secs(2)).is_ok(), "{:?}", test.backend());
    }
}
