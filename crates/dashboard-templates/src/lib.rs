//! The dashboard's pages as askama templates, checked when this crate builds. Templates receive
//! plain, already formatted data (strings, numbers, flags): the dashboard crate reads the domain and
//! fills them in, so this crate depends on nothing of ours and a page edit rebuilds only it.
//!
//! Every value is HTML-escaped by askama unless a template says otherwise (none does).

pub use askama::Template;

/// What every page's frame shows.
#[derive(Debug, Clone, Default)]
pub struct Layout {
    pub app_name: String,
    pub title: String,
    /// The signed-in person's display name; `None` on the sign-in page.
    pub user: Option<String>,
    pub is_staff: bool,
    /// The CSRF token every form and HTMX request carries.
    pub csrf: String,
    /// The assets' path prefix (`/static/<version>`).
    pub assets: String,
    /// Which navigation entry is current: `home`, `incidents`, `create`.
    pub section: &'static str,
}

/// A choice in a form's select.
#[derive(Debug, Clone, Default)]
pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

/// One incident in a list.
#[derive(Debug, Clone, Default)]
pub struct IncidentRow {
    pub id: i64,
    pub title: String,
    pub status: String,
    /// `open`, `investigating` …: a CSS hook.
    pub status_class: String,
    pub priority: String,
    pub category: String,
    pub environment: String,
    pub created_at: String,
    pub private: bool,
}

/// Open incidents in one status.
#[derive(Debug, Clone, Default)]
pub struct StatusGroup {
    pub label: String,
    /// How many incidents are in this status (more than shown when `more`).
    pub total: u64,
    pub more: bool,
    /// The list of all of them.
    pub link: String,
    pub incidents: Vec<IncidentRow>,
}

/// `/admin/login/`.
#[derive(Template, Debug)]
#[template(path = "login.html")]
pub struct LoginPage {
    pub layout: Layout,
    pub next: String,
    pub email: String,
    pub error: Option<String>,
    pub sso: bool,
}

/// `/`: open incidents by status.
#[derive(Template, Debug)]
#[template(path = "home.html")]
pub struct HomePage {
    pub layout: Layout,
    pub groups: Vec<StatusGroup>,
    pub open: u64,
}

/// The filters of `/incident/`.
#[derive(Debug, Clone, Default)]
pub struct Filters {
    pub search: String,
    pub created_at: String,
    pub statuses: Vec<Choice>,
    pub priorities: Vec<Choice>,
    pub environments: Vec<Choice>,
    pub categories: Vec<Choice>,
}

/// `/incident/`: the list, and the results alone for HTMX.
#[derive(Template, Debug)]
#[template(path = "incidents.html")]
pub struct ListPage {
    pub layout: Layout,
    pub filters: Filters,
    pub results: Results,
}

/// The results part of `/incident/`.
#[derive(Template, Debug, Clone, Default)]
#[template(path = "results.html")]
pub struct Results {
    pub rows: Vec<IncidentRow>,
    pub error: Option<String>,
    /// The query string of the current filters (without the page), for links.
    pub query: String,
    pub previous: Option<String>,
    pub next: Option<String>,
    pub first: u64,
    pub last: u64,
}

/// A field's error, shown beside it.
#[derive(Debug, Clone, Default)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// Looks up a field's error.
#[must_use]
pub fn error_of<'a>(errors: &'a [FieldError], field: &str) -> Option<&'a str> {
    errors.iter().find(|error| error.field == field).map(|error| error.message.as_str())
}

/// `/incident/create/`: the short form.
#[derive(Template, Debug)]
#[template(path = "create.html")]
pub struct CreatePage {
    pub layout: Layout,
    pub title: String,
    pub description: String,
    /// The priority comes from the impacts (no priority chosen).
    pub from_impacts: bool,
    pub priorities: Vec<Choice>,
    /// One level choice per impact type.
    pub impacts: Vec<ImpactField>,
    /// The priority the chosen impacts give.
    pub preview: PriorityPreview,
    pub categories: Vec<(String, Vec<Choice>)>,
    pub environments: Vec<Choice>,
    pub private: bool,
    pub errors: Vec<FieldError>,
}

/// One impact type's level choice in the declaration form.
#[derive(Debug, Clone, Default)]
pub struct ImpactField {
    /// The form field: `impact_<type id>`.
    pub field: String,
    pub name: String,
    pub help: String,
    pub choices: Vec<Choice>,
}

/// The priority the chosen impacts give, under them in the declaration form (re-rendered alone as
/// they change).
#[derive(Template, Debug, Clone, Default)]
#[template(path = "priority_preview.html")]
pub struct PriorityPreview {
    /// The priority's label; empty when there is none.
    pub priority: String,
    /// Why there is none (every impact "no impact" …); empty when there is one or nothing was chosen.
    pub problem: String,
}

