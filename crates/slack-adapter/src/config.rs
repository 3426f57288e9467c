//! The Slack section of the configuration: the original's `SLACK_*` and `FF_SLACK_*` variables, with
//! their names and meanings, plus `SLACK_API_URL` (tests and proxies point it elsewhere).

use platform::config::parse_bool;
use platform::{ConfigReader, Secret};

/// Slack's settings; `None` of the whole section when `SLACK_BOT_TOKEN` is unset (Slack is off).
#[derive(Debug, Clone)]
pub struct SlackConfig {
    /// `SLACK_BOT_TOKEN` (`xoxb-…`).
    pub bot_token: Secret,
    /// `SLACK_SIGNING_SECRET`: without it the inbound endpoint is not served.
    pub signing_secret: Option<Secret>,
    /// `SLACK_APP_TOKEN` (`xapp-…`): Slack over Socket Mode, no public URL needed.
    pub app_token: Option<Secret>,
    /// `FF_SLACK_SOCKET_SILENCE` (seconds, default 60): a Socket Mode connection silent this long is
    /// replaced.
    pub socket_silence: std::time::Duration,
    /// `SLACK_API_URL` (default `https://slack.com/api/`), always ending with `/`.
    pub api_url: url::Url,
    /// `SLACK_INCIDENT_COMMAND` (default `/incident`).
    pub incident_command: String,
    /// `SLACK_INCIDENT_COMMAND_ALIASES` (comma-separated).
    pub incident_command_aliases: Vec<String>,
    /// `SLACK_APP_EMOJI` (default `:fire_extinguisher:`).
    pub app_emoji: String,
    /// `SLACK_POSTMORTEM_HELP_URL`.
    pub postmortem_help_url: Option<String>,
    /// `SLACK_INCIDENT_HELP_GUIDE_URL`.
    pub incident_help_guide_url: Option<String>,
    /// `SLACK_SEVERITY_HELP_GUIDE_URL`.
    pub severity_help_guide_url: Option<String>,
    /// `SLACK_EMERGENCY_COMMUNICATION_GUIDE_URL`.
    pub emergency_communication_guide_url: Option<String>,
    /// `SLACK_EMERGENCY_USERGROUP_ID`: mentioned in the P1 communication message.
    pub emergency_usergroup_id: Option<String>,
    /// `FF_SLACK_SKIP_CHECKS`: no `auth.test` at start-up (request signatures are always checked).
    pub skip_checks: bool,
    /// `FF_ROLE_REMINDER_MIN_DAYS_INTERVAL` (default 90; -1: no role DMs; 0: always).
    pub role_reminder_min_days_interval: i64,
    /// `ENABLE_DUST`: the "Generate post-mortem with Dust" button (with the post-mortem flows).
    pub enable_dust: bool,
    /// `DUST_SLACK_BOT_NAME` (default `dust`): the Dust bot's Slack name.
    pub dust_bot_name: String,
    /// `FF_SLACK_UPDATE_ALLOWED`: who may update an incident from Slack (status, edit, roles, key
    /// events), besides holding `incidents.change_incident`.
    pub update_allowed: Policy,
    /// `FF_SLACK_CLOSE_ALLOWED`: who may close an incident from Slack.
    pub close_allowed: Policy,
}

/// Who may act on an incident from Slack, on top of the permission model (admins always may).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Policy {
    /// Any workspace member holding the permission (the original's behaviour).
    #[default]
    Anyone,
    /// The incident's members (people in its channel) and role holders.
    Members,
    /// The incident's role holders (commander, communication lead …).
    Roles,
}

impl Policy {
    fn parse(raw: &str) -> Result<Self, String> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "anyone" => Ok(Self::Anyone),
            "members" => Ok(Self::Members),
            "roles" => Ok(Self::Roles),
            _ => Err(format!("'{raw}' is not one of anyone, members, roles")),
        }
    }

    /// Who is meant, in a refusal.
    #[must_use]
    pub const fn who(self) -> &'static str {
        match self {
            Self::Anyone => "anyone",
            Self::Members => "the incident's members and role holders",
            Self::Roles => "the incident's role holders",
        }
    }
}

/// Built-in Slack commands a custom command must not shadow.
const BUILT_IN_COMMANDS: &[&str] = &[
    "/archive",
    "/call",
    "/collapse",
    "/dm",
    "/expand",
    "/feed",
    "/invite",
    "/leave",
    "/msg",
    "/remind",
    "/remove",
    "/rename",
    "/search",
    "/shrug",
    "/status",
    "/topic",
];

