//! The fake Slack as a program, to run the server against it locally:
//!
//! ```sh
//! cargo run -p firefighter-test-support --bin fake-slack -- 8125 xoxb-local
//! SLACK_BOT_TOKEN=xoxb-local SLACK_SIGNING_SECRET=local SLACK_API_URL=http://127.0.0.1:8125/api/ make run
//! ```
//!
//! Every `FAKE_SLACK_DUMP_SECONDS` (default 10) it prints the channels and their messages.

use std::time::Duration;

use firefighter_test_support::slack::FakeSlack;

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let port = args.next().and_then(|port| port.parse().ok()).unwrap_or(8125);
    let token = args.next().unwrap_or_else(|| "xoxb-local".to_owned());
    let every = std::env::var("FAKE_SLACK_DUMP_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(10);
    let slack = FakeSlack::start_on(&token, port);
    #[expect(clippy::print_stdout, reason = "the program's output")]
    {
        println!("fake Slack: SLACK_API_URL={} SLACK_BOT_TOKEN={token}", slack.api_url);
        loop {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => break,
                () = tokio::time::sleep(Duration::from_secs(every)) => {}
            }
            for channel in slack.channels() {
                let messages = slack.messages_in(&channel.id);
                println!(
                    "#{} ({}{}): {} member(s), {} message(s), topic: {}",
                    channel.name,
                    channel.id,
                    if channel.is_archived { ", archived" } else { "" },
                    channel.members.len(),
                    messages.len(),
                    channel.topic
                );
                for message in messages {
                    println!("    {} {}", message.ts, message.text);
                }
            }
        }
    }
    slack.stop().await;
}
