//! The Slack app manifest (`firefighter-server slack-manifest --public-url URL [--socket-mode]
//! [--yaml]`): scopes, the command and its aliases, the shortcuts, interactivity and event URLs (or
//! Socket Mode), the events — what the original's install guide had people click through by hand.
//!
//! The scopes are derived from the Web API methods the client calls ([`METHOD_SCOPES`]); a test
//! keeps that table in step with the client.

use serde_json::{Value, json};

/// Every Web API method the product calls, with the bot scopes it needs (any one of a group joined by
/// `|` suffices; both channel kinds are used, so both are asked for).
pub const METHOD_SCOPES: &[(&str, &[&str])] = &[
    ("auth.test", &[]),
    ("bookmarks.add", &["bookmarks:write"]),
    ("bookmarks.list", &["bookmarks:read"]),
    ("chat.delete", &["chat:write"]),
    ("chat.postEphemeral", &["chat:write"]),
    ("chat.postMessage", &["chat:write", "chat:write.public", "chat:write.customize"]),
    ("chat.update", &["chat:write"]),
    ("conversations.archive", &["channels:manage", "groups:write"]),
    ("conversations.create", &["channels:manage", "groups:write"]),
    ("conversations.history", &["channels:history", "groups:history", "im:history"]),
    ("conversations.info", &["channels:read", "groups:read", "im:read"]),
    ("conversations.invite", &["channels:manage", "groups:write"]),
    ("conversations.join", &["channels:join"]),
    ("conversations.list", &["channels:read", "groups:read"]),
    ("conversations.members", &["channels:read", "groups:read"]),
    ("conversations.open", &["im:write"]),
    ("conversations.rename", &["channels:manage", "groups:write"]),
    ("conversations.setTopic", &["channels:manage", "groups:write"]),
    ("conversations.unarchive", &["channels:manage", "groups:write"]),
    ("pins.add", &["pins:write"]),
    ("usergroups.list", &["usergroups:read"]),
    ("users.info", &["users:read", "users:read.email"]),
    ("users.list", &["users:read", "users:read.email"]),
    ("users.lookupByEmail", &["users:read.email"]),
    ("views.open", &[]),
    ("views.publish", &[]),
    ("views.push", &[]),
    ("views.update", &[]),
];

/// Scopes the product needs besides its calls: the slash command, reading the messages' metadata,
/// reactions (`:mega:`), and the events of private channels and direct messages.
const OTHER_SCOPES: &[&str] =
    &["commands", "metadata.message:read", "reactions:read", "pins:read", "team:read"];

/// The bot events the product handles.
pub const BOT_EVENTS: &[&str] = &[
    "app_home_opened",
    "channel_archive",
    "channel_id_changed",
    "channel_rename",
    "channel_unarchive",
    "group_archive",
    "group_rename",
    "group_unarchive",
    "member_joined_channel",
    "member_left_channel",
    "message.channels",
    "message.groups",
    "reaction_added",
];

/// What the manifest is made of.
#[derive(Debug, Clone)]
pub struct ManifestOptions<'a> {
    pub app_name: &'a str,
    /// The product's public URL (`BASE_URL`), without the endpoint's path; unused in Socket Mode.
    pub public_url: &'a str,
    pub socket_mode: bool,
    /// The slash command, then its aliases.
    pub commands: &'a [String],
}

/// The bot scopes, sorted.
#[must_use]
pub fn bot_scopes() -> Vec<&'static str> {
    let mut scopes: Vec<&str> = METHOD_SCOPES
        .iter()
        .flat_map(|(_, scopes)| scopes.iter().copied())
        .chain(OTHER_SCOPES.iter().copied())
        .collect();
    scopes.sort_unstable();
    scopes.dedup();
    scopes
}

