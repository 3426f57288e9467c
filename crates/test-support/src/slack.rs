//! A fake Slack Web API on loopback, for tests: it keeps state as Slack does (users, user groups,
//! channels with members, topics, pins and bookmarks, messages with their metadata), checks the bot
//! token, records every call, and fails on demand (429 with `Retry-After`, 5xx, or any Slack error
//! code) so that tests can prove the product copes.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

/// The bot's user id in the fake workspace.
pub const BOT_USER: &str = "UBOT0001";
/// The fake workspace's id.
pub const TEAM: &str = "T0FAKE01";

/// A user of the fake workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeUser {
    pub id: String,
    pub name: String,
    pub email: String,
    pub deleted: bool,
}

/// A channel of the fake workspace.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FakeChannel {
    pub id: String,
    /// A direct conversation with a user (`conversations.open`).
    pub is_im: bool,
    pub name: String,
    pub is_private: bool,
    pub is_archived: bool,
    pub creator: String,
    pub topic: String,
    pub members: Vec<String>,
    pub pins: Vec<String>,
    /// `(title, link)`.
    pub bookmarks: Vec<(String, String)>,
}

/// A message posted in the fake workspace.
#[derive(Debug, Clone, PartialEq)]
pub struct FakeMessage {
    pub channel: String,
    pub ts: String,
    pub text: String,
    pub blocks: Value,
    /// `{event_type, event_payload}` as posted.
    pub metadata: Option<Value>,
    pub user: String,
}

/// How a call fails.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// HTTP 429 with this `Retry-After` (seconds).
    RateLimited(u64),
    /// This HTTP status, no body.
    Status(u16),
    /// `{"ok": false, "error": code}`.
    Error(String),
}

/// One recorded call: the method and its arguments (form fields, or JSON fields as text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub method: String,
    pub arguments: HashMap<String, String>,
}

impl Call {
    /// An argument, or `""`.
    #[must_use]
    pub fn argument(&self, name: &str) -> &str {
        self.arguments.get(name).map_or("", String::as_str)
    }
}

/// The fake workspace's state.
#[derive(Debug, Default)]
pub struct SlackState {
    pub token: String,
    pub users: Vec<FakeUser>,
    /// `(id, handle, members)`.
    pub user_groups: Vec<(String, String, Vec<String>)>,
    pub channels: Vec<FakeChannel>,
    pub messages: Vec<FakeMessage>,
    pub calls: Vec<Call>,
    failures: VecDeque<(String, Failure)>,
    counter: u64,
    /// How long every answer takes, in milliseconds (a slow Slack).
    pub delay_ms: u64,
    /// The app-level token (`xapp-…`) `apps.connections.open` takes, and the websocket URL it answers.
    pub app_token: String,
    pub socket_url: String,
}

impl SlackState {
    fn next(&mut self) -> u64 {
        self.counter += 1;
        self.counter
    }

    fn channel_mut(&mut self, id: &str) -> Option<&mut FakeChannel> {
        self.channels.iter_mut().find(|channel| channel.id == id)
    }
}

/// The fake Slack server. Needs a running tokio runtime (an actix-web server).
#[derive(Debug)]
pub struct FakeSlack {
    /// The Web API base URL to give the product (`SLACK_API_URL`), ending with `/`.
    pub api_url: String,
    state: Arc<Mutex<SlackState>>,
    handle: actix_web::dev::ServerHandle,
}

fn channel_json(channel: &FakeChannel) -> Value {
    json!({
        "id": channel.id, "name": channel.name, "is_channel": !channel.is_private, "is_group": channel.is_private,
        "is_private": channel.is_private, "is_archived": channel.is_archived, "creator": channel.creator,
        "is_im": channel.is_im, "is_mpim": false,
        "topic": {"value": channel.topic}, "num_members": channel.members.len(),
    })
}