impl SlackConfig {
    /// Reads the section; `None` when `SLACK_BOT_TOKEN` is unset.
    pub fn read(env: &mut ConfigReader<'_>) -> Option<Self> {
        let token = env.get("SLACK_BOT_TOKEN").map(Secret::new);
        let api_url = env.parse("SLACK_API_URL", url::Url::parse("https://slack.com/api/").ok(), |raw| {
            let with_slash = if raw.ends_with('/') { raw.to_owned() } else { format!("{raw}/") };
            match url::Url::parse(&with_slash) {
                Ok(url) if matches!(url.scheme(), "http" | "https") => Ok(Some(url)),
                _ => Err(format!("'{raw}' is not an http(s) URL")),
            }
        });
        let skip_checks = env.parse("FF_SLACK_SKIP_CHECKS", false, parse_bool);
        let role_reminder_min_days_interval =
            env.parse("FF_ROLE_REMINDER_MIN_DAYS_INTERVAL", 90, |raw| match raw.parse::<i64>() {
                Ok(days) if days >= -1 => Ok(days),
                _ => Err(format!("'{raw}' is not a number of days (-1 disables role messages)")),
            });
        let signing_secret = env.get("SLACK_SIGNING_SECRET").map(Secret::new);
        let socket_silence =
            env.parse("FF_SLACK_SOCKET_SILENCE", std::time::Duration::from_secs(60), |raw| {
                match raw.parse::<u64>() {
                    Ok(seconds) if (3..=3600).contains(&seconds) => {
                        Ok(std::time::Duration::from_secs(seconds))
                    }
                    _ => Err(format!("'{raw}' is not a number of seconds from 3 to 3600")),
                }
            });
        let app_token = env.parse("SLACK_APP_TOKEN", None, |raw| {
            if raw.starts_with("xapp-") {
                Ok(Some(Secret::new(raw)))
            } else {
                Err("is not an app-level token (xapp-…)".to_owned())
            }
        });
        let enable_dust = env.parse("ENABLE_DUST", false, parse_bool);
        let dust_bot_name = env.get("DUST_SLACK_BOT_NAME").unwrap_or("dust").to_owned();
        let main_command = env.get("SLACK_INCIDENT_COMMAND").unwrap_or("/incident").to_owned();
        let incident_command = command(env, "SLACK_INCIDENT_COMMAND", &main_command);
        let aliases: Vec<String> = env
            .get("SLACK_INCIDENT_COMMAND_ALIASES")
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|alias| !alias.is_empty())
            .map(str::to_owned)
            .collect();
        let incident_command_aliases =
            aliases.iter().map(|alias| command(env, "SLACK_INCIDENT_COMMAND_ALIASES", alias)).collect();
        let update_allowed = env.parse("FF_SLACK_UPDATE_ALLOWED", Policy::Anyone, Policy::parse);
        let close_allowed = env.parse("FF_SLACK_CLOSE_ALLOWED", Policy::Anyone, Policy::parse);
        let optional = |env: &ConfigReader<'_>, name: &str| env.get(name).map(str::to_owned);
        let config = Self {
            bot_token: token?,
            signing_secret,
            app_token,
            socket_silence,
            api_url: api_url?,
            incident_command,
            incident_command_aliases,
            app_emoji: optional(env, "SLACK_APP_EMOJI").unwrap_or_else(|| ":fire_extinguisher:".to_owned()),
            postmortem_help_url: optional(env, "SLACK_POSTMORTEM_HELP_URL"),
            incident_help_guide_url: optional(env, "SLACK_INCIDENT_HELP_GUIDE_URL"),
            severity_help_guide_url: optional(env, "SLACK_SEVERITY_HELP_GUIDE_URL"),
            emergency_communication_guide_url: optional(env, "SLACK_EMERGENCY_COMMUNICATION_GUIDE_URL"),
            emergency_usergroup_id: optional(env, "SLACK_EMERGENCY_USERGROUP_ID"),
            skip_checks,
            role_reminder_min_days_interval,
            enable_dust,
            dust_bot_name,
            update_allowed,
            close_allowed,
        };
        if config.signing_secret.is_none() && config.app_token.is_none() {
            env.warn(
                "SLACK_BOT_TOKEN is set but neither SLACK_SIGNING_SECRET nor SLACK_APP_TOKEN is: incident \
                 channels are managed, but Slack's commands, buttons and events cannot reach this server",
            );
        }
        Some(config)
    }

    /// Every slash command the product answers (the main one first).
    #[must_use]
    pub fn commands(&self) -> Vec<&str> {
        let mut commands = vec![self.incident_command.as_str()];
        for alias in &self.incident_command_aliases {
            if !commands.contains(&alias.as_str()) && !BUILT_IN_COMMANDS.contains(&alias.as_str()) {
                commands.push(alias);
            }
        }
        commands
    }
}

