//! What Slack knows about incidents: their channel (the API's `slack_channel_name`, the export
//! column) and the last side effect Slack refused for good, with its reason.

use incidents_core::IncidentId;
use incidents_core::RepositoryError;
use incidents_core::facets::{Facet, FacetMap, FacetSource, SLACK_CHANNEL};

use crate::store::SlackStore;

/// The kind of the facet that reports a refused side effect.
pub const SLACK_FAILURE: &str = "slack_failure";

/// Slack's facets.
#[derive(Debug, Clone)]
pub struct SlackFacets {
    pub store: SlackStore,
}

impl FacetSource for SlackFacets {
    fn facets(&self, incidents: &[IncidentId]) -> Result<FacetMap, RepositoryError> {
        let ids: Vec<i64> = incidents.iter().map(|id| id.0).collect();
        let mut map = FacetMap::new();
        for channel in self.store.channels_of(&ids)? {
            let Some(incident) = channel.incident_id else { continue };
            map.entry(IncidentId(incident)).or_default().push(Facet {
                integration: "slack".into(),
                kind: SLACK_CHANNEL.into(),
                label: channel.name.clone(),
                url: Some(format!("https://slack.com/app_redirect?channel={}", channel.channel_id)),
                value: Some(channel.channel_id.clone()),
            });
        }
        for (incident, failure) in self.store.failures_of(&ids)? {
            map.entry(IncidentId(incident)).or_default().push(Facet {
                integration: "slack".into(),
                kind: SLACK_FAILURE.into(),
                label: failure.reason,
                url: None,
                value: Some(failure.step),
            });
        }
        Ok(map)
    }
}
