//! Commands, shortcuts, buttons, modals and the home tab, driven as Slack drives them.

use super::support::*;
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_responder_declares_runs_and_closes_an_incident_without_leaving_slack() {
    use incidents_core::query::IncidentQueries;
    for test in TestDatabase::each_backend() {
        let test = test.seeded();
        let slack = FakeSlack::start(TOKEN);
        // Bob is not a user yet: his first command makes him one, with the responder permissions.
        slack.add_user("UBOB0001", "bob", "bob@example.com");
        let general = slack.add_channel("general");
        let running = start(&test, Some(&slack)).await;
        let backend = test.backend();

        // Help, and unknown text answered with help.
        let help = command(&running, "UBOB0001", &general, "help").await;
        assert_eq!(help["response_type"], "ephemeral");
        assert!(
            help.to_string().contains("Commands Help") && !help.to_string().contains("Unknown"),
            "{help}"
        );
        let unknown = command(&running, "UBOB0001", &general, "dance").await;
        assert!(unknown.to_string().contains(":x: Unknown command `dance`!"), "{unknown}");
        assert!(unknown.to_string().contains("Commands Help"), "{unknown}");

        // `/incident open`: the root of the flow, which cannot be submitted yet.
        assert_eq!(command(&running, "UBOB0001", &general, "open").await, Value::Null);
        let root = nth_view(&slack, "views.open", 1).await;
        assert_eq!(root["callback_id"], "incident_open");
        assert!(root.get("submit").is_none(), "nothing to submit yet");

        // Step 1: impacts; choosing one updates the priority at once.
        interact(
            &running,
            &block_action("UBOB0001", Some(&root), None, json!({"action_id": "push_incident_select_impact", "type": "button", "value": "impacts", "block_id": "step_impacts"})),
        )
        .await;
        let impacts = nth_view(&slack, "views.push", 1).await;
        assert_eq!(impacts["callback_id"], "incident_select_impact");
        let business = test
            .database
            .impact_types()
            .expect("impact types")
            .into_iter()
            .find(|t| t.value == "business_impact")
            .expect("business");
        let high = business.levels.iter().find(|l| l.value == "HI").expect("high").id.clone();
        let action_id = impacts["blocks"]
            .as_array()
            .expect("blocks")
            .iter()
            .find(|b| b["block_id"] == "set_impact_type_business_impact")
            .expect("select")["accessory"]["action_id"]
            .as_str()
            .expect("id")
            .to_owned();
        interact(
            &running,
            &block_action("UBOB0001", Some(&impacts), None, json!({"action_id": action_id, "type": "static_select", "block_id": "set_impact_type_business_impact", "selected_option": {"value": high}})),
        )
        .await;
        let live = nth_view(&slack, "views.update", 1).await;
        assert!(view_text(&live).contains("Selected priority: *P2"), "{}", view_text(&live));
        let saved = interact(
            &running,
            &submission("UBOB0001", &impacts, json!({"set_impact_type_business_impact": {action_id.clone(): {"type": "static_select", "selected_option": {"value": high}}}})),
        )
        .await;
        assert_eq!(saved, Value::Null, "the step closes");
        let root = nth_view(&slack, "views.update", 2).await;
        assert_eq!(root["id"], json!("Vviews.open1"), "the root is updated");
        assert!(view_text(&root).contains("Edit impacts") && view_text(&root).contains("Set details"));

        // Step 2: details, validated field by field.
        interact(
            &running,
            &block_action(
                "UBOB0001",
                Some(&root),
                None,
                json!({"action_id": "push_incident_unified", "type": "button", "value": "details"}),
            ),
        )
        .await;
        let details = nth_view(&slack, "views.push", 2).await;
        assert_eq!(details["callback_id"], "open_incident_unified");
        assert!(block_ids(&details).starts_with(&[
            "incident_category".into(),
            "environment".into(),
            "platform".into(),
            "title".into(),
            "description".into()
        ]));
        let values = |title: &str| {
            json!({
                "incident_category": {"incident_category": select(&running.category.0)},
                "environment": {"environment": multi(&[&running.environment])},
                "platform": {"platform": multi(&["platform-FR", "platform-DE"])},
                "title": {"title": plain(title)},
                "description": {"description": plain("Orders fail at the payment step for every customer.")},
            })
        };
        let refused = interact(&running, &submission("UBOB0001", &details, values("Down"))).await;
        assert_eq!(refused["response_action"], "errors");
        assert!(refused["errors"]["title"].as_str().expect("title").contains("at least 10"), "{refused}");
        assert_eq!(
            interact(&running, &submission("UBOB0001", &details, values("Checkout is down for everyone")))
                .await,
            Value::Null
        );
        let root = nth_view(&slack, "views.update", 3).await;
        assert_eq!(root["submit"]["text"], "Create the incident");
        assert!(
            view_text(&root).contains("A dedicated Slack channel will be created"),
            "{}",
            view_text(&root)
        );

        // Submit: the incident exists, with its channel.
        let mut final_root = root.clone();
        final_root["id"] = json!(slack.calls_of("views.update")[2].argument("view_id"));
        assert_eq!(interact(&running, &submission("UBOB0001", &final_root, json!({}))).await, Value::Null);
        let page = test
            .database
            .incidents(
                &Default::default(),
                Default::default(),
                incidents_core::query::PageRequest::new(10, 0),
            )
            .expect("incidents");
        let incident = page.items.first().expect("declared").clone();
        let id = incident.id.0;
        assert_eq!(incident.title, "Checkout is down for everyone", "{backend:?}");
        assert_eq!(incident.priority.value, 2);
        assert_eq!(incident.created_by.email, "bob@example.com");
        assert_eq!(incident.custom_fields["platforms"], json!(["FR", "DE"]));
        let store = slack_adapter::store::SlackStore::new(test.database.clone());
        eventually("the channel is made", || store.channel_of(id).ok().flatten().is_some()).await;
        let channel = store.channel_of(id).expect("store").expect("channel").channel_id;
        eventually("Bob is told", || {
            slack
                .calls_of("chat.postEphemeral")
                .iter()
                .any(|c| c.argument("text").contains(&format!("Incident #{id} is declared")))
        })
        .await;
        eventually("the key events form is posted", || {
            kinds(&slack, &channel).contains(&"ff_incident_key_events_form".to_owned())
        })
        .await;

        // `/incident update` in the channel: the menu, then the status modal with the workflow's choices.
        command(&running, "UBOB0001", &channel, "update").await;
        let menu = nth_view(&slack, "views.open", 2).await;
        assert_eq!(menu["callback_id"], "incident_update");
        let mut step = 2;
        let mut move_to = |label: &'static str, message: &'static str| {
            step += 1;
            let n = step;
            let running = &running;
            let slack = &slack;
            let menu = menu.clone();
            async move {
                interact(
                    running,
                    &block_action("UBOB0001", Some(&menu), None, json!({"action_id": "push_modal_incident_update_status", "type": "button", "value": id.to_string()})),
                )
                .await;
                let modal = nth_view(slack, "views.push", n).await;
                assert_eq!(modal["callback_id"], "incident_update_status");
                let status = option_value(&modal, "status", label);
                let status_action = modal["blocks"]
                    .as_array()
                    .expect("blocks")
                    .iter()
                    .find(|b| b["block_id"] == "status")
                    .expect("status")["element"]["action_id"]
                    .as_str()
                    .expect("id")
                    .to_owned();
                // Slack sends every element's state, untouched selects with their initial option.
                let mut values = initial_state(&modal);
                values["message"] = json!({"message": plain(message)});
                values["status"] = json!({status_action: select(&status)});
                interact(running, &submission("UBOB0001", &modal, values)).await
            }
        };
        assert_eq!(move_to("Investigating", "Looking at the payment provider").await, Value::Null);
        // Checked in the request, applied right after by a job.
        eventually("the update is applied", || status_of(&test, id).0 == 20).await;
        // Closing from Investigating asks for a reason first (pushed in the acknowledgement).
        let early = move_to("Closed", "").await;
        assert_eq!(early["response_action"], "push", "{early}");
        assert_eq!(early["view"]["callback_id"], "incident_closure_reason");
        assert_eq!(move_to("Mitigating", "Rolling back the release").await, Value::Null);
        eventually("the update is applied", || status_of(&test, id).0 == 30).await;
        assert_eq!(move_to("Mitigated", "Rolled back, orders go through").await, Value::Null);
        eventually("the update is applied", || status_of(&test, id).0 == 40).await;

        // `/incident close`: refused with its reasons while key events are missing.
        command(&running, "UBOB0001", &channel, "close").await;
        let blocked = nth_view(&slack, "views.open", 3).await;
        assert_eq!(blocked["callback_id"], "incident_close");
        assert!(blocked.get("submit").is_none());
        assert!(
            view_text(&blocked).contains("can't be closed yet")
                && view_text(&blocked).contains("Missing required key events")
        );

        // The key events, from the channel's message.
        for (event_type, minutes_ago) in [("started", 60), ("detected", 50), ("recovered", 10)] {
            let at = chrono::Utc::now().timestamp() - minutes_ago * 60;
            interact(
                &running,
                &block_action("UBOB0001", None, Some(&channel), json!({"action_id": format!("key_event_{event_type}"), "type": "datetimepicker", "block_id": format!("key_event_{event_type}"), "selected_date_time": at})),
            )
            .await;
        }
        eventually("the form shows every key event is in", || {
            slack
                .messages_in(&channel)
                .iter()
                .any(|m| m.blocks.to_string().contains("All required key events have been submitted"))
        })
        .await;

        // Now the close form, and the channel is archived.
        command(&running, "UBOB0001", &channel, "close").await;
        let close = nth_view(&slack, "views.open", 4).await;
        assert_eq!(close["submit"]["text"], "Close incident", "{}", view_text(&close));
        let closed = interact(
            &running,
            &submission("UBOB0001", &close, json!({
                "title": {"title": plain("Checkout is down for everyone")},
                "description": {"description": plain("Orders failed at the payment step for every customer.")},
                "message": {"message": plain("Fixed by the rollback")},
                "incident_category": {"incident_category": select(&running.category.0)},
            })),
        )
        .await;
        assert_eq!(closed, Value::Null, "{closed}");
        assert_eq!(status_of(&test, id).0, 60, "{backend:?}");
        eventually("the channel is archived", || {
            slack.channels().iter().any(|c| c.id == channel && c.is_archived)
        })
        .await;
        running.handle.stop(true).await;
        slack.stop().await;
    }
}

