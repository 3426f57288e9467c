-- The webhook tables moved to the webhooks integration's own migration tree, whose versions carry its
-- name. A database that applied them as core migrations keeps them, recorded under their new versions,
-- so the integration does not create them a second time.
UPDATE __diesel_schema_migrations SET version = 'webhooks.20261128000008' WHERE version = '20261128000008';
UPDATE __diesel_schema_migrations SET version = 'webhooks.20261128000010' WHERE version = '20261128000010';
