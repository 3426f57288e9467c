DROP TABLE raid_feature_teams;
DROP TABLE raid_sync_state;
DROP TABLE raid_tickets;
