//! Socket Mode, against a local websocket stand-in.

use super::support::*;

/// The product with Socket Mode only (no signing secret, no public URL), the fake Slack handing out
/// the stand-in's URL; `extra` variables on top.
async fn start_socket_mode(
    test: &TestDatabase,
    slack: &FakeSlack,
    extra: &[(&str, &str)],
) -> (tokio::net::TcpListener, Running) {
    let (listener, url) = socket::listen().await;
    {
        let mut state = slack.state();
        state.app_token = "xapp-1-test".into();
        state.socket_url = url;
    }
    let mut vars = vars(test, Some(slack));
    vars.remove("SLACK_SIGNING_SECRET");
    vars.insert("SLACK_APP_TOKEN".into(), "xapp-1-test".into());
    for (key, value) in extra {
        vars.insert((*key).into(), (*value).into());
    }
    (listener, start_with(test, &vars).await)
}
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socket_mode_serves_slack_without_a_public_url() {
    let test = TestDatabase::sqlite().seeded();
    let slack = FakeSlack::start(TOKEN);
    slack.add_user("UBOB0001", "bob", "bob@example.com");
    let (listener, running) = start_socket_mode(&test, &slack, &[]).await;
    let (status, _) = post_form(&running, &[("command", "/incident")]).await;
    assert_eq!(status, 404, "no HTTP endpoint without a signing secret");
    let mut connection = socket::accept(&listener).await;
    let command = |text: &str| {
        json!({"command": "/incident", "text": text, "user_id": "UBOB0001", "channel_id": "C0GENERAL",
            "team_id": "T0FAKE01", "trigger_id": "13345224609.738474920.8088930838d88f008e0",
            "response_url": "https://hooks.slack.com/commands/1/2/3"})
    };

    // A command's answer travels in its acknowledgement.
    let ack = connection.exchange("env-help", "slash_commands", command("help")).await;
    assert!(ack["payload"].to_string().contains("Commands Help"), "{ack}");

    // The whole open flow, over the socket alone.
    let ack = connection.exchange("env-open", "slash_commands", command("open")).await;
    assert!(ack.get("payload").is_none() || ack["payload"].is_null(), "{ack}");
    let root = nth_view(&slack, "views.open", 1).await;
    connection
        .exchange(
            "env-push1",
            "interactive",
            block_action(
                "UBOB0001",
                Some(&root),
                None,
                json!({"action_id": "push_incident_select_impact", "type": "button", "value": "impacts"}),
            ),
        )
        .await;
    let impacts = nth_view(&slack, "views.push", 1).await;
    let business = {
        use incidents_core::query::IncidentQueries;
        test.database
            .impact_types()
            .expect("types")
            .into_iter()
            .find(|t| t.value == "business_impact")
            .expect("business")
    };
    let high = business.levels.iter().find(|l| l.value == "HI").expect("high").id.clone();
    let ack = connection
        .exchange("env-impacts", "interactive", submission("UBOB0001", &impacts, json!({"set_impact_type_business_impact": {"set_impact_type_business_impact": {"type": "static_select", "selected_option": {"value": high}}}})))
        .await;
    assert!(ack.get("payload").is_none() || ack["payload"].is_null(), "{ack}");
    let root = nth_view(&slack, "views.update", 1).await;
    connection
        .exchange(
            "env-push2",
            "interactive",
            block_action(
                "UBOB0001",
                Some(&root),
                None,
                json!({"action_id": "push_incident_unified", "type": "button", "value": "details"}),
            ),
        )
        .await;
    let details = nth_view(&slack, "views.push", 2).await;
    let values = |title: &str| {
        json!({
            "incident_category": {"incident_category": select(&running.category.0)},
            "environment": {"environment": multi(&[&running.environment])},
            "platform": {"platform": multi(&["platform-FR"])},
            "title": {"title": plain(title)},
            "description": {"description": plain("Orders fail at the payment step for every customer.")},
        })
    };
    // A validation error travels in the acknowledgement's payload.
    let refused = connection
        .exchange("env-details1", "interactive", submission("UBOB0001", &details, values("Down")))
        .await;
    assert_eq!(refused["payload"]["response_action"], "errors", "{refused}");
    connection
        .exchange(
            "env-details2",
            "interactive",
            submission("UBOB0001", &details, values("Checkout is down over the socket")),
        )
        .await;
    let root = nth_view(&slack, "views.update", 2).await;
    assert_eq!(root["submit"]["text"], "Create the incident");
    connection.exchange("env-create", "interactive", submission("UBOB0001", &root, json!({}))).await;
    eventually("the incident is declared", || {
        use incidents_core::query::IncidentQueries;
        test.database
            .incidents(&Default::default(), Default::default(), incidents_core::query::PageRequest::new(5, 0))
            .is_ok_and(|page| page.items.iter().any(|i| i.title == "Checkout is down over the socket"))
    })
    .await;

    // An event is stored as a job and acknowledged; the same envelope sent again is acknowledged once
    // more without being handled twice.
    let store = slack_adapter::store::SlackStore::new(test.database.clone());
    store
        .upsert_tagged("C0TECH01", "tech-incidents", "public", "tech_incidents", incidents_core::clock::now())
        .expect("tag");
    let event = json!({"type": "event_callback", "event_id": "Ev0SOCKET1", "team_id": "T0FAKE01",
        "event": {"type": "channel_rename", "channel": {"id": "C0TECH01", "name": "incidents-socket", "created": 1}}});
    connection.exchange("env-event", "events_api", event).await;
    eventually("the rename is recorded", || {
        store.conversation("C0TECH01").ok().flatten().is_some_and(|c| c.name == "incidents-socket")
    })
    .await;
    let again = connection.exchange("env-help", "slash_commands", command("help")).await;
    assert!(again.get("payload").is_none(), "an envelope is handled once: {again}");

    // `disconnect`: a new connection, with a new URL.
    connection.send(&json!({"type": "disconnect", "reason": "refresh_requested"})).await;
    let mut connection = socket::accept(&listener).await;
    let ack = connection.exchange("env-help2", "slash_commands", command("help")).await;
    assert!(ack["payload"].to_string().contains("Commands Help"), "{ack}");
    // A dropped connection: replaced.
    drop(connection);
    let mut connection = socket::accept(&listener).await;
    let ack = connection.exchange("env-help3", "slash_commands", command("help")).await;
    assert!(ack["payload"].to_string().contains("Commands Help"), "{ack}");
    assert_eq!(slack.calls_of("apps.connections.open").len(), 3, "each connection asked for its own URL");
    running.handle.stop(true).await;
    slack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_socket_mode_connection_is_replaced() {
    let test = TestDatabase::sqlite().seeded();
    let slack = FakeSlack::start(TOKEN);
    let (listener, running) = start_socket_mode(&test, &slack, &[("FF_SLACK_SOCKET_SILENCE", "3")]).await;
    // A connection that says hello, then nothing: not even an answer to the product's pings (the
    // stand-in never reads, so its pongs are never sent).
    let silent = socket::accept(&listener).await;
    let started = Instant::now();
    let mut replacement = socket::accept(&listener).await;
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "replaced only once silent: {:?}",
        started.elapsed()
    );
    let ack = replacement
        .exchange(
            "env-after-silence",
            "slash_commands",
            json!({"command": "/incident", "text": "help",
            "user_id": "UBOB0001", "channel_id": "C0GENERAL", "trigger_id": "t"}),
        )
        .await;
    assert!(ack["payload"].to_string().contains("Commands Help"), "{ack}");
    drop(silent);
    running.handle.stop(true).await;
    slack.stop().await;
}
