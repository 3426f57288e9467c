-- PostgreSQL only (NOTIFY for the relays of the scaled mode); SQLite's runner is woken in process.
SELECT 1;
