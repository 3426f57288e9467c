-- People and the reference data incidents point to.
-- SQLite tree. Portable types only: ids of reference rows are UUIDs stored as text, timestamps are naive UTC,
-- durations are whole seconds. The PostgreSQL tree declares the same logical schema.

CREATE TABLE users (
    id TEXT NOT NULL PRIMARY KEY,
    username TEXT NOT NULL UNIQUE CHECK (length(username) BETWEEN 1 AND 150),
    email TEXT NOT NULL UNIQUE CHECK (length(email) BETWEEN 3 AND 128),
    name TEXT NOT NULL DEFAULT '' CHECK (length(name) <= 128),
    first_name TEXT NOT NULL DEFAULT '' CHECK (length(first_name) <= 150),
    last_name TEXT NOT NULL DEFAULT '' CHECK (length(last_name) <= 150),
    bot BOOLEAN NOT NULL DEFAULT FALSE,
    avatar_url TEXT CHECK (length(avatar_url) <= 1024),
    is_active BOOLEAN NOT NULL DEFAULT TRUE,
    is_staff BOOLEAN NOT NULL DEFAULT FALSE,
    is_superuser BOOLEAN NOT NULL DEFAULT FALSE,
    password_hash TEXT,
    last_login TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE priorities (
    id TEXT NOT NULL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 128),
    value INTEGER NOT NULL UNIQUE,
    emoji TEXT NOT NULL DEFAULT '' CHECK (length(emoji) <= 16),
    description TEXT NOT NULL DEFAULT '' CHECK (length(description) <= 128),
    sort_order INTEGER NOT NULL UNIQUE,
    is_default BOOLEAN NOT NULL DEFAULT FALSE,
    needs_postmortem BOOLEAN NOT NULL DEFAULT FALSE,
    enabled_create BOOLEAN NOT NULL DEFAULT TRUE,
    enabled_update BOOLEAN NOT NULL DEFAULT TRUE,
    reminder_time_seconds BIGINT NOT NULL DEFAULT 3600 CHECK (reminder_time_seconds >= 0),
    sla_seconds BIGINT NOT NULL DEFAULT 3600 CHECK (sla_seconds >= 0),
    recommended_response_type TEXT CHECK (recommended_response_type IN ('critical', 'normal')),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX priorities_single_default ON priorities (is_default) WHERE is_default;

-- Legacy: kept so data from the original carries over; nothing requires a severity.
CREATE TABLE severities (
    id TEXT NOT NULL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 128),
    value INTEGER NOT NULL UNIQUE,
    emoji TEXT NOT NULL DEFAULT '' CHECK (length(emoji) <= 16),
    description TEXT NOT NULL DEFAULT '' CHECK (length(description) <= 128),
    sort_order INTEGER NOT NULL UNIQUE,
    is_default BOOLEAN NOT NULL DEFAULT FALSE,
    needs_postmortem BOOLEAN NOT NULL DEFAULT FALSE,
    enabled_create BOOLEAN NOT NULL DEFAULT TRUE,
    enabled_update BOOLEAN NOT NULL DEFAULT TRUE,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX severities_single_default ON severities (is_default) WHERE is_default;

CREATE TABLE environments (
    id TEXT NOT NULL PRIMARY KEY,
    value TEXT NOT NULL UNIQUE CHECK (length(value) BETWEEN 1 AND 16),
    name TEXT NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 128),
    description TEXT NOT NULL UNIQUE CHECK (length(description) <= 128),
    sort_order INTEGER NOT NULL DEFAULT 0,
    is_default BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX environments_single_default ON environments (is_default) WHERE is_default;

-- A group of incident categories (a business domain), not a group of users.
CREATE TABLE category_groups (
    id TEXT NOT NULL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 128),
    description TEXT NOT NULL DEFAULT '',
    sort_order INTEGER NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE incident_categories (
    id TEXT NOT NULL PRIMARY KEY,
    group_id TEXT NOT NULL REFERENCES category_groups (id) ON DELETE RESTRICT,
    name TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 128),
    description TEXT NOT NULL DEFAULT '',
    sort_order INTEGER NOT NULL DEFAULT 0,
    private BOOLEAN NOT NULL DEFAULT FALSE,
    deploy_warning BOOLEAN NOT NULL DEFAULT TRUE,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    CONSTRAINT incident_categories_unique_name_in_group UNIQUE (group_id, name)
);

