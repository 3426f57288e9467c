DROP TABLE slack_user_group_categories;
DROP TABLE slack_conversation_categories;
DROP TABLE slack_conversation_members;
DROP TABLE slack_user_group_members;
DROP TABLE slack_user_groups;