fn user_json(user: &FakeUser) -> Value {
    json!({
        "id": user.id, "team_id": TEAM, "name": user.name, "real_name": user.name, "deleted": user.deleted,
        "is_bot": user.id == BOT_USER,
        "profile": {"email": user.email, "real_name": user.name, "image_512": format!("https://avatars.example/{}.png", user.id)},
    })
}

/// Seconds since the epoch: message timestamps are real times, as Slack's are.
fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |since| since.as_secs())
}

fn error(code: &str) -> Value {
    json!({"ok": false, "error": code})
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.chars().count() <= 80
        && name.chars().all(|c| {
            c.is_lowercase()
                || c.is_ascii_digit()
                || c == '-'
                || c == '_'
                || (c.is_alphabetic() && !c.is_uppercase())
        })
}

/// Answers one Web API method on the state.
#[expect(clippy::too_many_lines, reason = "one arm per Slack method, read side by side")]
fn answer(state: &mut SlackState, method: &str, args: &HashMap<String, String>) -> Value {
    let arg = |name: &str| args.get(name).map_or("", String::as_str).to_owned();
    match method {
        "auth.test" => json!({
            "ok": true, "url": "https://fake-workspace.slack.com/", "team": "Fake Workspace", "team_id": TEAM,
            "user": "firefighter", "user_id": BOT_USER, "bot_id": "BFAKE001", "is_enterprise_install": false,
        }),
        "conversations.create" => {
            let name = arg("name");
            if !valid_name(&name) {
                return error("invalid_name_specials");
            }
            if state.channels.iter().any(|channel| channel.name == name) {
                return error("name_taken");
            }
            let is_private = arg("is_private") == "true";
            let id = format!("{}{:07}", if is_private { "G" } else { "C" }, state.next());
            let channel = FakeChannel {
                id,
                name,
                is_private,
                creator: BOT_USER.into(),
                members: vec![BOT_USER.into()],
                ..FakeChannel::default()
            };
            let answer = json!({"ok": true, "channel": channel_json(&channel)});
            state.channels.push(channel);
            answer
        }
        "conversations.info" => match state.channels.iter().find(|c| c.id == arg("channel")) {
            Some(channel) => json!({"ok": true, "channel": channel_json(channel)}),
            None => error("channel_not_found"),
        },
        "conversations.list" => {
            let channels: Vec<Value> = state.channels.iter().filter(|c| !c.is_im).map(channel_json).collect();
            json!({"ok": true, "channels": channels, "response_metadata": {"next_cursor": ""}})
        }
        "conversations.open" => {
            let user = arg("users");
            if !state.users.iter().any(|u| u.id == user) {
                return error("user_not_found");
            }
            let id = format!("D{}", user.trim_start_matches('U'));
            if !state.channels.iter().any(|c| c.id == id) {
                state.channels.push(FakeChannel {
                    id: id.clone(),
                    is_im: true,
                    members: vec![BOT_USER.into(), user],
                    creator: BOT_USER.into(),
                    ..FakeChannel::default()
                });
            }
            json!({"ok": true, "channel": {"id": id}})
        }
        "conversations.join" => match state.channel_mut(&arg("channel")) {
            None => error("channel_not_found"),
            Some(channel) if channel.is_archived => error("is_archived"),
            Some(channel) if channel.is_private && !channel.members.iter().any(|m| m == BOT_USER) => {
                error("method_not_supported_for_channel_type")
            }
            Some(channel) => {
                if channel.members.iter().any(|m| m == BOT_USER) {
                    json!({"ok": true, "warning": "already_in_channel", "channel": channel_json(channel)})
                } else {
                    channel.members.push(BOT_USER.into());
                    json!({"ok": true, "channel": channel_json(channel)})
                }
            }
        },
        "conversations.setTopic" => match state.channel_mut(&arg("channel")) {
            None => error("channel_not_found"),
            Some(channel) if channel.is_archived => error("is_archived"),
            Some(channel) if arg("topic").chars().count() > 250 => {
                let _ = channel;
                error("too_long")
            }
            Some(channel) => {
                channel.topic = arg("topic");
                json!({"ok": true, "channel": channel_json(channel)})
            }
        },
        "conversations.invite" => {
            let users: Vec<String> =
                arg("users").split(',').filter(|u| !u.is_empty()).map(str::to_owned).collect();
            if users.is_empty() {
                return error("no_user");
            }
            if users.iter().any(|u| u == BOT_USER) {
                return error("cant_invite_self");
            }
            if let Some(unknown) = users.iter().find(|u| !state.users.iter().any(|known| &known.id == *u)) {
                let _ = unknown;
                return error("user_not_found");
            }
            match state.channel_mut(&arg("channel")) {
                None => error("channel_not_found"),
                Some(channel) if channel.is_archived => error("is_archived"),
                Some(channel) => {
                    if users.iter().any(|u| channel.members.contains(u)) {
                        return error("already_in_channel");
                    }
                    channel.members.extend(users);
                    json!({"ok": true, "channel": channel_json(channel)})
                }
            }
        }
        "conversations.rename" => {
            let name = arg("name");
            if !valid_name(&name) {
                return error("invalid_name_specials");
            }
            let id = arg("channel");
            if state.channels.iter().any(|channel| channel.name == name && channel.id != id) {
                return error("name_taken");
            }
            match state.channel_mut(&id) {
                None => error("channel_not_found"),
                Some(channel) => {
                    channel.name = name;
                    json!({"ok": true, "channel": channel_json(channel)})
                }
            }
        }
        "conversations.archive" => match state.channel_mut(&arg("channel")) {
            None => error("channel_not_found"),
            Some(channel) if channel.is_archived => error("already_archived"),
            Some(channel) => {
                channel.is_archived = true;
                json!({"ok": true})
            }
        },
        "conversations.unarchive" => match state.channel_mut(&arg("channel")) {
            None => error("channel_not_found"),
            Some(channel) if !channel.is_archived => error("not_archived"),
            Some(channel) => {
                channel.is_archived = false;
                json!({"ok": true})
            }
        },
        "conversations.members" => match state.channels.iter().find(|c| c.id == arg("channel")) {
            Some(channel) => {
                json!({"ok": true, "members": channel.members, "response_metadata": {"next_cursor": ""}})
            }
            None => error("channel_not_found"),
        },
        "conversations.history" => {
            let channel = arg("channel");
            if !state.channels.iter().any(|c| c.id == channel) {
                return error("channel_not_found");
            }
            let limit: usize = arg("limit").parse().unwrap_or(100).clamp(1, 1000);
            let offset: usize = arg("cursor").parse().unwrap_or(0);
            let with_metadata = arg("include_all_metadata") == "true";
            // `oldest` / `latest` bound the messages by ts (exclusive unless `inclusive`), as Slack's.
            let stamp = |ts: &str| -> Option<(u64, u64)> {
                let (seconds, fraction) = ts.split_once('.').unwrap_or((ts, "0"));
                Some((seconds.parse().ok()?, format!("{fraction:0<6}").get(..6)?.parse().ok()?))
            };
            let inclusive = arg("inclusive") == "true";
            let (oldest, latest) = (stamp(&arg("oldest")), stamp(&arg("latest")));
            let within = |ts: &str| {
                let Some(at) = stamp(ts) else { return true };
                oldest.is_none_or(|o| if inclusive { at >= o } else { at > o })
                    && latest.is_none_or(|l| if inclusive { at <= l } else { at < l })
            };
            let mut messages: Vec<&FakeMessage> =
                state.messages.iter().filter(|m| m.channel == channel && within(&m.ts)).collect();
            messages.reverse();
            let page: Vec<Value> = messages
                .iter()
                .skip(offset)
                .take(limit)
                .map(|m| {
                    let mut message = json!({"type": "message", "ts": m.ts, "text": m.text, "user": m.user, "blocks": m.blocks});
                    if with_metadata && let Some(metadata) = &m.metadata {
                        message["metadata"] = metadata.clone();
                    }
                    message
                })
                .collect();
            let next =
                if offset + limit < messages.len() { (offset + limit).to_string() } else { String::new() };
            json!({"ok": true, "messages": page, "has_more": !next.is_empty(), "response_metadata": {"next_cursor": next}})
        }
        "chat.postMessage" => {
            let channel = arg("channel");
            let archived = match state.channels.iter().find(|c| c.id == channel) {
                Some(found) => found.is_archived,
                None if state.users.iter().any(|u| u.id == channel) => false,
                None => return error("channel_not_found"),
            };
            if archived {
                return error("is_archived");
            }
            if arg("text").is_empty() && arg("blocks").is_empty() {
                return error("no_text");
            }
            let n = state.next();
            let ts = format!("{}.{n:06}", unix_now());
            state.messages.push(FakeMessage {
                channel: channel.clone(),
                ts: ts.clone(),
                text: arg("text"),
                blocks: serde_json::from_str(&arg("blocks")).unwrap_or(Value::Null),
                metadata: serde_json::from_str(&arg("metadata")).ok(),
                user: BOT_USER.into(),
            });
            json!({"ok": true, "channel": channel, "ts": ts})
        }
        "chat.update" => {
            let (channel, ts) = (arg("channel"), arg("ts"));
            let (text, blocks, metadata) = (arg("text"), arg("blocks"), arg("metadata"));
            match state.messages.iter_mut().find(|m| m.channel == channel && m.ts == ts) {
                None => error("message_not_found"),
                Some(message) => {
                    message.text = text;
                    message.blocks = serde_json::from_str(&blocks).unwrap_or(Value::Null);
                    if let Ok(metadata) = serde_json::from_str(&metadata) {
                        message.metadata = Some(metadata);
                    }
                    json!({"ok": true, "channel": channel, "ts": ts})
                }
            }
        }
        "chat.delete" => {
            let (channel, ts) = (arg("channel"), arg("ts"));
            let before = state.messages.len();
            state.messages.retain(|m| !(m.channel == channel && m.ts == ts));
            if state.messages.len() == before { error("message_not_found") } else { json!({"ok": true}) }
        }
        "chat.postEphemeral" => json!({"ok": true, "message_ts": "1700000000.000001"}),
        "pins.add" => {
            let (channel, ts) = (arg("channel"), arg("timestamp"));
            if !state.messages.iter().any(|m| m.channel == channel && m.ts == ts) {
                return error("message_not_found");
            }
            match state.channel_mut(&channel) {
                None => error("channel_not_found"),
                Some(found) if found.pins.contains(&ts) => error("already_pinned"),
                Some(found) => {
                    found.pins.push(ts);
                    json!({"ok": true})
                }
            }
        }
        "bookmarks.add" => {
            let (title, link) = (arg("title"), arg("link"));
            match state.channel_mut(&arg("channel_id")) {
                None => error("channel_not_found"),
                Some(channel) => {
                    channel.bookmarks.push((title.clone(), link.clone()));
                    json!({"ok": true, "bookmark": {"title": title, "link": link}})
                }
            }
        }
        "bookmarks.list" => match state.channels.iter().find(|c| c.id == arg("channel_id")) {
            None => error("channel_not_found"),
            Some(channel) => {
                let bookmarks: Vec<Value> = channel
                    .bookmarks
                    .iter()
                    .map(|(title, link)| json!({"title": title, "link": link}))
                    .collect();
                json!({"ok": true, "bookmarks": bookmarks})
            }
        },
        "users.info" => match state.users.iter().find(|u| u.id == arg("user")) {
            Some(user) => json!({"ok": true, "user": user_json(user)}),
            None => error("user_not_found"),
        },
        "users.lookupByEmail" => {
            match state.users.iter().find(|u| u.email.eq_ignore_ascii_case(&arg("email"))) {
                Some(user) => json!({"ok": true, "user": user_json(user)}),
                None => error("users_not_found"),
            }
        }
        "users.list" => {
            let members: Vec<Value> = state.users.iter().map(user_json).collect();
            json!({"ok": true, "members": members, "response_metadata": {"next_cursor": ""}})
        }
        "usergroups.list" => {
            let groups: Vec<Value> = state
                .user_groups
                .iter()
                .map(|(id, handle, users)| json!({"id": id, "name": handle, "handle": handle, "description": "", "users": users}))
                .collect();
            json!({"ok": true, "usergroups": groups})
        }
        "apps.connections.open" => json!({"ok": true, "url": state.socket_url}),
        "views.open" | "views.push" | "views.update" | "views.publish" => {
            let needs_trigger = matches!(method, "views.open" | "views.push");
            if needs_trigger && arg("trigger_id").is_empty() {
                return error("invalid_trigger_id");
            }
            if method == "views.update" && arg("view_id").is_empty() && arg("external_id").is_empty() {
                return error("invalid_arguments");
            }
            let Ok(view) = serde_json::from_str::<Value>(&arg("view")) else {
                return error("invalid_arguments");
            };
            if let Err(problem) = check_view(&view) {
                return json!({"ok": false, "error": "invalid_arguments", "response_metadata": {"messages": [problem]}});
            }
            let id = if method == "views.update" { arg("view_id") } else { format!("V{:08}", state.next()) };
            let hash = format!("{}.hash{}", unix_now(), state.next());
            let mut view = view;
            view["id"] = json!(id);
            view["hash"] = json!(hash);
            json!({"ok": true, "view": view})
        }
        _ => error("unknown_method"),
    }
}

