-- Who opened the app's home tab, and a digest of the home last published to them: when incidents
-- change, the home is published again to those whose view would change.
CREATE TABLE slack_home_views (
    slack_user_id TEXT NOT NULL PRIMARY KEY CHECK (length(slack_user_id) BETWEEN 1 AND 32),
    opened_at TIMESTAMP NOT NULL,
    published_digest TEXT NOT NULL DEFAULT ''
);