/// The manifest, as Slack's app settings take it.
#[must_use]
pub fn manifest(options: &ManifestOptions<'_>) -> Value {
    let endpoint = format!("{}/api/v2/firefighter/slack/incident/", options.public_url.trim_end_matches('/'));
    let name: String = options.app_name.chars().take(35).collect();
    let with_url = |mut value: Value, key: &str| {
        if !options.socket_mode {
            value[key] = json!(endpoint);
        }
        value
    };
    let commands: Vec<Value> = options
        .commands
        .iter()
        .map(|command| {
            with_url(
                json!({"command": command, "description": "Declare and run incidents",
                    "usage_hint": "[open|update|edit|close|status|oncall|postmortem|sos|downgrade|help]", "should_escape": false}),
                "url",
            )
        })
        .collect();
    let message_shortcut = |callback_id: &str, name: &str, description: &str| json!({"name": name, "type": "message", "callback_id": callback_id, "description": description});
    json!({
        "_metadata": {"major_version": 1, "minor_version": 1},
        "display_information": {
            "name": name,
            "description": "Incident Management Bot",
            "background_color": "#b71c1c"
        },
        "features": {
            // The messages tab stays readable: the bot sends direct messages (roles, confirmations),
            // which a disabled tab refuses (`messages_tab_disabled`).
            "app_home": {"home_tab_enabled": true, "messages_tab_enabled": true, "messages_tab_read_only_enabled": true},
            "bot_user": {"display_name": name, "always_online": true},
            "shortcuts": [
                {"name": "Open incident", "type": "global", "callback_id": "open_incident",
                    "description": "Declare a new incident"},
                message_shortcut("update_incident_status", "Update incident status", "Update this channel's incident"),
                message_shortcut("modal_edit", "Edit incident", "Edit this channel's incident"),
                message_shortcut("close_incident", "Close incident", "Close this channel's incident"),
                message_shortcut("incident_status", "Incident status", "See this channel's incident status"),
                message_shortcut("open_modal_incident_send_sos", "Ask for help (SOS)", "Ask another team for help on this channel's incident"),
                message_shortcut("open_modal_trigger_oncall", "Page on-call", "Page a service's on-call for this channel's incident"),
                message_shortcut("open_modal_create_postmortem", "Post-mortem", "See or create this channel's incident post-mortem"),
                message_shortcut("open_modal_downgrade_workflow", "Mark as regular incident", "Close this channel's incident and follow it as a regular one"),
            ],
            "slash_commands": commands,
        },
        "oauth_config": {"scopes": {"bot": bot_scopes()}},
        "settings": {
            "event_subscriptions": with_url(json!({"bot_events": BOT_EVENTS}), "request_url"),
            "interactivity": with_url(json!({"is_enabled": true}), "request_url"),
            "org_deploy_enabled": false,
            "socket_mode_enabled": options.socket_mode,
            "token_rotation_enabled": false,
        },
    })
}

/// `value` as YAML (the subset a manifest needs: maps, lists, strings, numbers, booleans).
#[must_use]
pub fn to_yaml(value: &Value) -> String {
    let mut out = String::new();
    write_yaml(value, 0, &mut out);
    out
}

fn scalar(value: &Value) -> String {
    match value {
        Value::String(text) => {
            // Quoted whenever YAML could read it as something else.
            let plain = !text.is_empty()
                && text.chars().all(|c| c.is_ascii_alphanumeric() || " _-./:".contains(c))
                && !text.starts_with([' ', '-', ':', '.'])
                && !text.ends_with([' ', ':'])
                && !text.contains(": ")
                && !matches!(
                    text.to_ascii_lowercase().as_str(),
                    "true" | "false" | "yes" | "no" | "null" | "on" | "off"
                )
                && text.parse::<f64>().is_err();
            if plain { text.clone() } else { Value::String(text.clone()).to_string() }
        }
        Value::Null => "null".to_owned(),
        other => other.to_string(),
    }
}

