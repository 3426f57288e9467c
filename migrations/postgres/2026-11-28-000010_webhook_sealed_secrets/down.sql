-- Sealed secrets do not fit the old width: their endpoints are removed (register them again).
DELETE FROM webhook_endpoints WHERE length(secret) > 200;
ALTER TABLE webhook_endpoints DROP CONSTRAINT webhook_endpoints_secret_check;
ALTER TABLE webhook_endpoints ADD CONSTRAINT webhook_endpoints_secret_check
    CHECK (length(secret) BETWEEN 16 AND 200);
