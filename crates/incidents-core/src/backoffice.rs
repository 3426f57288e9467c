//! What staff may change in the reference tables, described once: each [`Model`] names its table, its
//! fields, their rules and what may be created or deleted. The back-office pages and the CLI's `admin`
//! command read and change rows only through these descriptions (storage's `backoffice` module runs
//! them), so both validate alike, and every change is audited in the transaction that makes it.
//!
//! Integrations describe their own tables the same way (Slack's user groups, conversations and SOS
//! targets) and hand them to the platform, which lists them after the core's ([`Catalog`]).
//!
//! The descriptions are `'static` data: table and column names in them are written here, never taken
//! from a request, which is what lets storage put them into SQL text.

use std::collections::BTreeMap;
use std::fmt;

/// A stored value, as the back-office reads and writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Null,
    Text(String),
    Int(i64),
    Bool(bool),
}

impl Value {
    /// The value as a form field shows it (`Null` is empty; booleans are `true`/`false`).
    #[must_use]
    pub fn to_form(&self) -> String {
        match self {
            Self::Null => String::new(),
            Self::Text(text) => text.clone(),
            Self::Int(number) => number.to_string(),
            Self::Bool(flag) => flag.to_string(),
        }
    }

    /// `true` only for a true boolean.
    #[must_use]
    pub const fn is_true(&self) -> bool {
        matches!(self, Self::Bool(true))
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Null => f.write_str("—"),
            Self::Text(text) => f.write_str(text),
            Self::Int(number) => write!(f, "{number}"),
            Self::Bool(true) => f.write_str("yes"),
            Self::Bool(false) => f.write_str("no"),
        }
    }
}

/// One stored row: `id` and every field of its model.
pub type Row = BTreeMap<String, Value>;

/// How a row is identified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    /// A UUID written as text, made when the row is created.
    Uuid,
    /// A number the database assigns.
    Serial,
}

/// What a field holds, and its rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Text of `min..=max` characters (trimmed); `min: 0` accepts empty text.
    Text { min: usize, max: usize },
    /// Text of at most `max` characters, or nothing (stored as NULL).
    OptionalText { max: usize },
    /// Lowercase letters, digits and underscores (a slug code refers to).
    Slug { max: usize },
    /// A whole number in `min..=max`.
    Int { min: i64, max: i64 },
    /// A checkbox.
    Bool,
    /// One of `options` (`(value, label)`), or nothing when `optional`.
    Choice { options: &'static [(&'static str, &'static str)], optional: bool },
    /// A row of another model (its `slug`), or nothing when `optional`.
    Ref { model: &'static str, optional: bool },
}

/// One editable column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    /// The column.
    pub name: &'static str,
    pub label: &'static str,
    pub kind: Kind,
    /// The value when a new row does not say (in the form's language: `"true"`, `"10"`, `""`).
    pub default: &'static str,
    /// Whether it may change after the row exists (codes that other rows or the code refer to may not).
    pub editable: bool,
    /// Shown under the field.
    pub help: &'static str,
}

impl Field {
    #[must_use]
    pub const fn new(name: &'static str, label: &'static str, kind: Kind) -> Self {
        Self { name, label, kind, default: "", editable: true, help: "" }
    }

    #[must_use]
    pub const fn default(mut self, value: &'static str) -> Self {
        self.default = value;
        self
    }

    #[must_use]
    pub const fn fixed(mut self) -> Self {
        self.editable = false;
        self
    }

    #[must_use]
    pub const fn help(mut self, text: &'static str) -> Self {
        self.help = text;
        self
    }