/// A labelled value.
#[derive(Debug, Clone, Default)]
pub struct Fact {
    pub label: String,
    pub value: String,
    /// A link the value points to, if any.
    pub url: Option<String>,
}

/// One timeline entry.
#[derive(Debug, Clone, Default)]
pub struct TimelineRow {
    pub at: String,
    pub author: String,
    pub message: String,
    pub changes: Vec<String>,
    pub event_type: String,
}

/// A key event's editable time.
#[derive(Debug, Clone, Default)]
pub struct KeyEventField {
    pub event_type: String,
    pub name: String,
    pub summary: String,
    pub required: bool,
    /// `YYYY-MM-DDTHH:MM` in the deployment's time zone (what `datetime-local` takes), or empty.
    pub value: String,
}

/// The update-status form's state.
#[derive(Debug, Clone, Default)]
pub struct UpdateForm {
    pub statuses: Vec<Choice>,
    pub priorities: Vec<Choice>,
    pub categories: Vec<(String, Vec<Choice>)>,
    pub closure_reasons: Vec<Choice>,
    pub message: String,
    pub closure_reference: String,
    pub errors: Vec<FieldError>,
    /// Said after a successful update.
    pub notice: Option<String>,
}

/// `/incident/<id>/`.
#[derive(Template, Debug)]
#[template(path = "incident.html")]
pub struct IncidentPage {
    pub layout: Layout,
    pub id: i64,
    pub title: String,
    pub description: String,
    pub status: String,
    pub status_class: String,
    pub facts: Vec<Fact>,
    pub roles: Vec<Fact>,
    pub metrics: Vec<Fact>,
    pub costs: Vec<Fact>,
    pub resources: Vec<Fact>,
    /// The business impacts given at declaration.
    pub impacts: Vec<Fact>,
    /// The failed side effects, for staff (`None` for anyone else).
    pub failures: Option<Vec<FailedJob>>,
    pub timeline: Vec<TimelineRow>,
    pub can_update: bool,
    pub update: UpdatePanel,
    pub key_events: KeyEventsPanel,
    /// The roles form: one e-mail address per role type.
    pub role_fields: Vec<RoleField>,
    pub role_errors: Vec<FieldError>,
    /// The add-a-cost form.
    pub cost_types: Vec<Choice>,
    pub cost_errors: Vec<FieldError>,
    /// The integrations' operations on the incident, for staff (`None` for anyone else).
    pub actions: Option<Vec<ActionForm>>,
}

/// An integration's operation on an incident, as a form (link a Jira issue …).
#[derive(Debug, Clone, Default)]
pub struct ActionForm {
    pub integration: String,
    pub name: String,
    pub title: String,
    pub help: String,
    pub submit: String,
    pub fields: Vec<ActionInput>,
}

/// A text field of an [`ActionForm`].
#[derive(Debug, Clone, Default)]
pub struct ActionInput {
    pub name: String,
    pub label: String,
    pub placeholder: String,
    /// A password field.
    pub secret: bool,
}

/// A job of the incident's events that failed and is not done.
#[derive(Debug, Clone, Default)]
pub struct FailedJob {
    pub id: i64,
    pub name: String,
    pub state: String,
    pub attempts: u32,
    pub error: String,
    /// When it runs again (empty for a dead job).
    pub next_attempt: String,
    /// Dead: only a retry runs it again.
    pub dead: bool,
}

/// A role in the roles form.
#[derive(Debug, Clone, Default)]
pub struct RoleField {
    pub slug: String,
    pub name: String,
    pub required: bool,
    /// The holder's e-mail address (or what was typed).
    pub email: String,
}

/// The update-status panel of an incident page (re-rendered alone after an HTMX submission).
#[derive(Template, Debug, Clone, Default)]
#[template(path = "update_panel.html")]
pub struct UpdatePanel {
    pub id: i64,
    pub csrf: String,
    pub form: UpdateForm,
    pub close_blockers: Vec<String>,
}

/// The key-events panel of an incident page.
#[derive(Template, Debug, Clone, Default)]
#[template(path = "key_events_panel.html")]
pub struct KeyEventsPanel {
    pub id: i64,
    pub csrf: String,
    pub can_update: bool,
    pub fields: Vec<KeyEventField>,
    pub errors: Vec<FieldError>,
    pub notice: Option<String>,
}

/// An error page.
#[derive(Template, Debug)]
#[template(path = "error.html")]
pub struct ErrorPage {
    pub layout: Layout,
    pub status: u16,
    pub heading: String,
    pub message: String,
}

