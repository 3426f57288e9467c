//! The web dashboard over HTTP, as a browser drives it (cookies, forms, HTMX headers), on every
//! backend: sign-in and its protections, and running an incident from declaration to closure.
#![expect(clippy::expect_used, reason = "test")]

use std::collections::HashMap;

use diesel::prelude::*;
use firefighter_app::{AppBuilder, Application};
use incidents_core::{Email, NewUser, UserRepository as _};
use storage::testing::TestDatabase;

const PASSWORD: &str = "correct horse battery staple";

fn vars(test: &TestDatabase, extra: &[(&str, &str)]) -> HashMap<String, String> {
    let url = match &test.url {
        storage::DatabaseUrl::Sqlite { path } => format!("sqlite://{}", path.display()),
        storage::DatabaseUrl::Postgres { url } => url.clone(),
    };
    let mut vars: HashMap<String, String> = [
        ("HTTP_PORT", "0"),
        ("DATABASE_URL", url.as_str()),
        ("SECRET_KEY", "a-test-secret-key-of-32-characters!!"),
        ("BASE_URL", "http://ff.example.com"),
    ]
    .into_iter()
    .chain(extra.iter().copied())
    .map(|(key, value)| (key.to_owned(), value.to_owned()))
    .collect();
    vars.insert("FF_DATA_DIR".into(), std::env::temp_dir().display().to_string());
    vars
}

async fn start(test: &TestDatabase, extra: &[(&str, &str)]) -> (String, actix_web::dev::ServerHandle) {
    let app = AppBuilder::standard().configure(&vars(test, extra)).expect("configuration");
    let application = Application::build(&app, test.database.clone()).expect("application");
    let base = format!("http://{}", application.address());
    let handle = application.handle();
    tokio::spawn(application.run_until(std::future::pending()));
    (base, handle)
}

fn user(test: &TestDatabase, email: &str, admin: bool) {
    test.database
        .create_user(&NewUser {
            email: Email::parse(email).expect("email"),
            name: email.split('@').next().unwrap_or_default().to_owned(),
            is_admin: admin,
            password_hash: Some(platform::password::hash_password(PASSWORD).expect("hash")),
        })
        .expect("user");
}

/// A browser: keeps cookies, follows no redirect (the tests look at each one).
struct Browser {
    base: String,
    client: reqwest::Client,
    cookies: HashMap<String, String>,
}

struct Page {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: String,
}

impl Page {
    fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default()
    }

    /// The value of the first hidden `csrf_token` field.
    fn csrf(&self) -> String {
        let start = self.body.find("name=\"csrf_token\" value=\"").expect("a CSRF field") + 25;
        self.body[start..start + 64].to_owned()
    }
}

impl Browser {
    fn new(base: &str) -> Self {
        let client =
            reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
        Self { base: base.to_owned(), client, cookies: HashMap::new() }
    }

