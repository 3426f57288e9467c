//! The Slack integration's tables are the same on both backends.

use firefighter_slack_adapter as slack_adapter;
use platform::Integration;
use storage::testing::TestDatabase;
use storage::testing::parity::{assert_same_schema, read_schema};

#[test]
fn the_slack_tables_are_the_same_on_both_backends() {
    let sets = [slack_adapter::Slack::default().migrations().expect("Slack has tables")];
    let sqlite = TestDatabase::sqlite().with_migrations(&sets);
    let schema = read_schema(&sqlite.database);
    for table in [
        "slack_users",
        "slack_conversations",
        "slack_messages",
        "slack_incident_work",
        "slack_locks",
        "slack_user_groups",
        "slack_home_views",
    ] {
        assert!(schema.tables.contains(table), "{table}");
    }
    let Some(postgres) = TestDatabase::postgres() else { return };
    assert_same_schema(&schema, &read_schema(&postgres.with_migrations(&sets).database));
}
