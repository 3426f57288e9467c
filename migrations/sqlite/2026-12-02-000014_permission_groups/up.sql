-- Groups: named permission sets (Django's auth groups). A user holds what is granted to them directly
-- (user_permissions) and what their groups hold. Single sign-on's `roles` claim sets a user's groups
-- at every sign-in; staff with the auth.*_group permissions (or admins) manage them.
CREATE TABLE permission_groups (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 150),
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE permission_group_permissions (
    group_id BIGINT NOT NULL REFERENCES permission_groups (id) ON DELETE CASCADE,
    codename TEXT NOT NULL CHECK (length(codename) BETWEEN 3 AND 100),
    PRIMARY KEY (group_id, codename)
);

CREATE TABLE user_groups (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    group_id BIGINT NOT NULL REFERENCES permission_groups (id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, group_id)
);
CREATE INDEX user_groups_group_id ON user_groups (group_id);