/// What Slack checks of a view before showing it (the limits a product most easily breaks).
fn check_view(view: &Value) -> Result<(), String> {
    let kind = view["type"].as_str().unwrap_or_default();
    if kind != "modal" && kind != "home" {
        return Err(format!("[ERROR] unknown view type {kind:?}"));
    }
    if kind == "modal"
        && view["title"]["text"].as_str().is_none_or(|t| t.is_empty() || t.chars().count() > 24)
    {
        return Err("[ERROR] must be less than 25 characters [json-pointer:/view/title/text]".into());
    }
    if view["private_metadata"].as_str().is_some_and(|m| m.len() > 3000) {
        return Err("[ERROR] must be less than 3001 characters [json-pointer:/view/private_metadata]".into());
    }
    let blocks = view["blocks"].as_array().ok_or("[ERROR] missing required field: blocks")?;
    if blocks.len() > 100 {
        return Err("[ERROR] no more than 100 items allowed [json-pointer:/view/blocks]".into());
    }
    let mut block_ids = std::collections::HashSet::new();
    for (index, block) in blocks.iter().enumerate() {
        if let Some(id) = block["block_id"].as_str()
            && !block_ids.insert(id.to_owned())
        {
            return Err(format!("[ERROR] duplicate block_id {id:?} [json-pointer:/view/blocks/{index}]"));
        }
        let has_input = block["type"] == "input";
        if has_input && view["submit"].is_null() {
            return Err("[ERROR] a view with input blocks needs a submit button".into());
        }
        let mut texts = Vec::new();
        collect_limits(block, &mut texts);
        if let Some(problem) = texts.into_iter().next() {
            return Err(format!("{problem} [json-pointer:/view/blocks/{index}]"));
        }
    }
    Ok(())
}