/// Opens the modal `action_id` (a button carrying the incident id) and returns it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_of_the_forms_and_of_the_workflow_show_on_the_field_they_concern() {
    let test = TestDatabase::sqlite().seeded();
    let slack = FakeSlack::start(TOKEN);
    slack.add_user("UADA0001", "ada", "ada@example.com");
    slack.add_user("UBOB0001", "bob", "bob@example.com");
    let general = slack.add_channel("general");
    let running = start(&test, Some(&slack)).await;
    let id = running.declare(1, "Checkout is down").await;
    let store = slack_adapter::store::SlackStore::new(test.database.clone());
    eventually("the channel is made", || store.channel_of(id).ok().flatten().is_some()).await;
    let channel = store.channel_of(id).expect("store").expect("channel").channel_id;

    // Outside an incident channel: choose the incident first, then the modal replaces the choice.
    command(&running, "UBOB0001", &general, "update").await;
    let choose = nth_view(&slack, "views.open", 1).await;
    assert_eq!(choose["callback_id"], "incident_update");
    assert!(block_ids(&choose).contains(&"incident_update_select_incident".to_owned()));
    interact(
        &running,
        &block_action("UBOB0001", Some(&choose), None, json!({"action_id": "incident_update_select_incident", "type": "static_select", "selected_option": {"value": id.to_string()}})),
    )
    .await;
    let menu = nth_view(&slack, "views.update", 1).await;
    assert!(view_text(&menu).contains("push_modal_incident_update_status"), "{}", view_text(&menu));
    // `edit` has the fallback too (the original's had none).
    command(&running, "UBOB0001", &general, "edit").await;
    assert_eq!(nth_view(&slack, "views.open", 2).await["callback_id"], "incident_edit_incident");

    // Update status: an empty submission, a choice that was never offered, then a reopening without
    // a justification (the workflow's refusal, with its code, on the message).
    let modal = open_modal(&running, &slack, "UBOB0001", "open_modal_incident_update_status", id).await;
    let bare = interact(&running, &json!({"type": "view_submission", "user": {"id": "UBOB0001"}, "view": {"id": "V1", "callback_id": "incident_update_status", "private_metadata": id.to_string()}})).await;
    assert_eq!(bare["response_action"], "errors", "{bare}");
    let mut values = initial_state(&modal);
    let status_action = values["status"].as_object().expect("status").keys().next().expect("action").clone();
    values["status"] = json!({status_action.clone(): select("40")});
    let not_offered = interact(&running, &submission("UBOB0001", &modal, values.clone())).await;
    assert!(
        not_offered["errors"]["status"].as_str().expect("status").contains("TRANSITION_NOT_ALLOWED"),
        "{not_offered}"
    );
    for (status, message) in [("20", "Looking"), ("30", "Rolling back"), ("40", "Rolled back")] {
        running.update(id, json!({"status": match status { "20" => "Investigating", "30" => "Mitigating", _ => "Mitigated" }, "message": message})).await;
    }
    let modal = open_modal(&running, &slack, "UBOB0001", "open_modal_incident_update_status", id).await;
    let mut values = initial_state(&modal);
    let status_action = values["status"].as_object().expect("status").keys().next().expect("action").clone();
    values["status"] = json!({status_action.clone(): select("20")});
    values["message"] = json!({"message": plain("again")});
    let reopen = interact(&running, &submission("UBOB0001", &modal, values.clone())).await;
    assert!(reopen["errors"]["message"].as_str().is_some_and(|m| m.contains("at least 10")), "{reopen}");
    values["message"] = json!({"message": json!({"type": "plain_text_input", "value": null})});
    let reopen = interact(&running, &submission("UBOB0001", &modal, values.clone())).await;
    assert!(
        reopen["errors"]["message"].as_str().is_some_and(|m| m.contains("REOPEN_JUSTIFICATION_REQUIRED")),
        "{reopen}"
    );
    // Closing a P1 without its key events: the close guard's reasons on the status.
    values["status"] = json!({status_action: select("60")});
    let guarded = interact(&running, &submission("UBOB0001", &modal, values)).await;
    assert!(
        guarded["errors"]["status"].as_str().is_some_and(|m| m.contains("• Missing key events")),
        "{guarded}"
    );
    assert_eq!(status_of(&test, id).0, 40, "nothing changed");

    // Edit: validated, then saved.
    let edit = open_modal(&running, &slack, "UBOB0001", "open_modal_incident_edit", id).await;
    let mut values = initial_state(&edit);
    values["title"] = json!({"title": plain("Short")});
    assert!(
        interact(&running, &submission("UBOB0001", &edit, values.clone())).await["errors"]["title"]
            .is_string()
    );
    values["title"] = json!({"title": plain("Checkout is down in France")});
    assert_eq!(interact(&running, &submission("UBOB0001", &edit, values)).await, Value::Null);
    assert_eq!(running.incident(id).await["title"], "Checkout is down in France");

    // Roles: Bob becomes communication lead; the commander cannot be emptied.
    let roles = open_modal(&running, &slack, "UBOB0001", "open_modal_incident_update_roles", id).await;
    assert!(block_ids(&roles).contains(&"role_commander".to_owned()), "{:?}", block_ids(&roles));
    let mut values = initial_state(&roles);
    let lead =
        values["role_communication_lead"].as_object().expect("lead").keys().next().expect("action").clone();
    values["role_communication_lead"] = json!({lead: {"type": "users_select", "selected_user": "UBOB0001"}});
    assert_eq!(interact(&running, &submission("UBOB0001", &roles, values.clone())).await, Value::Null);
    let shown = running.incident(id).await;
    assert!(shown.to_string().contains("bob@example.com"), "{shown}");
    let commander =
        values["role_commander"].as_object().expect("commander").keys().next().expect("action").clone();
    values["role_commander"] = json!({commander: {"type": "users_select", "selected_user": null}});
    let emptied = interact(&running, &submission("UBOB0001", &roles, values)).await;
    assert!(emptied["errors"]["role_commander"].is_string(), "{emptied}");

    // Status recap, from a message shortcut in the channel.
    let opened = views(&slack, "views.open").len();
    interact(
        &running,
        &json!({"type": "message_action", "callback_id": "incident_status", "user": {"id": "UBOB0001"},
        "channel": {"id": channel}, "trigger_id": "t", "message": {"ts": "1"}}),
    )
    .await;
    let recap = nth_view(&slack, "views.open", opened + 1).await;
    assert_eq!(recap["callback_id"], "incident_status");
    assert!(
        view_text(&recap).contains("Key participants") && view_text(&recap).contains("Rolled back"),
        "{}",
        view_text(&recap)
    );

    // The other shortcuts: global ones ask which incident, message ones use the channel's.
    for (kind, callback, expected, select) in [
        ("shortcut", "open_incident", "incident_open", false),
        ("shortcut", "close_incident", "incident_close", true),
        ("message_action", "update_incident_status", "incident_update_status", false),
        ("message_action", "modal_edit", "incident_edit_incident", false),
    ] {
        let opened = views(&slack, "views.open").len();
        let mut payload =
            json!({"type": kind, "callback_id": callback, "user": {"id": "UBOB0001"}, "trigger_id": "t"});
        if kind == "message_action" {
            payload["channel"] = json!({"id": channel});
            payload["message"] = json!({"ts": "1700000000.000100", "text": "hello"});
        }
        interact(&running, &payload).await;
        let view = nth_view(&slack, "views.open", opened + 1).await;
        assert_eq!(view["callback_id"], expected, "{callback}");
        assert_eq!(
            block_ids(&view).contains(&"incident_update_select_incident".to_owned()),
            select,
            "{callback}"
        );
    }

    // Closure reason: required, then the incident closes with it; the person is told.
    let reason = open_modal(&running, &slack, "UBOB0001", "closure_reason_incident", id).await;
    assert_eq!(reason["callback_id"], "incident_closure_reason");
    let missing = interact(
        &running,
        &submission(
            "UBOB0001",
            &reason,
            json!({"closure_message": {"closure_message": plain("A duplicate")}}),
        ),
    )
    .await;
    assert!(
        missing["errors"]["closure_reason"].as_str().is_some_and(|m| m.contains("required")),
        "{missing}"
    );
    let values = json!({
        "closure_reason": {"closure_reason": select("duplicate")},
        "closure_reference": {"closure_reference": plain("#1234")},
        "closure_message": {"closure_message": plain("Same as the payment incident")},
    });
    // Mitigated already: the close guard still applies (its reasons on the message), as the original.
    let guarded = interact(&running, &submission("UBOB0001", &reason, values.clone())).await;
    assert!(
        guarded["errors"]["closure_message"]
            .as_str()
            .is_some_and(|m| m.starts_with("Cannot close this incident:\n• Missing key events")),
        "{guarded}"
    );
    // Closing early, from Investigating, a reason is all it takes.
    let id = running.declare(1, "Checkout is down again").await;
    running.update(id, json!({"status": "Investigating", "message": "Looking"})).await;
    let reason = open_modal(&running, &slack, "UBOB0001", "closure_reason_incident", id).await;
    let closed = interact(&running, &submission("UBOB0001", &reason, values)).await;
    assert_eq!(closed, json!({"response_action": "clear"}));
    assert_eq!(status_of(&test, id), (60, Some("duplicate".to_owned())));
    eventually("Bob is told", || {
        slack
            .direct_messages("UBOB0001")
            .iter()
            .any(|m| m.text.contains(&format!("Incident #{id} has been closed")))
    })
    .await;

    // An update checked in the request but refused when applied (the incident changed meanwhile):
    // the person is told.
    let bob = slack_adapter::store::SlackStore::new(test.database.clone())
        .user_of("UBOB0001")
        .expect("store")
        .expect("Bob is a user")
        .0;
    let late = slack_adapter::interact::apply::ApplyUpdateJob {
        submission: "VLATE:1".into(),
        incident_id: id,
        user_id: bob,
        slack_user: "UBOB0001".into(),
        message: Some("Moving on".into()),
        status: Some(20),
        priority_id: None,
        category_id: None,
    };
    {
        use jobs::JobStore;
        let now = incidents_core::clock::now();
        test.database.enqueue(&jobs::Enqueue::new(&late).expect("job"), now, now).expect("enqueue");
    }
    eventually("Bob hears his update was not applied", || {
        slack
            .direct_messages("UBOB0001")
            .iter()
            .any(|m| m.text.contains("was not applied") && m.text.contains("REOPEN_JUSTIFICATION_REQUIRED"))
    })
    .await;

    // A submission about an incident that does not exist still gets an answer; so does closing a modal.
    let ghost = interact(
        &running,
        &submission(
            "UBOB0001",
            &json!({"id": "V9", "callback_id": "incident_update_status", "private_metadata": "999999"}),
            json!({
                "status": {"status": select("20")},
                "priority": {"priority": select(&running.priorities[&1])},
                "incident_category": {"incident_category": select(&running.category.0)},
            }),
        ),
    )
    .await;
    assert!(ghost["errors"]["status"].as_str().is_some_and(|m| m.contains("no longer exists")), "{ghost}");
    assert_eq!(interact(&running, &json!({"type": "view_closed", "user": {"id": "UBOB0001"}, "view": {"id": "V1", "callback_id": "incident_open"}})).await, Value::Null);
    running.handle.stop(true).await;
    slack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_follows_the_permission_model_and_the_configured_policy() {
    let test = TestDatabase::sqlite().seeded();
    let slack = FakeSlack::start(TOKEN);
    slack.add_user("UADA0001", "ada", "ada@example.com");
    slack.add_user("UBOB0001", "bob", "bob@example.com");
    slack.add_user("UEVE0001", "eve", "eve@example.com");
    // Eve is a user without the permission to change incidents.
    let eve = test
        .database
        .create_user(&NewUser {
            email: Email::parse("eve@example.com").expect("email"),
            name: "Eve".into(),
            is_admin: false,
            password_hash: None,
        })
        .expect("eve");
    test.database
        .grant_permissions(
            eve.id,
            &[incidents_core::access::Permission::parse("incidents.view_incident").expect("permission")],
        )
        .expect("grant");
    let mut vars = vars(&test, Some(&slack));
    vars.insert("FF_SLACK_CLOSE_ALLOWED".into(), "roles".into());
    let running = start_with(&test, &vars).await;
    let id = running.declare(1, "Checkout is down").await;
    for (status, message) in
        [("Investigating", "Looking"), ("Mitigating", "Rolling back"), ("Mitigated", "Rolled back")]
    {
        running.update(id, json!({"status": status, "message": message})).await;
    }

    // Bob (any workspace member) may update, but closing is for role holders here.
    let modal = open_modal(&running, &slack, "UBOB0001", "open_modal_incident_update_status", id).await;
    let mut values = initial_state(&modal);
    let status_action = values["status"].as_object().expect("status").keys().next().expect("action").clone();
    values["status"] = json!({status_action: select("60")});
    let refused = interact(&running, &submission("UBOB0001", &modal, values)).await;
    assert!(
        refused["errors"]["status"].as_str().is_some_and(|m| m.contains("Only the incident's role holders")),
        "{refused}"
    );
    // Eve may not change incidents at all: told before any modal opens.
    let opened = views(&slack, "views.open").len();
    // She is known once linked (her first command links her).
    command(&running, "UEVE0001", "CNOWHERE", "help").await;
    eventually("Eve is linked", || {
        slack_adapter::store::SlackStore::new(test.database.clone())
            .user_of("UEVE0001")
            .ok()
            .flatten()
            .is_some()
    })
    .await;
    interact(&running, &block_action("UEVE0001", None, None, json!({"action_id": "open_modal_incident_update_status", "type": "button", "value": id.to_string()}))).await;
    eventually("Eve is told why", || {
        slack
            .calls_of("chat.postEphemeral")
            .iter()
            .chain(slack.calls_of("chat.postMessage").iter())
            .any(|c| c.argument("text").contains("incidents.change_incident"))
    })
    .await;
    assert_eq!(views(&slack, "views.open").len(), opened, "no modal for Eve");
    running.handle.stop(true).await;
    slack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_home_tab_lists_the_critical_incidents_and_follows_them() {
    let test = TestDatabase::sqlite().seeded();
    let slack = FakeSlack::start(TOKEN);
    slack.add_user("UADA0001", "ada", "ada@example.com");
    slack.add_user("UBOB0001", "bob", "bob@example.com");
    let running = start(&test, Some(&slack)).await;
    let published = |n: usize| {
        let calls = slack.calls_of("views.publish");
        (calls.len() >= n).then(|| {
            let call = &calls[n - 1];
            (call.argument("user_id").to_owned(), call.argument("view").to_owned())
        })
    };
    send_event(
        &running,
        "Ev0HOME001",
        json!({"type": "app_home_opened", "user": "UBOB0001", "channel": "D0BOB001", "tab": "home"}),
    )
    .await;
    eventually("Bob's home is published", || published(1).is_some()).await;
    let (user, view) = published(1).expect("published");
    assert_eq!(user, "UBOB0001");
    assert!(view.contains("0 critical incidents active") && view.contains("No active incidents"), "{view}");

    // A P1 appears on the home; a P4 changes nothing there (no call); a P2 appears.
    let p1 = running.declare(1, "Checkout is down").await;
    eventually("the home follows the P1", || published(2).is_some()).await;
    let (_, view) = published(2).expect("published");
    assert!(view.contains("1 critical incident active") && view.contains("Checkout is down"), "{view}");
    running.declare(4, "A typo on the help page").await;
    running.declare(2, "Search is slow").await;
    // The home is also published again when an incident's channel is made (its link shows), so the
    // P2's publish is the latest one, not necessarily the third.
    let views = || -> Vec<String> {
        slack.calls_of("views.publish").iter().map(|call| call.argument("view").to_owned()).collect()
    };
    eventually("the home follows the P2", || {
        views().last().is_some_and(|view| view.contains("2 critical incidents active"))
    })
    .await;
    // Until both incidents show their channel's link rather than their number.
    eventually("the home links both channels", || {
        views()
            .last()
            .is_some_and(|view| view.contains("2 critical incidents active") && !view.contains("*#"))
    })
    .await;
    assert!(views().iter().all(|view| !view.contains("A typo")), "P4s are not critical");
    // Once the home is settled, a P4 publishes nothing.
    let mut settled = views().len();
    loop {
        tokio::time::sleep(Duration::from_millis(700)).await;
        let now = views().len();
        if now == settled {
            break;
        }
        settled = now;
    }
    running.declare(4, "Another typo").await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(views().len(), settled, "the P4 published nothing");

    // The incident's overflow menu opens its status update.
    interact(
        &running,
        &json!({"type": "block_actions", "user": {"id": "UBOB0001"}, "trigger_id": "t",
            "view": {"id": "VHOME01", "type": "home", "private_metadata": ""},
            "container": {"type": "view", "view_id": "VHOME01"},
            "actions": [{"action_id": "app_home_incident_action", "type": "overflow",
                "block_id": format!("app_home_incident_element_{p1}"), "selected_option": {"value": "update_status"}}]}),
    )
    .await;
    let modal = nth_view(&slack, "views.open", 1).await;
    assert_eq!(modal["callback_id"], "incident_update_status");
    assert_eq!(modal["private_metadata"], json!(p1.to_string()));
    running.handle.stop(true).await;
    slack.stop().await;
}
