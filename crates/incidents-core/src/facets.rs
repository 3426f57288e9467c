//! Incident facets: what an integration knows about an incident (its Slack channel, its Jira ticket,
//! its post-mortem page), shown in the incident's API representation, its CSV export and the
//! dashboard's external resources. Integrations contribute a [`FacetSource`] through the composition
//! root; the readers ask every source for a page of incidents at once.

use std::collections::HashMap;

use serde::Serialize;

use crate::incident::IncidentId;
use crate::ports::RepositoryError;

/// Well-known kinds that fill the original API's fields: `slack_channel` (its label is
/// `slack_channel_name`) and `jira_ticket` (`jira_ticket_id` = value, `jira_ticket_key` = label,
/// `jira_ticket_url` = url).
pub const SLACK_CHANNEL: &str = "slack_channel";
/// See [`SLACK_CHANNEL`].
pub const JIRA_TICKET: &str = "jira_ticket";

/// One thing an integration knows about an incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Facet {
    /// The integration that knows it (`slack`, `jira`, or a private crate's name).
    pub integration: String,
    /// What it is (`slack_channel`, `jira_ticket`, `postmortem`, …).
    pub kind: String,
    /// What a person reads (`#inc-123-checkout`, `INC-42`).
    pub label: String,
    /// Where it is, when it has an address.
    pub url: Option<String>,
    /// A machine value (an id), when there is one.
    pub value: Option<String>,
}

/// Facets per incident.
pub type FacetMap = HashMap<IncidentId, Vec<Facet>>;

/// An integration's facets.
pub trait FacetSource: Send + Sync {
    /// The facets of each of `incidents` this source knows something about (in one query).
    ///
    /// # Errors
    /// A storage failure.
    fn facets(&self, incidents: &[IncidentId]) -> Result<FacetMap, RepositoryError>;
}

/// Every integration's facets: asks each source in turn and merges, in registration order.
#[derive(Clone, Default)]
pub struct Facets {
    sources: Vec<std::sync::Arc<dyn FacetSource>>,
}

impl std::fmt::Debug for Facets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Facets").field("sources", &self.sources.len()).finish()
    }
}

impl Facets {
    /// Facets from these sources.
    #[must_use]
    pub fn new(sources: Vec<std::sync::Arc<dyn FacetSource>>) -> Self {
        Self { sources }
    }

    /// Whether no integration contributes facets (readers then skip the lookup).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.sources.is_empty()
    }

    /// Every source's facets of `incidents`.
    ///
    /// # Errors
    /// The first source that fails.
    pub fn of(&self, incidents: &[IncidentId]) -> Result<FacetMap, RepositoryError> {
        let mut all = FacetMap::new();
        if incidents.is_empty() {
            return Ok(all);
        }
        for source in &self.sources {
            for (id, facets) in source.facets(incidents)? {
                all.entry(id).or_default().extend(facets);
            }
        }
        Ok(all)
    }
}
