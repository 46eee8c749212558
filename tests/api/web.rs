//! The web app over real HTTP, without a browser: sessions, CSRF, HTML
//! errors and the form messages. The browser suite (`browser/`) drives the
//! same pages in Chromium.

use reqwest::{Method, StatusCode};

use crate::helpers::{TestApp, PASSWORD};

/// A browser in miniature: keeps the cookies the app sets.
pub struct Browser<'a> {
    app: &'a TestApp,
    cookies: Vec<(String, String)>,
}

pub struct Page {
    pub status: StatusCode,
    pub location: Option<String>,
    pub content_type: String,
    pub html: String,
}

impl Page {
    /// The value of the first hidden `csrf` field.
    pub fn csrf(&self) -> String {
        let start = self
            .html
            .find(r#"name="csrf" value=""#)
            .unwrap_or_else(|| panic!("no csrf field in {}", self.html))
            + r#"name="csrf" value=""#.len();
        let end = self.html[start..].find('"').unwrap() + start;
        self.html[start..end].to_owned()
    }

    #[track_caller]
    pub fn expect(self, status: u16) -> Self {
        assert_eq!(self.status.as_u16(), status, "page: {}", self.html);
        self
    }
}

impl<'a> Browser<'a> {
    pub fn new(app: &'a TestApp) -> Self {
        Self {
            app,
            cookies: Vec::new(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn send(&mut self, method: Method, path: &str, form: Option<&[(&str, &str)]>) -> Page {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let mut request = client.request(method, format!("{}{path}", self.app.base));
        if !self.cookies.is_empty() {
            request = request.header("cookie", self.cookie_header());
        }
        if let Some(form) = form {
            request = request
                .header("content-type", "application/x-www-form-urlencoded")
                .body(serde_urlencoded::to_string(form).unwrap());
        }
        let response = request.send().await.expect("the request is sent");
        for value in response.headers().get_all("set-cookie") {
            let text = value.to_str().unwrap();
            let pair = text.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            self.cookies.retain(|(k, _)| k != name);
            let removed = text.contains("Max-Age=0") || text.contains("max-age=0");
            if !removed && !value.is_empty() {
                self.cookies.push((name.to_owned(), value.to_owned()));
            }
        }
        Page {
            status: response.status(),
            location: response
                .headers()
                .get("location")
                .map(|v| v.to_str().unwrap().to_owned()),
            content_type: response
                .headers()
                .get("content-type")
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default(),
            html: response.text().await.unwrap(),
        }
    }

    pub async fn get(&mut self, path: &str) -> Page {
        self.send(Method::GET, path, None).await
    }

    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        self.send(Method::POST, path, Some(form)).await
    }

    /// Posts a form with the CSRF token of the page at `from`.
    pub async fn submit(&mut self, from: &str, action: &str, form: &[(&str, &str)]) -> Page {
        let csrf = self.get(from).await.csrf();
        let mut fields = vec![("csrf", csrf.as_str())];
        fields.extend_from_slice(form);
        self.post(action, &fields).await
    }

    pub async fn sign_in(&mut self, email: &str) -> Page {
        self.submit(
            "/sign-in",
            "/sign-in",
            &[("email", email), ("password", PASSWORD), ("next", "/")],
        )
        .await
    }

    pub fn has_cookie(&self, name: &str) -> bool {
        self.cookies.iter().any(|(k, _)| k == name)
    }
}

#[actix_rt::test]
async fn a_member_signs_in_sees_home_and_signs_out_ending_the_session() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.bootstrap("Northside").await;
    let mut browser = Browser::new(&app);
    let page = browser.get("/").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.location.as_deref(), Some("/sign-in?next=%2F"));

    let signed_in = browser.sign_in(&admin.email).await;
    assert_eq!(
        signed_in.status,
        StatusCode::SEE_OTHER,
        "{}",
        signed_in.html
    );
    assert!(browser.has_cookie("commonpot_session"));
    assert_eq!(app.count("web_sessions").await, 1);
    let home = browser.get("/").await.expect(200);
    assert!(home.html.contains("Northside"), "{}", home.html);
    assert!(home.content_type.starts_with("text/html"));

