DROP TABLE user_permissions;
DROP TABLE api_tokens;