    /// Reads a form or command-line value.
    ///
    /// # Errors
    /// Why the value is refused, in words for the person who typed it.
    pub fn parse(&self, raw: &str) -> Result<Value, String> {
        let text = raw.trim();
        match self.kind {
            Kind::Text { min, max } => {
                let length = text.chars().count();
                if length < min {
                    return Err(if min == 1 {
                        "This field is required.".to_owned()
                    } else {
                        format!("At least {min} characters.")
                    });
                }
                if length > max {
                    return Err(format!("At most {max} characters ({length} given)."));
                }
                Ok(Value::Text(text.to_owned()))
            }
            Kind::OptionalText { max } => {
                let length = text.chars().count();
                if length > max {
                    return Err(format!("At most {max} characters ({length} given)."));
                }
                Ok(if text.is_empty() { Value::Null } else { Value::Text(text.to_owned()) })
            }
            Kind::Slug { max } => {
                if text.is_empty() {
                    return Err("This field is required.".to_owned());
                }
                if text.chars().count() > max
                    || !text.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
                {
                    return Err(format!("Lowercase letters, digits and underscores only, at most {max}."));
                }
                Ok(Value::Text(text.to_owned()))
            }
            Kind::Int { min, max } => {
                let number: i64 = text.parse().map_err(|_| "A whole number is required.".to_owned())?;
                if number < min || number > max {
                    return Err(format!("Between {min} and {max}."));
                }
                Ok(Value::Int(number))
            }
            Kind::Bool => match text.to_ascii_lowercase().as_str() {
                "" | "false" | "off" | "no" | "0" => Ok(Value::Bool(false)),
                "true" | "on" | "yes" | "1" => Ok(Value::Bool(true)),
                _ => Err("Yes or no (true or false).".to_owned()),
            },
            Kind::Choice { options, optional } => {
                if text.is_empty() && optional {
                    return Ok(Value::Null);
                }
                if options.iter().any(|(value, _)| *value == text) {
                    Ok(Value::Text(text.to_owned()))
                } else {
                    let allowed: Vec<&str> = options.iter().map(|(value, _)| *value).collect();
                    Err(format!("One of: {}.", allowed.join(", ")))
                }
            }
            Kind::Ref { optional, .. } => {
                if text.is_empty() {
                    return if optional {
                        Ok(Value::Null)
                    } else {
                        Err("This field is required.".to_owned())
                    };
                }
                // Whether the row exists is storage's to check (with the rest of the change).
                Ok(text.parse::<i64>().map_or_else(|_| Value::Text(text.to_owned()), Value::Int))
            }
        }
    }
}

/// A table staff may see and change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Model {
    /// Its name in URLs and on the command line (`environments`).
    pub slug: &'static str,
    pub table: &'static str,
    /// One row, in words (`environment`).
    pub label: &'static str,
    /// The list, in words (`Environments`).
    pub plural: &'static str,
    /// Where the back-office's index lists it (`Incidents`, `Slack` …).
    pub section: &'static str,
    /// What the rows are for, shown on the list.
    pub help: &'static str,
    pub key: Key,
    /// The field that names a row.
    pub title: &'static str,
    /// Columns to order the list by, in SQL (written here, never from a request).
    pub order_by: &'static str,
    pub fields: &'static [Field],
    /// Fields the list shows.
    pub columns: &'static [&'static str],
    /// Whether staff may add rows.
    pub create: bool,
    /// Whether staff may delete rows (the schema still refuses rows in use).
    pub delete: bool,
    /// Whether the table has `created_at` and `updated_at`.
    pub timestamps: bool,
    /// Boolean fields only one row may have true (`is_default`): setting one clears the others.
    pub single_true: &'static [&'static str],
    /// Sets of rows of another model this row is linked to, kept in a table of pairs.
    pub links: &'static [Link],
}

/// A many-to-many link: the rows of `model` this row is linked to, kept in `table` as
/// (`owner`, `target`) pairs. In input, a comma-separated list of ids (or titles).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Link {
    /// Its name in forms and on the command line.
    pub name: &'static str,
    pub label: &'static str,
    pub help: &'static str,
    pub table: &'static str,
    /// The column holding this row's id.
    pub owner: &'static str,
    /// The column holding the linked row's id.
    pub target: &'static str,
    /// The linked rows' model (its slug).
    pub model: &'static str,
}

/// Why a change was refused: one message per field, and one for the whole.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Invalid {
    pub fields: BTreeMap<String, String>,
    pub general: Option<String>,
}

impl Invalid {
    /// A refusal about the whole change.
    #[must_use]
    pub fn general(message: impl Into<String>) -> Self {
        Self { fields: BTreeMap::new(), general: Some(message.into()) }
    }

