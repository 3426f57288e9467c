//! The one form ↔ Block Kit layer every modal uses (firefighter-slack.md §6): a form is a list of
//! typed fields; each field renders as an element inside an input, a section or an actions block whose
//! `block_id` is the field's name; `view.state.values` parses back into typed inputs; validation
//! answers `response_action: errors` keyed by the block the error concerns.
//!
//! Selects, user selects and date pickers carry `action_id = "<field>___<stamp>"` when a view is
//! rebuilt with new initial values (Slack keeps what the person typed in an element whose ids did not
//! change); parsing keeps the part before `___`.

use std::collections::BTreeMap;

use serde_json::{Value, json};

/// Slack's limit on an option's text and value.
const OPTION_MAX: usize = 75;
/// Slack's limit on a modal title.
pub const TITLE_MAX: usize = 24;
/// Slack's limit on an `action_id`.
const ACTION_ID_MAX: usize = 255;

/// One choice of a select.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    pub value: String,
    pub label: String,
}

impl Choice {
    #[must_use]
    pub fn new(value: impl Into<String>, label: impl Into<String>) -> Self {
        Self { value: value.into(), label: label.into() }
    }

    fn option(&self) -> Value {
        let label = if self.label.chars().count() > OPTION_MAX {
            format!("{}…", self.label.chars().take(OPTION_MAX - 1).collect::<String>())
        } else {
            self.label.clone()
        };
        let value: String = self.value.chars().take(OPTION_MAX).collect();
        json!({"text": {"type": "plain_text", "text": label, "emoji": true}, "value": value})
    }
}

/// What a field holds, with its initial value.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// `plain_text_input`; lengths in characters.
    Text { multiline: bool, min: usize, max: usize, placeholder: Option<String>, initial: Option<String> },
    /// `static_select`, with option groups when `groups` is not empty.
    Select { choices: Vec<Choice>, groups: Vec<(String, Vec<Choice>)>, initial: Option<String> },
    /// `multi_static_select`.
    MultiSelect { choices: Vec<Choice>, initial: Vec<String> },
    /// `users_select`; the initial value is a Slack user id.
    User { initial: Option<String> },
    /// `datetimepicker`; epoch seconds.
    DateTime { initial: Option<i64> },
    /// `checkboxes` with one option, "Yes".
    Flag { initial: bool },
}

/// A form field.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    /// The block id, and the action id before any stamp.
    pub name: String,
    pub label: String,
    pub hint: Option<String>,
    pub required: bool,
    pub kind: Kind,
    /// Whether changing the element sends a `block_actions` at once (input blocks only).
    pub dispatch: bool,
}

impl Field {
    /// A required field.
    #[must_use]
    pub fn new(name: &str, label: &str, kind: Kind) -> Self {
        Self {
            name: name.to_owned(),
            label: label.to_owned(),
            hint: None,
            required: true,
            kind,
            dispatch: false,
        }
    }

    #[must_use]
    pub fn optional(mut self) -> Self {
        self.required = false;
        self
    }

