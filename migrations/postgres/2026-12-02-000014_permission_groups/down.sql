DROP TABLE user_groups;
DROP TABLE permission_group_permissions;
DROP TABLE permission_groups;