/// A metric, explained: the span between two key events.
#[derive(Debug, Clone, Default)]
pub struct MetricDoc {
    pub name: String,
    pub code: String,
    pub description: String,
    /// The key events that start and end it.
    pub from: String,
    pub to: String,
}

/// A key event, explained.
#[derive(Debug, Clone, Default)]
pub struct KeyEventDoc {
    pub name: String,
    pub event_type: String,
    pub summary: String,
    pub description: String,
    pub required: bool,
    pub user_editable: bool,
}

/// `/docs/metrics/`: what the metrics measure, and the key events they are measured between.
#[derive(Template, Debug)]
#[template(path = "docs_metrics.html")]
pub struct MetricsPage {
    pub layout: Layout,
    pub metrics: Vec<MetricDoc>,
    pub key_events: Vec<KeyEventDoc>,
}

/// A role type, explained.
#[derive(Debug, Clone, Default)]
pub struct RoleDoc {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub emoji: String,
    pub summary: String,
    pub description: String,
    pub aka: String,
    pub required: bool,
}

/// `/docs/role_types/`.
#[derive(Template, Debug)]
#[template(path = "docs_role_types.html")]
pub struct RoleTypesPage {
    pub layout: Layout,
    pub roles: Vec<RoleDoc>,
}

/// `/docs/role_types/<id>/`.
#[derive(Template, Debug)]
#[template(path = "docs_role_type.html")]
pub struct RoleTypePage {
    pub layout: Layout,
    pub role: RoleDoc,
}

/// `/user/<id>/`: a person, and the incidents they declared.
#[derive(Template, Debug)]
#[template(path = "user.html")]
pub struct UserPage {
    pub layout: Layout,
    pub id: String,
    pub name: String,
    pub email: String,
    pub username: String,
    /// Incidents they declared that the visitor may see.
    pub declared: u64,
    /// The newest of them.
    pub incidents: Vec<IncidentRow>,
    /// Incidents not closed where they hold a role.
    pub roles: Vec<(String, IncidentRow)>,
}

/// A category's line: its record over the period.
#[derive(Debug, Clone, Default)]
pub struct CategoryRow {
    pub id: String,
    pub name: String,
    pub group: String,
    pub private: bool,
    pub incidents: i64,
    /// Human durations; empty when unknown.
    pub downtime: String,
    pub mtbf: String,
}

/// `/incident-category/`: every category, with its incidents, downtime and MTBF over a period.
#[derive(Template, Debug)]
#[template(path = "categories.html")]
pub struct CategoriesPage {
    pub layout: Layout,
    /// The period as typed (the date-range language), and as understood.
    pub period: String,
    pub period_label: String,
    pub period_error: Option<String>,
    pub search: String,
    pub rows: Vec<CategoryRow>,
}

/// `/incident-category/<id>/`.
#[derive(Template, Debug)]
#[template(path = "category.html")]
pub struct CategoryPage {
    pub layout: Layout,
    pub row: CategoryRow,
    pub description: String,
    pub deploy_warning: bool,
    pub period: String,
    pub period_label: String,
    /// The other categories of its group: (id, name).
    pub siblings: Vec<(String, String)>,
    /// What is linked to it (Slack user groups, conversations): a heading and names.
    pub linked: Vec<(String, Vec<String>)>,
    /// Its back-office page, for staff.
    pub edit_url: Option<String>,
}

/// A line of the by-priority table.
#[derive(Debug, Clone, Default)]
pub struct StatLine {
    pub label: String,
    pub total: u64,
    pub opened: u64,
    pub closed: u64,
    pub closed_percent: String,
}

/// A line of counts, each with a link to the incidents it counts (empty: none).
#[derive(Debug, Clone, Default)]
pub struct CountLine {
    pub label: String,
    pub total: u64,
    /// (count, percent or empty, link or empty).
    pub cells: Vec<(u64, String, String)>,
}

/// A bar of a chart: its label, count and length (percent of the longest).
#[derive(Debug, Clone, Default)]
pub struct Bar {
    pub label: String,
    pub count: u64,
    pub width: u64,
}

/// A bar chart, drawn as SVG by the server (readable without JavaScript, and as a table by screen
/// readers).
#[derive(Debug, Clone, Default)]
pub struct Chart {
    pub id: String,
    pub title: String,
    pub bars: Vec<Bar>,
}

