//! Slack's tables in the back-office: the conversations and user groups the bot knows, with the tags
//! that route messages to them (`tech_incidents`, `dev_firefighters` …), and the SOS targets
//! responders call for help.

use incidents_core::backoffice::{Field, Key, Kind, Link, Model};

const KINDS: &[(&str, &str)] = &[
    ("public", "Public channel"),
    ("private", "Private channel"),
    ("im", "Direct message"),
    ("mpim", "Group message"),
    ("unknown", "Unknown"),
];
const STATUSES: &[(&str, &str)] =
    &[("not_opened", "Not opened"), ("opened", "Opened"), ("archived", "Archived")];

/// The Slack integration's back-office models.
pub static MODELS: &[Model] = &[
    Model {
        slug: "slack-conversations",
        table: "slack_conversations",
        label: "Slack conversation",
        plural: "Slack conversations",
        section: "Slack",
        help: "Channels the bot knows: incident channels, and the ones a tag sends messages to \
               (tech_incidents, it_deploy, invited_for_all_public_p1 …).",
        key: Key::Serial,
        title: "name",
        order_by: "tag DESC, name",
        fields: &[
            Field::new("channel_id", "Channel id", Kind::Text { min: 1, max: 128 }).fixed().help("C0123ABCD"),
            Field::new("name", "Name", Kind::Text { min: 0, max: 80 }),
            Field::new("kind", "Kind", Kind::Choice { options: KINDS, optional: false }).default("public"),
            Field::new("status", "Status", Kind::Choice { options: STATUSES, optional: false })
                .default("opened"),
            Field::new("tag", "Tag", Kind::Text { min: 0, max: 80 }).help("Unique when set."),
        ],
        columns: &["name", "channel_id", "kind", "status", "tag"],
        create: true,
        delete: true,
        timestamps: true,
        single_true: &[],
        links: &[Link {
            name: "categories",
            label: "Incident categories",
            help: "Incidents of these categories are announced here.",
            table: "slack_conversation_categories",
            owner: "conversation_id",
            target: "category_id",
            model: "incident-categories",
        }],
    },
    Model {
        slug: "slack-user-groups",
        table: "slack_user_groups",
        label: "Slack user group",
        plural: "Slack user groups",
        section: "Slack",
        help: "User groups the bot knows; a tag makes one invited to incidents (invited_for_all_public_p1 …).",
        key: Key::Serial,
        title: "handle",
        order_by: "handle",
        fields: &[
            Field::new("usergroup_id", "User group id", Kind::Text { min: 1, max: 32 })
                .fixed()
                .help("S0123ABCD"),
            Field::new("handle", "Handle", Kind::Text { min: 0, max: 80 }),
            Field::new("name", "Name", Kind::Text { min: 0, max: 80 }),
            Field::new("description", "Description", Kind::Text { min: 0, max: 140 }),
            Field::new("tag", "Tag", Kind::Text { min: 0, max: 80 }),
        ],
        columns: &["handle", "name", "usergroup_id", "tag"],
        create: true,
        delete: true,
        timestamps: true,
        single_true: &[],
        links: &[Link {
            name: "categories",
            label: "Incident categories",
            help: "Members are invited to the channels of incidents of these categories.",
            table: "slack_user_group_categories",
            owner: "user_group_id",
            target: "category_id",
            model: "incident-categories",
        }],
    },
    Model {
        slug: "sos-targets",
        table: "slack_sos",
        label: "SOS target",
        plural: "SOS targets",
        section: "Slack",
        help: "Where responders ask for help (/incident sos): a channel, and a user group to mention there.",
        key: Key::Serial,
        title: "name",
        order_by: "name",
        fields: &[
            Field::new("name", "Name", Kind::Text { min: 1, max: 255 }),
            Field::new(
                "conversation_id",
                "Conversation",
                Kind::Ref { model: "slack-conversations", optional: false },
            ),
            Field::new(
                "user_group_id",
                "User group",
                Kind::Ref { model: "slack-user-groups", optional: true },
            ),
        ],
        columns: &["name", "conversation_id", "user_group_id"],
        create: true,
        delete: true,
        timestamps: true,
        single_true: &[],
        links: &[],
    },
];
