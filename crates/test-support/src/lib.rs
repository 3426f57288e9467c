//! Test helpers shared by the integration tests of several crates (a dev-dependency only):
//!
//! - [`Receiver`]: a webhook receiver on loopback that records every request;
//! - [`TcpProxy`]: stands between a process and one of our services (RabbitMQ, Redis) and can cut
//!   it off and bring it back, so a test can take a service "down" without stopping the real one,
//!   which other tests share;
//! - [`slack::FakeSlack`]: a stateful fake of the Slack Web API that can fail on demand;
//! - [`jira::FakeJira`]: a stateful fake of Jira Cloud (issues, the incident workflow, signed
//!   webhooks back) that can fail on demand;
//! - [`oidc::FakeOidc`]: an OpenID Connect provider.

#![expect(clippy::expect_used, reason = "test helpers: failing loudly is the point")]

pub mod jira;
pub mod oidc;
pub mod slack;

/// Whether the tests run in CI (`CI=true`): there, a service a test needs must be there.
#[must_use]
pub fn in_ci() -> bool {
    matches!(std::env::var("CI").as_deref(), Ok("true" | "1"))
}

/// The URL of one of our own services for a test (`FF_TEST_REDIS_URL`, `FF_TEST_AMQP_URL`): `None`
/// when unset (the test says it skipped), except under `CI=true`, where it fails the test instead of
/// letting it pass without having run.
///
/// # Panics
/// Under `CI=true` when the variable is unset.
#[must_use]
pub fn service_url(variable: &str) -> Option<String> {
    let url = std::env::var(variable).ok().filter(|url| !url.trim().is_empty());
    if url.is_none() {
        assert!(!in_ci(), "{variable} is unset under CI=true: this test needs its service");
        #[expect(clippy::print_stderr, reason = "tell why the test did nothing")]
        {
            eprintln!("{variable} is unset: test skipped");
        }
    }
    url
}

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;

/// One received request: its headers (lower-case names) and body.
pub type Received = (std::collections::HashMap<String, String>, Vec<u8>);

/// One request as the receiver handled it, answered or not: when it arrived and when it ended
/// (answered, or its sender went away first).
#[derive(Debug, Clone)]
pub struct Span {
    pub headers: std::collections::HashMap<String, String>,
    pub started: std::time::Instant,
    pub finished: std::time::Instant,
    pub answered: bool,
}

/// Records a request's [`Span`] when dropped: whether the handler finished or its future was
/// dropped because the sender disconnected.
struct InFlight {
    spans: Arc<Mutex<Vec<Span>>>,
    headers: std::collections::HashMap<String, String>,
    started: std::time::Instant,
    answered: bool,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let span = Span {
            headers: std::mem::take(&mut self.headers),
            started: self.started,
            finished: std::time::Instant::now(),
            answered: self.answered,
        };
        self.spans.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(span);
    }
}

/// A loopback HTTP server answering every request with the current status (200 unless told
/// otherwise) and recording it. Needs a running tokio runtime.
#[derive(Debug)]
pub struct Receiver {
    /// `http://127.0.0.1:<port>/hook`.
    pub url: String,
    got: Arc<Mutex<Vec<Received>>>,
    spans: Arc<Mutex<Vec<Span>>>,
    status: Arc<AtomicU16>,
    delay_ms: Arc<AtomicU64>,
    handle: actix_web::dev::ServerHandle,
}

