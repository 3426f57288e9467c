//! The diesel schema, shared by both backends.
//!
//! Written by hand to the portable subset (integers, text, bool, naive-UTC timestamps); the two
//! migration trees under `migrations/` must produce exactly these tables and columns, which
//! `tests/schema_parity.rs` checks on both backends.

diesel::table! {
    users (id) {
        id -> Text,
        username -> Text,
        email -> Text,
        name -> Text,
        first_name -> Text,
        last_name -> Text,
        bot -> Bool,
        avatar_url -> Nullable<Text>,
        is_active -> Bool,
        is_staff -> Bool,
        is_superuser -> Bool,
        password_hash -> Nullable<Text>,
        last_login -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    priorities (id) {
        id -> Text,
        name -> Text,
        value -> Integer,
        emoji -> Text,
        description -> Text,
        sort_order -> Integer,
        is_default -> Bool,
        needs_postmortem -> Bool,
        enabled_create -> Bool,
        enabled_update -> Bool,
        reminder_time_seconds -> BigInt,
        sla_seconds -> BigInt,
        recommended_response_type -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    severities (id) {
        id -> Text,
        name -> Text,
        value -> Integer,
        emoji -> Text,
        description -> Text,
        sort_order -> Integer,
        is_default -> Bool,
        needs_postmortem -> Bool,
        enabled_create -> Bool,
        enabled_update -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    environments (id) {
        id -> Text,
        value -> Text,
        name -> Text,
        description -> Text,
        sort_order -> Integer,
        is_default -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    category_groups (id) {
        id -> Text,
        name -> Text,
        description -> Text,
        sort_order -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    incident_categories (id) {
        id -> Text,
        group_id -> Text,
        name -> Text,
        description -> Text,
        sort_order -> Integer,
        private -> Bool,
        deploy_warning -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    impact_types (id) {
        id -> BigInt,
        value -> Text,
        name -> Text,
        emoji -> Text,
        help_text -> Text,
        sort_order -> Integer,
    }
}

diesel::table! {
    impact_levels (id) {
        id -> Text,
        impact_type_id -> BigInt,
        value -> Text,
        name -> Nullable<Text>,
        emoji -> Text,
        sort_order -> Integer,
        description -> Nullable<Text>,
    }
}

diesel::table! {
    incident_role_types (id) {
        id -> BigInt,
        slug -> Text,
        name -> Text,
        emoji -> Text,
        required -> Bool,
        sort_order -> Integer,
        summary -> Text,
        summary_first_person -> Nullable<Text>,
        description -> Text,
        aka -> Text,
    }
}

diesel::table! {
    key_event_types (id) {
        id -> BigInt,
        event_type -> Text,
        name -> Text,
        summary -> Text,
        description -> Nullable<Text>,
        user_editable -> Bool,
        required -> Bool,
        asked_for -> Bool,
    }
}

diesel::table! {
    metric_types (id) {
        id -> BigInt,
        code -> Text,
        slug -> Text,
        name -> Text,
        description -> Text,
        end_event_type_id -> BigInt,
        start_event_type_id -> BigInt,
    }
}

diesel::table! {
    incident_cost_types (id) {
        id -> BigInt,
        name -> Text,
        description -> Nullable<Text>,
        category -> Nullable<Text>,
        is_default -> Bool,
        editable -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    tags (id) {
        id -> BigInt,
        name -> Text,
        slug -> Text,
    }
}

diesel::table! {
    incidents (id) {
        id -> BigInt,
        title -> Text,
        description -> Text,
        status -> Integer,
        severity_id -> Nullable<Text>,
        priority_id -> Text,
        incident_category_id -> Text,
        environment_id -> Text,
        created_by_id -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        mitigated_at -> Nullable<Timestamp>,
        closed_at -> Nullable<Timestamp>,
        closure_reason -> Nullable<Text>,
        closure_reference -> Text,
        custom_fields -> Text,
        dedup_key -> Nullable<Text>,
        ignored -> Bool,
        private -> Bool,
        version -> BigInt,
    }
}

diesel::table! {
    incident_updates (id) {
        id -> Text,
        incident_id -> BigInt,
        message -> Nullable<Text>,
        status -> Nullable<Integer>,
        severity_id -> Nullable<Text>,
        priority_id -> Nullable<Text>,
        environment_id -> Nullable<Text>,
        incident_category_id -> Nullable<Text>,
        title -> Nullable<Text>,
        description -> Nullable<Text>,
        created_by_id -> Nullable<Text>,
        commander_id -> Nullable<Text>,
        communication_lead_id -> Nullable<Text>,
        event_type -> Nullable<Text>,
        event_ts -> Timestamp,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    impacts (id) {
        id -> BigInt,
        impact_type_id -> BigInt,
        impact_level_id -> Text,
        details -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    incident_impacts (id) {
        id -> BigInt,
        incident_id -> BigInt,
        impact_id -> BigInt,
    }
}

diesel::table! {
    incident_roles (id) {
        id -> BigInt,
        incident_id -> BigInt,
        role_type_id -> BigInt,
        user_id -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    incident_memberships (id) {
        id -> BigInt,
        incident_id -> BigInt,
        user_id -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    incident_metrics (id) {
        id -> BigInt,
        incident_id -> BigInt,
        metric_type_id -> BigInt,
        duration_micros -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    incident_costs (id) {
        id -> BigInt,
        incident_id -> BigInt,
        cost_type_id -> BigInt,
        amount_cents -> Nullable<BigInt>,
        currency -> Text,
        details -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    incident_tags (incident_id, tag_id) {
        incident_id -> BigInt,
        tag_id -> BigInt,
    }
}

diesel::table! {
    audit_log (id) {
        id -> BigInt,
        occurred_at -> Timestamp,
        actor_user_id -> Nullable<Text>,
        entry_point -> Text,
        action -> Text,
        object_type -> Text,
        object_id -> Text,
        incident_id -> Nullable<BigInt>,
        details -> Text,
    }
}

diesel::table! {
    jobs (id) {
        id -> BigInt,
        name -> Text,
        queue -> Text,
        payload -> Text,
        idempotency_key -> Text,
        event_id -> Nullable<Text>,
        state -> Text,
        attempts -> Integer,
        attempt_base -> Integer,
        run_at -> Timestamp,
        locked_until -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    incident_postmortems (incident_id) {
        incident_id -> BigInt,
        state -> Text,
        reference -> Text,
        detail -> Text,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    outbox_events (id) {
        id -> BigInt,
        event_id -> Text,
        event_type -> Text,
        incident_id -> Nullable<BigInt>,
        payload -> Text,
        occurred_at -> Timestamp,
        published_at -> Nullable<Timestamp>,
        actor_user_id -> Nullable<Text>,
        entry_point -> Nullable<Text>,
        incident_version -> Nullable<BigInt>,
        schema_version -> Integer,
    }
}

diesel::table! {
    api_tokens (id) {
        id -> BigInt,
        user_id -> Text,
        name -> Text,
        token_hash -> Text,
        created_at -> Timestamp,
        expires_at -> Nullable<Timestamp>,
        last_used_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    user_permissions (user_id, codename) {
        user_id -> Text,
        codename -> Text,
    }
}

diesel::joinable!(api_tokens -> users (user_id));
diesel::joinable!(user_permissions -> users (user_id));

diesel::table! {
    permission_groups (id) {
        id -> BigInt,
        name -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    permission_group_permissions (group_id, codename) {
        group_id -> BigInt,
        codename -> Text,
    }
}

diesel::table! {
    user_groups (user_id, group_id) {
        user_id -> Text,
        group_id -> BigInt,
    }
}

diesel::joinable!(permission_group_permissions -> permission_groups (group_id));
diesel::joinable!(user_groups -> permission_groups (group_id));
diesel::joinable!(user_groups -> users (user_id));
diesel::joinable!(incident_categories -> category_groups (group_id));
diesel::joinable!(impact_levels -> impact_types (impact_type_id));
diesel::joinable!(incidents -> priorities (priority_id));
diesel::joinable!(incidents -> environments (environment_id));
diesel::joinable!(incidents -> incident_categories (incident_category_id));
diesel::joinable!(incidents -> users (created_by_id));
diesel::joinable!(incident_updates -> incidents (incident_id));
diesel::joinable!(incident_roles -> incidents (incident_id));
diesel::joinable!(incident_roles -> incident_role_types (role_type_id));
diesel::joinable!(incident_roles -> users (user_id));
diesel::joinable!(incident_memberships -> incidents (incident_id));
diesel::joinable!(incident_metrics -> incidents (incident_id));
diesel::joinable!(incident_metrics -> metric_types (metric_type_id));
diesel::joinable!(incident_costs -> incidents (incident_id));
diesel::joinable!(incident_costs -> incident_cost_types (cost_type_id));
diesel::joinable!(incident_impacts -> incidents (incident_id));
diesel::joinable!(incident_impacts -> impacts (impact_id));
diesel::joinable!(impacts -> impact_levels (impact_level_id));
diesel::joinable!(incident_tags -> incidents (incident_id));
diesel::joinable!(incident_tags -> tags (tag_id));

diesel::allow_tables_to_appear_in_same_query!(
    users,
    priorities,
    severities,
    environments,
    category_groups,
    incident_categories,
    impact_types,
    impact_levels,
    incident_role_types,
    key_event_types,
    metric_types,
    incident_cost_types,
    tags,
    incidents,
    incident_updates,
    impacts,
    incident_impacts,
    incident_roles,
    incident_memberships,
    incident_metrics,
    incident_costs,
    incident_tags,
    audit_log,
    outbox_events,
    incident_postmortems,
    api_tokens,
    user_permissions,
    jobs,
    permission_groups,
    permission_group_permissions,
    user_groups,
);
