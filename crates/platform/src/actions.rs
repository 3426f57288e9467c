//! Operations an integration offers staff, as small forms the dashboard renders and submits without
//! knowing the integration: on an incident's page (link a Jira issue, unlink it …), and on one of its
//! back-office tables (register a webhook, whose secret only the integration can seal).

use std::collections::BTreeMap;
use std::sync::Arc;

use incidents_core::{Actor, IncidentId};

/// A field of an action's form (text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionField {
    pub name: &'static str,
    pub label: String,
    pub placeholder: String,
    /// A secret: typed into a password field, never shown back or audited.
    pub secret: bool,
}

/// Why an action did not run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ActionError {
    /// A field is invalid, or the action does not apply to this incident (shown to the person).
    #[error("{0}")]
    Invalid(String),
    /// Something failed (logged; the person is told it failed).
    #[error("{0}")]
    Failed(String),
}

/// What an action does: given the incident, the form's fields and who asks, a sentence to show.
/// Runs on a blocking thread.
pub type ActionRun =
    Arc<dyn Fn(IncidentId, &BTreeMap<String, String>, Actor) -> Result<String, ActionError> + Send + Sync>;

/// One operation on an incident.
#[derive(Clone)]
pub struct IncidentAction {
    /// The integration offering it, and its name there (together: its address).
    pub integration: &'static str,
    pub name: &'static str,
    /// The form's heading, a sentence of help, and its button.
    pub title: String,
    pub help: String,
    pub submit: String,
    pub fields: Vec<ActionField>,
    pub run: ActionRun,
}

impl std::fmt::Debug for IncidentAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IncidentAction")
            .field("integration", &self.integration)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// Every integration's actions, in registration order.
#[derive(Debug, Clone, Default)]
pub struct IncidentActions(Arc<Vec<IncidentAction>>);

impl IncidentActions {
    #[must_use]
    pub fn new(actions: Vec<IncidentAction>) -> Self {
        Self(Arc::new(actions))
    }

    /// Every action.
    #[must_use]
    pub fn all(&self) -> &[IncidentAction] {
        &self.0
    }

    /// The action at this address.
    #[must_use]
    pub fn find(&self, integration: &str, name: &str) -> Option<&IncidentAction> {
        self.0.iter().find(|action| action.integration == integration && action.name == name)
    }
}

/// What a table action does: given the form's fields and who asks, a sentence to show. Runs on a
/// blocking thread.
pub type TableActionRun =
    Arc<dyn Fn(&BTreeMap<String, String>, Actor) -> Result<String, ActionError> + Send + Sync>;

/// One operation on a back-office table (`incidents_core::backoffice::Model::slug`), shown on its list.
#[derive(Clone)]
pub struct TableAction {
    pub integration: &'static str,
    /// The table it belongs to.
    pub model: &'static str,
    pub name: &'static str,
    pub title: String,
    pub help: String,
    pub submit: String,
    pub fields: Vec<ActionField>,
    pub run: TableActionRun,
}

impl std::fmt::Debug for TableAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TableAction")
            .field("integration", &self.integration)
            .field("model", &self.model)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// Every integration's table actions, in registration order.
#[derive(Debug, Clone, Default)]
pub struct TableActions(Arc<Vec<TableAction>>);

impl TableActions {
    #[must_use]
    pub fn new(actions: Vec<TableAction>) -> Self {
        Self(Arc::new(actions))
    }

    /// The actions on one table.
    pub fn of<'a>(&'a self, model: &'a str) -> impl Iterator<Item = &'a TableAction> + 'a {
        self.0.iter().filter(move |action| action.model == model)
    }

    /// The action at this address.
    #[must_use]
    pub fn find(&self, model: &str, integration: &str, name: &str) -> Option<&TableAction> {
        self.0
            .iter()
            .find(|action| action.model == model && action.integration == integration && action.name == name)
    }
}
