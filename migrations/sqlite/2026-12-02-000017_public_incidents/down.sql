DROP INDEX incidents_private_status;
DROP INDEX incidents_public_status;
