//! The Jira section of the configuration, with the original's variable names and meanings
//! (firefighter-integrations.md §1). `ENABLE_JIRA` turns the client on; `ENABLE_RAID` (which needs
//! it) turns on the tickets, the mirror and the webhooks. The custom-field ids are configuration,
//! with the original's values as defaults.

use platform::config::parse_bool;
use platform::{ConfigReader, Secret};

/// The workflow the original hard-coded for every project.
pub const DEFAULT_WORKFLOW: &str = "Incident workflow - v2023.03.13";

/// Custom-field ids of the incident tickets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fields {
    /// `RAID_JIRA_FIELD_PRIORITY` (`customfield_11064`): the option `"1"` … `"5"`.
    pub priority: String,
    /// `RAID_JIRA_FIELD_BUSINESS_IMPACT` (`customfield_10936`): Lowest … Highest.
    pub business_impact: String,
    /// `RAID_JIRA_FIELD_PLATFORM` (`customfield_10201`).
    pub platform: String,
    /// `RAID_JIRA_FIELD_ENVIRONMENTS` (`customfield_11049`): a list of options.
    pub environments: String,
    /// `RAID_JIRA_FIELD_ZENDESK` (`customfield_10895`).
    pub zendesk: String,
    /// `RAID_JIRA_FIELD_ZOHO` (`customfield_10896`).
    pub zoho: String,
    /// `RAID_JIRA_FIELD_SELLER_CONTRACT` (`customfield_10908`).
    pub seller_contract: String,
    /// `RAID_JIRA_INCIDENT_CATEGORY_FIELD` (none by default): the category's name, as an option.
    pub category: Option<String>,
}

impl Default for Fields {
    fn default() -> Self {
        Self {
            priority: "customfield_11064".into(),
            business_impact: "customfield_10936".into(),
            platform: "customfield_10201".into(),
            environments: "customfield_11049".into(),
            zendesk: "customfield_10895".into(),
            zoho: "customfield_10896".into(),
            seller_contract: "customfield_10908".into(),
            category: None,
        }
    }
}

/// Jira's settings.
#[derive(Debug, Clone)]
pub struct JiraConfig {
    /// `RAID_JIRA_API_URL`: the site, `https://` added when no scheme is given, no trailing `/`.
    pub url: url::Url,
    /// `RAID_JIRA_API_USER`.
    pub user: String,
    /// `RAID_JIRA_API_PASSWORD` (an API token on Jira Cloud).
    pub password: Secret,
    /// `RAID_JIRA_WORKFLOW_NAME` (default the original's).
    pub workflow: String,
    /// `RAID_JIRA_TIMEOUT` (seconds, default 15).
    pub timeout: std::time::Duration,
}

/// The RAID module's settings (tickets, mirror, webhooks).
#[derive(Debug, Clone)]
pub struct RaidConfig {
    /// `RAID_DEFAULT_JIRA_QRAFT_USER_ID`: FireFighter's service account in Jira: the fallback
    /// reporter and the actor whose changes are our own.
    pub service_account: String,
    /// `RAID_JIRA_PROJECT_KEY`: the default project of incident tickets.
    pub project: String,
    /// `RAID_JIRA_WEBHOOK_SECRET`: empty refuses every webhook (fail-closed).
    pub webhook_secret: Secret,
    /// `RAID_TOOLBOX_URL`: the seller back-office, for the description addendum.
    pub toolbox_url: Option<String>,
    /// `RAID_WATCHER_EMAIL_EXCLUSIONS` (comma-separated, lower-cased).
    pub watcher_exclusions: Vec<String>,
    /// `RAID_JIRA_ISSUE_TYPE` (default `Incident`).
    pub issue_type: String,
    pub fields: Fields,
    /// Who wins a conflict, per mirrored field (`RAID_SYNC_CONFLICT_POLICY`).
    pub policies: Policies,
    /// Landbot attachments may be on private addresses (`RAID_ATTACHMENTS_ALLOW_PRIVATE`, for local
    /// set-ups and tests only).
    pub attachments_allow_private: bool,
}

/// The mirrored fields, in the order a sync takes them.
pub const MIRRORED: [&str; 5] = ["status", "priority", "title", "description", "commander"];

/// Who wins when both sides change a field within one sync window, per field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policies(pub std::collections::BTreeMap<String, sync_engine::Policy>);

impl Policies {
    /// The policy of `field` (FireFighter's value wins unless configured otherwise).
    #[must_use]
    pub fn of(&self, field: &str) -> sync_engine::Policy {
        self.0.get(field).copied().unwrap_or_default()
    }