    fn cookie_header(&self) -> String {
        self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    async fn send(&mut self, request: reqwest::RequestBuilder) -> Page {
        let response = request.header("cookie", self.cookie_header()).send().await.expect("request");
        for set in response.headers().get_all("set-cookie") {
            let set = set.to_str().expect("cookie");
            let (pair, attributes) = set.split_once(';').unwrap_or((set, ""));
            let (name, value) = pair.split_once('=').expect("name=value");
            if attributes.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        Page { status, headers, body: response.text().await.expect("body") }
    }

    async fn get(&mut self, path: &str) -> Page {
        let request = self.client.get(format!("{}{path}", self.base)).header("accept", "text/html");
        self.send(request).await
    }

    async fn htmx_get(&mut self, path: &str, target: &str) -> Page {
        let request = self
            .client
            .get(format!("{}{path}", self.base))
            .header("hx-request", "true")
            .header("hx-target", target);
        self.send(request).await
    }

    async fn post(&mut self, path: &str, form: &[(&str, &str)], headers: &[(&str, &str)]) -> Page {
        let mut request = self
            .client
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(serde_urlencoded::to_string(form).expect("form"));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        self.send(request).await
    }

    async fn sign_in(&mut self, email: &str, password: &str) -> Page {
        let form = self.get("/admin/login/?next=/").await;
        let token = form.csrf();
        self.post(
            "/admin/login/",
            &[("csrf_token", &token), ("email", email), ("password", password), ("next", "/")],
            &[],
        )
        .await
    }
}

fn audit(test: &TestDatabase) -> Vec<String> {
    use storage::schema::audit_log;
    let mut conn = test.database.connection().expect("connection");
    audit_log::table.order(audit_log::id).select(audit_log::action).load(&mut conn).expect("audit")
}

fn status(test: &TestDatabase, id: i64) -> i32 {
    use storage::schema::incidents;
    let mut conn = test.database.connection().expect("connection");
    incidents::table.find(id).select(incidents::status).first(&mut conn).expect("incident")
}

/// The value of `<option value="…">` whose label contains `label`, in the select named `name`.
fn option(body: &str, name: &str, label: &str) -> String {
    let select = &body[body.find(&format!("name=\"{name}\"")).expect("select")..];
    let select = &select[..select.find("</select>").expect("end")];
    select
        .split("<option value=\"")
        .skip(1)
        .filter(|option| !option.starts_with('"'))
        .find(|option| option.split('<').next().is_some_and(|text| text.contains(label)))
        .and_then(|option| option.split('"').next())
        .unwrap_or_else(|| panic!("no option {label} in {name}"))
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newcomer_signs_in_and_runs_an_incident_from_the_dashboard() {
    for test in TestDatabase::each_backend() {
        let test = test.seeded();
        user(&test, "ada@example.com", true);
        let (base, handle) = start(&test, &[]).await;
        let mut browser = Browser::new(&base);

        // Anonymous: to the sign-in page, or HX-Redirect for HTMX.
        let home = browser.get("/").await;
        assert_eq!((home.status, home.header("location")), (302, "/admin/login/?next=%2F"));
        let partial = browser.htmx_get("/incident/", "results").await;
        assert_eq!(partial.status, 200);
        assert!(partial.header("hx-redirect").starts_with("/admin/login/"), "{:?}", partial.headers);
        assert!(browser.get("/robots.txt").await.body.contains("Disallow: /"));

        // A session id planted before sign-in is not the one after it (no fixation).
        browser.cookies.insert("ff_session".into(), "a".repeat(64));
        let wrong = browser.sign_in("ada@example.com", "not the password").await;
        assert_eq!(wrong.status, 200);
        assert!(wrong.body.contains("Wrong e-mail address or password."));
        let signed = browser.sign_in("ada@example.com", PASSWORD).await;
        assert_eq!((signed.status, signed.header("location")), (303, "/"));
        let session = browser.cookies["ff_session"].clone();
        assert_ne!(session, "a".repeat(64));
        assert!(signed.header("set-cookie").contains("HttpOnly"));
        let home = browser.get("/").await;
        assert_eq!(home.status, 200);
        assert!(home.body.contains("0 open incidents"), "{}", home.body);

        // Declare with the short form; the title is shown inert.
        let form = browser.get("/incident/create/").await;
        let token = form.csrf();
        let category = option(&form.body, "incident_category_id", "");
        let priority = option(&form.body, "priority_id", "P3");
        let environment = option(&form.body, "environment_id", "PRD");
        let short = browser
            .post(
                "/incident/create/",
                &[
                    ("csrf_token", &token),
                    ("title", "Short"),
                    ("description", "Orders fail at payment"),
                    ("priority_id", &priority),
                    ("environment_id", &environment),
                    ("incident_category_id", &category),
                ],
                &[],
            )
            .await;
        assert_eq!(short.status, 422);
        assert!(short.body.contains("At least 10 characters."));
        // A NUL character (PostgreSQL cannot store one): a 400 naming the field, on every backend.
        let nul = browser
            .post(
                "/incident/create/",
                &[
                    ("csrf_token", &token),
                    ("title", "Checkout is\0 down"),
                    ("description", "Orders fail at payment"),
                    ("priority_id", &priority),
                    ("environment_id", &environment),
                    ("incident_category_id", &category),
                ],
                &[],
            )
            .await;
        assert_eq!(nul.status, 400, "{:?}: {}", test.backend(), nul.body);
        assert!(nul.body.contains("Null characters are not allowed (in the field title)."), "{}", nul.body);
        let title = "<script>alert(1)</script> Checkout is down";
        let declared = browser
            .post(
                "/incident/create/",
                &[
                    ("csrf_token", &token),
                    ("title", title),
                    ("description", "Orders fail at payment"),
                    ("priority_id", &priority),
                    ("environment_id", &environment),
                    ("incident_category_id", &category),
                ],
                &[],
            )
            .await;
        assert_eq!(declared.status, 303, "{}", declared.body);
        let path = declared.header("location").to_owned();
        let id: i64 = path.trim_matches('/').rsplit('/').next().expect("id").parse().expect("an id");
        let page = browser.get(&path).await;
        assert_eq!(page.status, 200);
        assert!(
            page.body.contains("&#60;script&#62;alert(1)&#60;/script&#62;")
                && !page.body.contains("<script>alert")
        );

        // Roles and costs from their forms.
        let unknown = browser
            .post(
                &format!("/incident/{id}/roles/"),
                &[("csrf_token", &token), ("communication_lead", "nobody@example.com")],
                &[],
            )
            .await;
        assert_eq!(unknown.status, 422);
        assert!(unknown.body.contains("No user has the address nobody@example.com."), "{}", unknown.body);
        let lead = browser
            .post(
                &format!("/incident/{id}/roles/"),
                &[("csrf_token", &token), ("communication_lead", "ada@example.com")],
                &[],
            )
            .await;
        assert_eq!(lead.status, 303, "{}", lead.body);
        let bad_cost = browser
            .post(
                &format!("/incident/{id}/costs/"),
                &[("csrf_token", &token), ("cost_type_id", "1"), ("amount", "lots")],
                &[],
            )
            .await;
        assert_eq!(bad_cost.status, 422);
        let page = browser.get(&path).await;
        let cost_type = option(&page.body, "cost_type_id", "");
        let cost = browser
            .post(
                &format!("/incident/{id}/costs/"),
                &[
                    ("csrf_token", &token),
                    ("cost_type_id", &cost_type),
                    ("amount", "1250.50"),
                    ("currency", "eur"),
                ],
                &[],
            )
            .await;
        assert_eq!(cost.status, 303, "{}", cost.body);
        let page = browser.get(&path).await;
        assert!(page.body.contains("1250.50 EUR"), "the cost is shown");
        assert!(
            page.body.contains("Communication Lead") || page.body.contains("communication"),
            "the role is shown"
        );

        // The list: filtered, the results alone for HTMX, exported through the session.
        let list = browser.get("/incident/?search=Checkout").await;
        assert!(list.body.contains(&format!("/incident/{id}/")) && list.body.contains("<html"));
        let results = browser.htmx_get("/incident/?search=Checkout", "results").await;
        assert!(results.body.contains(&format!("#{id}")) && !results.body.contains("<html"));
        let none = browser.htmx_get("/incident/?search=nothing-like-this", "results").await;
        assert!(none.body.contains("No incidents match."));
        let bad = browser.htmx_get("/incident/?created_at=not-a-date", "results").await;
        assert!(bad.body.contains("created_at"), "{}", bad.body);
        let csv = browser.get("/incident/export/?format=csv").await;
        assert!(csv.header("content-type").starts_with("text/csv"), "{:?}", csv.headers);
        assert!(csv.body.starts_with("id,") && csv.body.contains("Checkout is down"));

        // Update through HTMX: the page's main part is reloaded in place.
        let htmx = [("hx-request", "true")];
        let moved = browser
            .post(
                &format!("/incident/{id}/update/"),
                &[("csrf_token", &token), ("status", "20"), ("message", "Looking")],
                &htmx,
            )
            .await;
        assert_eq!(moved.status, 200);
        assert!(moved.header("hx-location").contains(&path));
        assert_eq!(status(&test, id), 20);
        // A refusal of the workflow, on its field, with its code.
        let refused = browser
            .post(&format!("/incident/{id}/update/"), &[("csrf_token", &token), ("status", "60")], &htmx)
            .await;
        assert_eq!(refused.status, 200);
        assert!(refused.body.contains("CLOSURE_REASON_REQUIRED") && !refused.body.contains("<html"));
        for next in ["30", "40"] {
            let done = browser
                .post(&format!("/incident/{id}/update/"), &[("csrf_token", &token), ("status", next)], &[])
                .await;
            assert_eq!((done.status, done.header("location")), (303, path.as_str()));
        }
        // Closing a P3 without its key events: the close guard's reasons.
        let guarded = browser
            .post(&format!("/incident/{id}/update/"), &[("csrf_token", &token), ("status", "60")], &[])
            .await;
        assert_eq!(guarded.status, 422);
        assert!(guarded.body.contains("Cannot close this incident"), "{}", guarded.body);
        // Key events from their form, then the incident closes.
        let page = browser.get(&path).await;
        let mut form: Vec<(String, String)> = vec![("csrf_token".into(), token.clone())];
        for name in page
            .body
            .split("type=\"datetime-local\" name=\"")
            .skip(1)
            .filter_map(|rest| rest.split('"').next())
        {
            form.push((name.to_owned(), "2026-12-01T09:30".to_owned()));
        }
        assert!(form.len() > 1, "key events are offered");
        let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let saved = browser.post(&format!("/incident/{id}/update_key_events/"), &pairs, &[]).await;
        assert_eq!(saved.status, 303, "{}", saved.body);
        let page = browser.get(&path).await;
        assert!(page.body.contains("value=\"2026-12-01T09:30\""));
        let closed = browser
            .post(
                &format!("/incident/{id}/update/"),
                &[("csrf_token", &token), ("status", "60"), ("message", "Fixed for good")],
                &[],
            )
            .await;
        assert_eq!(closed.status, 303, "{}", closed.body);
        assert_eq!(status(&test, id), 60);

        // Signing out ends the session on the server: the old cookie no longer works.
        let out = browser.post("/admin/logout/", &[("csrf_token", &token)], &[]).await;
        assert_eq!((out.status, out.header("location")), (303, "/admin/login/"));
        browser.cookies.insert("ff_session".into(), session);
        assert_eq!(browser.get("/").await.status, 302);
        let actions = audit(&test);
        for action in ["user.sign_in_failed", "user.sign_in", "user.sign_out"] {
            assert!(actions.iter().any(|a| a == action), "{action} audited: {actions:?}");
        }
        handle.stop(true).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsafe_requests_need_the_token_from_this_site_and_the_permission() {
    let test = TestDatabase::sqlite().seeded();
    user(&test, "ada@example.com", true);
    user(&test, "vic@example.com", false);
    let (base, handle) = start(&test, &[]).await;

    // The sign-in form itself is protected.
    let mut stranger = Browser::new(&base);
    let refused = stranger
        .post(
            "/admin/login/",
            &[("csrf_token", &"b".repeat(64)), ("email", "ada@example.com"), ("password", PASSWORD)],
            &[],
        )
        .await;
    assert_eq!(refused.status, 403);

    let mut browser = Browser::new(&base);
    assert_eq!(browser.sign_in("ada@example.com", PASSWORD).await.status, 303);
    let form = browser.get("/incident/create/").await;
    let token = form.csrf();
    let title = ("title", "The search page is slow");
    assert_eq!(browser.post("/incident/create/", &[title], &[]).await.status, 403, "no token");
    let body = [("csrf_token", token.as_str()), title];
    assert_eq!(
        browser.post("/incident/create/", &body, &[("origin", "https://evil.example")]).await.status,
        403
    );
    assert_eq!(
        browser.post("/incident/create/", &body, &[("sec-fetch-site", "cross-site")]).await.status,
        403
    );
    assert_eq!(browser.post("/incident/create/", &body, &[]).await.status, 422, "accepted, then validated");

    // A user without the permissions: a 403 page.
    let mut viewer = Browser::new(&base);
    assert_eq!(viewer.sign_in("vic@example.com", PASSWORD).await.status, 303);
    let page = viewer.get("/incident/create/").await;
    assert_eq!(page.status, 403);
    assert!(page.body.contains("incidents.add_incident"), "{}", page.body);
    // A client asking for JSON gets the error as JSON.
    let request = viewer.client.get(format!("{base}/incident/create/")).header("accept", "application/json");
    let json = viewer.send(request).await;
    assert_eq!(json.status, 403);
    let body: serde_json::Value = serde_json::from_str(&json.body).expect("JSON");
    assert_eq!(body["error"]["app_code"], "FORBIDDEN");
    handle.stop(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_failed_sign_ins_are_refused_for_a_while() {
    let test = TestDatabase::sqlite().seeded();
    user(&test, "ada@example.com", true);
    let (base, handle) = start(&test, &[("FF_SIGNIN_MAX_FAILURES", "3")]).await;
    let mut browser = Browser::new(&base);
    for _ in 0..3 {
        assert_eq!(browser.sign_in("ada@example.com", "guess").await.status, 200);
    }
    let locked = browser.sign_in("ada@example.com", PASSWORD).await;
    assert_eq!(locked.status, 429, "even the right password, for a while");
    assert_eq!(locked.header("retry-after"), "900");
    assert_eq!(audit(&test).iter().filter(|a| *a == "user.sign_in_failed").count(), 3);
    handle.stop(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_private_incident_is_visible_only_to_its_people_and_staff_everywhere() {
    use incidents_core::access::{AccessRepository as _, Permission};
    for test in TestDatabase::each_backend() {
        let test = test.seeded();
        user(&test, "ada@example.com", true);
        user(&test, "rey@example.com", false);
        user(&test, "out@example.com", false);
        for email in ["rey@example.com", "out@example.com"] {
            let found = test
                .database
                .find_user_by_email(&Email::parse(email).expect("email"))
                .expect("db")
                .expect("user");
            test.database.grant_permissions(found.id, &Permission::responder()).expect("grant");
        }
        let outsider = test
            .database
            .find_user_by_email(&Email::parse("out@example.com").expect("email"))
            .expect("db")
            .expect("user");
        let token = http_api::new_token();
        test.database
            .create_api_token(outsider.id, "outsider", &http_api::hash_token(&token), None)
            .expect("token");
        let (base, handle) = start(&test, &[]).await;

        // Rey declares a private incident: Rey is its commander.
        let mut rey = Browser::new(&base);
        assert_eq!(rey.sign_in("rey@example.com", PASSWORD).await.status, 303);
        let form = rey.get("/incident/create/").await;
        let csrf = form.csrf();
        let fields = [
            ("csrf_token", csrf.as_str()),
            ("title", "Payroll export leaks salaries"),
            ("description", "Salaries visible in an export"),
            ("priority_id", &option(&form.body, "priority_id", "P2")),
            ("environment_id", &option(&form.body, "environment_id", "PRD")),
            ("incident_category_id", &option(&form.body, "incident_category_id", "")),
            ("private", "true"),
        ];
        let declared = rey.post("/incident/create/", &fields, &[]).await;
        assert_eq!(declared.status, 303, "{}", declared.body);
        let path = declared.header("location").to_owned();
        let id = path.trim_matches('/').rsplit('/').next().expect("id").to_owned();
        assert_eq!(rey.get(&path).await.status, 200, "its commander sees it");
        assert!(rey.get("/incident/").await.body.contains("Payroll export"));

        // An outsider sees nothing of it: not in the lists, not its page, not in exports, not in the API.
        let mut out = Browser::new(&base);
        assert_eq!(out.sign_in("out@example.com", PASSWORD).await.status, 303);
        assert_eq!(out.get(&path).await.status, 404);
        assert!(!out.get("/incident/").await.body.contains("Payroll export"));
        assert!(!out.get("/").await.body.contains("Payroll export"));
        assert!(!out.get("/incident/export/?format=csv").await.body.contains("Payroll export"));
        let csrf = out.get("/").await.csrf();
        assert_eq!(
            out.post(&format!("{path}update/"), &[("csrf_token", &csrf), ("message", "peeking")], &[])
                .await
                .status,
            404
        );
        let api = reqwest::Client::new();
        let get =
            |path: String| api.get(format!("{base}/api/v2/firefighter{path}")).bearer_auth(&token).send();
        assert_eq!(get(format!("/incidents/{id}")).await.expect("r").status(), 404);
        assert_eq!(get(format!("/incidents/{id}/updates")).await.expect("r").status(), 404);
        let listed = get("/incidents".to_owned()).await.expect("r").text().await.expect("body");
        assert!(!listed.contains("Payroll export"), "{listed}");
        let exported = get("/incidents.csv".to_owned()).await.expect("r").text().await.expect("body");
        assert!(!exported.contains("Payroll export"));
        let update = api
            .post(format!("{base}/api/v2/firefighter/incidents/{id}/updates"))
            .bearer_auth(&token)
            .json(&serde_json::json!({"message": "peeking"}))
            .send()
            .await
            .expect("r");
        assert_eq!(update.status(), 404);

        // Staff see it.
        let mut ada = Browser::new(&base);
        assert_eq!(ada.sign_in("ada@example.com", PASSWORD).await.status, 303);
        assert_eq!(ada.get(&path).await.status, 200);
        handle.stop(true).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_sign_on_creates_the_user_checks_state_and_nonce_and_maps_back_office_to_staff() {
    use incidents_core::access::{AccessRepository as _, Action, Permission, Resource};
    use test_support::oidc::FakeOidc;
    let test = TestDatabase::sqlite().seeded();
    // A group named like one of the person's roles: its permissions come with the sign-in.
    let tokens = Permission::new(Action::View, Resource::ApiToken);
    test.database.put_permission_group("incident_viewers", &[tokens]).expect("group");
    let provider = FakeOidc::start(
        "firefighter",
        "an-oidc-client-secret",
        serde_json::json!({"email": "sam@example.com", "name": "Sam Sso", "preferred_username": "sam",
            "roles": ["back_office", "incident_viewers"]}),
    );
    let port =
        std::net::TcpListener::bind("127.0.0.1:0").expect("port").local_addr().expect("address").port();
    let (port, base_url) = (port.to_string(), format!("http://127.0.0.1:{port}"));
    let discovery = provider.discovery_url();
    let extra = [
        ("HTTP_PORT", port.as_str()),
        ("BASE_URL", base_url.as_str()),
        ("OIDC_OP_DISCOVERY_DOCUMENT_URL", discovery.as_str()),
        ("OIDC_RP_CLIENT_ID", "firefighter"),
        ("OIDC_RP_CLIENT_SECRET", "an-oidc-client-secret"),
    ];
    let (base, handle) = start(&test, &extra).await;
    let mut browser = Browser::new(&base);

    // Anonymous pages lead to single sign-on; the sign-in page offers it too.
    let home = browser.get("/").await;
    assert_eq!((home.status, home.header("location")), (302, "/oidc/authenticate/?next=%2F"));
    assert!(browser.get("/admin/login/").await.body.contains("/oidc/authenticate/"));

    // The whole dance: to the provider with PKCE, state and nonce; back with a code; signed in.
    let (authorize, callback) = sso(&mut browser).await;
    for part in [
        "code_challenge_method=S256",
        "code_challenge=",
        "nonce=",
        "state=",
        "client_id=firefighter",
        "redirect_uri=http%3A%2F%2F127.0.0.1",
    ] {
        assert!(authorize.contains(part), "{part} in {authorize}");
    }
    let path = callback.strip_prefix(&base_url).expect("back to us").to_owned();
    // A forged state is refused.
    let forged = path.replace("state=", "state=x");
    assert_eq!(browser.get(&forged).await.status, 403);
    let done = browser.get(&path).await;
    assert_eq!((done.status, done.header("location")), (303, "/incident/"), "{}", done.body);
    assert_eq!(browser.get("/incident/").await.status, 200, "signed in, with the responder permissions");
    // The same answer again (a replay): the sign-in it belonged to is over.
    let mut replay = Browser::new(&base);
    assert_eq!(replay.get(&path).await.status, 403);
    let staff: bool = {
        use storage::schema::users;
        let mut conn = test.database.connection().expect("connection");
        users::table
            .filter(users::email.eq("sam@example.com"))
            .select(users::is_staff)
            .first(&mut conn)
            .expect("sam")
    };
    assert!(staff, "back_office makes staff");
    let sam = test
        .database
        .find_user_by_email(&Email::parse("sam@example.com").expect("email"))
        .expect("query")
        .expect("sam");
    let principal = || test.database.principal(sam.id).expect("query").expect("sam");
    assert!(principal().can(tokens), "the incident_viewers role makes a member of that group");

    // Signing in again without the role leaves the group; staff is never revoked.
    provider.state().person["roles"] = serde_json::json!([]);
    let mut again = Browser::new(&base);
    let (_, callback) = sso(&mut again).await;
    assert_eq!(again.get(callback.strip_prefix(&base_url).expect("back")).await.status, 303);
    assert!(!principal().can(tokens) && principal().user.is_staff);

    // A token carrying another nonce, and a provider's refusal, sign nobody in.
    provider.state().wrong_nonce = true;
    let mut other = Browser::new(&base);
    let (_, callback) = sso(&mut other).await;
    let refused = other.get(callback.strip_prefix(&base_url).expect("back")).await;
    assert_eq!(refused.status, 403);
    assert!(refused.body.contains("nonce"), "{}", refused.body);
    provider.state().wrong_nonce = false;
    provider.state().refuse = Some("access_denied".into());
    let (_, callback) = sso(&mut other).await;
    let refused = other.get(callback.strip_prefix(&base_url).expect("back")).await;
    assert!(refused.status == 403 && refused.body.contains("access_denied"));
    assert!(audit(&test).iter().filter(|a| *a == "user.sign_in_failed").count() >= 3);
    handle.stop(true).await;
    provider.stop().await;
}

/// Starts single sign-on and lets the provider answer: the authorization URL and the callback URL.
async fn sso(browser: &mut Browser) -> (String, String) {
    let start = browser.get("/oidc/authenticate/?next=/incident/").await;
    assert_eq!(start.status, 302, "{}", start.body);
    let authorize = start.header("location").to_owned();
    let answer = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
        .get(&authorize)
        .send()
        .await
        .expect("authorize");
    let callback = answer.headers()["location"].to_str().expect("location").to_owned();
    (authorize, callback)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn impacts_give_the_priority_live_and_staff_see_and_retry_failed_side_effects() {
    use incidents_core::access::{AccessRepository as _, Permission};
    use storage::schema::{impact_levels, impact_types, incidents, jobs, outbox_events, priorities};
    for test in TestDatabase::each_backend() {
        let test = test.seeded();
        user(&test, "ada@example.com", true);
        user(&test, "rey@example.com", false);
        let rey = test
            .database
            .find_user_by_email(&Email::parse("rey@example.com").expect("email"))
            .expect("db")
            .expect("user");
        test.database.grant_permissions(rey.id, &Permission::responder()).expect("grant");
        // Every impact type, with its "no impact" and "high" levels.
        let levels: Vec<(i64, String, String)> = {
            let mut conn = test.database.connection().expect("connection");
            impact_levels::table
                .inner_join(impact_types::table)
                .filter(impact_levels::value.eq_any(["NO", "HI"]))
                .order((impact_types::sort_order, impact_types::id))
                .select((impact_types::id, impact_levels::value, impact_levels::id))
                .load(&mut conn)
                .expect("levels")
        };
        let level = |kind: i64, code: &str| {
            levels
                .iter()
                .find(|(k, c, _)| *k == kind && c == code)
                .map(|(_, _, id)| id.clone())
                .expect("level")
        };
        let kinds: Vec<i64> = levels
            .iter()
            .map(|(kind, _, _)| *kind)
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        assert!(kinds.len() >= 2, "the seed has several impact types");
        let (base, handle) = start(&test, &[]).await;
        let mut ada = Browser::new(&base);
        assert_eq!(ada.sign_in("ada@example.com", PASSWORD).await.status, 303);

        // The form offers one select per impact type, "no impact" chosen, and the priority from them.
        let form = ada.get("/incident/create/").await;
        for kind in &kinds {
            assert!(form.body.contains(&format!("name=\"impact_{kind}\"")), "{}", form.body);
        }
        assert!(form.body.contains("<option value=\"\" selected>From the impacts</option>"));
        // Live: the fragment under the impacts follows them.
        let high = format!(
            "/incident/create/priority/?impact_{}={}&impact_{}={}",
            kinds[0],
            level(kinds[0], "HI"),
            kinds[1],
            level(kinds[1], "NO")
        );
        let preview = ada.htmx_get(&high, "derived-priority").await;
        assert_eq!(preview.status, 200);
        assert!(
            preview.body.contains("id=\"derived-priority\"") && preview.body.contains("P2"),
            "{}",
            preview.body
        );
        let none = format!("/incident/create/priority/?impact_{}={}", kinds[0], level(kinds[0], "NO"));
        assert!(ada.htmx_get(&none, "derived-priority").await.body.contains("above"));

        // Declaring from the impacts: no impact at all is refused on the impacts ...
        let csrf = form.csrf();
        let category = option(&form.body, "incident_category_id", "");
        let environment = option(&form.body, "environment_id", "PRD");
        let (first, second) = (format!("impact_{}", kinds[0]), format!("impact_{}", kinds[1]));
        let mut fields = vec![
            ("csrf_token", csrf.clone()),
            ("title", "Search is slow for every shopper".to_owned()),
            ("description", "Search answers in 8 s instead of 200 ms.".to_owned()),
            ("priority_id", String::new()),
            ("incident_category_id", category),
            ("environment_id", environment),
            (first.as_str(), level(kinds[0], "NO")),
            (second.as_str(), level(kinds[1], "NO")),
        ];
        let as_pairs = |fields: &[(&str, String)]| {
            fields.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect::<Vec<_>>()
        };
        let post = async |browser: &mut Browser, fields: Vec<(String, String)>| {
            let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            browser.post("/incident/create/", &pairs, &[]).await
        };
        let refused = post(&mut ada, as_pairs(&fields)).await;
        assert_eq!(refused.status, 422);
        assert!(refused.body.contains("above"), "{}", refused.body);
        // ... and a high impact makes a P2, its impacts on its page.
        fields[6].1 = level(kinds[0], "HI");
        let declared = post(&mut ada, as_pairs(&fields)).await;
        assert_eq!(declared.status, 303, "{}", declared.body);
        let location = declared.header("location").to_owned();
        let id: i64 = location.trim_matches('/').rsplit('/').next().expect("id").parse().expect("an id");
        let priority: String = {
            let mut conn = test.database.connection().expect("connection");
            incidents::table
                .inner_join(priorities::table)
                .filter(incidents::id.eq(id))
                .select(priorities::name)
                .first(&mut conn)
                .expect("incident")
        };
        assert_eq!(priority, "P2");
        let page = ada.get(&location).await;
        assert!(page.body.contains("<h3>Impacts</h3>"), "{}", page.body);

        // A side effect of its declaration failed for good: staff see it and retry it.
        let job: i64 = {
            let mut conn = test.database.connection().expect("connection");
            let event: String = outbox_events::table
                .filter(outbox_events::incident_id.eq(id))
                .select(outbox_events::event_id)
                .first(&mut conn)
                .expect("event");
            let now = incidents_core::clock::now();
            diesel::insert_into(jobs::table)
                .values((
                    jobs::name.eq("slack.post_message"),
                    jobs::queue.eq("slack"),
                    jobs::payload.eq("{}"),
                    jobs::idempotency_key.eq(format!("dashboard-test-{id}")),
                    jobs::event_id.eq(&event),
                    jobs::state.eq("dead"),
                    jobs::attempts.eq(8),
                    jobs::run_at.eq(now),
                    jobs::last_error.eq("Slack answered channel_not_found <b>"),
                    jobs::created_at.eq(now),
                    jobs::updated_at.eq(now),
                ))
                .returning(jobs::id)
                .get_result(&mut conn)
                .expect("job")
        };
        let page = ada.get(&location).await;
        assert!(page.body.contains("Failed side effects"), "{}", page.body);
        assert!(
            page.body.contains("channel_not_found &#60;b&#62;")
                || page.body.contains("channel_not_found &lt;b&gt;"),
            "escaped: {}",
            page.body
        );
        let retry = format!("/incident/{id}/jobs/{job}/retry/");
        assert!(page.body.contains(&retry));
        // Not for responders: they see no panel and cannot retry.
        let mut rey_browser = Browser::new(&base);
        assert_eq!(rey_browser.sign_in("rey@example.com", PASSWORD).await.status, 303);
        let seen = rey_browser.get(&location).await;
        assert!(seen.status == 200 && !seen.body.contains("Failed side effects"));
        let rey_csrf = seen.csrf();
        assert_eq!(rey_browser.post(&retry, &[("csrf_token", &rey_csrf)], &[]).await.status, 403);
        // Staff: without the CSRF token refused; under another incident not found; then retried.
        let page_csrf = page.csrf();
        assert_eq!(ada.post(&retry, &[], &[]).await.status, 403);
        let elsewhere = format!("/incident/{}/jobs/{job}/retry/", id + 1000);
        assert_eq!(ada.post(&elsewhere, &[("csrf_token", &page_csrf)], &[]).await.status, 404);
        let retried = ada.post(&retry, &[("csrf_token", &page_csrf)], &[]).await;
        assert_eq!((retried.status, retried.header("location")), (303, location.as_str()));
        assert!(audit(&test).contains(&"job.retry".to_owned()));
        handle.stop(true).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cookies_are_secure_when_a_trusted_proxy_says_https() {
    let test = TestDatabase::sqlite().seeded();
    user(&test, "ada@example.com", true);
    for (trusted, secure) in [("", false), ("127.0.0.1", true), ("10.0.0.0/8", false)] {
        let (base, handle) = start(&test, &[("FF_TRUSTED_PROXIES", trusted)]).await;
        let mut browser = Browser::new(&base);
        let request = browser
            .client
            .get(format!("{base}/admin/login/"))
            .header("x-forwarded-proto", "https")
            .header("x-forwarded-for", "203.0.113.9");
        let page = browser.send(request).await;
        let cookie = page.header("set-cookie").to_owned();
        assert!(cookie.starts_with("ff_signin="), "{cookie}");
        assert_eq!(cookie.contains("Secure"), secure, "FF_TRUSTED_PROXIES={trusted:?}: {cookie}");
        handle.stop(true).await;
    }
    // A malformed list stops the server at start, naming the variable.
    let error = AppBuilder::standard()
        .configure(&vars(&test, &[("FF_TRUSTED_PROXIES", "10.0.0.0/40")]))
        .expect_err("refused");
    assert!(error.to_string().contains("FF_TRUSTED_PROXIES"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_link_and_unlink_a_jira_issue_from_the_incident_page() {
    use incidents_core::access::{AccessRepository as _, Permission};
    use test_support::jira::{FakeJira, SERVICE_ACCOUNT};
    let test = TestDatabase::sqlite().seeded();
    user(&test, "ada@example.com", true);
    user(&test, "rey@example.com", false);
    let rey = test
        .database
        .find_user_by_email(&Email::parse("rey@example.com").expect("email"))
        .expect("db")
        .expect("user");
    test.database.grant_permissions(rey.id, &Permission::responder()).expect("grant");
    let jira = FakeJira::start("ff@example.com", "token", raid_jira::workflow::incident_workflow_layout());
    let (base, handle) = start(
        &test,
        &[
            ("ENABLE_JIRA", "true"),
            ("ENABLE_RAID", "true"),
            ("RAID_JIRA_API_URL", jira.url.as_str()),
            ("RAID_JIRA_API_USER", "ff@example.com"),
            ("RAID_JIRA_API_PASSWORD", "token"),
            ("RAID_DEFAULT_JIRA_QRAFT_USER_ID", SERVICE_ACCOUNT),
            ("RAID_JIRA_PROJECT_KEY", "INCIDENT"),
        ],
    )
    .await;
    let mut ada = Browser::new(&base);
    assert_eq!(ada.sign_in("ada@example.com", PASSWORD).await.status, 303);
    let form = ada.get("/incident/create/").await;
    let csrf = form.csrf();
    let fields = [
        ("csrf_token", csrf.as_str()),
        ("title", "Exports are empty"),
        ("description", "Every export is empty since noon."),
        ("priority_id", &option(&form.body, "priority_id", "P4")),
        ("environment_id", &option(&form.body, "environment_id", "PRD")),
        ("incident_category_id", &option(&form.body, "incident_category_id", "")),
    ];
    let created = ada.post("/incident/create/", &fields, &[]).await;
    assert_eq!(created.status, 303, "{}", created.body);
    let location = created.header("location").to_owned();
    let id: i64 = location.trim_matches('/').rsplit('/').next().and_then(|n| n.parse().ok()).expect("id");
    let store = raid_jira::store::RaidStore { database: test.database.clone() };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(40);
    while store.ticket(id).expect("ticket").and_then(|t| t.issue_key).is_none() {
        assert!(std::time::Instant::now() < deadline, "the ticket is made");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    {
        let mut state = jira.state();
        let mut other = state.issues[0].clone();
        other.id = "77777".into();
        other.key = "INCIDENT-77".into();
        state.issues.push(other);
    }

    // Staff see the integrations' operations; a responder does not, and cannot run them.
    let page = ada.get(&format!("/incident/{id}/")).await;
    assert!(page.body.contains("Link a Jira issue") && page.body.contains("Unlink the Jira ticket"));
    let mut responder = Browser::new(&base);
    assert_eq!(responder.sign_in("rey@example.com", PASSWORD).await.status, 303);
    let seen = responder.get(&format!("/incident/{id}/")).await;
    assert!(!seen.body.contains("Link a Jira issue"));
    let refused = responder
        .post(
            &format!("/incident/{id}/actions/raid/link/"),
            &[("csrf_token", &seen.csrf()), ("issue_key", "INCIDENT-77")],
            &[],
        )
        .await;
    assert_eq!(refused.status, 403);
    // A bad key is refused with its reason; a good one is linked by a job.
    let csrf = page.csrf();
    let bad = ada
        .post(
            &format!("/incident/{id}/actions/raid/link/"),
            &[("csrf_token", &csrf), ("issue_key", "nope")],
            &[],
        )
        .await;
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("An issue key"), "{}", bad.body);
    let linked = ada
        .post(
            &format!("/incident/{id}/actions/raid/link/"),
            &[("csrf_token", &csrf), ("issue_key", "incident-77")],
            &[],
        )
        .await;
    assert_eq!(linked.status, 303);
    while store.ticket(id).expect("ticket").and_then(|t| t.issue_key).as_deref() != Some("INCIDENT-77") {
        assert!(std::time::Instant::now() < deadline, "INCIDENT-77 is linked");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let unlinked =
        ada.post(&format!("/incident/{id}/actions/raid/unlink/"), &[("csrf_token", &csrf)], &[]).await;
    assert_eq!(unlinked.status, 303);
    assert!(store.ticket(id).expect("ticket").is_none());
    let again =
        ada.post(&format!("/incident/{id}/actions/raid/unlink/"), &[("csrf_token", &csrf)], &[]).await;
    assert_eq!(again.status, 400, "nothing to unlink");
    assert_eq!(audit(&test).iter().filter(|a| *a == "incident.action").count(), 2, "each operation audited");
    let page = ada.get(&format!("/incident/{id}/")).await;
    assert!(page.body.contains("Unlinked from Jira issue INCIDENT-77"), "the timeline says so");
    handle.stop(true).await;
    jira.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_knowledge_base_and_peoples_pages_show_what_the_visitor_may_see() {
    use incidents_core::access::{AccessRepository as _, Permission};
    let test = TestDatabase::sqlite().seeded();
    user(&test, "ada@example.com", true);
    for email in ["rey@example.com", "out@example.com"] {
        user(&test, email, false);
        let found = test
            .database
            .find_user_by_email(&Email::parse(email).expect("email"))
            .expect("db")
            .expect("user");
        test.database.grant_permissions(found.id, &Permission::responder()).expect("grant");
    }
    let rey = test
        .database
        .find_user_by_email(&Email::parse("rey@example.com").expect("email"))
        .expect("db")
        .expect("user");
    let (base, handle) = start(&test, &[]).await;

    // Signed out: to the sign-in page.
    let mut anonymous = Browser::new(&base);
    assert_eq!(anonymous.get("/docs/metrics/").await.status, 302);

    let mut out = Browser::new(&base);
    assert_eq!(out.sign_in("out@example.com", PASSWORD).await.status, 303);
    let metrics = out.get("/docs/metrics/").await;
    assert_eq!(metrics.status, 200);
    for text in ["Metrics explanation", "Time To Fix", "<code>TTF</code>", "Key events", "Recovered"] {
        assert!(metrics.body.contains(text), "{text} on the metrics page");
    }
    let roles = out.get("/docs/role_types/").await;
    assert_eq!(roles.status, 200);
    assert!(roles.body.contains("Commander") && roles.body.contains("Communication Lead"));
    let by_slug = out.get("/docs/role_types/commander/").await;
    assert_eq!(by_slug.status, 302);
    let location = by_slug.header("location").to_owned();
    assert!(
        location.starts_with("/docs/role_types/")
            && location.trim_matches('/').rsplit('/').next().is_some_and(|id| id.parse::<i64>().is_ok()),
        "{location}"
    );
    let role = out.get(&location).await;
    assert_eq!(role.status, 200);
    assert!(role.body.contains("The commander owns the incident"), "the role's description");
    assert_eq!(out.get("/docs/role_types/no-such-role/").await.status, 404);
    assert_eq!(out.get("/docs/role_types/9999/").await.status, 404);

    // Rey declares a public and a private incident.
    let mut rey_browser = Browser::new(&base);
    assert_eq!(rey_browser.sign_in("rey@example.com", PASSWORD).await.status, 303);
    for (title, private) in [("Search is slow", false), ("Payroll export leaks salaries", true)] {
        let form = rey_browser.get("/incident/create/").await;
        let csrf = form.csrf();
        let (priority, environment, category) = (
            option(&form.body, "priority_id", "P3"),
            option(&form.body, "environment_id", "PRD"),
            option(&form.body, "incident_category_id", ""),
        );
        let mut fields = vec![
            ("csrf_token", csrf.as_str()),
            ("title", title),
            ("description", "Seen by support."),
            ("priority_id", priority.as_str()),
            ("environment_id", environment.as_str()),
            ("incident_category_id", category.as_str()),
        ];
        if private {
            fields.push(("private", "true"));
        }
        assert_eq!(rey_browser.post("/incident/create/", &fields, &[]).await.status, 303);
    }
    // Someone else sees Rey's public incident only; Rey's roles in open incidents too, but for the
    // private one.
    let page = out.get(&format!("/user/{}/", rey.id)).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("rey@example.com") && page.body.contains("Search is slow"));
    assert!(!page.body.contains("Payroll"), "a private incident is not shown to an outsider");
    assert!(page.body.contains("<dt>Incidents declared</dt><dd>1"), "counted as the visitor sees");
    // Staff see both.
    let mut ada = Browser::new(&base);
    assert_eq!(ada.sign_in("ada@example.com", PASSWORD).await.status, 303);
    let page = ada.get(&format!("/user/{}/", rey.id)).await;
    assert!(
        page.body.contains("Payroll export leaks salaries")
            && page.body.contains("<dt>Incidents declared</dt><dd>2")
    );
    assert!(page.body.contains("Roles in open incidents") && page.body.contains("Commander"));
    // The incident page links its people to theirs.
    let incident = ada.get("/incident/1/").await;
    assert!(incident.body.contains(&format!("/user/{}/", rey.id)));
    assert_eq!(ada.get("/user/not-a-user/").await.status, 404);
    assert_eq!(ada.get(&format!("/user/{}/", uuid::Uuid::new_v4())).await.status, 404);
    handle.stop(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn categories_show_their_incidents_downtime_and_mtbf_over_a_period() {
    for test in TestDatabase::each_backend() {
        let test = test.seeded();
        user(&test, "ada@example.com", true);
        let (base, handle) = start(&test, &[]).await;
        let mut ada = Browser::new(&base);
        assert_eq!(ada.sign_in("ada@example.com", PASSWORD).await.status, 303);
        // Two incidents of one category, each fixed two hours after it was declared.
        let mut category = String::new();
        for title in ["Search is slow", "Search is down"] {
            let form = ada.get("/incident/create/").await;
            let csrf = form.csrf();
            category = option(&form.body, "incident_category_id", "");
            let fields = [
                ("csrf_token", csrf.as_str()),
                ("title", title),
                ("description", "Seen by support."),
                ("priority_id", &option(&form.body, "priority_id", "P3")),
                ("environment_id", &option(&form.body, "environment_id", "PRD")),
                ("incident_category_id", category.as_str()),
            ];
            let created = ada.post("/incident/create/", &fields, &[]).await;
            assert_eq!(created.status, 303);
            let path = created.header("location").to_owned();
            let page = ada.get(&path).await;
            let mut form: Vec<(String, String)> = vec![("csrf_token".into(), page.csrf())];
            // Declared now (not editable); started and detected an hour ago, recovered in two hours.
            let at = |hours: i64| {
                (chrono::Utc::now() + chrono::TimeDelta::hours(hours)).format("%Y-%m-%dT%H:%M").to_string()
            };
            for name in page
                .body
                .split("type=\"datetime-local\" name=\"")
                .skip(1)
                .filter_map(|rest| rest.split('"').next())
            {
                let when = if name.contains("recovered") { at(2) } else { at(-1) };
                form.push((name.to_owned(), when));
            }
            let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let saved = ada.post(&format!("{path}update_key_events/"), &pairs, &[]).await;
            assert_eq!(saved.status, 303, "{}", saved.body);
        }
        // The last 90 days: 2 incidents, their time to fix summed, and the rest of 90 days shared
        // between them.
        let fixed: Vec<i64> = {
            use storage::schema::{incident_metrics, metric_types};
            let mut conn = test.database.connection().expect("connection");
            incident_metrics::table
                .inner_join(metric_types::table)
                .filter(metric_types::slug.eq("time_to_fix"))
                .select(incident_metrics::duration_micros)
                .load(&mut conn)
                .expect("metrics")
        };
        assert_eq!(fixed.len(), 2, "each incident has its time to fix");
        let human = |micros: i64| {
            let seconds = micros / 1_000_000;
            let (days, hours, minutes) = (seconds / 86_400, (seconds % 86_400) / 3600, (seconds % 3600) / 60);
            if days > 0 {
                format!("{days} d {hours} h {minutes} min")
            } else {
                format!("{hours} h {minutes} min")
            }
        };
        let downtime: i64 = fixed.iter().sum();
        let mtbf = (90 * 86_400 * 1_000_000 - downtime) / 2;
        let page = ada.get("/incident-category/").await;
        assert_eq!(page.status, 200);
        let line = page
            .body
            .split("<tr>")
            .find(|row| row.contains(&format!("/incident-category/{category}/")))
            .expect("the category's line");
        assert!(
            line.contains("<td>2</td>")
                && line.contains(&format!("<td>{}</td>", human(downtime)))
                && line.contains(&format!("<td>{}</td>", human(mtbf))),
            "{line}: {} down, {} between failures",
            human(downtime),
            human(mtbf)
        );
        // Another period, in the filters' language: nothing then, so no MTBF.
        let old = ada.get("/incident-category/?metrics_period=2020").await;
        let line = old
            .body
            .split("<tr>")
            .find(|row| row.contains(&format!("/incident-category/{category}/")))
            .expect("line");
        assert!(line.contains("<td>0</td><td></td><td></td>"), "{line}");
        assert!(old.body.contains("Over 2020"));
        // A period that does not parse says why, and the default is shown.
        let bad = ada.get("/incident-category/?metrics_period=nonsense").await;
        assert_eq!(bad.status, 200);
        assert!(
            bad.body.contains("Invalid date range") && bad.body.contains("the last 90 days"),
            "{}",
            bad.body
        );
        // The category's page: its record and its group's other categories.
        let detail = ada.get(&format!("/incident-category/{category}/")).await;
        assert_eq!(detail.status, 200);
        assert!(
            detail.body.contains(&human(mtbf)) && detail.body.contains("Other categories of"),
            "{}",
            detail.body
        );
        assert_eq!(ada.get("/incident-category/no-such-category/").await.status, 404);
        handle.stop(true).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statistics_follow_the_filters_and_their_date_range() {
    let test = TestDatabase::sqlite().seeded();
    user(&test, "ada@example.com", true);
    let (base, handle) = start(&test, &[]).await;
    let mut ada = Browser::new(&base);
    assert_eq!(ada.sign_in("ada@example.com", PASSWORD).await.status, 303);
    // Three P3 and one P4 declared now; one P3 mitigated with its key events (a time to fix of 2 h).
    let mut paths = Vec::new();
    for (title, priority) in
        [("Search is slow", "P3"), ("Search is down", "P3"), ("Cart is slow", "P3"), ("Typo on help", "P4")]
    {
        let form = ada.get("/incident/create/").await;
        let csrf = form.csrf();
        let fields = [
            ("csrf_token", csrf.as_str()),
            ("title", title),
            ("description", "Seen by support."),
            ("priority_id", &option(&form.body, "priority_id", priority)),
            ("environment_id", &option(&form.body, "environment_id", "PRD")),
            ("incident_category_id", &option(&form.body, "incident_category_id", "")),
        ];
        let created = ada.post("/incident/create/", &fields, &[]).await;
        assert_eq!(created.status, 303);
        paths.push(created.header("location").to_owned());
    }
    let page = ada.get(&paths[0]).await;
    let csrf = page.csrf();
    let at = |hours: i64| {
        (chrono::Utc::now() + chrono::TimeDelta::hours(hours)).format("%Y-%m-%dT%H:%M").to_string()
    };
    let mut form: Vec<(String, String)> = vec![("csrf_token".into(), csrf.clone())];
    for name in
        page.body.split("type=\"datetime-local\" name=\"").skip(1).filter_map(|rest| rest.split('"').next())
    {
        form.push((name.to_owned(), if name.contains("recovered") { at(2) } else { at(-1) }));
    }
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(ada.post(&format!("{}update_key_events/", paths[0]), &pairs, &[]).await.status, 303);
    for status in ["20", "30", "40"] {
        let done = ada
            .post(&format!("{}update/", paths[0]), &[("csrf_token", &csrf), ("status", status)], &[])
            .await;
        assert_eq!(done.status, 303, "{}", done.body);
    }

    // This year: every incident.
    let stats = ada.get("/statistics/?created_at=current_quarter").await;
    assert_eq!(stats.status, 200);
    let row = |body: &str, label: &str| -> String {
        body.split("<tr>")
            .find(|r| r.contains(&format!("<th scope=\"row\">{label}</th>")))
            .map(str::to_owned)
            .unwrap_or_default()
    };
    assert!(
        row(&stats.body, "P3").contains("<td>3</td><td>3</td><td>0</td><td>0.0</td>"),
        "{}",
        row(&stats.body, "P3")
    );
    assert!(
        row(&stats.body, "Total").contains("<td>4</td><td>4</td><td>0</td>"),
        "{}",
        row(&stats.body, "Total")
    );
    // The time to fix of the mitigated one: under 3 hours, not under one.
    let ttr = stats.body.split("id=\"ttr-heading\"").nth(1).expect("ttr section");
    let p3 = row(ttr, "P3");
    assert!(p3.contains("<td>1</td><td>0 <small>(0.0 %)</small></td>"), "{p3}");
    assert!(p3.contains("<td>1 <small>(100.0 %)</small></td>"), "{p3}");
    // The age table links each count to those incidents.
    let age = stats.body.split("id=\"age-heading\"").nth(1).expect("age section");
    let link = row(age, "P3")
        .split("<a href=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a link")
        .replace("&amp;", "&");
    let listed = ada.get(&link).await;
    assert_eq!(listed.status, 200);
    assert_eq!(
        listed.body.matches("<tr><td><a href=\"/incident/").count(),
        3,
        "the three P3 not closed: {link}"
    );
    // Charts, drawn by the server.
    assert!(stats.body.contains("<svg class=\"chart\"") && stats.body.contains("Incidents by status"));
    // Filters narrow it; a range before everything counts nothing; a bad range says why.
    let p4 = option(&ada.get("/incident/create/").await.body, "priority_id", "P4");
    let only = ada.get(&format!("/statistics/?priority={p4}")).await;
    assert!(row(&only.body, "Total").contains("<td>1</td>"), "{}", row(&only.body, "Total"));
    let old = ada.get("/statistics/?created_at=2020").await;
    assert!(row(&old.body, "Total").contains("<td>0</td>"));
    let bad = ada.get("/statistics/?created_at=nonsense").await;
    assert_eq!(bad.status, 200);
    assert!(bad.body.contains("Invalid date range"), "{}", bad.body);
    // Exports of the same filters, through the API's export code.
    assert!(stats.body.contains("/incident/export/?created_at=current_quarter&amp;format=csv"));
    let csv = ada.get("/incident/export/?created_at=current_quarter&format=csv").await;
    assert_eq!(csv.status, 200);
    assert_eq!(csv.body.lines().count(), 5, "a header and four incidents");
    handle.stop(true).await;
}

/// The id in a back-office row's URL (`/admin/<model>/<id>/?saved=1`).
fn saved_id(page: &Page, model: &str) -> String {
    assert_eq!(page.status, 303, "saved: {}", page.body);
    let location = page.header("location");
    let prefix = format!("/admin/{model}/");
    assert!(location.starts_with(&prefix), "{location}");
    location[prefix.len()..].split('/').next().expect("id").to_owned()
}

fn count(test: &TestDatabase, sql: &str) -> i64 {
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let mut conn = test.database.connection().expect("connection");
    diesel::sql_query(sql).get_result::<Count>(&mut conn).expect("count").n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_back_office_is_for_staff_checks_every_change_and_audits_it() {
    for test in TestDatabase::each_backend() {
        let test = test.seeded();
        user(&test, "ada@example.com", true);
        user(&test, "sam@example.com", false);
        user(&test, "rey@example.com", false);
        let sam = test
            .database
            .find_user_by_email(&Email::parse("sam@example.com").expect("email"))
            .expect("db")
            .expect("sam");
        test.database.make_staff(sam.id).expect("staff");
        let catalog = AppBuilder::standard().configure(&vars(&test, &[])).expect("configuration").catalog();
        let (base, handle) = start(&test, &[]).await;

        // Not staff: 403 on every page and every change, whatever it names.
        let mut rey = Browser::new(&base);
        assert_eq!(rey.sign_in("rey@example.com", PASSWORD).await.status, 303);
        let csrf = rey.get("/docs/metrics/").await.csrf();
        let mut pages = vec![
            "/admin/".to_owned(),
            "/admin/tokens/".to_owned(),
            "/admin/permission-groups/".to_owned(),
            "/admin/jobs/".to_owned(),
            "/admin/no-such-table/".to_owned(),
        ];
        for model in catalog.models() {
            pages.extend([
                format!("/admin/{}/", model.slug),
                format!("/admin/{}/add/", model.slug),
                format!("/admin/{}/1/", model.slug),
            ]);
        }
        for page in &pages {
            assert_eq!(rey.get(page).await.status, 403, "GET {page}");
        }
        for path in [
            "/admin/environments/add/",
            "/admin/environments/1/",
            "/admin/environments/1/delete/",
            "/admin/tokens/",
            "/admin/tokens/1/revoke/",
            "/admin/permission-groups/",
            "/admin/permission-groups/delete/",
            "/admin/permission-groups/members/",
            "/admin/jobs/1/retry/",
        ] {
            let page =
                rey.post(path, &[("csrf_token", csrf.as_str()), ("value", "X"), ("name", "x")], &[]).await;
            assert_eq!(page.status, 403, "POST {path}");
        }
        // Signed out: to the sign-in page.
        assert_eq!(Browser::new(&base).get("/admin/environments/").await.status, 302);

        let mut ada = Browser::new(&base);
        assert_eq!(ada.sign_in("ada@example.com", PASSWORD).await.status, 303);
        let index = ada.get("/admin/").await;
        assert_eq!(index.status, 200);
        for model in catalog.models() {
            assert!(
                index.body.contains(&format!("href=\"/admin/{}/\"", model.slug)),
                "{} on the index",
                model.slug
            );
            assert_eq!(ada.get(&format!("/admin/{}/", model.slug)).await.status, 200, "{} list", model.slug);
        }
        assert!(catalog.get("slack-conversations").is_some() && catalog.get("webhooks").is_some());
        let csrf = index.csrf();

        // An environment: refused with reasons, then added, then a second default takes over.
        let refused = ada
            .post(
                "/admin/environments/add/",
                &[
                    ("csrf_token", &csrf),
                    ("value", ""),
                    ("name", "Quality"),
                    ("description", "QA"),
                    ("sort_order", "ten"),
                ],
                &[],
            )
            .await;
        assert_eq!(refused.status, 422);
        assert!(
            refused.body.contains("This field is required.")
                && refused.body.contains("A whole number is required.")
        );
        let added = ada
            .post(
                "/admin/environments/add/",
                &[
                    ("csrf_token", &csrf),
                    ("value", "QA"),
                    ("name", "Quality"),
                    ("description", "Quality assurance"),
                    ("sort_order", "5"),
                ],
                &[],
            )
            .await;
        let qa = saved_id(&added, "environments");
        let shown = ada.get(&format!("/admin/environments/{qa}/?saved=1")).await;
        assert!(shown.body.contains("Saved.") && shown.body.contains("value=\"Quality assurance\""));
        let twice = ada
            .post(
                "/admin/environments/add/",
                &[("csrf_token", &csrf), ("value", "QA"), ("name", "Quality 2"), ("description", "Another")],
                &[],
            )
            .await;
        assert_eq!(twice.status, 422);
        assert!(twice.body.contains("Another environment already has this value."), "{}", twice.body);
        let edited = ada
            .post(
                &format!("/admin/environments/{qa}/"),
                &[
                    ("csrf_token", &csrf),
                    ("value", "QA"),
                    ("name", "Quality"),
                    ("description", "Quality assurance"),
                    ("sort_order", "5"),
                    ("is_default", "true"),
                ],
                &[],
            )
            .await;
        assert_eq!(edited.status, 303);
        assert_eq!(count(&test, "SELECT COUNT(*) AS n FROM environments WHERE is_default"), 1);
        assert_eq!(
            count(&test, &format!("SELECT COUNT(*) AS n FROM environments WHERE is_default AND id = '{qa}'")),
            1
        );

        // A group and a category in it (the group by id); an unknown group is refused.
        let group = saved_id(
            &ada.post(
                "/admin/groups/add/",
                &[("csrf_token", &csrf), ("name", "Logistics"), ("sort_order", "77")],
                &[],
            )
            .await,
            "groups",
        );
        let unknown = ada
            .post(
                "/admin/incident-categories/add/",
                &[
                    ("csrf_token", &csrf),
                    ("name", "Parcels"),
                    ("group_id", "00000000-0000-0000-0000-000000000000"),
                ],
                &[],
            )
            .await;
        assert_eq!(unknown.status, 422);
        assert!(unknown.body.contains("No group"));
        let category = saved_id(
            &ada.post(
                "/admin/incident-categories/add/",
                &[
                    ("csrf_token", &csrf),
                    ("name", "Parcels"),
                    ("group_id", &group),
                    ("deploy_warning", "true"),
                ],
                &[],
            )
            .await,
            "incident-categories",
        );
        // The group is in use: it stays.
        let in_use = ada.post(&format!("/admin/groups/{group}/delete/"), &[("csrf_token", &csrf)], &[]).await;
        assert_eq!(in_use.status, 422);
        assert!(in_use.body.contains("still used"));
        // Priorities keep their value; their name is staff's.
        let p3 = count(&test, "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM priorities WHERE value = 3");
        assert_eq!(p3, 1);
        assert_eq!(ada.get("/admin/priorities/add/").await.status, 404);

        // A token, shown once, then used on the API with the new environment and category.
        let tokens = ada.get("/admin/tokens/").await;
        let ada_id = option(&tokens.body, "user", "ada@example.com");
        let created = ada
            .post(
                "/admin/tokens/",
                &[("csrf_token", &csrf), ("user", &ada_id), ("name", "ci"), ("expires_in_days", "30")],
                &[],
            )
            .await;
        assert_eq!(created.status, 200);
        let start_at = created.body.find("<code id=\"new-token\">").expect("the token, shown once") + 21;
        let token = created.body[start_at..].split('<').next().expect("token").to_owned();
        assert!(!ada.get("/admin/tokens/").await.body.contains(&token), "shown only once");
        let api = reqwest::Client::new();
        let environments: serde_json::Value = api
            .get(format!("{base}/api/v2/firefighter/environments"))
            .bearer_auth(&token)
            .send()
            .await
            .expect("request")
            .json()
            .await
            .expect("json");
        assert!(environments.to_string().contains("\"QA\""), "{environments}");
        let p3_id = test
            .database
            .connection()
            .map(|mut conn| {
                use storage::schema::priorities;
                priorities::table
                    .filter(priorities::value.eq(3))
                    .select(priorities::id)
                    .first::<String>(&mut conn)
                    .expect("P3")
            })
            .expect("connection");
        let declared = api.post(format!("{base}/api/v2/firefighter/incidents")).bearer_auth(&token)
            .json(&serde_json::json!({"title": "Parcels are late", "description": "Seen by support.", "environment_id": qa,
                "incident_category_id": category, "priority_id": p3_id, "created_by_email": "ada@example.com"}))
            .send().await.expect("request");
        assert_eq!(declared.status(), 201, "{}", declared.text().await.unwrap_or_default());
        // Bad input to the token form is refused with a reason.
        let bad = ada
            .post(
                "/admin/tokens/",
                &[("csrf_token", &csrf), ("user", &ada_id), ("expires_in_days", "0")],
                &[],
            )
            .await;
        assert_eq!(bad.status, 422);
        assert!(bad.body.contains("Expiry"));

        // Staff who are not superusers: reference data yes; people, groups and others' tokens no.
        let mut sam_browser = Browser::new(&base);
        assert_eq!(sam_browser.sign_in("sam@example.com", PASSWORD).await.status, 303);
        let sam_csrf = sam_browser.get("/admin/").await.csrf();
        assert_eq!(sam_browser.get("/admin/users/").await.status, 200);
        let promote = sam_browser
            .post(
                &format!("/admin/users/{}/", sam.id),
                &[("csrf_token", &sam_csrf), ("is_superuser", "true")],
                &[],
            )
            .await;
        assert_eq!(promote.status, 403);
        let for_ada =
            sam_browser.post("/admin/tokens/", &[("csrf_token", &sam_csrf), ("user", &ada_id)], &[]).await;
        assert_eq!(for_ada.status, 403);
        let own =
            sam_browser.post("/admin/tokens/", &[("csrf_token", &sam_csrf), ("name", "mine")], &[]).await;
        assert_eq!(own.status, 200);
        assert!(own.body.contains("new-token"));
        let put = sam_browser
            .post("/admin/permission-groups/", &[("csrf_token", &sam_csrf), ("name", "ops")], &[])
            .await;
        assert_eq!(put.status, 403);
        let renamed = sam_browser
            .post(
                &format!("/admin/groups/{group}/"),
                &[
                    ("csrf_token", &sam_csrf),
                    ("name", "Supply chain"),
                    ("description", ""),
                    ("sort_order", "77"),
                ],
                &[],
            )
            .await;
        assert_eq!(renamed.status, 303);

        // A local account, by a superuser only; it signs in with its password.
        let refused = sam_browser
            .post(
                "/admin/users/actions/dashboard/create_account/",
                &[
                    ("csrf_token", &sam_csrf),
                    ("email", "new@example.com"),
                    ("password", "long enough password"),
                ],
                &[],
            )
            .await;
        assert_eq!(refused.status, 422);
        assert!(refused.body.contains("Only superusers"));
        let short = ada
            .post(
                "/admin/users/actions/dashboard/create_account/",
                &[("csrf_token", &csrf), ("email", "new@example.com"), ("password", "short")],
                &[],
            )
            .await;
        assert_eq!(short.status, 422);
        let account = ada
            .post(
                "/admin/users/actions/dashboard/create_account/",
                &[
                    ("csrf_token", &csrf),
                    ("email", "new@example.com"),
                    ("name", "New"),
                    ("password", "long enough password"),
                ],
                &[],
            )
            .await;
        assert_eq!(account.status, 200, "{}", account.body);
        assert!(account.body.contains("new@example.com can sign in now"));
        assert_eq!(Browser::new(&base).sign_in("new@example.com", "long enough password").await.status, 303);
        assert_eq!(count(&test, "SELECT COUNT(*) AS n FROM audit_log WHERE details LIKE '%long enough%'"), 0);

        // Groups of permissions, by a superuser.
        let put = ada
            .post(
                "/admin/permission-groups/",
                &[
                    ("csrf_token", &csrf),
                    ("name", "responders"),
                    ("permission", "incidents.view_incident"),
                    ("permission", "incidents.add_incident"),
                ],
                &[],
            )
            .await;
        assert_eq!(put.status, 303);
        let member = ada
            .post(
                "/admin/permission-groups/members/",
                &[
                    ("csrf_token", &csrf),
                    ("name", "responders"),
                    ("email", "rey@example.com"),
                    ("member", "true"),
                ],
                &[],
            )
            .await;
        assert_eq!(member.status, 303);
        let groups = ada.get("/admin/permission-groups/").await;
        assert!(groups.body.contains("rey@example.com"));
        let bad = ada
            .post(
                "/admin/permission-groups/",
                &[("csrf_token", &csrf), ("name", "x"), ("permission", "incidents.fly_incident")],
                &[],
            )
            .await;
        assert_eq!(bad.status, 422);

        // Slack's tables: a conversation, and an SOS target pointing at it.
        let channel = saved_id(
            &ada.post(
                "/admin/slack-conversations/add/",
                &[
                    ("csrf_token", &csrf),
                    ("channel_id", "C0SOS"),
                    ("name", "sre-help"),
                    ("kind", "public"),
                    ("status", "opened"),
                    ("tag", ""),
                ],
                &[],
            )
            .await,
            "slack-conversations",
        );
        let sos = ada
            .post(
                "/admin/sos-targets/add/",
                &[
                    ("csrf_token", &csrf),
                    ("name", "SRE"),
                    ("conversation_id", &channel),
                    ("user_group_id", ""),
                ],
                &[],
            )
            .await;
        saved_id(&sos, "sos-targets");
        // Linked to incident categories (a multiple select), by id; an unknown one is refused.
        let other = count(&test, "SELECT COUNT(*) AS n FROM incident_categories");
        assert!(other > 1);
        let linked = ada
            .post(
                &format!("/admin/slack-conversations/{channel}/"),
                &[
                    ("csrf_token", &csrf),
                    ("name", "sre-help"),
                    ("kind", "public"),
                    ("status", "opened"),
                    ("tag", "sre"),
                    ("categories", &category),
                    ("categories", "Parcels"),
                ],
                &[],
            )
            .await;
        assert_eq!(linked.status, 303, "{}", linked.body);
        assert_eq!(
            count(&test, "SELECT COUNT(*) AS n FROM slack_conversation_categories"),
            1,
            "the same one twice"
        );
        let shown = ada.get(&format!("/admin/slack-conversations/{channel}/")).await;
        assert!(shown.body.contains(&format!("<option value=\"{category}\" selected>")), "{}", shown.body);
        let unknown = ada
            .post(
                &format!("/admin/slack-conversations/{channel}/"),
                &[
                    ("csrf_token", &csrf),
                    ("name", "sre-help"),
                    ("kind", "public"),
                    ("status", "opened"),
                    ("tag", "sre"),
                    ("categories", "No such category"),
                ],
                &[],
            )
            .await;
        assert_eq!(unknown.status, 422);
        assert_eq!(count(&test, "SELECT COUNT(*) AS n FROM slack_conversation_categories"), 1);
        assert!(
            ada.get("/admin/sos-targets/").await.body.contains("sre-help"),
            "the reference shows its title"
        );

        // A webhook, registered through its integration's form: checked, its secret sealed and kept
        // out of the audit log.
        let short = ada
            .post(
                "/admin/webhooks/actions/webhooks/register/",
                &[
                    ("csrf_token", &csrf),
                    ("url", "https://hooks.example.com/ff"),
                    ("secret", "short"),
                    ("events", "incident_created"),
                ],
                &[],
            )
            .await;
        assert_eq!(short.status, 422);
        assert!(short.body.contains("secret:"), "{}", short.body);
        let registered = ada
            .post(
                "/admin/webhooks/actions/webhooks/register/",
                &[
                    ("csrf_token", &csrf),
                    ("url", "https://hooks.example.com/ff"),
                    ("secret", "a-webhook-secret-of-length"),
                    ("events", "incident_created, incident_updated"),
                ],
                &[],
            )
            .await;
        assert_eq!(registered.status, 200, "{}", registered.body);
        assert!(registered.body.contains("registered for incident_created, incident_updated"));
        assert!(registered.body.contains("https://hooks.example.com/ff"));
        assert_eq!(
            count(&test, "SELECT COUNT(*) AS n FROM audit_log WHERE details LIKE '%a-webhook-secret%'"),
            0
        );
        assert_eq!(
            count(
                &test,
                "SELECT COUNT(*) AS n FROM webhook_endpoints WHERE secret LIKE '%a-webhook-secret%'"
            ),
            0
        );

        // Jobs: the list, and a retry of something that is not there.
        assert_eq!(ada.get("/admin/jobs/?state=dead").await.status, 200);
        assert_eq!(ada.get("/admin/jobs/?state=sleeping").await.status, 400);
        assert_eq!(ada.post("/admin/jobs/999999/retry/", &[("csrf_token", &csrf)], &[]).await.status, 404);

        // A row nobody uses goes.
        let gone =
            ada.post(&format!("/admin/environments/{qa}/delete/"), &[("csrf_token", &csrf)], &[]).await;
        assert_eq!(gone.status, 422, "used by the incident declared above");
        let spare = saved_id(
            &ada.post("/admin/cost-types/add/", &[("csrf_token", &csrf), ("name", "Refunds")], &[]).await,
            "cost-types",
        );
        assert_eq!(
            ada.post(&format!("/admin/cost-types/{spare}/delete/"), &[("csrf_token", &csrf)], &[])
                .await
                .status,
            303
        );

        // The audit log, read in the back-office.
        let log = ada.get("/admin/audit-log/?search=backoffice.delete").await;
        assert_eq!(log.status, 200);
        assert!(
            log.body.contains("<td>backoffice.delete</td>") && log.body.contains("ada@example.com"),
            "{}",
            log.body
        );
        assert!(!log.body.contains("<td>backoffice.create</td>"));
        // The audit log, read in the back-office.
        let log = ada.get("/admin/audit-log/?search=backoffice.delete").await;
        assert_eq!(log.status, 200);
        assert!(
            log.body.contains("<td>backoffice.delete</td>") && log.body.contains("ada@example.com"),
            "{}",
            log.body
        );
        assert!(!log.body.contains("<td>backoffice.create</td>"));
        let actions = audit(&test);
        for action in [
            "backoffice.create",
            "backoffice.update",
            "backoffice.delete",
            "api_token.create",
            "permission_group.put",
            "permission_group.add_member",
            "backoffice.action",
        ] {
            assert!(actions.iter().any(|a| a == action), "{action} audited: {actions:?}");
        }
        // Every change that happened is there, and no refused one.
        assert_eq!(actions.iter().filter(|a| *a == "backoffice.create").count(), 6);
        assert_eq!(actions.iter().filter(|a| *a == "backoffice.update").count(), 3);
        assert_eq!(actions.iter().filter(|a| *a == "backoffice.delete").count(), 1);
        handle.stop(true).await;
    }
}