CREATE TABLE impact_types (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    value TEXT NOT NULL UNIQUE CHECK (length(value) BETWEEN 1 AND 50),
    name TEXT NOT NULL CHECK (length(name) <= 64),
    emoji TEXT NOT NULL DEFAULT '' CHECK (length(emoji) <= 16),
    help_text TEXT NOT NULL DEFAULT '' CHECK (length(help_text) <= 128),
    sort_order INTEGER NOT NULL DEFAULT 10
);

CREATE TABLE impact_levels (
    id TEXT NOT NULL PRIMARY KEY,
    impact_type_id BIGINT NOT NULL REFERENCES impact_types (id) ON DELETE CASCADE,
    value TEXT NOT NULL DEFAULT 'NO' CHECK (value IN ('HT', 'HI', 'MD', 'LO', 'LT', 'NO')),
    name TEXT CHECK (length(name) <= 75),
    emoji TEXT NOT NULL DEFAULT '' CHECK (length(emoji) <= 16),
    sort_order INTEGER NOT NULL DEFAULT 10,
    description TEXT,
    CONSTRAINT impact_levels_unique_value_per_type UNIQUE (impact_type_id, value)
);

CREATE TABLE incident_role_types (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    slug TEXT NOT NULL UNIQUE CHECK (slug <> '' AND slug NOT GLOB '*[^a-z0-9_]*'),
    name TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 255),
    emoji TEXT NOT NULL DEFAULT '' CHECK (length(emoji) <= 16),
    required BOOLEAN NOT NULL DEFAULT FALSE,
    sort_order INTEGER NOT NULL DEFAULT 0,
    summary TEXT NOT NULL DEFAULT '',
    summary_first_person TEXT,
    description TEXT NOT NULL DEFAULT '',
    aka TEXT NOT NULL DEFAULT ''
);

-- Key events ("milestones") of an incident's timeline.
CREATE TABLE key_event_types (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    event_type TEXT NOT NULL UNIQUE CHECK (length(event_type) BETWEEN 1 AND 50),
    name TEXT NOT NULL CHECK (length(name) <= 50),
    summary TEXT NOT NULL DEFAULT '' CHECK (length(summary) <= 250),
    description TEXT,
    user_editable BOOLEAN NOT NULL DEFAULT TRUE,
    required BOOLEAN NOT NULL DEFAULT FALSE,
    asked_for BOOLEAN NOT NULL DEFAULT TRUE
);

-- duration = timestamp(end key event) - timestamp(start key event)
CREATE TABLE metric_types (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    code TEXT NOT NULL UNIQUE CHECK (length(code) BETWEEN 1 AND 10),
    slug TEXT NOT NULL UNIQUE CHECK (length(slug) BETWEEN 1 AND 50),
    name TEXT NOT NULL CHECK (length(name) <= 50),
    description TEXT NOT NULL DEFAULT '',
    end_event_type_id BIGINT NOT NULL REFERENCES key_event_types (id) ON DELETE RESTRICT,
    start_event_type_id BIGINT NOT NULL REFERENCES key_event_types (id) ON DELETE RESTRICT,
    CONSTRAINT metric_types_distinct_events CHECK (end_event_type_id <> start_event_type_id)
);

CREATE TABLE incident_cost_types (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 255),
    description TEXT,
    category TEXT CHECK (length(category) <= 255),
    is_default BOOLEAN NOT NULL DEFAULT FALSE,
    editable BOOLEAN NOT NULL DEFAULT TRUE,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE tags (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 100),
    slug TEXT NOT NULL UNIQUE CHECK (length(slug) BETWEEN 1 AND 100)
);