fn collect_limits(value: &Value, problems: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(id) = map.get("action_id").and_then(Value::as_str)
                && id.len() > 255
            {
                problems.push("[ERROR] action_id must be less than 256 characters".into());
            }
            if map.get("type").and_then(Value::as_str) == Some("button")
                && map.get("value").and_then(Value::as_str).is_some_and(|v| v.len() > 2000)
            {
                problems.push("[ERROR] button value must be less than 2001 characters".into());
            }
            if let Some(options) = map.get("options").and_then(Value::as_array) {
                for option in options {
                    if option["text"]["text"].as_str().is_some_and(|t| t.chars().count() > 75)
                        || option["value"].as_str().is_some_and(|v| v.chars().count() > 75)
                    {
                        problems.push("[ERROR] option text and value must be less than 76 characters".into());
                    }
                }
            }
            if map.get("type").and_then(Value::as_str) == Some("static_select")
                && map.get("options").is_none()
                && map.get("option_groups").is_none()
            {
                problems.push("[ERROR] a static select needs options or option_groups".into());
            }
            for child in map.values() {
                collect_limits(child, problems);
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect_limits(item, problems)),
        _ => {}
    }
}

impl FakeSlack {
    /// Starts a fake workspace whose bot token is `token`.
    ///
    /// # Panics
    /// When it cannot bind a loopback port.
    #[must_use]
    pub fn start(token: &str) -> Self {
        Self::start_on(token, 0)
    }

