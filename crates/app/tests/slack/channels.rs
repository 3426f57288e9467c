//! Incident channels, Slack events and the directory.

use super::support::*;
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_p1_declared_through_the_api_lives_in_its_own_channel_until_closed() {
    for test in TestDatabase::each_backend() {
        let test = test.seeded();
        let slack = FakeSlack::start(TOKEN);
        slack.add_user("UADA0001", "ada", "ada@example.com");
        let tech_incidents = slack.add_channel("tech-incidents");
        let running = start(&test, Some(&slack)).await;
        tag(&test, &tech_incidents, "tech-incidents", "tech_incidents");

        let id = running.declare(1, "Checkout is down").await;
        let name = expected_name(id, &running.category.1);
        eventually("the channel is set up", || {
            slack.channel_named(&name).is_some_and(|c| !c.bookmarks.is_empty() && !c.pins.is_empty())
                && kinds(&slack, &slack.channel_named(&name).map(|c| c.id).unwrap_or_default())
                    .contains(&"ff_incident_key_events_form".to_owned())
        })
        .await;
        let channel = slack.channel_named(&name).expect("channel");
        assert_eq!(slack.channels().len(), 2, "one channel made ({:?})", test.backend());
        assert!(channel.topic.starts_with("Incident - "), "{}", channel.topic);
        assert!(
            channel.topic.contains(&format!("https://ff.example.com/incident/{id}/")),
            "{}",
            channel.topic
        );
        assert!(
            channel.members.contains(&"UADA0001".to_owned()),
            "the reporter is invited: {:?}",
            channel.members
        );
        assert_eq!(channel.bookmarks.len(), 1);
        assert_eq!(channel.bookmarks[0].0, "Incident Page");
        assert_eq!(
            kinds(&slack, &channel.id),
            [
                "ff_incident_declared",
                "ff_incident_roles_updated",
                "ff_incident_com_process",
                "ff_incident_key_events_form"
            ],
        );
        let declared = &slack.messages_in(&channel.id)[0];
        assert_eq!(channel.pins, vec![declared.ts.clone()], "the announcement is pinned");
        assert_eq!(declared.metadata.as_ref().expect("metadata")["event_payload"]["incident_id"], json!(id));
        assert_eq!(kinds(&slack, &tech_incidents), ["ff_general_incident_declared"]);

        // The channel is the incident's facet: the API's `slack_channel_name`.
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let shown = running.incident(id).await;
            if shown["slack_channel_name"] == json!(name) {
                break;
            }
            assert!(Instant::now() < deadline, "slack_channel_name not shown: {shown}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }

        // Through the workflow: each update posts in the channel; Mitigated is announced.
        running
            .update(id, json!({"status": "Investigating", "message": "Looking at the payment provider"}))
            .await;
        running.update(id, json!({"status": "Mitigating", "message": "Rolling back"})).await;
        running.update(id, json!({"status": "Mitigated", "message": "Rolled back"})).await;
        eventually("the updates are posted", || {
            kinds(&slack, &channel.id).iter().filter(|k| *k == "ff_incident_status_updated").count() == 3
                && kinds(&slack, &tech_incidents).len() == 2
        })
        .await;
        let last = slack.messages_in(&tech_incidents).pop().expect("announcement");
        assert!(last.text.contains("has been Mitigated"), "{}", last.text);
        // Mitigated without its required key events: the channel is told which are missing.
        eventually("the key events are asked for", || {
            kinds(&slack, &channel.id).contains(&"ff_incident_key_events_form".to_owned())
        })
        .await;
        // The commander (the reporter) was told about the role, once.
        assert_eq!(slack.direct_messages("UADA0001").len(), 1);
        assert!(
            slack.direct_messages("UADA0001")[0].text.contains("Commander"),
            "{:?}",
            slack.direct_messages("UADA0001")
        );

        // A new priority renames nothing (the name has no priority) but sets the topic.
        running.update(id, json!({"priority_id": running.priorities[&2]})).await;
        eventually("the topic follows the priority", || {
            slack.channel_named(&name).is_some_and(|c| c.topic.contains(" P2 "))
        })
        .await;
        // A new category renames the channel.
        running.update(id, json!({"incident_category_id": running.other_category.0})).await;
        let renamed = expected_name(id, &running.other_category.1);
        eventually("the channel is renamed", || {
            slack
                .channel_named(&renamed)
                .is_some_and(|c| c.id == channel.id && c.topic.contains(&running.other_category.1))
        })
        .await;
        let shown = running.incident(id).await;
        let deadline = Instant::now() + Duration::from_secs(15);
        let mut shown = shown;
        while shown["slack_channel_name"] != json!(renamed) {
            assert!(Instant::now() < deadline, "the new name is not shown: {shown}");
            tokio::time::sleep(Duration::from_millis(100)).await;
            shown = running.incident(id).await;
        }

        // Closing archives; reopening brings the channel back.
        let other = running.declare(3, "False alarm on search").await;
        let other_name = expected_name(other, &running.category.1);
        running
            .update(
                other,
                json!({"status": "Closed", "closure_reason": "false_positive", "message": "Not an incident"}),
            )
            .await;
        eventually("the channel is archived", || {
            slack.channel_named(&other_name).is_some_and(|c| c.is_archived)
        })
        .await;
        running
            .update(other, json!({"status": "Investigating", "message": "It came back after the deploy"}))
            .await;
        eventually("the channel is unarchived", || {
            slack.channel_named(&other_name).is_some_and(|c| !c.is_archived)
        })
        .await;

        assert_eq!(slack.calls_of("conversations.create").len(), 2, "one channel per incident");
        running.handle.stop(true).await;
        slack.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_asking_to_wait_delays_the_channel_and_does_not_duplicate_it() {
    let test = TestDatabase::sqlite().seeded();
    let slack = FakeSlack::start(TOKEN);
    slack.fail("conversations.create", &Failure::RateLimited(1), 2);
    slack.fail("chat.postMessage", &Failure::Status(503), 1);
    let running = start(&test, Some(&slack)).await;
    let id = running.declare(1, "Checkout is down").await;
    let name = expected_name(id, &running.category.1);
    eventually("the channel is set up", || {
        slack.channel_named(&name).is_some_and(|c| kinds(&slack, &c.id).len() == 4)
    })
    .await;
    assert_eq!(slack.calls_of("conversations.create").len(), 3, "two 429s, then made");
    assert_eq!(slack.channels().len(), 1);
    running.handle.stop(true).await;
    slack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_step_shows_on_the_incident_and_the_rest_is_done() {
    let test = TestDatabase::sqlite().seeded();
    let slack = FakeSlack::start(TOKEN);
    slack.fail("bookmarks.add", &Failure::Error("restricted_action".into()), 1);
    let running = start(&test, Some(&slack)).await;
    let id = running.declare(1, "Checkout is down").await;
    let deadline = Instant::now() + Duration::from_secs(20);
    let facet = loop {
        let shown = running.incident(id).await;
        let failure = shown["facets"]
            .as_array()
            .and_then(|facets| facets.iter().find(|f| f["kind"] == "slack_failure"))
            .cloned();
        if let Some(failure) = failure {
            break failure;
        }
        assert!(Instant::now() < deadline, "no failure shown: {shown}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(facet["value"], "bookmark the incident page");
    assert!(facet["label"].as_str().expect("label").contains("restricted_action"), "{facet}");
    let name = expected_name(id, &running.category.1);
    let channel = slack.channel_named(&name).expect("the channel was made all the same");
    assert_eq!(kinds(&slack, &channel.id).len(), 4, "the other steps ran");
    running.handle.stop(true).await;
    slack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_signed_requests_reach_the_slack_endpoint() {
    use slack_adapter::verify::sign;
    let test = TestDatabase::sqlite().seeded();
    let slack = FakeSlack::start(TOKEN);
    let running = start(&test, Some(&slack)).await;
    let endpoint = running.slack_endpoint();
    let now = chrono::Utc::now().timestamp();
    let challenge = br#"{"token":"x","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}"#;
    let post =
        |timestamp: i64, signature: Option<String>, body: &'static [u8], content_type: &'static str| {
            let mut request = running
                .client
                .post(&endpoint)
                .header("content-type", content_type)
                .header("x-slack-request-timestamp", timestamp.to_string())
                .body(body);
            if let Some(signature) = signature {
                request = request.header("x-slack-signature", signature);
            }
            request.send()
        };
    let signed = |timestamp: i64, body: &[u8]| Some(sign(SIGNING_SECRET, &timestamp.to_string(), body));
    let json = "application/json";
    assert_eq!(post(now, None, challenge, json).await.expect("r").status(), 401, "unsigned");
    assert_eq!(
        post(now, Some(sign("wrong", &now.to_string(), challenge)), challenge, json)
            .await
            .expect("r")
            .status(),
        401
    );
    assert_eq!(
        post(now - 301, signed(now - 301, challenge), challenge, json).await.expect("r").status(),
        401,
        "stale"
    );
    assert_eq!(
        post(now + 301, signed(now + 301, challenge), challenge, json).await.expect("r").status(),
        401,
        "future"
    );
    let answer = post(now, signed(now, challenge), challenge, json).await.expect("r");
    assert_eq!(answer.status(), 200);
    assert_eq!(
        answer.json::<Value>().await.expect("json"),
        json!({"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"})
    );

    let form = "application/x-www-form-urlencoded";
    let ssl = b"ssl_check=1&token=x";
    assert_eq!(post(now, signed(now, ssl), ssl, form).await.expect("r").status(), 200);
    let command = b"command=%2Fincident&text=dance&user_id=UADA0001&channel_id=C1&response_url=https%3A%2F%2Fhooks.slack.com%2Fx";
    let reply: Value =
        post(now, signed(now, command), command, form).await.expect("r").json().await.expect("json");
    assert_eq!(reply["response_type"], "ephemeral");
    assert!(reply["text"].as_str().expect("text").contains("Unknown command"), "{reply}");

    // An event is queued once, however often Slack retries it; its job keeps our records in step.
    let store = slack_adapter::store::SlackStore::new(test.database.clone());
    store
        .upsert_tagged("C0TECH01", "tech-incidents", "public", "tech_incidents", incidents_core::clock::now())
        .expect("tag");
    let event = br#"{"type":"event_callback","event_id":"Ev0RENAME1","team_id":"T0FAKE01","event":{"type":"channel_rename","channel":{"id":"C0TECH01","name":"incidents-all","created":1}}}"#;
    for _ in 0..3 {
        assert_eq!(post(now, signed(now, event), event, json).await.expect("r").status(), 200);
    }
    eventually("the rename is recorded", || {
        store.conversation("C0TECH01").ok().flatten().is_some_and(|c| c.name == "incidents-all")
    })
    .await;
    let queued: i64 = {
        use diesel::dsl::count_star;
        let mut conn = test.database.connection().expect("connection");
        storage::schema::jobs::table
            .filter(storage::schema::jobs::name.eq("slack.event"))
            .select(count_star())
            .first(&mut conn)
            .expect("count")
    };
    assert_eq!(queued, 1, "Slack's retries are recognised by event_id");
    assert_eq!(slack.calls_of("auth.test").len(), 1, "auth.test ran at start-up, once");
    let _ = BOT_USER;
    running.handle.stop(true).await;
    slack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_bot_token_there_is_no_slack_endpoint() {
    let test = TestDatabase::sqlite().seeded();
    let running = start(&test, None).await;
    let response = running.client.post(running.slack_endpoint()).body("x").send().await.expect("r");
    assert_eq!(response.status(), 404);
    let directory = format!("{}/api/v2/firefighter/slack/conversations", running.base);
    let response = running.client.get(directory).bearer_auth(&running.token).send().await.expect("r");
    assert_eq!(response.status(), 404);
    running.handle.stop(true).await;
}

#[test]
fn a_refused_bot_token_stops_the_start_up_with_one_line() {
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let test = TestDatabase::sqlite().seeded();
    let slack = runtime.block_on(async { FakeSlack::start("xoxb-another-token") });
    let app = AppBuilder::standard().configure(&vars(&test, Some(&slack))).expect("configuration");
    let error = Application::build(&app, test.database.clone()).expect_err("refused");
    assert_eq!(format!("{error:#}"), "integration slack: SLACK_BOT_TOKEN is refused by Slack (invalid_auth)");
    runtime.block_on(slack.stop());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_manage_the_slack_directory_through_the_api() {
    for test in TestDatabase::each_backend() {
        let test = test.seeded();
        let slack = FakeSlack::start(TOKEN);
        let running = start(&test, Some(&slack)).await;
        let api = format!("{}/api/v2/firefighter/slack", running.base);
        let client = &running.client;
        let put = |path: String, body: Value| {
            client.put(format!("{api}{path}")).bearer_auth(&running.token).json(&body).send()
        };

        let created = put(
            "/conversations/C0TECH01".into(),
            json!({"name": "#tech-incidents", "tag": "tech_incidents",
            "incident_category_ids": [running.category.0]}),
        )
        .await
        .expect("r");
        assert_eq!(created.status(), 200);
        let created: Value = created.json().await.expect("json");
        assert_eq!(created["name"], "tech-incidents");
        assert_eq!(created["incident_category_ids"], json!([running.category.0]));

        let refused = |response: reqwest::Response| async move {
            let status = response.status().as_u16();
            let body: Value = response.json().await.expect("json");
            (status, body["errors"][0]["attr"].as_str().unwrap_or_default().to_owned())
        };
        let taken = put("/conversations/C0OTHER1".into(), json!({"name": "other", "tag": "tech_incidents"}))
            .await
            .expect("r");
        assert_eq!(refused(taken).await, (400, "tag".to_owned()), "a tag is unique");
        let bad_tag =
            put("/conversations/C0OTHER1".into(), json!({"name": "other", "tag": "Tech Incidents"}))
                .await
                .expect("r");
        assert_eq!(refused(bad_tag).await, (400, "tag".to_owned()));
        let unknown = put(
            "/conversations/C0OTHER1".into(),
            json!({"name": "other", "incident_category_ids": ["nope"]}),
        )
        .await
        .expect("r");
        assert_eq!(refused(unknown).await, (400, "incident_category_ids".to_owned()));
        let nameless = put("/conversations/C0OTHER1".into(), json!({"tag": ""})).await.expect("r");
        assert_eq!(refused(nameless).await, (400, "name".to_owned()));

        let group = put(
            "/user-groups/S0PLAT01".into(),
            json!({"handle": "@oncall", "tag": "invited_for_all_public_p1"}),
        )
        .await
        .expect("r");
        assert_eq!(group.status(), 200);
        let groups: Value = client
            .get(format!("{api}/user-groups"))
            .bearer_auth(&running.token)
            .send()
            .await
            .expect("r")
            .json()
            .await
            .expect("json");
        assert_eq!(groups[0]["handle"], "oncall");
        assert_eq!(groups[0]["tag"], "invited_for_all_public_p1");
        let listed: Value = client
            .get(format!("{api}/conversations"))
            .bearer_auth(&running.token)
            .send()
            .await
            .expect("r")
            .json()
            .await
            .expect("json");
        assert_eq!(listed.as_array().map(Vec::len), Some(1));

        // Admins only.
        let user = test
            .database
            .create_user(&NewUser {
                email: Email::parse("bob@example.com").expect("email"),
                name: "Bob".into(),
                is_admin: false,
                password_hash: None,
            })
            .expect("user");
        let token = http_api::new_token();
        test.database.create_api_token(user.id, "bob", &http_api::hash_token(&token), None).expect("token");
        let forbidden =
            client.get(format!("{api}/conversations")).bearer_auth(&token).send().await.expect("r");
        assert_eq!(forbidden.status(), 403);
        assert_eq!(client.get(format!("{api}/conversations")).send().await.expect("r").status(), 401);

        let delete = |path: &str| client.delete(format!("{api}{path}")).bearer_auth(&running.token).send();
        assert_eq!(delete("/conversations/C0TECH01").await.expect("r").status(), 204);
        assert_eq!(delete("/conversations/C0TECH01").await.expect("r").status(), 404);
        assert_eq!(delete("/user-groups/S0PLAT01").await.expect("r").status(), 204);
        running.handle.stop(true).await;
        slack.stop().await;
    }
}

/// Sends an Events API envelope, signed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn people_joining_the_channel_and_megaphoned_messages_reach_the_incident() {
    for test in TestDatabase::each_backend() {
        let test = test.seeded();
        let slack = FakeSlack::start(TOKEN);
        slack.add_user("UADA0001", "ada", "ada@example.com");
        slack.add_user("UEVE0001", "eve", "eve@example.com");
        let running = start(&test, Some(&slack)).await;
        let id = running.declare(1, "Checkout is down").await;
        let name = expected_name(id, &running.category.1);
        eventually("the channel exists", || slack.channel_named(&name).is_some()).await;
        let channel = slack.channel_named(&name).expect("channel").id;

        // Eve, unknown to the product, joins: she becomes a user and a member.
        send_event(
            &running,
            "Ev0JOIN001",
            json!({"type": "member_joined_channel", "user": "UEVE0001",
            "channel": channel, "channel_type": "C"}),
        )
        .await;
        eventually("Eve is a member", || members(&test, id).contains(&"eve@example.com".to_owned())).await;

        // Ada reacts :mega: to Eve's message: a timeline entry credited to Eve, once.
        let ts = slack.post_as("UEVE0001", &channel, "Payments provider confirms an outage on their side");
        let reaction = json!({"type": "reaction_added", "user": "UADA0001", "reaction": "mega", "item_user": "UEVE0001",
            "item": {"type": "message", "channel": channel, "ts": ts}, "event_ts": "1700000100.000100"});
        send_event(&running, "Ev0MEGA001", reaction.clone()).await;
        let entry = (
            Some("Payments provider confirms an outage on their side".to_owned()),
            Some("eve@example.com".to_owned()),
        );
        eventually("the message is on the timeline", || timeline(&test, id).contains(&entry)).await;
        send_event(&running, "Ev0MEGA002", reaction).await;
        eventually("the second reaction is answered", || !slack.calls_of("chat.postEphemeral").is_empty())
            .await;
        assert!(slack.calls_of("chat.postEphemeral")[0].argument("text").contains("already been created"));
        assert_eq!(timeline(&test, id).iter().filter(|e| **e == entry).count(), 1, "one entry per message");

        // Eve leaves: no longer a member. Ada, the commander, stays one whatever happens.
        send_event(
            &running,
            "Ev0LEFT001",
            json!({"type": "member_left_channel", "user": "UEVE0001", "channel": channel}),
        )
        .await;
        send_event(
            &running,
            "Ev0LEFT002",
            json!({"type": "member_left_channel", "user": "UADA0001", "channel": channel}),
        )
        .await;
        eventually("Eve is no longer a member", || members(&test, id) == ["ada@example.com"]).await;
        running.handle.stop(true).await;
        slack.stop().await;
    }
}
