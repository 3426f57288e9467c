//! Jira beside Slack: the ticket and the incident's channel linked both ways, and the P4–P5
//! announcement in the alert channels (the original's `raid_created_issue`).

use super::support::*;
use test_support::jira::{FakeJira, SERVICE_ACCOUNT};

const JIRA_USER: &str = "firefighter@example.com";
const JIRA_PASSWORD: &str = "jira-api-token";

fn with_jira(test: &TestDatabase, slack: &FakeSlack, jira: &FakeJira) -> HashMap<String, String> {
    let mut vars = vars(test, Some(slack));
    for (key, value) in [
        ("ENABLE_JIRA", "true"),
        ("ENABLE_RAID", "true"),
        ("RAID_JIRA_API_URL", jira.url.as_str()),
        ("RAID_JIRA_API_USER", JIRA_USER),
        ("RAID_JIRA_API_PASSWORD", JIRA_PASSWORD),
        ("RAID_DEFAULT_JIRA_QRAFT_USER_ID", SERVICE_ACCOUNT),
        ("RAID_JIRA_PROJECT_KEY", "INCIDENT"),
        ("RAID_JIRA_WEBHOOK_SECRET", "a-jira-webhook-secret"),
    ] {
        vars.insert(key.into(), value.into());
    }
    vars
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ticket_and_the_channel_link_to_each_other_and_minor_tickets_are_announced() {
    for test in TestDatabase::each_backend() {
        let test = test.seeded();
        let slack = FakeSlack::start(TOKEN);
        slack.add_user("UADA0001", "ada", "ada@example.com");
        let alerts = slack.add_channel("incidents-alerts");
        let jira = FakeJira::start(JIRA_USER, JIRA_PASSWORD, raid_jira::workflow::incident_workflow_layout());
        let running = start_with(&test, &with_jira(&test, &slack, &jira)).await;
        tag(&test, &alerts, "incidents-alerts", "raid_alert__incidents_normal");

        // A P2: a channel and a ticket, each pointing at the other.
        let id = running.declare(2, "Checkout is down").await;
        let name = expected_name(id, &running.category.1);
        eventually("the channel bookmarks the ticket", || {
            slack
                .channel_named(&name)
                .is_some_and(|c| c.bookmarks.iter().any(|(title, _)| title == "Jira ticket"))
        })
        .await;
        let channel = slack.channel_named(&name).expect("channel");
        let key = jira.state().issues[0].key.clone();
        let bookmark = channel.bookmarks.iter().find(|(title, _)| title == "Jira ticket").expect("bookmark");
        assert_eq!(bookmark.1, format!("{}/browse/{key}", jira.url));
        eventually("the ticket links the channel", || {
            jira.state().issue(&key).is_some_and(|issue| {
                issue
                    .remote_links
                    .iter()
                    .any(|(_, url, title)| url.contains(&channel.id) && title.contains(&name))
            })
        })
        .await;
        assert!(
            slack.messages_in(&alerts).is_empty(),
            "a P1–P3 is not announced in the P4–P5 alert channels"
        );

        // A P4 (through the API, so with a channel of its own, as the original): a ticket, announced
        // once in the channel tagged for P4–P5 tickets, and linked to its channel too.
        let minor = running.declare(4, "A typo on the help page").await;
        eventually("the minor ticket is announced", || !slack.messages_in(&alerts).is_empty()).await;
        let announced = slack.messages_in(&alerts);
        assert_eq!(announced.len(), 1, "{announced:?}");
        let metadata = announced[0].metadata.clone().expect("metadata");
        assert_eq!(metadata["event_type"], "raid_created_issue");
        assert_eq!(metadata["event_payload"]["incident_id"], minor);
        let minor_key = metadata["event_payload"]["issue_key"].as_str().expect("key").to_owned();
        assert!(announced[0].text.contains(&minor_key), "{}", announced[0].text);
        eventually("the declarer is told too", || {
            slack.messages_in("UADA0001").iter().any(|m| m.text.contains(&minor_key))
        })
        .await;
        assert!(jira.state().issue(&minor_key).is_some());
        assert_eq!(running.incident(minor).await["jira_ticket_key"], minor_key.as_str());
        let minor_name = expected_name(minor, &running.category.1);
        eventually("the minor incident's channel bookmarks its ticket", || {
            slack.channel_named(&minor_name).is_some_and(|c| {
                c.bookmarks.iter().any(|(title, url)| title == "Jira ticket" && url.ends_with(&minor_key))
            })
        })
        .await;
        assert_eq!(slack.channels().len(), 3, "{:?}", test.backend());

        running.handle.stop(true).await;
        jira.stop().await;
        slack.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watchers_are_told_of_peoples_changes_and_comments_linked_or_not() {
    const SECRET: &str = "a-jira-webhook-secret";
    const PERSON: &str = "712020:grace";
    let test = TestDatabase::sqlite().seeded();
    let slack = FakeSlack::start(TOKEN);
    for (id, name, email) in [
        ("UGRACE01", "grace", "grace@example.com"),
        ("ULINUS01", "linus", "linus@example.com"),
        ("UMUTE001", "mute", "mute@example.com"),
    ] {
        slack.add_user(id, name, email);
    }
    let jira = FakeJira::start(JIRA_USER, JIRA_PASSWORD, raid_jira::workflow::incident_workflow_layout());
    for (account, name, email) in [
        (PERSON, "Grace", "grace@example.com"),
        ("acc-linus", "Linus", "linus@example.com"),
        ("acc-mute", "Mute", "mute@example.com"),
    ] {
        jira.state().users.push((account.into(), name.into(), email.into()));
    }
    let mut vars = with_jira(&test, &slack, &jira);
    vars.insert("RAID_WATCHER_EMAIL_EXCLUSIONS".into(), "Mute@example.com".into());
    let running = start_with(&test, &vars).await;
    jira.send_webhooks_to(&format!("{}/api/v2/firefighter/raid/jira_update", running.base), SECRET);
    let id = running.declare(4, "Exports are empty").await;
    eventually("the ticket exists", || jira.state().issues.len() == 1).await;
    let key = jira.state().issues[0].key.clone();
    {
        let mut state = jira.state();
        let issue = state.issues.iter_mut().find(|i| i.key == key).expect("issue");
        issue.watchers.extend([PERSON.to_owned(), "acc-linus".to_owned(), "acc-mute".to_owned()]);
    }
    // Grace moves the ticket: Linus is told; not Grace (she did it), not the excluded address.
    jira.person_sets_status(&key, "in progress", PERSON);
    eventually("Linus is told", || !slack.messages_in("ULINUS01").is_empty()).await;
    let told = slack.messages_in("ULINUS01");
    assert_eq!(told[0].text, format!("Modified Jira ticket {key}"));
    assert_eq!(told[0].metadata.as_ref().expect("metadata")["event_type"], "raid_modify_issue");
    // Grace comments: Linus is told of that too.
    jira.person_comments(&key, "Looking at the export job.", PERSON);
    eventually("Linus hears of the comment", || slack.messages_in("ULINUS01").len() == 2).await;
    assert_eq!(slack.messages_in("ULINUS01")[1].text, format!(":green_book: New comment added on {key}"));
    // FireFighter's own change of the ticket tells nobody.
    running.update(id, json!({"priority_id": running.priorities[&3]})).await;
    eventually("Jira follows", || {
        jira.state().issue(&key).is_some_and(|i| i.option("customfield_11064") == Some("3"))
    })
    .await;
    // An issue of no incident (the original's unlinked mode): its watchers are told too.
    {
        let mut state = jira.state();
        let mut other = state.issues[0].clone();
        other.id = "55555".into();
        other.key = "INCIDENT-55".into();
        other.watchers = vec!["acc-linus".into()];
        state.issues.push(other);
    }
    jira.person_sets_option("INCIDENT-55", "customfield_11064", "2", PERSON);
    eventually("Linus hears of the unlinked issue", || slack.messages_in("ULINUS01").len() == 3).await;
    assert!(slack.messages_in("ULINUS01")[2].text.contains("INCIDENT-55"));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(slack.messages_in("ULINUS01").len(), 3, "FireFighter's own change told nobody");
    assert!(slack.messages_in("UGRACE01").is_empty(), "the author is not told of her own changes");
    assert!(slack.messages_in("UMUTE001").is_empty(), "an excluded address is never told");
    running.handle.stop(true).await;
    jira.stop().await;
    slack.stop().await;
}
