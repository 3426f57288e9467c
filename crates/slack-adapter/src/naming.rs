//! Names and topics of incident channels (the original's rules, firefighter-slack.md §10.2–§10.3).

use chrono::TimeZone;
use incidents_core::query::IncidentView;

/// Slack's longest channel name.
pub const MAX_CHANNEL_NAME: usize = 80;
/// Slack's longest topic.
pub const MAX_TOPIC: usize = 250;

/// `<YYYYMMDD>-<id>-<envs>-<category>`: the creation date in the deployment's time zone, the
/// incident's id, its environments (PRD, STG, INT, support first, then the others) and its
/// category, lower case, every run of other characters made one `-`. Over 80 characters, the
/// environments shrink to three letters each; still over, the name is cut at 80.
#[must_use]
pub fn channel_name(incident: &IncidentView, time_zone: chrono_tz::Tz) -> String {
    let date = time_zone.from_utc_datetime(&incident.created_at).format("%Y%m%d").to_string();
    let id: String = incident.id.0.to_string().chars().take(8).collect();
    let environments = environments(incident);
    let build = |environments: &[String]| {
        let mut parts = vec![date.clone(), id.clone()];
        parts.extend(environments.iter().cloned());
        parts.push(incident.category.name.clone());
        slug(&parts.join("-"))
    };
    let name = build(&environments);
    if name.chars().count() <= MAX_CHANNEL_NAME {
        return name;
    }
    let short: Vec<String> = environments.iter().map(|env| env.chars().take(3).collect()).collect();
    build(&short).chars().take(MAX_CHANNEL_NAME).collect::<String>().trim_end_matches('-').to_owned()
}

/// The incident's environments in channel-name order: `custom_fields.environments` when set, else
/// its environment.
#[must_use]
pub fn environments(incident: &IncidentView) -> Vec<String> {
    let listed: Vec<String> = incident
        .custom_fields
        .get("environments")
        .and_then(serde_json::Value::as_array)
        .map(|values| values.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
        .unwrap_or_default();
    let mut environments = if listed.is_empty() { vec![incident.environment.value.clone()] } else { listed };
    let rank = |env: &str| match env {
        "PRD" => 0,
        "STG" => 1,
        "INT" => 2,
        "support" => 3,
        _ => 4,
    };
    environments.sort_by_key(|env| rank(env));
    environments.dedup();
    environments
}

/// Lower case ASCII (Slack refuses other characters in names): accented Latin letters lose their
/// accent, every run of other characters becomes one `-`.
fn slug(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars().flat_map(char::to_lowercase) {
        let c = unaccented(c);
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_owned()
}

/// The letter without its accent, for the common Latin ones.
fn unaccented(c: char) -> char {
    match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' => 'a',
        'ç' => 'c',
        'è' | 'é' | 'ê' | 'ë' => 'e',
        'ì' | 'í' | 'î' | 'ï' => 'i',
        'ñ' => 'n',
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' => 'o',
        'ù' | 'ú' | 'û' | 'ü' => 'u',
        'ý' | 'ÿ' => 'y',
        other => other,
    }
}

/// The name to fall back on when Slack refuses a channel name: `YYYYMMDD-<id>-incident`.
#[must_use]
pub fn fallback_channel_name(incident: &IncidentView, time_zone: chrono_tz::Tz) -> String {
    let date = time_zone.from_utc_datetime(&incident.created_at).format("%Y%m%d");
    format!("{date}-{}-incident", incident.id.0)
}

/// The incident's page: `BASE_URL/incident/<id>/`.
#[must_use]
pub fn status_page(base_url: &str, incident: &IncidentView) -> String {
    format!("{}/incident/{}/", base_url.trim_end_matches('/'), incident.id.0)
}

/// `Incident - <emoji> <P> - <status> - <group> - <category> - <app emoji> <link| <App> Status>`,
/// shortened at a word to 250 characters.
#[must_use]
pub fn topic(incident: &IncidentView, base_url: &str, app_name: &str, app_emoji: &str) -> String {
    let link = format!(
        "{}?utm_medium=FireFighter+Slack&utm_source=Slack+Topic&utm_campaign=Slack+Topic+Link",
        status_page(base_url, incident)
    );
    let topic = format!(
        "Incident - {} {}  - {} - {} - {} - {app_emoji} <{link}| {app_name} Status>",
        incident.priority.emoji,
        incident.priority.name,
        incident.status.label(),
        incident.category.group.name,
        incident.category.name,
    );
    shorten(&topic, MAX_TOPIC)
}

/// `text` cut at a word boundary so that, with `...`, it fits in `max` characters.
#[must_use]
pub fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let budget = max.saturating_sub(3);
    let cut: String = text.chars().take(budget).collect();
    let at_word = match cut.rfind(' ') {
        Some(space) if space > 0 => cut[..space].trim_end().to_owned(),
        _ => cut,
    };
    format!("{at_word}...")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::incident;

    #[test]
    fn names_follow_the_originals_rule() {
        let mut view = incident(1234, "2024-03-05T10:00:00", "PRD", "Back Office");
        view.custom_fields = serde_json::json!({"environments": ["STG", "PRD"]});
        assert_eq!(channel_name(&view, chrono_tz::UTC), "20240305-1234-prd-stg-back-office");
        // The date is the deployment's: 23:30 UTC is already the next day in Paris.
        let late = incident(7, "2024-03-05T23:30:00", "PRD", "Payment / Checkout  (EU)");
        assert_eq!(channel_name(&late, chrono_tz::Europe::Paris), "20240306-7-prd-payment-checkout-eu");
        // Slack takes ASCII only: accents go, other scripts become separators.
        let accented = incident(8, "2024-03-05T10:00:00", "PRD", "Sécurité Paiements 支付");
        assert_eq!(channel_name(&accented, chrono_tz::UTC), "20240305-8-prd-securite-paiements");
    }

    #[test]
    fn long_names_shrink_environments_then_are_cut_at_80() {
        let mut view = incident(42, "2024-03-05T10:00:00", "PRD", &"very long category ".repeat(3));
        view.custom_fields =
            serde_json::json!({"environments": ["PRD", "support", "sandbox-eu-west", "INT"]});
        let name = channel_name(&view, chrono_tz::UTC);
        assert!(name.starts_with("20240305-42-prd-int-sup-san-very-long"), "{name}");
        assert!(name.chars().count() <= MAX_CHANNEL_NAME);
        let huge = incident(42, "2024-03-05T10:00:00", "PRD", &"x".repeat(200));
        assert_eq!(channel_name(&huge, chrono_tz::UTC).chars().count(), MAX_CHANNEL_NAME);
    }

    #[test]
    fn topics_link_the_status_page_and_fit_250_characters() {
        let view = incident(12, "2024-03-05T10:00:00", "PRD", "Checkout");
        assert_eq!(
            topic(&view, "https://ff.example.com/", "FireFighter", ":fire_extinguisher:"),
            "Incident - :red_circle: P1  - Open - Marketplace - Checkout - :fire_extinguisher: \
             <https://ff.example.com/incident/12/?utm_medium=FireFighter+Slack&utm_source=Slack+Topic&utm_campaign=Slack+Topic+Link| FireFighter Status>"
        );
        let long = shorten(&"word ".repeat(80), MAX_TOPIC);
        assert!(long.ends_with("word...") && long.chars().count() <= MAX_TOPIC, "{long}");
    }
}