    #[must_use]
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        let hint = hint.into();
        self.hint = (!hint.trim().is_empty()).then_some(hint);
        self
    }

    fn all_choices(&self) -> Vec<&Choice> {
        match &self.kind {
            Kind::Select { choices, groups, .. } => {
                choices.iter().chain(groups.iter().flat_map(|(_, choices)| choices)).collect()
            }
            Kind::MultiSelect { choices, .. } => choices.iter().collect(),
            _ => Vec::new(),
        }
    }

    fn action_id(&self, stamp: &str) -> String {
        let restamped = matches!(self.kind, Kind::Select { .. } | Kind::User { .. } | Kind::DateTime { .. });
        if restamped && !stamp.is_empty() {
            format!("{}___{stamp}", self.name).chars().take(ACTION_ID_MAX).collect()
        } else {
            self.name.clone()
        }
    }

    /// The interactive element.
    #[must_use]
    pub fn element(&self, stamp: &str) -> Value {
        let action_id = self.action_id(stamp);
        let placeholder = |text: &str| json!({"type": "plain_text", "text": text, "emoji": true});
        let find = |value: &str| self.all_choices().into_iter().find(|choice| choice.value == value).cloned();
        match &self.kind {
            Kind::Text { multiline, min, max, placeholder: hint, initial } => {
                let mut element =
                    json!({"type": "plain_text_input", "action_id": action_id, "multiline": multiline});
                if *min > 0 {
                    element["min_length"] = json!(min);
                }
                if *max > 0 {
                    element["max_length"] = json!(max);
                }
                if let Some(hint) = hint {
                    element["placeholder"] = placeholder(hint);
                }
                if let Some(initial) = initial.as_deref().filter(|text| !text.is_empty()) {
                    element["initial_value"] = json!(initial);
                }
                element
            }
            Kind::Select { choices, groups, initial } => {
                let mut element = json!({"type": "static_select", "action_id": action_id,
                    "placeholder": placeholder("Select an option")});
                if groups.is_empty() {
                    let mut options: Vec<Value> = choices.iter().map(Choice::option).collect();
                    if options.is_empty() {
                        options.push(Choice::new("__placeholder__", "Please select an option").option());
                    }
                    element["options"] = json!(options);
                } else {
                    let groups: Vec<Value> = groups
                        .iter()
                        .filter(|(_, choices)| !choices.is_empty())
                        .map(|(label, choices)| {
                            json!({"label": {"type": "plain_text", "text": crate::naming::shorten(label, OPTION_MAX)},
                                "options": choices.iter().map(Choice::option).collect::<Vec<_>>()})
                        })
                        .collect();
                    element["option_groups"] = json!(groups);
                }
                if let Some(choice) = initial.as_deref().and_then(find) {
                    element["initial_option"] = choice.option();
                }
                element
            }
            Kind::MultiSelect { choices, initial } => {
                let mut element = json!({"type": "multi_static_select", "action_id": action_id,
                    "placeholder": placeholder("Select options"),
                    "options": choices.iter().map(Choice::option).collect::<Vec<_>>()});
                let initial: Vec<Value> =
                    initial.iter().filter_map(|value| find(value)).map(|choice| choice.option()).collect();
                if !initial.is_empty() {
                    element["initial_options"] = json!(initial);
                }
                element
            }
            Kind::User { initial } => {
                let mut element = json!({"type": "users_select", "action_id": action_id,
                    "placeholder": placeholder("Select a person")});
                if let Some(initial) = initial {
                    element["initial_user"] = json!(initial);
                }
                element
            }
            Kind::DateTime { initial } => {
                let mut element = json!({"type": "datetimepicker", "action_id": action_id});
                if let Some(initial) = initial {
                    element["initial_date_time"] = json!(initial);
                }
                element
            }
            Kind::Flag { initial } => {
                let yes = Choice::new("True", "Yes").option();
                let mut element =
                    json!({"type": "checkboxes", "action_id": action_id, "options": [yes.clone()]});
                if *initial {
                    element["initial_options"] = json!([yes]);
                }
                element
            }
        }
    }

    /// An input block (the default wrapper).
    #[must_use]
    pub fn input(&self, stamp: &str) -> Value {
        let mut block = json!({"type": "input", "block_id": self.name,
            "label": {"type": "plain_text", "text": crate::naming::shorten(&self.label, 2000), "emoji": true},
            "optional": !self.required, "element": self.element(stamp)});
        if let Some(hint) = &self.hint {
            block["hint"] =
                json!({"type": "plain_text", "text": crate::naming::shorten(hint, 2000), "emoji": true});
        }
        if self.dispatch {
            block["dispatch_action"] = json!(true);
        }
        block
    }

    /// A section with the element as its accessory (changes are sent at once).
    #[must_use]
    pub fn section(&self, stamp: &str) -> Value {
        let mut text = format!("*{}*", self.label);
        if let Some(hint) = &self.hint {
            text.push('\n');
            text.push_str(hint);
        }
        json!({"type": "section", "block_id": self.name, "text": {"type": "mrkdwn", "text": text},
            "accessory": self.element(stamp)})
    }

    /// An actions block holding the element (changes are sent at once), for messages.
    #[must_use]
    pub fn actions(&self, stamp: &str) -> Value {
        json!({"type": "actions", "block_id": self.name, "elements": [self.element(stamp)]})
    }
}

