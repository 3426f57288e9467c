//! The SOS, on-call, post-mortem and downgrade flows (§7.12–§7.15), driven as Slack drives them.

use std::sync::{Arc, Mutex};

use incidents_core::IncidentId;
use incidents_core::paging::{Page, PageRequest, PagingError, PagingPort, PagingService};
use incidents_core::ports::{PostMortemBackend, SharedPostMortems};
use platform::{Context, Integration};

use super::support::*;

/// A paging service and a post-mortem backend, as a deployment's integration would provide them:
/// the on-call and post-mortem modals only see the ports.
#[derive(Debug, Default, Clone)]
struct Pager {
    pages: Arc<Mutex<Vec<PageRequest>>>,
}

impl PagingPort for Pager {
    fn platform(&self) -> &'static str {
        "pagerduty"
    }

    fn services(&self) -> Result<Vec<PagingService>, PagingError> {
        Ok(["Checkout", "Payments", "Broken"]
            .iter()
            .map(|name| PagingService {
                id: format!("P{}", name.to_uppercase()),
                name: (*name).to_owned(),
                url: Some(format!("https://pd.example.com/services/{name}")),
            })
            .collect())
    }

    fn pages(&self, incident: IncidentId) -> Result<Vec<Page>, PagingError> {
        let services = self.services()?;
        let pages = self.pages.lock().expect("pages");
        Ok(pages
            .iter()
            .filter(|page| page.incident_id == incident)
            .filter_map(|page| {
                let service = services.iter().find(|s| s.id == page.service_id)?.clone();
                Some(Page { service, reference: format!("Q{}", page.dedup_key), url: None })
            })
            .collect())
    }

    fn trigger(&self, request: &PageRequest) -> Result<Page, PagingError> {
        if request.service_id == "PBROKEN" {
            return Err(PagingError::Permanent("the service has no escalation policy".into()));
        }
        let mut pages = self.pages.lock().expect("pages");
        if !pages.iter().any(|page| page.dedup_key == request.dedup_key) {
            pages.push(request.clone());
        }
        let service = self.services()?.into_iter().find(|s| s.id == request.service_id).expect("service");
        Ok(Page { service, reference: "Q1".into(), url: Some("https://pd.example.com/incidents/Q1".into()) })
    }
}

#[derive(Debug)]
struct Configured;

impl PostMortemBackend for Configured {
    fn is_configured(&self) -> bool {
        true
    }
}

struct OnCall(Pager);

impl Integration for OnCall {
    fn name(&self) -> &'static str {
        "test_oncall"
    }

    fn paging(&self, _context: &Context) -> Option<Arc<dyn PagingPort>> {
        Some(Arc::new(self.0.clone()))
    }

    fn postmortem_backend(&self) -> Option<SharedPostMortems> {
        Some(Arc::new(Configured))
    }
}