    /// A refusal about one field.
    #[must_use]
    pub fn field(name: &str, message: impl Into<String>) -> Self {
        let mut fields = BTreeMap::new();
        fields.insert(name.to_owned(), message.into());
        Self { fields, general: None }
    }
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts: Vec<String> = self.general.iter().cloned().collect();
        parts.extend(self.fields.iter().map(|(field, message)| format!("{field}: {message}")));
        f.write_str(&parts.join(" "))
    }
}

impl std::error::Error for Invalid {}

/// Whether input that leaves a field out means "unchanged" (the command line) or, for checkboxes,
/// "unchecked" (an HTML form, which sends nothing for an unchecked box).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    Form,
    Command,
}

impl Model {
    /// A field by name.
    #[must_use]
    pub fn field(&self, name: &str) -> Option<&'static Field> {
        self.fields.iter().find(|field| field.name == name)
    }

    /// The values of a new row (defaults for what `input` leaves out), or why they are refused.
    ///
    /// # Errors
    /// Every refused field, an unknown field, or a model that takes no new rows.
    pub fn new_row(
        &self,
        input: &BTreeMap<String, String>,
        from: Input,
    ) -> Result<Vec<(&'static Field, Value)>, Invalid> {
        if !self.create {
            return Err(Invalid::general(format!(
                "{} are not added here: the product defines them.",
                self.plural
            )));
        }
        self.unknown(input)?;
        let mut values = Vec::new();
        let mut invalid = Invalid::default();
        for field in self.fields {
            let raw = match input.get(field.name) {
                Some(raw) => raw.as_str(),
                None if field.kind == Kind::Bool && from == Input::Form => "false",
                None => field.default,
            };
            match field.parse(raw) {
                Ok(value) => values.push((field, value)),
                Err(message) => {
                    invalid.fields.insert(field.name.to_owned(), message);
                }
            }
        }
        if invalid.fields.is_empty() { Ok(values) } else { Err(invalid) }
    }

    /// The values `input` changes in an existing row, or why they are refused.
    ///
    /// # Errors
    /// Every refused field, an unknown field, or a field that may not change.
    pub fn changes(
        &self,
        input: &BTreeMap<String, String>,
        from: Input,
    ) -> Result<Vec<(&'static Field, Value)>, Invalid> {
        self.unknown(input)?;
        let mut values = Vec::new();
        let mut invalid = Invalid::default();
        for field in self.fields {
            let raw = match input.get(field.name) {
                Some(raw) => raw.as_str(),
                None if field.kind == Kind::Bool && from == Input::Form && field.editable => "false",
                None => continue,
            };
            if !field.editable {
                // A form shows fixed fields read-only and does not send them; a command that names one
                // is told.
                if from == Input::Command {
                    invalid.fields.insert(field.name.to_owned(), "Fixed once created.".to_owned());
                }
                continue;
            }
            match field.parse(raw) {
                Ok(value) => values.push((field, value)),
                Err(message) => {
                    invalid.fields.insert(field.name.to_owned(), message);
                }
            }
        }
        if invalid.fields.is_empty() { Ok(values) } else { Err(invalid) }
    }

    /// The links `input` sets: each one's ids or titles (an empty list unlinks everything). A form
    /// leaves out a link where nothing is chosen (it means none); the command line, one it leaves
    /// unchanged.
    #[must_use]
    pub fn link_values(
        &self,
        input: &BTreeMap<String, String>,
        from: Input,
    ) -> Vec<(&'static Link, Vec<String>)> {
        self.links
            .iter()
            .filter_map(|link| {
                let raw = match input.get(link.name) {
                    Some(raw) => raw.as_str(),
                    None if from == Input::Form => "",
                    None => return None,
                };
                let values: Vec<String> =
                    raw.split(',').map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned).collect();
                Some((link, values))
            })
            .collect()
    }

    fn unknown(&self, input: &BTreeMap<String, String>) -> Result<(), Invalid> {
        match input
            .keys()
            .find(|name| self.field(name).is_none() && !self.links.iter().any(|l| l.name == name.as_str()))
        {
            Some(name) => {
                let known: Vec<&str> = self
                    .fields
                    .iter()
                    .map(|field| field.name)
                    .chain(self.links.iter().map(|link| link.name))
                    .collect();
                Err(Invalid::general(format!(
                    "{} have no field {name:?}; they have: {}.",
                    self.plural,
                    known.join(", ")
                )))
            }
            None => Ok(()),
        }
    }
}