/// A value read back from `state.values`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    Text(Option<String>),
    Choice(Option<String>),
    Choices(Vec<String>),
    User(Option<String>),
    DateTime(Option<i64>),
    Flag(bool),
}

/// The field name an `action_id` belongs to.
#[must_use]
pub fn field_of(action_id: &str) -> &str {
    action_id.split_once("___").map_or(action_id, |(name, _)| name)
}

/// Reads one element's state (also a `block_actions` action, which has the same shape).
#[must_use]
pub fn read_element(element: &Value) -> Option<Input> {
    let text = |pointer: &str| element.pointer(pointer).and_then(Value::as_str).map(str::to_owned);
    Some(match element.get("type").and_then(Value::as_str)? {
        "plain_text_input" => Input::Text(text("/value")),
        "static_select" | "radio_buttons" | "external_select" => {
            Input::Choice(text("/selected_option/value"))
        }
        "multi_static_select" => Input::Choices(
            element
                .get("selected_options")
                .and_then(Value::as_array)
                .map(|options| {
                    options
                        .iter()
                        .filter_map(|o| o.get("value").and_then(Value::as_str))
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
        ),
        "users_select" => Input::User(text("/selected_user")),
        "datetimepicker" => Input::DateTime(element.get("selected_date_time").and_then(Value::as_i64)),
        "checkboxes" => {
            Input::Flag(element.get("selected_options").and_then(Value::as_array).is_some_and(|options| {
                options.iter().any(|o| o.get("value").and_then(Value::as_str) == Some("True"))
            }))
        }
        _ => return None,
    })
}

/// Why a submission could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected a values dict in the body")]
pub struct MissingValues;

/// Parses `view.state.values` (or a message's `state.values`): one input per field, keyed by the
/// field name (the action id before `___`).
///
/// # Errors
/// [`MissingValues`] when `values` is not an object.
pub fn parse_state(values: Option<&Value>) -> Result<BTreeMap<String, Input>, MissingValues> {
    let values = values.and_then(Value::as_object).ok_or(MissingValues)?;
    let mut parsed = BTreeMap::new();
    for block in values.values() {
        let Some(actions) = block.as_object() else { continue };
        for (action_id, element) in actions {
            if let Some(input) = read_element(element) {
                parsed.insert(field_of(action_id).to_owned(), input);
            }
        }
    }
    Ok(parsed)
}

/// Errors per block, answered as `response_action: errors`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Errors(pub BTreeMap<String, Vec<String>>);

impl Errors {
    /// One error on one block.
    #[must_use]
    pub fn on(block: &str, message: impl Into<String>) -> Self {
        let mut errors = Self::default();
        errors.add(block, message);
        errors
    }

    pub fn add(&mut self, block: &str, message: impl Into<String>) {
        self.0.entry(block.to_owned()).or_default().push(message.into());
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The acknowledgement that shows them.
    #[must_use]
    pub fn response(&self) -> Value {
        let errors: serde_json::Map<String, Value> = self
            .0
            .iter()
            .map(|(block, messages)| {
                (block.clone(), json!(crate::naming::shorten(&messages.join("; "), 2000)))
            })
            .collect();
        json!({"response_action": "errors", "errors": errors})
    }
}

/// Validated values of a form, by field name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Values(pub BTreeMap<String, Input>);

impl Values {
    /// A text, trimmed; `None` when blank or absent.
    #[must_use]
    pub fn text(&self, name: &str) -> Option<String> {
        match self.0.get(name) {
            Some(Input::Text(Some(text))) => Some(text.trim().to_owned()).filter(|t| !t.is_empty()),
            _ => None,
        }
    }

    #[must_use]
    pub fn choice(&self, name: &str) -> Option<String> {
        match self.0.get(name) {
            Some(Input::Choice(value)) => value.clone(),
            _ => None,
        }
    }

    #[must_use]
    pub fn choices(&self, name: &str) -> Vec<String> {
        match self.0.get(name) {
            Some(Input::Choices(values)) => values.clone(),
            _ => Vec::new(),
        }
    }

    #[must_use]
    pub fn user(&self, name: &str) -> Option<String> {
        match self.0.get(name) {
            Some(Input::User(value)) => value.clone(),
            _ => None,
        }
    }

    #[must_use]
    pub fn flag(&self, name: &str) -> bool {
        matches!(self.0.get(name), Some(Input::Flag(true)))
    }
}

/// A form: its fields in order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Form {
    pub fields: Vec<Field>,
}

impl Form {
    /// The field called `name`.
    #[must_use]
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|field| field.name == name)
    }

    /// Input blocks for every field.
    #[must_use]
    pub fn inputs(&self, stamp: &str) -> Vec<Value> {
        self.fields.iter().map(|field| field.input(stamp)).collect()
    }

    /// Checks a submission against the fields: required values present, texts within their
    /// lengths, choices among the options offered.
    ///
    /// # Errors
    /// The errors, per block.
    pub fn validate(&self, submitted: &BTreeMap<String, Input>) -> Result<Values, Errors> {
        let mut errors = Errors::default();
        let mut values = BTreeMap::new();
        for field in &self.fields {
            let input = submitted.get(&field.name);
            // A select built without its choices accepts any value: the caller checks it (a submission
            // whose references the lifecycle checks anyway).
            let open = field.all_choices().is_empty();
            let offered =
                |value: &str| open || field.all_choices().iter().any(|choice| choice.value == value);
            let empty = match (&field.kind, input) {
                (Kind::Text { min, max, .. }, Some(Input::Text(Some(text)))) => {
                    let length = text.trim().chars().count();
                    if length > 0 && length < *min {
                        errors.add(
                            &field.name,
                            format!("Ensure this value has at least {min} characters (it has {length})."),
                        );
                    }
                    if *max > 0 && length > *max {
                        errors.add(
                            &field.name,
                            format!("Ensure this value has at most {max} characters (it has {length})."),
                        );
                    }
                    length == 0
                }
                (Kind::Select { .. }, Some(Input::Choice(Some(value)))) => {
                    if !offered(value) {
                        errors.add(
                            &field.name,
                            "Select a valid choice. That choice is not one of the available choices.",
                        );
                    }
                    false
                }
                (Kind::MultiSelect { .. }, Some(Input::Choices(chosen))) => {
                    if chosen.iter().any(|value| !offered(value)) {
                        errors.add(
                            &field.name,
                            "Select a valid choice. That choice is not one of the available choices.",
                        );
                    }
                    chosen.is_empty()
                }
                (Kind::User { .. }, Some(Input::User(Some(_))))
                | (Kind::DateTime { .. }, Some(Input::DateTime(Some(_)))) => false,
                (Kind::Flag { .. }, Some(Input::Flag(_))) => false,
                (Kind::Flag { .. }, None) => {
                    values.insert(field.name.clone(), Input::Flag(false));
                    continue;
                }
                _ => true,
            };
            if empty && field.required {
                errors.add(&field.name, "This field is required.");
            }
            if let Some(input) = input {
                values.insert(field.name.clone(), input.clone());
            }
        }
        if errors.is_empty() { Ok(Values(values)) } else { Err(errors) }
    }
}

