DROP TABLE slack_sos;