    // The session's cookie, kept by an attacker, is useless once signed out.
    let stolen = browser.cookies.clone();
    let csrf = home.csrf();
    let out = browser.post("/sign-out", &[("csrf", &csrf)]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert_eq!(app.count("web_sessions").await, 0);
    browser.cookies = stolen;
    assert_eq!(browser.get("/").await.status, StatusCode::SEE_OTHER);
}

#[actix_rt::test]
async fn a_wrong_password_is_refused_on_the_page_and_counts_toward_the_token_throttle() {
    let app = TestApp::spawn_configured(|s| s.login_max_failures = 2).await;
    let (_, admin) = app.bootstrap("Northside").await;
    let mut browser = Browser::new(&app);
    for _ in 0..2 {
        let page = browser
            .submit(
                "/sign-in",
                "/sign-in",
                &[("email", &admin.email), ("password", "wrong password!")],
            )
            .await;
        assert_eq!(page.status, StatusCode::UNAUTHORIZED);
        assert!(page.html.contains("The email or password is wrong"));
    }
    // The page's failures locked the account for the API too.
    app.login(&admin.email, PASSWORD)
        .await
        .expect_oauth_error(429, "temporarily_unavailable");
    let page = browser.sign_in(&admin.email).await;
    assert_eq!(page.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(!browser.has_cookie("commonpot_session"));
}

#[actix_rt::test]
async fn a_form_without_its_csrf_token_is_refused_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.bootstrap("Northside").await;
    let mut browser = Browser::new(&app);
    // Before sign-in: no token, or a token that is not the browser's.
    let page = browser
        .post(
            "/sign-in",
            &[("email", &admin.email), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert!(page.html.contains("This form has expired"));
    let page = browser
        .post(
            "/sign-in",
            &[
                ("csrf", "form_forged"),
                ("email", &admin.email),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert_eq!(app.count("web_sessions").await, 0);

    // Signed in: a sign-out posted without the session's token ends nothing.
    browser.sign_in(&admin.email).await;
    let page = browser.post("/sign-out", &[("csrf", "csrf_forged")]).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert_eq!(app.count("web_sessions").await, 1);
}

#[actix_rt::test]
async fn pages_answer_html_errors_while_the_api_keeps_problem_json() {
    let app = TestApp::spawn().await;
    let mut browser = Browser::new(&app);
    let page = browser.get("/no-such-page").await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert!(page.content_type.starts_with("text/html"));
    assert!(page.html.contains("Page not found"));
    let page = browser.send(Method::DELETE, "/sign-in", None).await;
    assert!(page.status.is_client_error());
    assert!(
        page.content_type.starts_with("text/html"),
        "{}",
        page.content_type
    );
    app.send(Method::GET, "/api/v1/nowhere", None, None)
        .await
        .expect_problem(404, "not_found");
}

#[actix_rt::test]
async fn sign_in_sends_back_only_to_pages_of_this_site() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.bootstrap("Northside").await;
    let mut browser = Browser::new(&app);
    let page = browser
        .submit(
            "/sign-in",
            "/sign-in",
            &[
                ("email", &admin.email),
                ("password", PASSWORD),
                ("next", "//evil.example/"),
            ],
        )
        .await;
    assert_eq!(page.location.as_deref(), Some("/"));
}

/// A collective with a pool holding 1000.00, its admin and a member, each
/// signed in to the API.
async fn pool_with_money(
    app: &TestApp,
) -> (
    String,
    String,
    crate::helpers::Person,
    crate::helpers::Person,
) {
    let (collective, admin) = app.bootstrap("Northside").await;
    let pool = app.pool(&collective, &admin.token, "EUR").await;
    app.contribute(&pool, &admin.token, "1000.00")
        .await
        .expect(201);
    let member = app.join(&collective, &admin, "member").await;
    (collective, pool, admin, member)
}

fn field<'a>(html: &'a str, marker: &str) -> &'a str {
    let start = html
        .find(marker)
        .unwrap_or_else(|| panic!("{marker} not in {html}"));
    &html[start..(start + 400).min(html.len())]
}

#[actix_rt::test]
async fn asking_for_help_with_bad_input_names_the_field_and_saves_nothing() {
    let app = TestApp::spawn().await;
    let (_, pool, _, member) = pool_with_money(&app).await;
    let mut browser = Browser::new(&app);
    browser.sign_in(&member.email).await;
    let ask = format!("/pools/{pool}/ask");
    let page = browser
        .submit(
            &ask,
            &ask,
            &[
                ("amount", "12.345"),
                ("category", "rent"),
                ("public_summary", "Rent for December"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        field(&page.html, r#"id="e-amount""#).contains("more decimals than EUR allows"),
        "{}",
        page.html
    );
    assert!(
        page.html.contains(r#"value="12.345""#),
        "what was typed is kept"
    );
    let page = browser
        .submit(
            &ask,
            &ask,
            &[
                ("amount", "100.00"),
                ("category", ""),
                ("public_summary", &"x".repeat(501)),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.html.contains(r#"id="e-category""#));
    assert_eq!(app.count("aid_requests").await, 0);
}

#[actix_rt::test]
async fn a_request_shows_its_private_fields_to_its_requester_and_coordinators_only() {
    let app = TestApp::spawn().await;
    let (collective, pool, admin, member) = pool_with_money(&app).await;
    let other = app.join(&collective, &admin, "member").await;
    let mut browser = Browser::new(&app);
    browser.sign_in(&member.email).await;
    let ask = format!("/pools/{pool}/ask");
    let sent = browser
        .submit(
            &ask,
            &ask,
            &[
                ("amount", "250.00"),
                ("category", "rent"),
                ("urgency", "standard"),
                ("public_summary", "Help with December rent"),
                ("private_details", "Landlord threatens eviction on the 3rd"),
                ("payout_reference", "DE89 3704 0044 0532 0130 00"),
            ],
        )
        .await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER, "{}", sent.html);
    let location = sent.location.unwrap();
    let mine = browser.get(&location).await.expect(200);
    assert!(mine.html.contains("Landlord threatens eviction"));
    assert!(mine.html.contains("Asked for help"), "the timeline starts");

    let mut neighbour = Browser::new(&app);
    neighbour.sign_in(&other.email).await;
    let theirs = neighbour.get(&location).await.expect(200);
    assert!(theirs.html.contains("Help with December rent"));
    for secret in ["Landlord", "DE89", "eviction"] {
        assert!(
            !theirs.html.contains(secret),
            "{secret} leaked: {}",
            theirs.html
        );
    }

    let mut coordinator = Browser::new(&app);
    coordinator.sign_in(&admin.email).await;
    let seen = coordinator.get(&location).await.expect(200);
    assert!(seen.html.contains("DE89 3704"));
    assert!(seen.html.contains("Take it into review"));
}

#[actix_rt::test]
async fn coordinators_review_approve_less_and_pay_in_parts_from_the_request_page() {
    let app = TestApp::spawn().await;
    let (collective, pool, admin, member) = pool_with_money(&app).await;
    let second = app.join(&collective, &admin, "coordinator").await;
    let request = app
        .post(
            &format!("/api/v1/pools/{pool}/requests"),
            &member.token,
            serde_json::json!({"amount": "300.00", "category": "rent", "urgency": "standard", "public_summary": "Rent"}),
        )
        .await
        .expect(201)
        .id();
    let page = format!("/requests/{request}");
    let mut ada = Browser::new(&app);
    ada.sign_in(&admin.email).await;
    ada.submit(&page, &format!("{page}/review"), &[]).await;
    let form = ada.get(&page).await;
    let once = field(&form.html, r#"name="once" value=""#)[r#"name="once" value=""#.len()..][..36]
        .to_owned();
    let approved = ada
        .post(
            &format!("{page}/approve"),
            &[
                ("csrf", &form.csrf()),
                ("once", &once),
                ("amount", "200.00"),
            ],
        )
        .await;
    assert_eq!(approved.status, StatusCode::SEE_OTHER, "{}", approved.html);
    // The same form sent twice (a double click) approves once.
    let again = ada
        .post(
            &format!("{page}/approve"),
            &[
                ("csrf", &form.csrf()),
                ("once", &once),
                ("amount", "200.00"),
            ],
        )
        .await;
    assert_eq!(again.status, StatusCode::SEE_OTHER);
    let mut bo = Browser::new(&app);
    bo.sign_in(&second.email).await;
    let form = bo.get(&page).await;
    assert!(form.html.contains("approvals 1 of 2"), "{}", form.html);
    bo.submit(
        &page,
        &format!("{page}/approve"),
        &[("once", &uuid::Uuid::new_v4().to_string())],
    )
    .await;
    let state = app
        .get(&format!("/api/v1/requests/{request}"), &admin.token)
        .await
        .expect(200);
    assert_eq!(state.body["state"], "approved");
    assert_eq!(state.body["amount_approved"], "200.00");

    // Paying more than is held is refused beside the field.
    let too_much = bo
        .submit(
            &page,
            &format!("{page}/pay"),
            &[
                ("once", &uuid::Uuid::new_v4().to_string()),
                ("pay_amount", "250.00"),
            ],
        )
        .await;
    assert_eq!(too_much.status.as_u16(), 409, "{}", too_much.html);
    for amount in ["120.00", "80.00"] {
        let paid = bo
            .submit(
                &page,
                &format!("{page}/pay"),
                &[
                    ("once", &uuid::Uuid::new_v4().to_string()),
                    ("pay_amount", amount),
                ],
            )
            .await;
        assert_eq!(paid.status, StatusCode::SEE_OTHER, "{}", paid.html);
    }
    let payments = app
        .get(
            &format!("/api/v1/requests/{request}/disbursements"),
            &admin.token,
        )
        .await
        .expect(200);
    for payment in payments.body.as_array().unwrap() {
        let id = payment["id"].as_str().unwrap();
        let done = bo
            .submit(
                &page,
                &format!("{page}/payments/{id}"),
                &[
                    ("once", &uuid::Uuid::new_v4().to_string()),
                    ("outcome", "paid"),
                ],
            )
            .await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.html);
    }
    let state = app
        .get(&format!("/api/v1/requests/{request}"), &admin.token)
        .await
        .expect(200);
    assert_eq!(state.body["state"], "paid");
    assert_eq!(state.body["paid"], "200.00");
    let mut requester = Browser::new(&app);
    requester.sign_in(&member.email).await;
    let timeline = requester.get(&page).await.expect(200);
    assert!(timeline.html.contains("Paid in full"), "{}", timeline.html);
    assert!(app.verify().await.is_clean());
}

#[actix_rt::test]
async fn a_member_gets_a_readable_403_for_the_queue_and_none_of_its_data() {
    let app = TestApp::spawn().await;
    let (collective, pool, _, member) = pool_with_money(&app).await;
    app.post(
        &format!("/api/v1/pools/{pool}/requests"),
        &member.token,
        serde_json::json!({"amount": "30.00", "category": "food", "urgency": "standard", "public_summary": "Groceries for the week"}),
    )
    .await
    .expect(201);
    let mut browser = Browser::new(&app);
    browser.sign_in(&member.email).await;
    let page = browser.get(&format!("/c/{collective}/queue")).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert!(page.html.contains("Not allowed"));
    assert!(!page.html.contains("Groceries"));
}

#[actix_rt::test]
async fn a_suspended_member_is_refused_at_their_next_click() {
    let app = TestApp::spawn().await;
    let (collective, _, admin, member) = pool_with_money(&app).await;
    let mut browser = Browser::new(&app);
    browser.sign_in(&member.email).await;
    browser.get(&format!("/c/{collective}")).await.expect(200);
    app.patch(
        &format!(
            "/api/v1/collectives/{collective}/members/{}",
            member.membership_id
        ),
        &admin.token,
        serde_json::json!({"status": "suspended"}),
    )
    .await
    .expect(200);
    let page = browser.get(&format!("/c/{collective}")).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert!(page.html.contains("suspended"));
}

#[actix_rt::test]
async fn a_coordinator_records_a_card_contribution_and_a_chargeback_and_the_statement_agrees() {
    let app = TestApp::spawn().await;
    let (_, pool, admin, _) = pool_with_money(&app).await;
    let mut ada = Browser::new(&app);
    ada.sign_in(&admin.email).await;
    let money = format!("/pools/{pool}/money");
    let key = uuid::Uuid::new_v4().to_string();
    let form = [
        ("once", key.as_str()),
        ("amount", "100.00"),
        ("fee", "3.20"),
        ("method", "card"),
        ("from", "donor"),
        ("donor_name", "Bakery on the corner"),
    ];
    let sent = ada
        .submit(&money, &format!("/pools/{pool}/contributions"), &form)
        .await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER, "{}", sent.html);
    // The same form again (a resend) records nothing more.
    ada.submit(&money, &format!("/pools/{pool}/contributions"), &form)
        .await;
    let balances = app.balances(&pool, &admin.token).await;
    assert_eq!(balances["available"], "1096.80");
    let contributions = app
        .get(&format!("/api/v1/pools/{pool}/contributions"), &admin.token)
        .await
        .expect(200);
    let card = contributions.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["method"] == "card")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let back = ada
        .submit(
            &money,
            &format!("/pools/{pool}/contributions/{card}/refund"),
            &[
                ("once", &uuid::Uuid::new_v4().to_string()),
                ("refund_amount", "100.00"),
                ("kind", "chargeback"),
                ("dispute_fee", "15.00"),
            ],
        )
        .await;
    assert_eq!(back.status, StatusCode::SEE_OTHER, "{}", back.html);
    let balances = app.balances(&pool, &admin.token).await;
    let statement = ada
        .get(&format!("/pools/{pool}/statement"))
        .await
        .expect(200);
    let available = commonpot::web::format::money(balances["available"].as_str().unwrap(), "EUR");
    assert!(
        statement
            .html
            .contains(&format!("data-closing-available>{available}<")),
        "{available}: {}",
        statement.html
    );
    let csv = ada
        .get(&format!("/pools/{pool}/statement.csv"))
        .await
        .expect(200);
    assert!(csv.content_type.starts_with("text/csv"));
    assert!(csv.html.contains("chargeback"), "{}", csv.html);
    assert!(app.verify().await.is_clean());
}

#[actix_rt::test]
async fn an_admin_invites_with_a_link_shown_once_and_registers_an_app_whose_secret_is_shown_once() {
    let app = TestApp::spawn().await;
    let (collective, admin) = app.bootstrap("Northside").await;
    let mut ada = Browser::new(&app);
    ada.sign_in(&admin.email).await;
    let members = format!("/c/{collective}/members");
    let invited = ada
        .submit(
            &members,
            &members,
            &[
                ("email", "new@example.org"),
                ("display_name", "Nia"),
                ("role", "member"),
            ],
        )
        .await
        .expect(200);
    assert!(
        invited.html.contains("/invitations/accept?token=cpi_"),
        "{}",
        invited.html
    );
    assert!(
        !ada.get(&members).await.html.contains("token=cpi_"),
        "the link is shown once"
    );

    let apps = format!("/c/{collective}/apps");
    let registered = ada
        .submit(
            &apps,
            &apps,
            &[("name", "Card processor"), ("scope", "contributions:write")],
        )
        .await
        .expect(200);
    assert!(
        registered.html.contains("data-client-secret>"),
        "{}",
        registered.html
    );
    assert!(
        !ada.get(&apps).await.html.contains("data-client-secret"),
        "the secret is shown once"
    );
    let bad = ada
        .submit(
            &apps,
            &apps,
            &[("name", "Nothing"), ("scope", "admin:everything")],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[actix_rt::test]
async fn a_public_pool_summary_is_readable_without_signing_in_and_names_nobody() {
    let app = TestApp::spawn().await;
    let (collective, admin) = app.bootstrap("Northside").await;
    let public = app
        .post(
            &format!("/api/v1/collectives/{collective}/pools"),
            &admin.token,
            serde_json::json!({"name": "Open fund", "currency": "EUR", "goal": "2000.00", "public": true}),
        )
        .await
        .expect(201)
        .id();
    let private = app.pool(&collective, &admin.token, "EUR").await;
    app.contribute(&public, &admin.token, "500.00")
        .await
        .expect(201);
    let mut anyone = Browser::new(&app);
    let page = anyone
        .get(&format!("/public/pools/{public}"))
        .await
        .expect(200);
    assert!(page.html.contains("Open fund"));
    assert!(page.html.contains("€500.00"));
    assert!(!page.html.contains("Ada"), "no names");
    // A pool that is not public is for members: sign in first.
    let hidden = anyone.get(&format!("/public/pools/{private}")).await;
    assert_eq!(hidden.status, StatusCode::SEE_OTHER);
    assert!(hidden.location.unwrap().starts_with("/sign-in"));
}
