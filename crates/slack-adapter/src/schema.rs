//! The Slack integration's own tables (its migrations: `crates/slack-adapter/migrations`).

diesel::table! {
    slack_users (user_id) {
        user_id -> Text,
        slack_id -> Text,
        username -> Nullable<Text>,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    slack_conversations (id) {
        id -> BigInt,
        channel_id -> Text,
        name -> Text,
        kind -> Text,
        status -> Text,
        tag -> Text,
        incident_id -> Nullable<BigInt>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    slack_messages (id) {
        id -> BigInt,
        channel_id -> Text,
        ts -> Text,
        ff_type -> Text,
        incident_id -> Nullable<BigInt>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    slack_incident_work (incident_id) {
        incident_id -> BigInt,
        lock_token -> Nullable<Text>,
        locked_until -> Nullable<Timestamp>,
        failed_step -> Nullable<Text>,
        failure -> Nullable<Text>,
        failed_at -> Nullable<Timestamp>,
        failed_job_id -> Nullable<BigInt>,
    }
}

diesel::table! {
    users (id) {
        id -> Text,
        email -> Text,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    slack_users,
    users,
    slack_conversations,
    slack_messages,
    slack_incident_work
);
