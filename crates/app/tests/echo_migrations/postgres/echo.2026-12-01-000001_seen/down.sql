DROP TABLE echo_seen;
