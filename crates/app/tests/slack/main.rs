//! Slack, end to end in the embedded mode: the product as shipped (`AppBuilder::standard()`), a fake
//! Slack on loopback, incidents driven through the REST API, on every backend.
#![expect(clippy::expect_used, reason = "test")]

mod channels;
mod flows;
mod interactions;
mod jira;
mod socket_mode;
mod support;