    /// Starts a fake workspace on loopback `port` (0: any free one).
    ///
    /// # Panics
    /// When it cannot bind the port.
    #[must_use]
    pub fn start_on(token: &str, port: u16) -> Self {
        let state = Arc::new(Mutex::new(SlackState {
            token: token.to_owned(),
            users: vec![FakeUser {
                id: BOT_USER.into(),
                name: "firefighter".into(),
                email: "firefighter-bot@fake".into(),
                deleted: false,
            }],
            ..SlackState::default()
        }));
        let shared = Arc::clone(&state);
        let server = actix_web::HttpServer::new(move || {
            let state = Arc::clone(&shared);
            actix_web::App::new().app_data(web::PayloadConfig::new(4 * 1024 * 1024)).route(
                "/api/{method}",
                web::post().to(move |request: HttpRequest, method: web::Path<String>, body: web::Bytes| {
                    let state = Arc::clone(&state);
                    async move {
                        let delay = state.lock().map(|state| state.delay_ms).unwrap_or_default();
                        if delay > 0 {
                            actix_web::rt::time::sleep(std::time::Duration::from_millis(delay)).await;
                        }
                        serve(&state, &request, &method, &body)
                    }
                }),
            )
        })
        .workers(1)
        .disable_signals()
        .bind(("127.0.0.1", port))
        .expect("bind a loopback port");
        let address = server.addrs()[0];
        let server = server.run();
        let handle = server.handle();
        tokio::spawn(server);
        Self { api_url: format!("http://{address}/api/"), state, handle }
    }

