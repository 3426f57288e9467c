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
        failed_step -> Nullable<Text>,
        failure -> Nullable<Text>,
        failed_at -> Nullable<Timestamp>,
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

diesel::table! {
    slack_user_groups (id) {
        id -> BigInt,
        usergroup_id -> Text,
        handle -> Text,
        name -> Text,
        description -> Text,
        tag -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    slack_user_group_members (user_group_id, slack_id) {
        user_group_id -> BigInt,
        slack_id -> Text,
    }
}

diesel::table! {
    slack_conversation_members (conversation_id, slack_id) {
        conversation_id -> BigInt,
        slack_id -> Text,
    }
}

diesel::table! {
    slack_conversation_categories (conversation_id, category_id) {
        conversation_id -> BigInt,
        category_id -> Text,
    }
}

diesel::table! {
    slack_user_group_categories (user_group_id, category_id) {
        user_group_id -> BigInt,
        category_id -> Text,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    slack_user_groups,
    slack_user_group_members,
    slack_user_group_categories,
    slack_conversations,
    slack_conversation_members,
    slack_conversation_categories,
);

diesel::table! {
    slack_locks (name) {
        name -> Text,
        token -> Text,
        locked_until -> Timestamp,
    }
}

diesel::table! {
    slack_home_views (slack_user_id) {
        slack_user_id -> Text,
        opened_at -> Timestamp,
        published_digest -> Text,
    }
}

diesel::table! {
    slack_sos (id) {
        id -> BigInt,
        name -> Text,
        conversation_id -> BigInt,
        user_group_id -> Nullable<BigInt>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::joinable!(slack_sos -> slack_conversations (conversation_id));
diesel::joinable!(slack_sos -> slack_user_groups (user_group_id));
diesel::allow_tables_to_appear_in_same_query!(slack_sos, slack_conversations);
diesel::allow_tables_to_appear_in_same_query!(slack_sos, slack_user_groups);
