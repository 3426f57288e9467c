//! The dashboard in a real headless Chromium (Debian's `chromium` and `chromium-driver`), driven over
//! WebDriver: signing in, declaring, filtering the list, moving an incident through the workflow with
//! HTMX, key events, the close refusal, closing, then the statistics and the category's MTBF over a
//! date range. One browser test at a time (this binary has one test).
//!
//! Without `chromedriver` on the PATH the test says so and passes, except under `CI=true`, where it
//! fails: CI installs Chromium. `FF_SCREENSHOTS=<dir>` saves screenshots of the main pages there
//! (docs/screenshots/ holds the committed ones).
#![expect(clippy::expect_used, reason = "test")]

use std::collections::HashMap;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use firefighter_app::{AppBuilder, Application};
use incidents_core::{Email, NewUser, UserRepository as _};
use storage::testing::TestDatabase;
use thirtyfour::prelude::*;

const PASSWORD: &str = "correct horse battery staple";

/// chromedriver, stopped when dropped.
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("a port").local_addr().expect("address").port()
}

fn start_driver() -> Option<(Driver, u16)> {
    let port = free_port();
    let child = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let driver = Driver(child);
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "chromedriver did not listen within 20 s");
        std::thread::sleep(Duration::from_millis(100));
    }
    Some((driver, port))
}

async fn browser(port: u16) -> WebDriver {
    let mut caps = DesiredCapabilities::chrome();
    for binary in ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"] {
        if std::path::Path::new(binary).exists() {
            caps.set_binary(binary).expect("binary");
            break;
        }
    }
    for arg in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,900"] {
        caps.add_arg(arg).expect("arg");
    }
    WebDriver::new(format!("http://127.0.0.1:{port}"), caps).await.expect("a Chromium session")
}

