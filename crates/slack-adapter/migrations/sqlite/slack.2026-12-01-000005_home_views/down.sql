DROP TABLE slack_home_views;