fn write_yaml(value: &Value, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match value {
        Value::Object(map) => {
            for (key, item) in map {
                match item {
                    Value::Object(inner) if !inner.is_empty() => {
                        out.push_str(&format!("{pad}{key}:\n"));
                        write_yaml(item, indent + 2, out);
                    }
                    Value::Array(items) if !items.is_empty() => {
                        out.push_str(&format!("{pad}{key}:\n"));
                        write_yaml(item, indent + 2, out);
                    }
                    Value::Object(_) => out.push_str(&format!("{pad}{key}: {{}}\n")),
                    Value::Array(_) => out.push_str(&format!("{pad}{key}: []\n")),
                    scalar_value => out.push_str(&format!("{pad}{key}: {}\n", scalar(scalar_value))),
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                match item {
                    Value::Object(map) if !map.is_empty() => {
                        let mut nested = String::new();
                        write_yaml(item, indent + 2, &mut nested);
                        // The first key goes on the dash's line.
                        let nested = nested.replacen(&" ".repeat(indent + 2), "", 1);
                        out.push_str(&format!("{pad}- {nested}"));
                    }
                    other => out.push_str(&format!("{pad}- {}\n", scalar(other))),
                }
            }
        }
        other => out.push_str(&format!("{pad}{}\n", scalar(other))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(socket_mode: bool) -> ManifestOptions<'static> {
        static COMMANDS: std::sync::LazyLock<Vec<String>> =
            std::sync::LazyLock::new(|| vec!["/incident".to_owned(), "/ff".to_owned()]);
        ManifestOptions {
            app_name: "FireFighter",
            public_url: "https://ff.example.com/",
            socket_mode,
            commands: &COMMANDS,
        }
    }

    #[test]
    fn every_method_the_client_calls_has_its_scopes_in_the_manifest() {
        let source = include_str!("client.rs");
        let known: Vec<&str> = METHOD_SCOPES.iter().map(|(method, _)| *method).collect();
        // Every quoted `namespace.method` in the client is a method it calls.
        let mut called = Vec::new();
        for piece in source.split('"').skip(1).step_by(2) {
            let Some((namespace, method)) = piece.split_once('.') else { continue };
            if !namespace.is_empty()
                && namespace.chars().all(|c| c.is_ascii_lowercase())
                && !method.is_empty()
                && method.chars().all(|c| c.is_ascii_alphabetic() || c == '.')
            {
                called.push(piece);
            }
        }
        assert!(called.len() >= 20, "the scan found the client's methods: {called:?}");
        for method in &called {
            assert!(
                known.contains(method),
                "{method} is called by the client but has no scopes in METHOD_SCOPES"
            );
        }
        let manifest = manifest(&options(false));
        let granted: Vec<&str> = manifest["oauth_config"]["scopes"]["bot"]
            .as_array()
            .expect("scopes")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        for (method, scopes) in METHOD_SCOPES {
            for scope in *scopes {
                assert!(granted.contains(scope), "{method} needs {scope}");
            }
        }
        assert!(granted.contains(&"commands") && granted.contains(&"im:history"));
    }

    #[test]
    fn the_manifest_points_slack_at_the_endpoint_or_uses_socket_mode() {
        let http = manifest(&options(false));
        let endpoint = "https://ff.example.com/api/v2/firefighter/slack/incident/";
        assert_eq!(http["settings"]["interactivity"]["request_url"], endpoint);
        assert_eq!(http["settings"]["event_subscriptions"]["request_url"], endpoint);
        assert_eq!(http["features"]["slash_commands"][1]["command"], "/ff");
        assert_eq!(http["features"]["slash_commands"][0]["url"], endpoint);
        assert_eq!(http["settings"]["socket_mode_enabled"], false);
        // Slack requires these keys.
        for pointer in ["/display_information/name", "/oauth_config/scopes/bot", "/settings"] {
            assert!(http.pointer(pointer).is_some(), "{pointer}");
        }
        let socket = manifest(&options(true));
        assert_eq!(socket["settings"]["socket_mode_enabled"], true);
        assert!(socket["settings"]["interactivity"].get("request_url").is_none());
        assert!(socket["features"]["slash_commands"][0].get("url").is_none());
    }

    #[test]
    fn shortcuts_keep_to_slacks_limits_and_are_all_answered() {
        let shortcuts =
            manifest(&options(false))["features"]["shortcuts"].as_array().cloned().unwrap_or_default();
        assert!(!shortcuts.is_empty() && shortcuts.len() <= 10, "Slack takes at most 10 shortcuts");
        let routes = include_str!("interact/mod.rs");
        for shortcut in &shortcuts {
            let name = shortcut["name"].as_str().unwrap_or_default();
            let callback = shortcut["callback_id"].as_str().unwrap_or_default();
            assert!(!name.is_empty() && name.chars().count() <= 24, "{name}: Slack takes 1 to 24 characters");
            assert!(shortcut["description"].as_str().is_some_and(|d| d.chars().count() <= 150), "{name}");
            assert!(routes.contains(&format!("\"{callback}\" =>")), "the shortcut {callback} is not routed");
        }
    }

    #[test]
    fn yaml_keeps_structure_and_quotes_what_it_must() {
        let value =
            json!({"a": {"b": ["x", {"c": "y: z", "d": true}], "e": []}, "f": "123", "g": "/incident"});
        assert_eq!(
            to_yaml(&value),
            "a:\n  b:\n    - x\n    - c: \"y: z\"\n      d: true\n  e: []\nf: \"123\"\ng: /incident\n"
        );
    }
}