    /// The state, to read or change.
    ///
    /// # Panics
    /// When a handler panicked while holding it.
    pub fn state(&self) -> MutexGuard<'_, SlackState> {
        self.state.lock().expect("the fake Slack's state")
    }

    /// Adds a user.
    pub fn add_user(&self, id: &str, name: &str, email: &str) {
        self.state().users.push(FakeUser {
            id: id.into(),
            name: name.into(),
            email: email.into(),
            deleted: false,
        });
    }

    /// Posts a message as a user (someone writing in a channel); returns its `ts`.
    pub fn post_as(&self, user: &str, channel: &str, text: &str) -> String {
        let mut state = self.state();
        let n = state.next();
        let ts = format!("{}.{n:06}", unix_now());
        state.messages.push(FakeMessage {
            channel: channel.into(),
            ts: ts.clone(),
            text: text.into(),
            blocks: Value::Null,
            metadata: None,
            user: user.into(),
        });
        ts
    }

    /// Adds a public channel made by someone else (a `tech_incidents` channel, say); returns its id.
    pub fn add_channel(&self, name: &str) -> String {
        let mut state = self.state();
        let id = format!("C{:07}", state.next());
        state.channels.push(FakeChannel {
            id: id.clone(),
            name: name.into(),
            creator: "UHUMAN01".into(),
            members: vec![BOT_USER.into()],
            ..FakeChannel::default()
        });
        id
    }

    /// Makes the next `times` calls of `method` fail with `failure`.
    pub fn fail(&self, method: &str, failure: &Failure, times: usize) {
        let mut state = self.state();
        for _ in 0..times {
            state.failures.push_back((method.to_owned(), failure.clone()));
        }
    }

    /// Every channel (direct conversations aside).
    #[must_use]
    pub fn channels(&self) -> Vec<FakeChannel> {
        self.state().channels.iter().filter(|c| !c.is_im).cloned().collect()
    }

    /// The messages the bot sent a user directly.
    #[must_use]
    pub fn direct_messages(&self, user: &str) -> Vec<FakeMessage> {
        let id = format!("D{}", user.trim_start_matches('U'));
        self.messages_in(&id)
    }

    /// The channel named `name`.
    #[must_use]
    pub fn channel_named(&self, name: &str) -> Option<FakeChannel> {
        self.state().channels.iter().find(|c| c.name == name).cloned()
    }

    /// The messages of a channel, oldest first.
    #[must_use]
    pub fn messages_in(&self, channel: &str) -> Vec<FakeMessage> {
        self.state().messages.iter().filter(|m| m.channel == channel).cloned().collect()
    }

    /// The calls of `method`, in order.
    #[must_use]
    pub fn calls_of(&self, method: &str) -> Vec<Call> {
        self.state().calls.iter().filter(|call| call.method == method).cloned().collect()
    }

    /// Stops the server.
    pub async fn stop(self) {
        self.handle.stop(false).await;
    }
}

