//! The web dashboard: where incidents are reviewed and, without Slack, declared and run
//! (firefighter-core.md §3), at the original's paths so existing links keep working.
//!
//! - [`session`]: sign-in sessions kept in the database (revocable; the browser holds a random id,
//!   the table only its hash), their cookie, and the CSRF checks every unsafe request passes.
//! - [`signin`]: local accounts at `/admin/login/` (argon2), sign-out, and the limit on failed
//!   attempts; sign-ins, failures and sign-outs are audited.
//! - [`pages`]: `/`, `/incident/` (filters shared with the API, synced to the URL, paginated, CSV/TSV
//!   exports through the API's export code), `/incident/create/`, `/incident/<id>/` with its update and
//!   key-events forms. Every change goes through the lifecycle, like the API's and Slack's, and every
//!   form works without JavaScript; with it, HTMX swaps the part that changed.
//! - `side_effects`: an incident's failed jobs, shown to staff on its page, with a retry for the dead.
//! - [`assets`]: htmx and Pico, vendored from the npm registry and embedded, under versioned paths.
//!
//! Pages are askama templates in `firefighter-dashboard-templates`.

pub mod assets;
mod backoffice;
mod config;
mod declare;
mod docs;
pub mod oidc;
mod pages;
pub mod proxy;
mod render;
mod reports;
pub mod session;
mod side_effects;
pub mod signin;
mod statistics;

use std::sync::Arc;

use actix_web::web;
use diesel_migrations::{EmbeddedMigrations, embed_migrations};
use platform::{ConfigReader, Context, Integration};
use storage::MigrationSet;

pub use config::{DashboardConfig, OidcConfig};

static SQLITE: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
static POSTGRES: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// The dashboard, as an integration: its configuration, its sessions table and its pages.
#[derive(Debug, Default)]
pub struct Dashboard {
    config: DashboardConfig,
}

/// What the pages share.
#[derive(Clone)]
pub(crate) struct State {
    pub context: Context,
    pub config: Arc<DashboardConfig>,
    pub sessions: session::Sessions,
    /// Single sign-on, when configured.
    pub oidc: oidc::SharedOidc,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State").field("config", &self.config).finish_non_exhaustive()
    }
}

impl Integration for Dashboard {
    fn name(&self) -> &'static str {
        "dashboard"
    }

    fn read_config(&mut self, env: &mut ConfigReader<'_>) {
        self.config = DashboardConfig::read(env);
    }

    fn migrations(&self) -> Option<MigrationSet> {
        Some(MigrationSet { name: "dashboard", sqlite: &SQLITE, postgres: &POSTGRES })
    }

    fn backoffice_actions(&self, context: &Context) -> Vec<platform::actions::TableAction> {
        vec![backoffice::create_account(context)]
    }

    fn site_routes(&self, context: &Context, routes: &mut web::ServiceConfig) {
        let secure = context.config.base_url.scheme() == "https" || self.config.secure_cookies;
        let oidc = self.config.oidc.clone().and_then(|config| {
            oidc::Oidc::new(config, &context.config.base_url, context.secret_key.expose())
                .map_err(
                    |error| tracing::error!(%error, "single sign-on is off: its HTTP client cannot be built"),
                )
                .ok()
                .map(Arc::new)
        });
        let state = State {
            context: context.clone(),
            config: Arc::new(self.config.clone()),
            sessions: session::Sessions::new(
                context.database.clone(),
                self.config.session_lifetime,
                secure,
                self.config.trusted_proxies.clone(),
            ),
            oidc,
        };
        routes.app_data(web::Data::new(state));
        assets::configure(routes);
        signin::configure(routes);
        // After the sign-in pages: `/admin/{model}` would take `/admin/login`.
        backoffice::configure(routes);
        oidc::configure(routes);
        pages::configure(routes);
        docs::configure(routes);
        reports::configure(routes);
        statistics::configure(routes);
    }
}