/// A slash command as Slack knows it: a leading `/`, no spaces, at most 32 characters, lower case.
/// Each fix is a warning, as in the original.
/// The slash commands as configured, read even without a bot token (the manifest is made before the
/// app exists): the main one, then the aliases, normalised as at start-up, built-in ones left out.
#[must_use]
pub fn configured_commands(env: &ConfigReader<'_>) -> Vec<String> {
    let normalise = |raw: &str| {
        let mut fixed: String = raw.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_lowercase();
        if !fixed.starts_with('/') {
            fixed.insert(0, '/');
        }
        fixed.chars().take(32).collect::<String>()
    };
    let mut commands = vec![normalise(env.get("SLACK_INCIDENT_COMMAND").unwrap_or("/incident"))];
    for alias in env.get("SLACK_INCIDENT_COMMAND_ALIASES").unwrap_or_default().split(',') {
        let alias = alias.trim();
        if alias.is_empty() {
            continue;
        }
        let alias = normalise(alias);
        if !commands.contains(&alias) && !BUILT_IN_COMMANDS.contains(&alias.as_str()) {
            commands.push(alias);
        }
    }
    commands
}

fn command(env: &mut ConfigReader<'_>, variable: &'static str, raw: &str) -> String {
    let mut fixed: String = raw.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_lowercase();
    if !fixed.starts_with('/') {
        fixed.insert(0, '/');
    }
    fixed = fixed.chars().take(32).collect();
    if fixed != raw {
        env.warn(format!("{variable}: the slash command '{raw}' is used as '{fixed}'"));
    }
    if BUILT_IN_COMMANDS.contains(&fixed.as_str()) {
        env.warn(format!("{variable}: '{fixed}' is one of Slack's built-in commands and is ignored"));
    }
    fixed
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn read(pairs: &[(&str, &str)]) -> (Option<SlackConfig>, Result<Vec<String>, platform::ConfigError>) {
        let vars: HashMap<String, String> = pairs.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect();
        let mut reader = ConfigReader::new(&vars);
        let config = SlackConfig::read(&mut reader);
        (config, reader.finish())
    }

    #[test]
    fn slack_is_off_without_a_bot_token() {
        let (config, outcome) = read(&[("SLACK_SIGNING_SECRET", "s")]);
        assert!(config.is_none());
        assert_eq!(outcome.map(|w| w.len()).ok(), Some(0));
    }

    #[test]
    fn the_originals_variables_keep_their_names_and_defaults() {
        let (config, outcome) = read(&[
            ("SLACK_BOT_TOKEN", "xoxb-1"),
            ("SLACK_SIGNING_SECRET", "s"),
            ("SLACK_API_URL", "http://127.0.0.1:9/api"),
            ("SLACK_INCIDENT_COMMAND_ALIASES", "/ff, Fire Fighter ,/incident,/topic"),
            ("FF_ROLE_REMINDER_MIN_DAYS_INTERVAL", "-1"),
        ]);
        let config = config.expect("configured");
        assert_eq!(config.api_url.as_str(), "http://127.0.0.1:9/api/");
        assert_eq!(config.incident_command, "/incident");
        assert_eq!(config.commands(), ["/incident", "/ff", "/firefighter"]);
        assert_eq!(config.app_emoji, ":fire_extinguisher:");
        assert_eq!(config.role_reminder_min_days_interval, -1);
        let warnings = outcome.expect("no problem");
        assert!(
            warnings.iter().any(|w| w.contains("'Fire Fighter' is used as '/firefighter'")),
            "{warnings:?}"
        );
        assert!(warnings.iter().any(|w| w.contains("built-in")), "{warnings:?}");
    }

    #[test]
    fn bad_values_are_problems_and_a_missing_signing_secret_a_warning() {
        let (_, outcome) = read(&[
            ("SLACK_BOT_TOKEN", "xoxb-1"),
            ("SLACK_API_URL", "ftp://x"),
            ("FF_SLACK_SKIP_CHECKS", "maybe"),
            ("FF_ROLE_REMINDER_MIN_DAYS_INTERVAL", "-3"),
        ]);
        let problems: Vec<&str> = outcome
            .as_ref()
            .err()
            .map(|e| e.problems.iter().map(|p| p.variable).collect())
            .unwrap_or_default();
        assert_eq!(problems, ["SLACK_API_URL", "FF_SLACK_SKIP_CHECKS", "FF_ROLE_REMINDER_MIN_DAYS_INTERVAL"]);
        let (_, outcome) = read(&[("SLACK_BOT_TOKEN", "xoxb-1")]);
        assert!(outcome.expect("only a warning").iter().any(|w| w.contains("SLACK_SIGNING_SECRET")));
    }
}
