-- Endpoint secrets are stored sealed (webhooks::SecretBox: `enc1:<nonce>:<ciphertext>`, up to about
-- 1,700 characters for a 200-character secret). Rows stored before stay readable as they are.
ALTER TABLE webhook_endpoints DROP CONSTRAINT webhook_endpoints_secret_check;
ALTER TABLE webhook_endpoints ADD CONSTRAINT webhook_endpoints_secret_check
    CHECK (length(secret) BETWEEN 16 AND 2000);