/// Waits until the page's source contains `text`.
async fn wait_for(driver: &WebDriver, text: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let source = driver.source().await.expect("source");
        if source.contains(text) {
            return source;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {text:?} in:\n{source}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn screenshot(driver: &WebDriver, name: &str) {
    if let Ok(dir) = std::env::var("FF_SCREENSHOTS") {
        std::fs::create_dir_all(&dir).expect("screenshots directory");
        driver.execute("window.scrollTo(0, 0);", Vec::new()).await.expect("scroll");
        driver.screenshot(&std::path::Path::new(&dir).join(format!("{name}.png"))).await.expect("screenshot");
    }
}

async fn choose(driver: &WebDriver, select: &str, value: &str) {
    driver
        .find(By::Css(format!("select[name='{select}'] option[value='{value}']")))
        .await
        .expect("option")
        .click()
        .await
        .expect("click");
}

async fn submit_update(driver: &WebDriver) {
    driver
        .find(By::Css("#update-panel button[type=submit]"))
        .await
        .expect("button")
        .click()
        .await
        .expect("click");
}

async fn type_into(driver: &WebDriver, id: &str, text: &str) {
    let field = driver.find(By::Id(id)).await.expect("field");
    field.clear().await.expect("clear");
    field.send_keys(text).await.expect("type");
}

/// Submits the page's first form in `main` (the header holds the sign-out form).
async fn save(driver: &WebDriver) {
    driver
        .find(By::Css("main form[method=post] button[type=submit]"))
        .await
        .expect("button")
        .click()
        .await
        .expect("click");
}

/// The row id in the current URL, after `prefix`.
async fn id_in_url(driver: &WebDriver, prefix: &str) -> String {
    let url = driver.current_url().await.expect("url");
    let path = url.path();
    assert!(path.starts_with(prefix), "{path}");
    path[prefix.len()..].trim_end_matches('/').to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_responder_runs_an_incident_in_a_real_browser() {
    let Some((_driver, port)) = start_driver() else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "chromedriver is missing: install chromium and chromium-driver (.ci/run does)"
        );
        eprintln!("skipped: chromedriver is not installed (apt-get install chromium chromium-driver)");
        return;
    };
    let test = TestDatabase::sqlite().seeded();
    test.database
        .create_user(&NewUser {
            email: Email::parse("ada@example.com").expect("email"),
            name: "Ada Lovelace".into(),
            is_admin: true,
            password_hash: Some(platform::password::hash_password(PASSWORD).expect("hash")),
        })
        .expect("user");
    let url = match &test.url {
        storage::DatabaseUrl::Sqlite { path } => format!("sqlite://{}", path.display()),
        storage::DatabaseUrl::Postgres { url } => url.clone(),
    };
    // Single sign-on against a fake provider, beside the local accounts.
    let provider = test_support::oidc::FakeOidc::start(
        "firefighter",
        "an-oidc-client-secret",
        serde_json::json!({"email": "sam@example.com", "name": "Sam Sso", "roles": []}),
    );
    let discovery = provider.discovery_url();
    let http_port = free_port().to_string();
    let base_url = format!("http://127.0.0.1:{http_port}");
    let vars: HashMap<String, String> = [
        ("HTTP_PORT", http_port.as_str()),
        ("BASE_URL", base_url.as_str()),
        ("OIDC_OP_DISCOVERY_DOCUMENT_URL", discovery.as_str()),
        ("OIDC_RP_CLIENT_ID", "firefighter"),
        ("OIDC_RP_CLIENT_SECRET", "an-oidc-client-secret"),
        ("DATABASE_URL", url.as_str()),
        ("SECRET_KEY", "a-test-secret-key-of-32-characters!!"),
        ("TIME_ZONE", "Europe/Paris"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .chain([("FF_DATA_DIR".to_owned(), std::env::temp_dir().display().to_string())])
    .collect();
    let app = AppBuilder::standard().configure(&vars).expect("configuration");
    let application = Application::build(&app, test.database.clone()).expect("application");
    let base = format!("http://127.0.0.1:{}", application.address().port());
    let handle = application.handle();
    tokio::spawn(application.run_until(std::future::pending()));
    let driver = browser(port).await;

    // A local account signs in on the sign-in page (anonymous pages go to single sign-on).
    driver.goto(format!("{base}/admin/login/")).await.expect("goto");
    wait_for(&driver, "Sign in with single sign-on").await;
    screenshot(&driver, "sign-in").await;
    driver.find(By::Id("email")).await.expect("email").send_keys("ada@example.com").await.expect("type");
    driver.find(By::Id("password")).await.expect("password").send_keys(PASSWORD).await.expect("type");
    driver.find(By::Css("button[type=submit]")).await.expect("button").click().await.expect("click");
    wait_for(&driver, "0 open incidents").await;

    // Declare.
    driver.find(By::LinkText("Declare")).await.expect("link").click().await.expect("click");
    wait_for(&driver, "Declare an incident").await;
    screenshot(&driver, "declare").await;
    driver
        .find(By::Id("title"))
        .await
        .expect("title")
        .send_keys("Checkout is down for everyone")
        .await
        .expect("type");
    driver
        .find(By::Id("description"))
        .await
        .expect("description")
        .send_keys("Orders fail at payment with 502s.")
        .await
        .expect("type");
    // A high business impact: the form shows at once that it makes a P2 (whose key events are
    // required to close), and the priority is left to the impacts.
    driver
        .find(By::XPath(
            "(//select[starts-with(@name, 'impact_')])[1]/option[contains(., 'High') and not(contains(., 'Highest'))]",
        ))
        .await
        .expect("a high impact")
        .click()
        .await
        .expect("click");
    wait_for(&driver, "These impacts give <strong>").await;
    let derived = driver.find(By::Id("derived-priority")).await.expect("preview").text().await.expect("text");
    assert!(derived.contains("P2"), "{derived}");
    driver
        .find(By::Css("select[name='incident_category_id'] optgroup option"))
        .await
        .expect("a category")
        .click()
        .await
        .expect("click");
    driver.find(By::Css("main button[type=submit]")).await.expect("button").click().await.expect("click");
    wait_for(&driver, "#1 Checkout is down for everyone").await;
    assert!(driver.current_url().await.expect("url").as_str().ends_with("/incident/1/"));

    // The list filters live, and the URL follows.
    driver.goto(format!("{base}/incident/")).await.expect("goto");
    wait_for(&driver, "Checkout is down").await;
    driver
        .find(By::Id("search"))
        .await
        .expect("search")
        .send_keys("nothing-matches-this")
        .await
        .expect("type");
    wait_for(&driver, "No incidents match.").await;
    assert!(driver.current_url().await.expect("url").as_str().contains("search=nothing-matches-this"));
    driver.find(By::Id("search")).await.expect("search").clear().await.expect("clear");
    driver.find(By::Id("search")).await.expect("search").send_keys("Checkout").await.expect("type");
    wait_for(&driver, "Incidents 1–1.").await;
    screenshot(&driver, "incidents").await;

    // Through the workflow on the incident page, with HTMX.
    driver.goto(format!("{base}/incident/1/")).await.expect("goto");
    wait_for(&driver, "Update incident").await;
    choose(&driver, "status", "20").await;
    submit_update(&driver).await;
    wait_for(&driver, "status investigating").await;
    // Closing early without a reason: refused on the field, with the code.
    choose(&driver, "status", "60").await;
    submit_update(&driver).await;
    wait_for(&driver, "CLOSURE_REASON_REQUIRED").await;
    for status in ["30", "40"] {
        choose(&driver, "status", status).await;
        submit_update(&driver).await;
        wait_for(&driver, if status == "30" { "status mitigating" } else { "status mitigated" }).await;
    }
    // Closing without the key events: the close guard's reasons.
    choose(&driver, "status", "60").await;
    submit_update(&driver).await;
    wait_for(&driver, "Cannot close this incident").await;
    screenshot(&driver, "incident").await;
    // Key events (started an hour before the declaration, recovered an hour after: a time to fix of
    // about an hour), then close.
    let local = |hours: i64| {
        (chrono::Utc::now() + chrono::TimeDelta::hours(hours))
            .with_timezone(&chrono_tz::Europe::Paris)
            .format("%Y-%m-%dT%H:%M")
            .to_string()
    };
    let (earlier, later) = (local(-1), local(1));
    driver
        .execute(
            &format!(
                "document.querySelectorAll('#key-events-panel input[type=datetime-local]').forEach(i => i.value = i.name.includes('recovered') ? '{later}' : '{earlier}');"
            ),
            Vec::new(),
        )
        .await
        .expect("script");
    driver
        .find(By::Css("#key-events-panel button[type=submit]"))
        .await
        .expect("save")
        .click()
        .await
        .expect("click");
    wait_for(&driver, &format!("value=\"{later}\"")).await;
    choose(&driver, "status", "60").await;
    driver
        .find(By::Css("#update-panel textarea[name=message]"))
        .await
        .expect("message")
        .send_keys("Fixed for good")
        .await
        .expect("type");
    submit_update(&driver).await;
    wait_for(&driver, "status closed").await;

    // The statistics of this quarter, by the filters' date range: the P2, closed, fixed in under 3 h.
    driver.find(By::LinkText("Statistics")).await.expect("link").click().await.expect("click");
    wait_for(&driver, "By priority").await;
    driver
        .find(By::Css("input[name=created_at]"))
        .await
        .expect("range")
        .send_keys("current_quarter")
        .await
        .expect("type");
    driver.find(By::Css("#filters button[type=submit]")).await.expect("show").click().await.expect("click");
    let source =
        wait_for(&driver, "<th scope=\"row\">P2</th><td>1</td><td>0</td><td>1</td><td>100.0</td>").await;
    assert!(driver.current_url().await.expect("url").as_str().contains("created_at=current_quarter"));
    let ttr = source.split("id=\"ttr-heading\"").nth(1).expect("time to fix");
    assert!(ttr.contains("<th scope=\"row\">P2</th><td>1</td>"), "{ttr}");
    screenshot(&driver, "statistics").await;
    // Its category's MTBF over the same period.
    driver.find(By::LinkText("Categories")).await.expect("link").click().await.expect("click");
    wait_for(&driver, "Incident categories").await;
    driver
        .find(By::Css("input[name=metrics_period]"))
        .await
        .expect("period")
        .send_keys("current_quarter")
        .await
        .expect("type");
    driver
        .find(By::Css("form.filters button[type=submit]"))
        .await
        .expect("show")
        .click()
        .await
        .expect("click");
    wait_for(&driver, "Over current_quarter").await;
    driver
        .find(By::XPath("//tbody/tr[td[3][normalize-space()='1']]//a"))
        .await
        .expect("the category with the incident")
        .click()
        .await
        .expect("click");
    let category = wait_for(&driver, "Mean time between failures").await;
    let mtbf = category
        .split("<dt>Mean time between failures</dt><dd>")
        .nth(1)
        .and_then(|rest| rest.split("</dd>").next())
        .expect("mtbf");
    assert!(mtbf.ends_with(" min") && !mtbf.contains("unknown"), "{mtbf}");
    screenshot(&driver, "category").await;

    // Staff round trip: an environment, a category and an API token made in the back-office, then
    // used through the API.
    driver.find(By::LinkText("Back-office")).await.expect("link").click().await.expect("click");
    wait_for(&driver, "Everything the product runs on").await;
    screenshot(&driver, "back-office").await;
    driver.find(By::LinkText("Environments")).await.expect("link").click().await.expect("click");
    wait_for(&driver, "Add environment").await;
    driver.find(By::LinkText("Add environment")).await.expect("link").click().await.expect("click");
    wait_for(&driver, "field-value").await;
    for (field, text) in [("value", "QA"), ("name", "Quality"), ("description", "Quality assurance")] {
        type_into(&driver, &format!("field-{field}"), text).await;
    }
    save(&driver).await;
    wait_for(&driver, "Saved.").await;
    let environment = id_in_url(&driver, "/admin/environments/").await;
    driver.goto(format!("{base}/admin/incident-categories/add/")).await.expect("goto");
    wait_for(&driver, "Add incident category").await;
    type_into(&driver, "field-name", "Parcels").await;
    driver
        .find(By::XPath("//select[@name='group_id']/option[normalize-space()='Platform']"))
        .await
        .expect("the Platform group")
        .click()
        .await
        .expect("click");
    screenshot(&driver, "back-office-form").await;
    save(&driver).await;
    wait_for(&driver, "Saved.").await;
    let category = id_in_url(&driver, "/admin/incident-categories/").await;
    driver.goto(format!("{base}/admin/tokens/")).await.expect("goto");
    wait_for(&driver, "Create token").await;
    driver
        .find(By::Css("input[name=name]"))
        .await
        .expect("name")
        .send_keys("browser test")
        .await
        .expect("type");
    save(&driver).await;
    wait_for(&driver, "shown this once").await;
    let token = driver.find(By::Id("new-token")).await.expect("the token").text().await.expect("text");
    let api = reqwest::Client::new();
    let environments = api
        .get(format!("{base}/api/v2/firefighter/environments"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("request")
        .text()
        .await
        .expect("body");
    assert!(environments.contains("\"QA\""), "{environments}");
    let priority = reqwest::Client::new()
        .get(format!("{base}/api/v2/firefighter/priorities"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("request")
        .json::<serde_json::Value>()
        .await
        .expect("json");
    let p4 = priority["results"]
        .as_array()
        .or_else(|| priority.as_array())
        .and_then(|all| all.iter().find(|p| p["value"] == 4))
        .and_then(|p| p["id"].as_str())
        .unwrap_or_else(|| panic!("P4 in {priority}"))
        .to_owned();
    let declared = api
        .post(format!("{base}/api/v2/firefighter/incidents"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"title": "Parcels are late", "description": "Seen by support.",
            "environment_id": environment, "incident_category_id": category, "priority_id": p4,
            "created_by_email": "ada@example.com"}))
        .send()
        .await
        .expect("request");
    assert_eq!(declared.status(), 201, "{}", declared.text().await.unwrap_or_default());

    // The dashboard counts the API's incident (the browser's own is closed); signing out leads to the
    // sign-in page.
    driver.goto(format!("{base}/")).await.expect("goto");
    wait_for(&driver, "1 open incident").await;
    screenshot(&driver, "dashboard").await;
    driver
        .find(By::Css("form[action='/admin/logout/'] button"))
        .await
        .expect("sign out")
        .click()
        .await
        .expect("click");
    wait_for(&driver, "Sign in").await;
    driver.quit().await.expect("quit");
    handle.stop(true).await;
}
