//! The paging port: what the product needs from an on-call paging service (PagerDuty) to get a
//! human out of bed for an incident. The paging integration implements it; Slack's on-call modal, the
//! dashboard and private integrations use it without depending on PagerDuty. With none configured,
//! the composition root installs [`NoPaging`], which says so (the on-call modal explains
//! why it cannot page).
//!
//! [`PagingPort::services`] and [`PagingPort::pages`] read what the integration keeps locally (they
//! run inside requests); [`PagingPort::trigger`] calls the service and runs in a job.

use crate::incident::IncidentId;

/// A service that can be paged (a PagerDuty service).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PagingService {
    /// The paging platform's id.
    pub id: String,
    pub name: String,
    /// Its page on the paging platform.
    pub url: Option<String>,
}

/// A page already sent for an incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub service: PagingService,
    /// The paging platform's incident and its page.
    pub reference: String,
    pub url: Option<String>,
}

/// What to page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    pub incident_id: IncidentId,
    pub service_id: String,
    /// Pages with the same key are one page (a job retried after a crash pages once).
    pub dedup_key: String,
    pub title: String,
    pub description: String,
    /// Where responders meet (the incident's channel, or its page).
    pub conference_url: Option<String>,
    /// Who asked, for the paging platform's record.
    pub triggered_by: String,
}

/// Why paging failed, in terms a job can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PagingError {
    /// No paging service is configured.
    #[error("no paging service is configured")]
    NotConfigured,
    /// The service to page is unknown (or ignored).
    #[error("unknown service {0}")]
    UnknownService(String),
    /// Retrying may succeed (a timeout, a 5xx, a rate limit).
    #[error("temporary failure: {0}")]
    Transient(String),
    /// Retrying cannot help.
    #[error("{0}")]
    Permanent(String),
}

impl PagingError {
    /// Whether a job should try again later.
    #[must_use]
    pub const fn is_retryable(&self) -> bool {
        matches!(self, Self::Transient(_))
    }
}

/// The paging service, as the product uses it for incidents.
pub trait PagingPort: Send + Sync {
    /// The platform's name (`pagerduty`), or `none`.
    fn platform(&self) -> &'static str;

    /// The services that can be paged, as last synced (no remote call).
    ///
    /// # Errors
    /// [`PagingError::NotConfigured`], or a storage failure as [`PagingError::Transient`].
    fn services(&self) -> Result<Vec<PagingService>, PagingError>;

    /// The pages already sent for the incident (no remote call).
    ///
    /// # Errors
    /// As [`PagingPort::services`].
    fn pages(&self, incident: IncidentId) -> Result<Vec<Page>, PagingError>;

    /// Pages a service (blocking: from a job). Paging again with the same `dedup_key` returns the
    /// page already sent.
    ///
    /// # Errors
    /// See [`PagingError`].
    fn trigger(&self, request: &PageRequest) -> Result<Page, PagingError>;
}

/// No paging service: every call answers [`PagingError::NotConfigured`].
#[derive(Debug, Clone, Copy, Default)]
pub struct NoPaging;

impl PagingPort for NoPaging {
    fn platform(&self) -> &'static str {
        "none"
    }

    fn services(&self) -> Result<Vec<PagingService>, PagingError> {
        Err(PagingError::NotConfigured)
    }

    fn pages(&self, _incident: IncidentId) -> Result<Vec<Page>, PagingError> {
        Err(PagingError::NotConfigured)
    }

    fn trigger(&self, _request: &PageRequest) -> Result<Page, PagingError> {
        Err(PagingError::NotConfigured)
    }
}