/// `/statistics/`: the original's report tables and charts over the filtered incidents.
#[derive(Template, Debug)]
#[template(path = "statistics.html")]
pub struct StatisticsPage {
    pub layout: Layout,
    pub filters: Filters,
    /// The filters' query string, for the exports.
    pub query: String,
    pub error: Option<String>,
    pub totals: StatLine,
    pub by_priority: Vec<StatLine>,
    pub age_headers: Vec<String>,
    pub age: Vec<CountLine>,
    pub ttr_headers: Vec<String>,
    pub ttr: Vec<CountLine>,
    pub charts: Vec<Chart>,
}

/// A link on the back-office's index.
#[derive(Debug, Clone, Default)]
pub struct AdminLink {
    pub href: String,
    pub label: String,
    pub help: String,
}

/// `/admin/`: what staff may administer, by section.
#[derive(Template, Debug)]
#[template(path = "admin_index.html")]
pub struct AdminIndexPage {
    pub layout: Layout,
    pub sections: Vec<(String, Vec<AdminLink>)>,
}

/// A row of a back-office list: its page, and its cells as text.
#[derive(Debug, Clone, Default)]
pub struct AdminRow {
    pub href: String,
    pub cells: Vec<String>,
}

/// `/admin/<model>/`: a table's rows.
#[derive(Template, Debug)]
#[template(path = "admin_list.html")]
pub struct AdminListPage {
    pub layout: Layout,
    pub slug: String,
    pub plural: String,
    pub label: String,
    pub help: String,
    pub columns: Vec<String>,
    pub rows: Vec<AdminRow>,
    pub can_create: bool,
    pub search: String,
    pub page: i64,
    pub has_more: bool,
    /// What the last change did (after a deletion, an action).
    pub notice: Option<String>,
    /// Why an action was refused.
    pub error: Option<String>,
    /// The integrations' operations on this table (register a webhook …).
    pub actions: Vec<ActionForm>,
}

/// One field of a back-office form.
#[derive(Debug, Clone, Default)]
pub struct AdminField {
    pub name: String,
    pub label: String,
    pub help: String,
    /// `text`, `textarea`, `number`, `checkbox`, `select` or `readonly`.
    pub widget: &'static str,
    pub value: String,
    pub checked: bool,
    pub required: bool,
    pub choices: Vec<Choice>,
    pub error: Option<String>,
}

/// `/admin/<model>/add/` and `/admin/<model>/<id>/`: a row's form.
#[derive(Template, Debug)]
#[template(path = "admin_form.html")]
pub struct AdminFormPage {
    pub layout: Layout,
    pub slug: String,
    pub plural: String,
    pub label: String,
    /// `None` when adding.
    pub id: Option<String>,
    pub fields: Vec<AdminField>,
    pub error: Option<String>,
    pub can_edit: bool,
    pub can_delete: bool,
    pub saved: bool,
}

/// An API token in the back-office.
#[derive(Debug, Clone, Default)]
pub struct AdminToken {
    pub id: i64,
    pub user: String,
    pub name: String,
    pub created_at: String,
    pub expires_at: String,
    pub last_used_at: String,
    pub revoked: bool,
}

/// `/admin/tokens/`: API tokens; the one just created, shown this once.
#[derive(Template, Debug)]
#[template(path = "admin_tokens.html")]
pub struct AdminTokensPage {
    pub layout: Layout,
    pub tokens: Vec<AdminToken>,
    /// Everyone the visitor may make a token for (a superuser: everyone active; staff: themselves).
    pub users: Vec<Choice>,
    pub created: Option<String>,
    pub error: Option<String>,
    pub notice: Option<String>,
    pub name: String,
    pub expires_in_days: String,
}

/// A permission group in the back-office.
#[derive(Debug, Clone, Default)]
pub struct AdminGroup {
    pub name: String,
    pub permissions: Vec<String>,
    pub members: Vec<String>,
}

/// `/admin/permission-groups/`: groups, their permissions and members.
#[derive(Template, Debug)]
#[template(path = "admin_groups.html")]
pub struct AdminGroupsPage {
    pub layout: Layout,
    pub groups: Vec<AdminGroup>,
    /// Every permission's codename, for the group form.
    pub permissions: Vec<String>,
    pub error: Option<String>,
    pub notice: Option<String>,
}

/// A job in the back-office.
#[derive(Debug, Clone, Default)]
pub struct AdminJob {
    pub id: i64,
    pub name: String,
    pub state: String,
    pub attempts: u32,
    pub run_at: String,
    pub error: String,
}

/// `/admin/jobs/`: background jobs, newest first; dead ones can be retried.
#[derive(Template, Debug)]
#[template(path = "admin_jobs.html")]
pub struct AdminJobsPage {
    pub layout: Layout,
    pub jobs: Vec<AdminJob>,
    pub states: Vec<Choice>,
    pub state: String,
    pub page: i64,
    pub has_more: bool,
    pub notice: Option<String>,
}