impl Receiver {
    /// Starts the receiver.
    ///
    /// # Panics
    /// When it cannot bind a loopback port.
    #[must_use]
    pub fn start() -> Self {
        let got = Arc::new(Mutex::new(Vec::new()));
        let spans = Arc::new(Mutex::new(Vec::new()));
        let status = Arc::new(AtomicU16::new(200));
        let delay_ms = Arc::new(AtomicU64::new(0));
        let (recorded, answer, delay, timed) =
            (Arc::clone(&got), Arc::clone(&status), Arc::clone(&delay_ms), Arc::clone(&spans));
        let server = actix_web::HttpServer::new(move || {
            let (recorded, answer, delay, timed) =
                (Arc::clone(&recorded), Arc::clone(&answer), Arc::clone(&delay), Arc::clone(&timed));
            actix_web::App::new().default_service(actix_web::web::to(
                move |request: actix_web::HttpRequest, body: actix_web::web::Bytes| {
                    let headers: std::collections::HashMap<String, String> = request
                        .headers()
                        .iter()
                        .map(|(name, value)| {
                            (name.to_string(), value.to_str().unwrap_or_default().to_owned())
                        })
                        .collect();
                    let mut in_flight = InFlight {
                        spans: Arc::clone(&timed),
                        headers: headers.clone(),
                        started: std::time::Instant::now(),
                        answered: false,
                    };
                    let status = actix_web::http::StatusCode::from_u16(answer.load(Ordering::Relaxed))
                        .unwrap_or(actix_web::http::StatusCode::OK);
                    let wait = std::time::Duration::from_millis(delay.load(Ordering::Relaxed));
                    let recorded = Arc::clone(&recorded);
                    async move {
                        actix_web::rt::time::sleep(wait).await;
                        // Recorded once answered: a request whose sender gave up first does not count.
                        recorded.lock().expect("lock").push((headers, body.to_vec()));
                        in_flight.answered = true;
                        drop(in_flight);
                        actix_web::HttpResponse::build(status).finish()
                    }
                },
            ))
        })
        .workers(2)
        .bind("127.0.0.1:0")
        .expect("bind a loopback port");
        let url = format!("http://{}/hook", server.addrs()[0]);
        let server = server.run();
        let handle = server.handle();
        tokio::spawn(server);
        Self { url, got, spans, status, delay_ms, handle }
    }

    /// Everything received so far.
    #[must_use]
    pub fn received(&self) -> Vec<Received> {
        self.got.lock().expect("lock").clone()
    }

    /// Every request handled so far, answered or not, with when it started and ended.
    #[must_use]
    pub fn spans(&self) -> Vec<Span> {
        self.spans.lock().expect("lock").clone()
    }

    /// The value of header `name` (lower case) in each request received so far.
    #[must_use]
    pub fn header_values(&self, name: &str) -> Vec<String> {
        self.got.lock().expect("lock").iter().filter_map(|(headers, _)| headers.get(name).cloned()).collect()
    }

    /// Answers the next requests only after `delay`.
    pub fn delay(&self, delay: std::time::Duration) {
        self.delay_ms.store(u64::try_from(delay.as_millis()).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    /// Answers the next requests with `status`.
    pub fn answer(&self, status: u16) {
        self.status.store(status, Ordering::Relaxed);
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
    }
}

/// A TCP proxy from a loopback port to `upstream`. [`TcpProxy::cut`] closes every connection and
/// refuses new ones until [`TcpProxy::restore`]: to clients, the service went down.
#[derive(Debug)]
pub struct TcpProxy {
    pub address: SocketAddr,
    up: Arc<AtomicBool>,
    connections: Arc<Mutex<Vec<AbortHandle>>>,
    accept: AbortHandle,
}

impl TcpProxy {
    /// Starts proxying to `upstream` (`127.0.0.1:5672`, say). Needs a running tokio runtime.
    ///
    /// # Panics
    /// When it cannot bind a loopback port.
    pub async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind a loopback port");
        let address = listener.local_addr().expect("address");
        let up = Arc::new(AtomicBool::new(true));
        let connections: Arc<Mutex<Vec<AbortHandle>>> = Arc::new(Mutex::new(Vec::new()));
        let (is_up, open) = (Arc::clone(&up), Arc::clone(&connections));
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if !is_up.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let task = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                open.lock().expect("lock").push(task.abort_handle());
            }
        })
        .abort_handle();
        Self { address, up, connections, accept }
    }

    /// `scheme://user:password@<proxy address><rest>` for a URL of the upstream service.
    #[must_use]
    pub fn url(&self, scheme_and_credentials: &str, rest: &str) -> String {
        format!("{scheme_and_credentials}{}{rest}", self.address)
    }

    /// The service goes down: open connections are dropped, new ones refused.
    pub fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        for connection in self.connections.lock().expect("lock").drain(..) {
            connection.abort();
        }
    }

    /// The service is back.
    pub fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.cut();
        self.accept.abort();
    }
}