    /// `field=policy` pairs, comma-separated (`title=jira,description=jira`); `*=jira` sets every
    /// field.
    ///
    /// # Errors
    /// An unknown field or policy.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let mut policies = std::collections::BTreeMap::new();
        for pair in raw.split(',').map(str::trim).filter(|pair| !pair.is_empty()) {
            let Some((field, policy)) = pair.split_once('=') else {
                return Err(format!("{pair:?}: field=policy pairs, e.g. title=jira,status=firefighter"));
            };
            let policy: sync_engine::Policy = policy.parse()?;
            let field = field.trim().to_ascii_lowercase();
            if field == "*" {
                for name in MIRRORED {
                    policies.insert(name.to_owned(), policy);
                }
            } else if MIRRORED.contains(&field.as_str()) {
                policies.insert(field, policy);
            } else {
                return Err(format!("{field:?} is not a mirrored field ({})", MIRRORED.join(", ")));
            }
        }
        Ok(Self(policies))
    }
}

/// The whole section: `None` of the client when `ENABLE_JIRA` is off, `None` of RAID when
/// `ENABLE_RAID` is.
#[derive(Debug, Clone, Default)]
pub struct Config {
    pub jira: Option<JiraConfig>,
    pub raid: Option<RaidConfig>,
}

fn site(raw: &str) -> Result<url::Url, String> {
    let raw = raw.trim().trim_end_matches('/');
    let with_scheme = if raw.contains("://") { raw.to_owned() } else { format!("https://{raw}") };
    let url = url::Url::parse(&with_scheme).map_err(|error| format!("not a URL: {error}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err("an http(s) URL such as https://example.atlassian.net".into());
    }
    Ok(url)
}

fn required(env: &mut ConfigReader<'_>, name: &'static str, why: &str) -> String {
    if let Some(value) = env.get(name) {
        value.to_owned()
    } else {
        env.problem(name, format!("required when {why}"));
        String::new()
    }
}

impl Config {
    /// Reads the section; problems are reported with every other section's.
    pub fn read(env: &mut ConfigReader<'_>) -> Self {
        let enable_jira = env.parse("ENABLE_JIRA", false, parse_bool);
        let enable_raid = env.parse("ENABLE_RAID", false, parse_bool);
        if enable_raid && !enable_jira {
            env.problem("ENABLE_RAID", "needs ENABLE_JIRA=true (RAID works through the Jira client)");
        }
        if !enable_jira {
            return Self::default();
        }
        let url = match env.get("RAID_JIRA_API_URL") {
            None => {
                env.problem("RAID_JIRA_API_URL", "required when ENABLE_JIRA is on");
                None
            }
            Some(raw) => match site(raw) {
                Ok(url) => Some(url),
                Err(message) => {
                    env.problem("RAID_JIRA_API_URL", message);
                    None
                }
            },
        };
        let user = required(env, "RAID_JIRA_API_USER", "ENABLE_JIRA is on");
        let password = Secret::new(required(env, "RAID_JIRA_API_PASSWORD", "ENABLE_JIRA is on"));
        let workflow = env.get("RAID_JIRA_WORKFLOW_NAME").unwrap_or(DEFAULT_WORKFLOW).to_owned();
        let timeout = env.parse("RAID_JIRA_TIMEOUT", 15, |raw| match raw.parse::<u64>() {
            Ok(seconds @ 1..=300) => Ok(seconds),
            _ => Err("a whole number of seconds from 1 to 300".to_owned()),
        });
        let jira = url.map(|url| JiraConfig {
            url,
            user,
            password,
            workflow,
            timeout: std::time::Duration::from_secs(timeout),
        });
        let raid = enable_raid.then(|| {
            let defaults = Fields::default();
            let field = |name: &'static str, default: String| env.get(name).map_or(default, str::to_owned);
            let fields = Fields {
                priority: field("RAID_JIRA_FIELD_PRIORITY", defaults.priority),
                business_impact: field("RAID_JIRA_FIELD_BUSINESS_IMPACT", defaults.business_impact),
                platform: field("RAID_JIRA_FIELD_PLATFORM", defaults.platform),
                environments: field("RAID_JIRA_FIELD_ENVIRONMENTS", defaults.environments),
                zendesk: field("RAID_JIRA_FIELD_ZENDESK", defaults.zendesk),
                zoho: field("RAID_JIRA_FIELD_ZOHO", defaults.zoho),
                seller_contract: field("RAID_JIRA_FIELD_SELLER_CONTRACT", defaults.seller_contract),
                category: env.get("RAID_JIRA_INCIDENT_CATEGORY_FIELD").map(str::to_owned),
            };
            RaidConfig {
                service_account: required(env, "RAID_DEFAULT_JIRA_QRAFT_USER_ID", "ENABLE_RAID is on"),
                project: required(env, "RAID_JIRA_PROJECT_KEY", "ENABLE_RAID is on"),
                webhook_secret: Secret::new(env.get("RAID_JIRA_WEBHOOK_SECRET").unwrap_or_default()),
                toolbox_url: env.get("RAID_TOOLBOX_URL").map(str::to_owned),
                watcher_exclusions: env
                    .get("RAID_WATCHER_EMAIL_EXCLUSIONS")
                    .unwrap_or_default()
                    .split(',')
                    .map(|email| email.trim().to_lowercase())
                    .filter(|email| !email.is_empty())
                    .collect(),
                issue_type: env.get("RAID_JIRA_ISSUE_TYPE").unwrap_or("Incident").to_owned(),
                fields,
                policies: env.parse("RAID_SYNC_CONFLICT_POLICY", Policies::default(), Policies::parse),
                attachments_allow_private: env.parse("RAID_ATTACHMENTS_ALLOW_PRIVATE", false, parse_bool),
            }
        });
        Self { jira, raid }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn read(vars: &[(&str, &str)]) -> Result<Config, String> {
        let vars: HashMap<String, String> =
            vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        let mut reader = ConfigReader::new(&vars);
        let config = Config::read(&mut reader);
        reader.finish().map(|_| config).map_err(|error| error.to_string())
    }

    #[test]
    fn off_by_default_and_raid_needs_jira() {
        assert!(read(&[]).expect("off").jira.is_none());
        assert!(read(&[("ENABLE_RAID", "true")]).expect_err("refused").contains("ENABLE_JIRA"));
    }

    #[test]
    fn the_site_gets_a_scheme_and_loses_its_slash_and_fields_default_to_the_original() {
        let config = read(&[
            ("ENABLE_JIRA", "true"),
            ("ENABLE_RAID", "true"),
            ("RAID_JIRA_API_URL", "example.atlassian.net/"),
            ("RAID_JIRA_API_USER", "ff@example.com"),
            ("RAID_JIRA_API_PASSWORD", "token"),
            ("RAID_DEFAULT_JIRA_QRAFT_USER_ID", "5b10ac8d82e05b22cc7d4ef5"),
            ("RAID_JIRA_PROJECT_KEY", "INCIDENT"),
            ("RAID_JIRA_FIELD_PLATFORM", "customfield_99999"),
        ])
        .expect("valid");
        let jira = config.jira.expect("jira");
        assert_eq!(jira.url.as_str(), "https://example.atlassian.net/");
        assert_eq!(jira.workflow, DEFAULT_WORKFLOW);
        let raid = config.raid.expect("raid");
        assert_eq!(raid.fields.priority, "customfield_11064");
        assert_eq!(raid.fields.platform, "customfield_99999");
        assert!(raid.webhook_secret.expose().is_empty(), "empty: every webhook refused");
        assert_eq!(raid.policies.of("title"), sync_engine::Policy::FireFighter);
    }

    #[test]
    fn conflict_policies_are_per_field() {
        let policies = Policies::parse("title=jira, description=Jira,status=firefighter").expect("valid");
        assert_eq!(policies.of("title"), sync_engine::Policy::External);
        assert_eq!(policies.of("status"), sync_engine::Policy::FireFighter);
        assert_eq!(policies.of("commander"), sync_engine::Policy::FireFighter);
        assert_eq!(Policies::parse("*=jira").expect("all").of("priority"), sync_engine::Policy::External);
        assert!(Policies::parse("summary=jira").is_err());
        assert!(Policies::parse("title=latest").is_err());
        assert!(Policies::parse("title").is_err());
    }

    #[test]
    fn missing_variables_are_named_together() {
        let error = read(&[("ENABLE_JIRA", "true"), ("ENABLE_RAID", "true")]).expect_err("refused");
        for name in [
            "RAID_JIRA_API_URL",
            "RAID_JIRA_API_USER",
            "RAID_JIRA_API_PASSWORD",
            "RAID_DEFAULT_JIRA_QRAFT_USER_ID",
            "RAID_JIRA_PROJECT_KEY",
        ] {
            assert!(error.contains(name), "{name} in {error}");
        }
    }
}