/// Every model staff administer: the core's, then the integrations'.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    models: Vec<&'static Model>,
}

impl Catalog {
    /// The core's models followed by `extra` (an integration's own tables).
    #[must_use]
    pub fn new(extra: impl IntoIterator<Item = &'static Model>) -> Self {
        let mut models: Vec<&'static Model> = CORE.iter().collect();
        models.extend(extra);
        Self { models }
    }

    /// A model by slug.
    #[must_use]
    pub fn get(&self, slug: &str) -> Option<&'static Model> {
        self.models.iter().copied().find(|model| model.slug == slug)
    }

    /// Every model, in order.
    #[must_use]
    pub fn models(&self) -> &[&'static Model] {
        &self.models
    }
}

const RESPONSE_TYPES: &[(&str, &str)] = &[("critical", "Critical"), ("normal", "Normal")];
const LEVELS: &[(&str, &str)] =
    &[("HT", "Highest"), ("HI", "High"), ("MD", "Medium"), ("LO", "Low"), ("LT", "Lowest"), ("NO", "None")];

/// The core's reference tables.
pub static CORE: &[Model] = &[
    Model {
        slug: "priorities",
        table: "priorities",
        label: "priority",
        plural: "Priorities",
        section: "Incidents",
        help: "P1 to P5: the business impacts decide which one an incident gets, so their values are fixed; \
               names, reminders, SLAs and what may be chosen are yours.",
        key: Key::Uuid,
        title: "name",
        order_by: "sort_order",
        fields: &[
            Field::new("value", "Value", Kind::Int { min: 1, max: 5 }).fixed(),
            Field::new("name", "Name", Kind::Text { min: 1, max: 128 }),
            Field::new("emoji", "Emoji", Kind::Text { min: 0, max: 16 }),
            Field::new("description", "Description", Kind::Text { min: 0, max: 128 }),
            Field::new("sort_order", "Order", Kind::Int { min: 0, max: 32_767 }).fixed(),
            Field::new("is_default", "Default", Kind::Bool),
            Field::new("needs_postmortem", "Needs a post-mortem", Kind::Bool),
            Field::new("enabled_create", "Can be chosen when declaring", Kind::Bool),
            Field::new("enabled_update", "Can be chosen when updating", Kind::Bool),
            Field::new(
                "reminder_time_seconds",
                "Update reminder (seconds)",
                Kind::Int { min: 0, max: 31_536_000 },
            ),
            Field::new("sla_seconds", "SLA (seconds)", Kind::Int { min: 0, max: 31_536_000 }),
            Field::new(
                "recommended_response_type",
                "Recommended response",
                Kind::Choice { options: RESPONSE_TYPES, optional: true },
            ),
        ],
        columns: &[
            "value",
            "name",
            "emoji",
            "is_default",
            "needs_postmortem",
            "enabled_create",
            "sla_seconds",
        ],
        create: false,
        delete: false,
        timestamps: true,
        single_true: &["is_default"],
        links: &[],
    },
    Model {
        slug: "environments",
        table: "environments",
        label: "environment",
        plural: "Environments",
        section: "Incidents",
        help: "Where an incident happens (PRD, STG, INT …).",
        key: Key::Uuid,
        title: "value",
        order_by: "sort_order, value",
        fields: &[
            Field::new("value", "Value", Kind::Text { min: 1, max: 16 }).help("A short code: PRD, STG …"),
            Field::new("name", "Name", Kind::Text { min: 1, max: 128 }),
            Field::new("description", "Description", Kind::Text { min: 0, max: 128 })
                .help("Unique among environments."),
            Field::new("sort_order", "Order", Kind::Int { min: -32_768, max: 32_767 }).default("0"),
            Field::new("is_default", "Default", Kind::Bool),
        ],
        columns: &["value", "name", "description", "sort_order", "is_default"],
        create: true,
        delete: true,
        timestamps: true,
        single_true: &["is_default"],
        links: &[],
    },
    Model {
        slug: "groups",
        table: "category_groups",
        label: "group",
        plural: "Groups",
        section: "Incidents",
        help: "The groups incident categories belong to (the original's domains).",
        key: Key::Uuid,
        title: "name",
        order_by: "sort_order, name",
        fields: &[
            Field::new("name", "Name", Kind::Text { min: 1, max: 128 }),
            Field::new("description", "Description", Kind::Text { min: 0, max: 4_000 }),
            Field::new("sort_order", "Order", Kind::Int { min: -32_768, max: 32_767 })
                .help("Unique among groups."),
        ],
        columns: &["name", "description", "sort_order"],
        create: true,
        delete: true,
        timestamps: true,
        single_true: &[],
        links: &[],
    },
    Model {
        slug: "incident-categories",
        table: "incident_categories",
        label: "incident category",
        plural: "Incident categories",
        section: "Incidents",
        help: "What an incident is about; each belongs to a group.",
        key: Key::Uuid,
        title: "name",
        order_by: "sort_order, name",
        fields: &[
            Field::new("name", "Name", Kind::Text { min: 1, max: 128 }).help("Unique in its group."),
            Field::new("group_id", "Group", Kind::Ref { model: "groups", optional: false }),
            Field::new("description", "Description", Kind::Text { min: 0, max: 4_000 }),
            Field::new("sort_order", "Order", Kind::Int { min: -32_768, max: 32_767 }).default("0"),
            Field::new("private", "Private", Kind::Bool).help("Its incidents are private by default."),
            Field::new("deploy_warning", "Deploy warning", Kind::Bool)
                .default("true")
                .help("Declaring a P1–P3 incident in it warns that deployments stop."),
        ],
        columns: &["name", "group_id", "sort_order", "private", "deploy_warning"],
        create: true,
        delete: true,
        timestamps: true,
        single_true: &[],
        links: &[],
    },
    Model {
        slug: "impact-types",
        table: "impact_types",
        label: "impact type",
        plural: "Impact types",
        section: "Impacts",
        help: "What an incident affects (business, customers …); the priority matrix uses their values.",
        key: Key::Serial,
        title: "name",
        order_by: "sort_order, id",
        fields: &[
            Field::new("value", "Value", Kind::Text { min: 1, max: 50 }).fixed(),
            Field::new("name", "Name", Kind::Text { min: 0, max: 64 }),
            Field::new("emoji", "Emoji", Kind::Text { min: 0, max: 16 }),
            Field::new("help_text", "Help", Kind::Text { min: 0, max: 128 }),
            Field::new("sort_order", "Order", Kind::Int { min: -32_768, max: 32_767 }),
        ],
        columns: &["value", "name", "emoji", "help_text", "sort_order"],
        create: false,
        delete: false,
        timestamps: false,
        single_true: &[],
        links: &[],
    },
    Model {
        slug: "impact-levels",
        table: "impact_levels",
        label: "impact level",
        plural: "Impact levels",
        section: "Impacts",
        help: "How badly an impact type is hit; the wording shown to declarers is yours.",
        key: Key::Uuid,
        title: "name",
        order_by: "impact_type_id, sort_order",
        fields: &[
            Field::new("impact_type_id", "Impact type", Kind::Ref { model: "impact-types", optional: false })
                .fixed(),
            Field::new("value", "Level", Kind::Choice { options: LEVELS, optional: false }).fixed(),
            Field::new("name", "Name", Kind::OptionalText { max: 75 }),
            Field::new("emoji", "Emoji", Kind::Text { min: 0, max: 16 }),
            Field::new("sort_order", "Order", Kind::Int { min: -32_768, max: 32_767 }),
            Field::new("description", "Description", Kind::OptionalText { max: 4_000 }),
        ],
        columns: &["impact_type_id", "value", "name", "sort_order"],
        create: false,
        delete: false,
        timestamps: false,
        single_true: &[],
        links: &[],
    },
    Model {
        slug: "role-types",
        table: "incident_role_types",
        label: "role type",
        plural: "Role types",
        section: "Incidents",
        help: "The roles of an incident (commander, communication lead …); the product refers to their slugs.",
        key: Key::Serial,
        title: "name",
        order_by: "sort_order, id",
        fields: &[
            Field::new("slug", "Slug", Kind::Slug { max: 50 }).fixed(),
            Field::new("name", "Name", Kind::Text { min: 1, max: 255 }),
            Field::new("emoji", "Emoji", Kind::Text { min: 0, max: 16 }),
            Field::new("required", "Required", Kind::Bool),
            Field::new("sort_order", "Order", Kind::Int { min: -32_768, max: 32_767 }).default("0"),
            Field::new("summary", "Summary", Kind::Text { min: 0, max: 4_000 }),
            Field::new("summary_first_person", "Summary, first person", Kind::OptionalText { max: 4_000 }),
            Field::new("description", "Description (Markdown)", Kind::Text { min: 0, max: 20_000 }),
            Field::new("aka", "Also known as", Kind::Text { min: 0, max: 255 }),
        ],
        columns: &["slug", "name", "emoji", "required", "sort_order"],
        create: true,
        delete: true,
        timestamps: false,
        single_true: &[],
        links: &[],
    },
    Model {
        slug: "key-event-types",
        table: "key_event_types",
        label: "key event type",
        plural: "Key event types",
        section: "Incidents",
        help: "The milestones of an incident; the metrics are computed from their event types, which are fixed.",
        key: Key::Serial,
        title: "name",
        order_by: "id",
        fields: &[
            Field::new("event_type", "Event type", Kind::Text { min: 1, max: 50 }).fixed(),
            Field::new("name", "Name", Kind::Text { min: 0, max: 50 }),
            Field::new("summary", "Summary", Kind::Text { min: 0, max: 250 }),
            Field::new("description", "Description", Kind::OptionalText { max: 4_000 }),
            Field::new("required", "Required", Kind::Bool),
            Field::new("asked_for", "Asked for", Kind::Bool),
        ],
        columns: &["event_type", "name", "summary", "required", "asked_for"],
        create: false,
        delete: false,
        timestamps: false,
        single_true: &[],
        links: &[],
    },
    Model {
        slug: "cost-types",
        table: "incident_cost_types",
        label: "cost type",
        plural: "Cost types",
        section: "Incidents",
        help: "What an incident's costs are counted as.",
        key: Key::Serial,
        title: "name",
        order_by: "name",
        fields: &[
            Field::new("name", "Name", Kind::Text { min: 1, max: 255 }),
            Field::new("description", "Description", Kind::OptionalText { max: 4_000 }),
            Field::new("category", "Category", Kind::OptionalText { max: 255 }),
            Field::new("is_default", "Default", Kind::Bool),
            Field::new("editable", "Editable", Kind::Bool).default("true"),
        ],
        columns: &["name", "category", "is_default", "editable"],
        create: true,
        delete: true,
        timestamps: true,
        single_true: &[],
        links: &[],
    },
    Model {
        slug: "tags",
        table: "tags",
        label: "tag",
        plural: "Tags",
        section: "Incidents",
        help: "Labels on incidents.",
        key: Key::Serial,
        title: "name",
        order_by: "name",
        fields: &[
            Field::new("name", "Name", Kind::Text { min: 1, max: 128 }),
            Field::new("slug", "Slug", Kind::Slug { max: 128 }),
        ],
        columns: &["name", "slug"],
        create: true,
        delete: true,
        timestamps: false,
        single_true: &[],
        links: &[],
    },
    Model {
        slug: "users",
        table: "users",
        label: "user",
        plural: "Users",
        section: "People",
        help: "People (created by their first sign-in, Slack, or `firefighter-server create-user`). \
               Inactive users cannot sign in or use their tokens.",
        key: Key::Uuid,
        title: "email",
        order_by: "email",
        fields: &[
            Field::new("email", "E-mail", Kind::Text { min: 3, max: 128 }).fixed(),
            Field::new("name", "Name", Kind::Text { min: 0, max: 128 }),
            Field::new("first_name", "First name", Kind::Text { min: 0, max: 150 }),
            Field::new("last_name", "Last name", Kind::Text { min: 0, max: 150 }),
            Field::new("is_active", "Active", Kind::Bool),
            Field::new("is_staff", "Staff", Kind::Bool).help("May use this back-office."),
            Field::new("is_superuser", "Superuser", Kind::Bool).help("Has every permission."),
        ],
        columns: &["email", "name", "is_active", "is_staff", "is_superuser"],
        create: false,
        delete: false,
        timestamps: true,
        single_true: &[],
        links: &[],
    },
    Model {
        slug: "audit-log",
        table: "audit_log",
        label: "audit entry",
        plural: "Audit log",
        section: "Operations",
        help: "Every change, newest first: who, through which entry point, what, and its details. Read-only; \
               search by action (backoffice.update, incident.update, api_token.create …).",
        key: Key::Serial,
        title: "action",
        order_by: "occurred_at DESC",
        fields: &[
            Field::new("occurred_at", "When", Kind::Text { min: 0, max: 64 }).fixed(),
            Field::new("action", "Action", Kind::Text { min: 0, max: 200 }).fixed(),
            Field::new("object_type", "Object", Kind::Text { min: 0, max: 200 }).fixed(),
            Field::new("object_id", "Object id", Kind::Text { min: 0, max: 200 }).fixed(),
            Field::new("incident_id", "Incident", Kind::Int { min: 0, max: i64::MAX }).fixed(),
            Field::new("actor_user_id", "By", Kind::Ref { model: "users", optional: true }).fixed(),
            Field::new("entry_point", "Through", Kind::Text { min: 0, max: 20 }).fixed(),
            Field::new("details", "Details", Kind::Text { min: 0, max: 100_000 }).fixed(),
        ],
        columns: &["occurred_at", "action", "object_type", "object_id", "actor_user_id", "entry_point"],
        create: false,
        delete: false,
        timestamps: false,
        single_true: &[],
        links: &[],
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    fn input(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn a_new_row_takes_defaults_and_reports_every_bad_field() {
        let catalog = Catalog::new([]);
        let environments = catalog.get("environments").expect("environments");
        let values = environments
            .new_row(&input(&[("value", " QA "), ("name", "Quality")]), Input::Command)
            .expect("valid");
        let value = |name: &str| values.iter().find(|(f, _)| f.name == name).map(|(_, v)| v.clone());
        assert_eq!(value("value"), Some(Value::Text("QA".to_owned())));
        assert_eq!(value("sort_order"), Some(Value::Int(0)));
        assert_eq!(value("is_default"), Some(Value::Bool(false)));

        let refused = environments
            .new_row(
                &input(&[("value", ""), ("name", "x".repeat(129).as_str()), ("sort_order", "ten")]),
                Input::Form,
            )
            .expect_err("invalid");
        assert_eq!(refused.fields.len(), 3, "{refused}");
        assert_eq!(refused.fields["value"], "This field is required.");
    }

    #[test]
    fn fixed_fields_and_unknown_fields_are_refused_by_the_command_line() {
        let catalog = Catalog::new([]);
        let priorities = catalog.get("priorities").expect("priorities");
        assert!(priorities.new_row(&input(&[]), Input::Command).is_err(), "priorities are not created");
        let refused = priorities.changes(&input(&[("value", "3")]), Input::Command).expect_err("fixed");
        assert_eq!(refused.fields["value"], "Fixed once created.");
        let refused = priorities.changes(&input(&[("colour", "red")]), Input::Command).expect_err("unknown");
        assert!(refused.to_string().contains("no field \"colour\""), "{refused}");
        // A form leaves an unchecked box out: it means false. The command line leaves it unchanged.
        let form = priorities.changes(&input(&[("name", "P1")]), Input::Form).expect("valid");
        assert!(form.iter().any(|(f, v)| f.name == "is_default" && *v == Value::Bool(false)));
        let command = priorities.changes(&input(&[("name", "P1")]), Input::Command).expect("valid");
        assert_eq!(command.len(), 1);
    }

    #[test]
    fn references_and_choices_are_checked() {
        let catalog = Catalog::new([]);
        let levels = catalog.get("impact-levels").expect("levels");
        assert!(levels.field("value").expect("value").parse("XX").is_err());
        let categories = catalog.get("incident-categories").expect("categories");
        let group = categories.field("group_id").expect("group");
        assert_eq!(group.parse("").expect_err("required"), "This field is required.");
        assert_eq!(group.parse("12").expect("id"), Value::Int(12));
        let slug = catalog.get("role-types").and_then(|m| m.field("slug")).expect("slug");
        assert!(slug.parse("Commander!").is_err());
    }
}