fn serve(state: &Mutex<SlackState>, request: &HttpRequest, method: &str, body: &[u8]) -> HttpResponse {
    let is_json = request
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let arguments: HashMap<String, String> = if is_json {
        match serde_json::from_slice::<serde_json::Map<String, Value>>(body) {
            Ok(map) => map
                .into_iter()
                .map(|(key, value)| (key, value.as_str().map_or_else(|| value.to_string(), str::to_owned)))
                .collect(),
            Err(_) => return HttpResponse::Ok().json(error("invalid_json")),
        }
    } else {
        match serde_urlencoded::from_bytes::<Vec<(String, String)>>(body) {
            Ok(pairs) => pairs.into_iter().collect(),
            Err(_) => return HttpResponse::Ok().json(error("invalid_form_data")),
        }
    };
    let Ok(mut state) = state.lock() else { return HttpResponse::InternalServerError().finish() };
    state.calls.push(Call { method: method.to_owned(), arguments: arguments.clone() });
    let token = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned)
        .or_else(|| arguments.get("token").cloned());
    let expected = if method == "apps.connections.open" { &state.app_token } else { &state.token };
    match token {
        None => return HttpResponse::Ok().json(error("not_authed")),
        Some(token) if token != *expected || expected.is_empty() => {
            return HttpResponse::Ok().json(error("invalid_auth"));
        }
        Some(_) => {}
    }
    if let Some(at) = state.failures.iter().position(|(failing, _)| failing == method) {
        let (_, failure) = state.failures.remove(at).expect("a position found just now");
        return match failure {
            Failure::RateLimited(seconds) => HttpResponse::TooManyRequests()
                .insert_header(("Retry-After", seconds.to_string()))
                .json(error("ratelimited")),
            Failure::Status(status) => HttpResponse::build(
                actix_web::http::StatusCode::from_u16(status)
                    .unwrap_or(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR),
            )
            .finish(),
            Failure::Error(code) => HttpResponse::Ok().json(error(&code)),
        };
    }
    HttpResponse::Ok().json(answer(&mut state, method, &arguments))
}
