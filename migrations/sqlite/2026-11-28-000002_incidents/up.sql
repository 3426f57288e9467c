-- Incidents and everything that hangs off one: its timeline, impacts, roles, members, metrics,
-- costs and tags.

CREATE TABLE incidents (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    title TEXT NOT NULL CHECK (length(title) BETWEEN 1 AND 128),
    description TEXT NOT NULL,
    status INTEGER NOT NULL DEFAULT 10 CHECK (status IN (10, 20, 30, 40, 50, 60)),
    severity_id TEXT REFERENCES severities (id) ON DELETE RESTRICT,
    priority_id TEXT NOT NULL REFERENCES priorities (id) ON DELETE RESTRICT,
    incident_category_id TEXT NOT NULL REFERENCES incident_categories (id) ON DELETE RESTRICT,
    environment_id TEXT NOT NULL REFERENCES environments (id) ON DELETE RESTRICT,
    created_by_id TEXT NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    mitigated_at TIMESTAMP,
    closed_at TIMESTAMP,
    closure_reason TEXT CHECK (
        closure_reason IN ('resolved', 'duplicate', 'false_positive', 'superseded', 'external', 'cancelled')
    ),
    closure_reference TEXT NOT NULL DEFAULT '' CHECK (length(closure_reference) <= 100),
    custom_fields TEXT NOT NULL DEFAULT '{}',
    dedup_key TEXT CHECK (length(dedup_key) BETWEEN 1 AND 160),
    ignored BOOLEAN NOT NULL DEFAULT FALSE,
    private BOOLEAN NOT NULL DEFAULT FALSE
);
-- While an incident is at or below Mitigated it holds its dedup key; the key is free again afterwards.
CREATE UNIQUE INDEX incidents_unique_open_dedup_key ON incidents (dedup_key)
    WHERE dedup_key IS NOT NULL AND status <= 40;
CREATE INDEX incidents_status ON incidents (status);
CREATE INDEX incidents_created_at ON incidents (created_at);
CREATE INDEX incidents_priority_id ON incidents (priority_id);
CREATE INDEX incidents_environment_id ON incidents (environment_id);
CREATE INDEX incidents_incident_category_id ON incidents (incident_category_id);
CREATE INDEX incidents_created_by_id ON incidents (created_by_id);

-- The timeline: one row per change, message, role change or key event. Only changed fields are set.
CREATE TABLE incident_updates (
    id TEXT NOT NULL PRIMARY KEY,
    incident_id BIGINT NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    message TEXT,
    status INTEGER CHECK (status IN (10, 20, 30, 40, 50, 60)),
    severity_id TEXT REFERENCES severities (id) ON DELETE SET NULL,
    priority_id TEXT REFERENCES priorities (id) ON DELETE SET NULL,
    environment_id TEXT REFERENCES environments (id) ON DELETE SET NULL,
    incident_category_id TEXT REFERENCES incident_categories (id) ON DELETE SET NULL,
    title TEXT CHECK (length(title) BETWEEN 1 AND 128),
    description TEXT,
    created_by_id TEXT REFERENCES users (id) ON DELETE SET NULL,
    commander_id TEXT REFERENCES users (id) ON DELETE SET NULL,
    communication_lead_id TEXT REFERENCES users (id) ON DELETE SET NULL,
    event_type TEXT CHECK (length(event_type) BETWEEN 1 AND 64),
    event_ts TIMESTAMP NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX incident_updates_incident_event_ts ON incident_updates (incident_id, event_ts);
CREATE INDEX incident_updates_incident_event_type ON incident_updates (incident_id, event_type);

CREATE TABLE impacts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    impact_type_id BIGINT NOT NULL REFERENCES impact_types (id) ON DELETE CASCADE,
    impact_level_id TEXT NOT NULL REFERENCES impact_levels (id) ON DELETE RESTRICT,
    details TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE incident_impacts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id BIGINT NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    impact_id BIGINT NOT NULL REFERENCES impacts (id) ON DELETE CASCADE,
    CONSTRAINT incident_impacts_unique_pair UNIQUE (incident_id, impact_id)
);

-- One holder per role and incident (the original only made (incident, user, role) unique).
CREATE TABLE incident_roles (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id BIGINT NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    role_type_id BIGINT NOT NULL REFERENCES incident_role_types (id) ON DELETE RESTRICT,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    CONSTRAINT incident_roles_one_holder_per_role UNIQUE (incident_id, role_type_id)
);
CREATE INDEX incident_roles_user_id ON incident_roles (user_id);

CREATE TABLE incident_memberships (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id BIGINT NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL,
    CONSTRAINT incident_memberships_unique_member UNIQUE (incident_id, user_id)
);
CREATE INDEX incident_memberships_user_id ON incident_memberships (user_id);

-- Computed from key events; microseconds, never negative.
CREATE TABLE incident_metrics (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id BIGINT NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    metric_type_id BIGINT NOT NULL REFERENCES metric_types (id) ON DELETE CASCADE,
    duration_micros BIGINT NOT NULL CHECK (duration_micros >= 0),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    CONSTRAINT incident_metrics_unique_metric UNIQUE (incident_id, metric_type_id)
);

-- Amounts are fixed-point: integer cents, never floats (numeric(10,2) in the original).
CREATE TABLE incident_costs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id BIGINT NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    cost_type_id BIGINT NOT NULL REFERENCES incident_cost_types (id) ON DELETE RESTRICT,
    amount_cents BIGINT CHECK (amount_cents BETWEEN -9999999999 AND 9999999999),
    currency TEXT NOT NULL DEFAULT 'EUR' CHECK (length(currency) = 3),
    details TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX incident_costs_incident_id ON incident_costs (incident_id);

CREATE TABLE incident_tags (
    incident_id BIGINT NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    tag_id BIGINT NOT NULL REFERENCES tags (id) ON DELETE CASCADE,
    PRIMARY KEY (incident_id, tag_id)
);
