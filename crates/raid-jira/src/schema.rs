//! The Jira integration's own tables (its migrations: `crates/raid-jira/migrations`).

diesel::table! {
    raid_tickets (incident_id) {
        incident_id -> BigInt,
        state -> Text,
        issue_id -> Nullable<Text>,
        issue_key -> Nullable<Text>,
        project_key -> Text,
        business_impact -> Text,
        attempt_started_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    raid_sync_state (incident_id, field) {
        incident_id -> BigInt,
        field -> Text,
        external_value -> Nullable<Text>,
        pushed_version -> BigInt,
        lease_until -> Nullable<Timestamp>,
        updated_at -> Timestamp,
        local_value -> Nullable<Text>,
    }
}

diesel::table! {
    raid_jira_users (account_id) {
        account_id -> Text,
        user_id -> Text,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    raid_bot_tickets (issue_key) {
        issue_key -> Text,
        issue_id -> Text,
        reporter_email -> Text,
        requested_by -> Nullable<Text>,
        attachments -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    raid_feature_teams (id) {
        id -> BigInt,
        name -> Text,
        jira_project_key -> Text,
    }
}

diesel::table! {
    raid_watcher_messages (delivery, recipient) {
        delivery -> Text,
        recipient -> Text,
        sent_at -> Timestamp,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    raid_tickets,
    raid_sync_state,
    raid_feature_teams,
    raid_jira_users,
    raid_bot_tickets,
    raid_watcher_messages
);