async fn api(running: &Running, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut request = running
        .client
        .request(method, format!("{}/api/v2/firefighter/slack/{path}", running.base))
        .bearer_auth(&running.token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    (status, if text.is_empty() { Value::Null } else { serde_json::from_str(&text).expect("json") })
}

fn timeline_events(test: &TestDatabase, incident: i64) -> Vec<(Option<String>, Option<String>)> {
    use storage::schema::incident_updates;
    let mut conn = test.database.connection().expect("connection");
    incident_updates::table
        .filter(incident_updates::incident_id.eq(incident))
        .order(incident_updates::created_at)
        .select((incident_updates::event_type, incident_updates::message))
        .load(&mut conn)
        .expect("timeline")
}

async fn incident_channel(test: &TestDatabase, id: i64) -> String {
    let store = slack_adapter::store::SlackStore::new(test.database.clone());
    eventually("the channel is made", || store.channel_of(id).ok().flatten().is_some()).await;
    store.channel_of(id).expect("store").expect("channel").channel_id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sos_targets_are_managed_through_the_api_and_the_sos_modal_asks_them_for_help() {
    for test in TestDatabase::each_backend() {
        let test = test.seeded();
        let slack = FakeSlack::start(TOKEN);
        slack.add_user("UBOB0001", "bob", "bob@example.com");
        let sre = slack.add_channel("sre");
        let running = start(&test, Some(&slack)).await;
        let id = running.declare(1, "Checkout is down").await;
        let channel = incident_channel(&test, id).await;

        // No target yet: the modal says how to add one, and cannot be submitted.
        assert_eq!(command(&running, "UBOB0001", &channel, "sos").await, Value::Null);
        let empty = nth_view(&slack, "views.open", 1).await;
        assert_eq!(empty["callback_id"], "incident_send_sos");
        assert!(empty.get("submit").is_none() && view_text(&empty).contains("No SOS is configured"));

        // Targets through the API: unknown conversations and groups are refused, naming the field.
        let put = |body: Value| api(&running, reqwest::Method::PUT, "sos/SRE", Some(body));
        let (status, body) = put(json!({"channel_id": sre})).await;
        assert_eq!(status, 400, "{body}");
        assert!(body.to_string().contains("channel_id"), "{body}");
        let (status, _) = api(
            &running,
            reqwest::Method::PUT,
            &format!("conversations/{sre}"),
            Some(json!({"name": "sre"})),
        )
        .await;
        assert_eq!(status, 200);
        let (status, body) = put(json!({"channel_id": sre, "usergroup_id": "S0SRE001"})).await;
        assert_eq!(status, 400, "{body}");
        assert!(body.to_string().contains("usergroup_id"), "{body}");
        let (status, _) = api(
            &running,
            reqwest::Method::PUT,
            "user-groups/S0SRE001",
            Some(json!({"handle": "sre-oncall"})),
        )
        .await;
        assert_eq!(status, 200);
        let (status, body) = put(json!({"channel_id": sre, "usergroup_id": "S0SRE001"})).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["handle"], "sre-oncall");
        let (status, body) = put(json!({})).await;
        assert_eq!(status, 400, "{body}");
        let (_, listed) = api(&running, reqwest::Method::GET, "sos", None).await;
        assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");

        // Outside the incident's channel the incident is chosen first; then the targets are offered.
        let general = slack.add_channel("general");
        command(&running, "UBOB0001", &general, "sos").await;
        let choose = nth_view(&slack, "views.open", 2).await;
        assert_eq!(choose["callback_id"], "incident_send_sos");
        assert!(block_ids(&choose).contains(&"incident_update_select_incident".to_owned()));
        interact(
            &running,
            &block_action("UBOB0001", Some(&choose), None, json!({"action_id": "incident_update_select_incident", "type": "static_select", "selected_option": {"value": id.to_string()}})),
        )
        .await;
        let modal = nth_view(&slack, "views.update", 1).await;
        assert_eq!(modal["title"]["text"], format!("Get help for #{id}"));
        assert!(view_text(&modal).contains("SRE  (@sre-oncall in #sre)"), "{}", view_text(&modal));
        let target = option_value(&modal, "sos", "SRE");

        // Nothing chosen: an error on the field. Chosen: asked in #sre, mentioning the group, once.
        let refused = interact(&running, &submission("UBOB0001", &modal, json!({}))).await;
        assert_eq!(refused["response_action"], "errors", "{refused}");
        let sent = submission("UBOB0001", &modal, json!({"sos": {"sos": select(&target)}}));
        assert_eq!(interact(&running, &sent).await, Value::Null);
        assert_eq!(interact(&running, &sent).await, Value::Null, "Slack retried the submission");
        eventually("the SOS is posted", || !slack.messages_in(&sre).is_empty()).await;
        eventually("the SOS is on the timeline", || {
            timeline_events(&test, id).iter().any(|(kind, _)| kind.as_deref() == Some("send_sos"))
        })
        .await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let posted = slack.messages_in(&sre);
        assert_eq!(posted.len(), 1, "posted once");
        let blocks = posted[0].blocks.to_string();
        assert!(
            blocks.contains("<!subteam^S0SRE001>") && blocks.contains(&format!("<#{channel}>")),
            "{blocks}"
        );
        assert_eq!(posted[0].metadata.as_ref().expect("metadata")["event_type"], "ff_sos");
        let noted: Vec<_> = timeline_events(&test, id)
            .into_iter()
            .filter(|(kind, _)| kind.as_deref() == Some("send_sos"))
            .collect();
        assert_eq!(noted, vec![(Some("send_sos".to_owned()), Some("Asked for SRE help in #sre".to_owned()))]);

        // Forgotten through the API.
        assert_eq!(api(&running, reqwest::Method::DELETE, "sos/SRE", None).await.0, 204);
        assert_eq!(api(&running, reqwest::Method::DELETE, "sos/SRE", None).await.0, 404);
        running.handle.stop(true).await;
        slack.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_call_explains_why_without_a_paging_integration() {
    let test = TestDatabase::sqlite().seeded();
    let slack = FakeSlack::start(TOKEN);
    slack.add_user("UBOB0001", "bob", "bob@example.com");
    let running = start(&test, Some(&slack)).await;
    let id = running.declare(1, "Checkout is down").await;
    let channel = incident_channel(&test, id).await;
    command(&running, "UBOB0001", &channel, "oncall").await;
    let modal = nth_view(&slack, "views.open", 1).await;
    assert_eq!(modal["callback_id"], "incident_oncall_trigger");
    assert!(modal.get("submit").is_none());
    assert!(
        view_text(&modal).contains("no paging integration (PagerDuty) is configured"),
        "{}",
        view_text(&modal)
    );

    // Post-mortems: none is kept without a post-mortem integration, and the modal says so.
    command(&running, "UBOB0001", &channel, "postmortem").await;
    let modal = nth_view(&slack, "views.open", 2).await;
    assert_eq!(modal["callback_id"], "incident_create_postmortem");
    assert!(
        view_text(&modal).contains("no post-mortem integration")
            && !view_text(&modal).contains("incident_create_postmortem_now")
    );
    running.handle.stop(true).await;
    slack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_call_pages_through_the_paging_port_and_post_mortems_are_asked_of_their_integration() {
    let test = TestDatabase::sqlite().seeded();
    let slack = FakeSlack::start(TOKEN);
    slack.add_user("UBOB0001", "bob", "bob@example.com");
    let pager = Pager::default();
    let builder = AppBuilder::standard().integration(OnCall(pager.clone()));
    let running = start_built(&test, builder, &vars(&test, Some(&slack))).await;
    let id = running.declare(1, "Checkout is down").await;
    let channel = incident_channel(&test, id).await;

    let modal = open_modal(&running, &slack, "UBOB0001", "open_modal_trigger_oncall", id).await;
    assert_eq!(modal["submit"]["text"], "Trigger on-call");
    let checkout = option_value(&modal, "oncall_service", "Checkout");
    let sent =
        submission("UBOB0001", &modal, json!({"oncall_service": {"oncall_service": select(&checkout)}}));
    assert_eq!(interact(&running, &sent).await, Value::Null);
    eventually("the page is on the timeline", || {
        timeline_events(&test, id).iter().any(|(kind, _)| kind.as_deref() == Some("trigger_oncall"))
    })
    .await;
    let pages = pager.pages.lock().expect("pages").clone();
    assert_eq!(pages.len(), 1);
    assert_eq!(pages[0].service_id, "PCHECKOUT");
    assert!(pages[0].dedup_key.ends_with(&format!("-{id}-pcheckout")), "{}", pages[0].dedup_key);
    assert!(pages[0].conference_url.as_deref().is_some_and(|url| url.contains(&channel)));
    assert!(pages[0].triggered_by.contains("bob@example.com"));
    let note =
        timeline_events(&test, id).into_iter().find(|(kind, _)| kind.as_deref() == Some("trigger_oncall"));
    assert!(note.and_then(|(_, m)| m).is_some_and(|m| m.contains("Triggered Checkout on-call on PagerDuty")));

    // Paged services are listed as such and no longer offered; a refusal is told to the person.
    let modal = open_modal(&running, &slack, "UBOB0001", "open_modal_trigger_oncall", id).await;
    assert!(view_text(&modal).contains("Already paged") && view_text(&modal).contains("Checkout"));
    let broken = option_value(&modal, "oncall_service", "Broken");
    assert!(!view_text(&modal).contains("\"value\":\"PCHECKOUT\""), "{}", view_text(&modal));
    let sent = submission("UBOB0001", &modal, json!({"oncall_service": {"oncall_service": select(&broken)}}));
    interact(&running, &sent).await;
    eventually("the refusal is told", || {
        slack.direct_messages("UBOB0001").iter().any(|m| m.text.contains("no escalation policy"))
    })
    .await;

    // Post-mortem of a P1: made when mitigated; a P4's is optional, asked for on demand once mitigated.
    command(&running, "UBOB0001", &channel, "pm").await;
    let modal = nth_view(&slack, "views.open", 3).await;
    assert!(view_text(&modal).contains("automatically created when the incident reaches *Mitigated*"));
    let p4 = running.declare(4, "A typo on the help page").await;
    let modal = open_modal(&running, &slack, "UBOB0001", "open_modal_create_postmortem", p4).await;
    assert!(
        view_text(&modal).contains("not mandatory")
            && view_text(&modal).contains("incident_create_postmortem_now")
    );
    let now =
        json!({"action_id": "incident_create_postmortem_now", "type": "button", "value": p4.to_string()});
    interact(&running, &block_action("UBOB0001", Some(&modal), None, now.clone())).await;
    eventually("too early", || {
        slack.direct_messages("UBOB0001").iter().any(|m| m.text.contains("at least *Mitigated*"))
    })
    .await;
    for (status, message) in [("Investigating", "Looking"), ("Mitigating", "Fixing"), ("Mitigated", "Fixed")]
    {
        running.update(p4, json!({"status": status, "message": message})).await;
    }
    interact(&running, &block_action("UBOB0001", Some(&modal), None, now)).await;
    eventually("the post-mortem is asked for", || {
        timeline_events(&test, p4).iter().any(|(kind, _)| kind.as_deref() == Some("postmortem_requested"))
    })
    .await;
    running.handle.stop(true).await;
    slack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn downgrading_closes_a_critical_incident_as_a_regular_one_and_archives_its_channel() {
    for test in TestDatabase::each_backend() {
        let test = test.seeded();
        let slack = FakeSlack::start(TOKEN);
        slack.add_user("UBOB0001", "bob", "bob@example.com");
        let running = start(&test, Some(&slack)).await;
        let id = running.declare(2, "Search is slow").await;
        let channel = incident_channel(&test, id).await;

        command(&running, "UBOB0001", &channel, "downgrade").await;
        let modal = nth_view(&slack, "views.open", 1).await;
        assert_eq!(modal["callback_id"], "incident_downgrade_workflow");
        assert_eq!(modal["submit"]["text"], "Mark as regular incident");
        assert!(view_text(&modal).contains(&format!("close incident #{id}")));
        // From Open, without a closure reason and whatever the close guard would say of a P2.
        assert_eq!(interact(&running, &submission("UBOB0001", &modal, json!({}))).await, Value::Null);
        let incident = running.incident(id).await;
        assert_eq!(incident["status"], "Closed", "{incident}");
        assert_eq!(status_of(&test, id), (60, None));
        let ignored: bool = {
            use storage::schema::incidents;
            let mut conn = test.database.connection().expect("connection");
            incidents::table.find(id).select(incidents::ignored).first(&mut conn).expect("incident")
        };
        assert!(ignored, "out of the critical incidents");
        assert!(timeline_events(&test, id).iter().any(|(kind, _)| kind.as_deref() == Some("downgraded")));
        eventually("the channel is archived", || {
            slack.channels().iter().any(|c| c.id == channel && c.is_archived)
        })
        .await;

        // Again: already closed, nothing to submit.
        let again = open_modal(&running, &slack, "UBOB0001", "open_modal_downgrade_workflow", id).await;
        assert!(again.get("submit").is_none() && view_text(&again).contains("already closed"));
        running.handle.stop(true).await;
        slack.stop().await;
    }
}