/// A modal view. The title is cut to Slack's 24 characters.
#[must_use]
pub fn modal(
    callback_id: &str,
    title: &str,
    submit: Option<&str>,
    close: Option<&str>,
    blocks: Vec<Value>,
    private_metadata: &str,
) -> Value {
    let text = |text: &str| json!({"type": "plain_text", "text": text, "emoji": true});
    let title: String = title.chars().take(TITLE_MAX).collect();
    let mut view = json!({"type": "modal", "callback_id": callback_id, "title": text(&title),
        "blocks": Value::Array(blocks), "private_metadata": private_metadata});
    if let Some(submit) = submit {
        view["submit"] = text(submit);
    }
    if let Some(close) = close {
        view["close"] = text(close);
    }
    view
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text_field() -> Field {
        Field::new(
            "title",
            "Title",
            Kind::Text { multiline: false, min: 10, max: 128, placeholder: None, initial: None },
        )
    }

    #[test]
    fn fields_render_with_stable_block_ids_and_stamped_action_ids() {
        let select = Field::new(
            "status",
            "Status",
            Kind::Select {
                choices: vec![Choice::new("20", "Investigating")],
                groups: vec![],
                initial: Some("20".into()),
            },
        );
        let block = select.input("1700000000");
        assert_eq!(block["block_id"], "status");
        assert_eq!(block["element"]["action_id"], "status___1700000000");
        assert_eq!(block["element"]["initial_option"]["value"], "20");
        assert_eq!(text_field().input("x")["element"]["action_id"], "title");
        let long = Choice::new("v".repeat(80), "l".repeat(80)).option();
        assert_eq!(long["value"].as_str().map(str::len), Some(75));
        assert!(long["text"]["text"].as_str().is_some_and(|t| t.ends_with('…') && t.chars().count() == 75));
    }

    #[test]
    fn state_values_parse_back_by_field_name() {
        let values = json!({
            "title": {"title": {"type": "plain_text_input", "value": "Checkout is down"}},
            "status": {"status___17": {"type": "static_select", "selected_option": {"value": "20"}}},
            "environment": {"environment": {"type": "multi_static_select", "selected_options": [{"value": "a"}, {"value": "b"}]}},
            "commander": {"commander___x": {"type": "users_select", "selected_user": "U1"}},
            "flag": {"flag": {"type": "checkboxes", "selected_options": [{"value": "True"}]}},
            "when": {"when": {"type": "datetimepicker", "selected_date_time": 1_700_000_000}}
        });
        let parsed = parse_state(Some(&values)).expect("values");
        assert_eq!(parsed["title"], Input::Text(Some("Checkout is down".into())));
        assert_eq!(parsed["status"], Input::Choice(Some("20".into())));
        assert_eq!(parsed["environment"], Input::Choices(vec!["a".into(), "b".into()]));
        assert_eq!(parsed["commander"], Input::User(Some("U1".into())));
        assert_eq!(parsed["flag"], Input::Flag(true));
        assert_eq!(parsed["when"], Input::DateTime(Some(1_700_000_000)));
        assert_eq!(parse_state(None), Err(MissingValues));
    }

    #[test]
    fn validation_names_the_block_and_rejects_choices_not_offered() {
        let form = Form {
            fields: vec![
                text_field(),
                Field::new(
                    "status",
                    "Status",
                    Kind::Select { choices: vec![Choice::new("20", "I")], groups: vec![], initial: None },
                ),
            ],
        };
        let mut submitted = BTreeMap::new();
        submitted.insert("title".to_owned(), Input::Text(Some("short".into())));
        submitted.insert("status".to_owned(), Input::Choice(Some("60".into())));
        let errors = form.validate(&submitted).expect_err("invalid");
        let response = errors.response();
        assert_eq!(response["response_action"], "errors");
        assert!(response["errors"]["title"].as_str().is_some_and(|m| m.contains("at least 10")));
        assert!(response["errors"]["status"].as_str().is_some_and(|m| m.contains("valid choice")));
        submitted.insert("title".to_owned(), Input::Text(Some("  Checkout is down  ".into())));
        submitted.insert("status".to_owned(), Input::Choice(Some("20".into())));
        let values = form.validate(&submitted).expect("valid");
        assert_eq!(values.text("title").as_deref(), Some("Checkout is down"));
        submitted.remove("status");
        assert!(form.validate(&submitted).expect_err("required").0.contains_key("status"));
    }
}
