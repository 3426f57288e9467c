UPDATE __diesel_schema_migrations SET version = '20261128000008' WHERE version = 'webhooks.20261128000008';
UPDATE __diesel_schema_migrations SET version = '20261128000010' WHERE version = 'webhooks.20261128000010';
