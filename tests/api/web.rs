//! The web app over real HTTP, without a browser: sessions, CSRF, HTML
//! errors and the form messages. The browser suite (`browser/`) drives the
//! same pages in Chromium.

use reqwest::{Method, StatusCode};

use crate::helpers::{Person, TestApp, PASSWORD};

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

/// An invitation for `email`, made by `admin` through the API: its page's
/// address and its token.
async fn invitation_link(
    app: &TestApp,
    collective: &str,
    admin: &Person,
    email: &str,
) -> (String, String) {
    let invitation = app
        .post(
            &format!("/api/v1/collectives/{collective}/members"),
            &admin.token,
            serde_json::json!({"email": email, "display_name": "Nia"}),
        )
        .await
        .expect(201);
    let token = invitation.body["invitation_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let link = format!(
        "/invitations/accept?{}",
        serde_urlencoded::to_string([("token", &token)]).unwrap()
    );
    (link, token)
}

#[actix_rt::test]
async fn a_new_account_accepts_its_invitation_by_choosing_a_password_and_is_signed_in() {
    let app = TestApp::spawn().await;
    let (collective, admin) = app.bootstrap("Northside").await;
    let (link, token) = invitation_link(&app, &collective, &admin, "nia@example.org").await;
    let mut nia = Browser::new(&app);
    let page = nia.get(&link).await.expect(200);
    assert!(page.html.contains("Join Northside"), "{}", page.html);
    assert!(page.html.contains("nia@example.org"));
    let csrf = page.csrf();
    let differ = nia
        .post(
            "/invitations/accept",
            &[
                ("csrf", &csrf),
                ("token", &token),
                ("password", PASSWORD),
                ("password_again", "something else entirely"),
            ],
        )
        .await
        .expect(422);
    assert!(
        differ.html.contains("id=\"e-password_again\""),
        "{}",
        differ.html
    );
    let short = nia
        .post(
            "/invitations/accept",
            &[
                ("csrf", &csrf),
                ("token", &token),
                ("password", "short"),
                ("password_again", "short"),
            ],
        )
        .await
        .expect(422);
    assert!(short.html.contains("id=\"e-password\""), "{}", short.html);
    assert_eq!(app.count("web_sessions").await, 0, "nothing accepted yet");

    let accepted = nia
        .post(
            "/invitations/accept",
            &[
                ("csrf", &csrf),
                ("token", &token),
                ("password", PASSWORD),
                ("password_again", PASSWORD),
            ],
        )
        .await
        .expect(303);
    assert_eq!(
        accepted.location.as_deref(),
        Some(format!("/c/{collective}").as_str())
    );
    let home = nia.get(&format!("/c/{collective}")).await.expect(200);
    assert!(home.html.contains("Northside"), "{}", home.html);
    // The password chosen signs in, and the link is used up (accepting
    // forgets its token).
    app.login("nia@example.org", PASSWORD).await.expect(200);
    let again = Browser::new(&app).get(&link).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND, "{}", again.html);
}

#[actix_rt::test]
async fn an_existing_account_accepts_only_while_signed_in_as_itself_never_by_password() {
    let app = TestApp::spawn().await;
    let (collective, admin) = app.bootstrap("Northside").await;
    // Bo has an account (the admin of another collective).
    let (_, bo) = app.bootstrap("Southside").await;
    let (_, someone_else) = app.bootstrap("Eastside").await;
    let (link, token) = invitation_link(&app, &collective, &admin, &bo.email).await;
    let members = || async {
        app.get(
            &format!("/api/v1/collectives/{collective}/members?status=active"),
            &admin.token,
        )
        .await
        .expect(200)
        .body
        .to_string()
    };

    // Not signed in: even the right password does not accept it.
    let mut anonymous = Browser::new(&app);
    let page = anonymous.get(&link).await.expect(200);
    assert!(page.html.contains("/sign-in?next="), "{}", page.html);
    let csrf = page.csrf();
    let refused = anonymous
        .post(
            "/invitations/accept",
            &[
                ("csrf", &csrf),
                ("token", &token),
                ("password", PASSWORD),
                ("password_again", PASSWORD),
            ],
        )
        .await
        .expect(401);
    assert!(
        refused.html.contains("already has an account"),
        "{}",
        refused.html
    );
    assert!(!members().await.contains(&bo.email));

    // Signed in as another account: refused.
    let mut other = Browser::new(&app);
    other.sign_in(&someone_else.email).await;
    let other_page = other.get(&link).await.expect(200);
    other
        .post(
            "/invitations/accept",
            &[("csrf", &other_page.csrf()), ("token", &token)],
        )
        .await
        .expect(403);
    assert!(!members().await.contains(&bo.email));

    // Signed in as Bo: one click, no password.
    let mut browser = Browser::new(&app);
    let signed_in = browser
        .submit(
            "/sign-in",
            "/sign-in",
            &[
                ("email", &bo.email),
                ("password", PASSWORD),
                ("next", &link),
            ],
        )
        .await;
    assert_eq!(signed_in.location.as_deref(), Some(link.as_str()));
    let page = browser.get(&link).await.expect(200);
    assert!(page.html.contains("Accept and join"), "{}", page.html);
    assert!(
        !page.html.contains("name=\"password\""),
        "no password asked"
    );
    browser
        .post(
            "/invitations/accept",
            &[("csrf", &page.csrf()), ("token", &token)],
        )
        .await
        .expect(303);
    assert!(members().await.contains(&bo.email));
    browser.get(&format!("/c/{collective}")).await.expect(200);
}

#[actix_rt::test]
async fn coordinators_watch_participation_per_tier_while_a_round_is_open() {
    let s = crate::rounds::setup("100.00").await;
    let issue = s.issue("eviction").await;
    let (ann, bea) = (s.member().await, s.member().await);
    s.declare(
        &ann,
        serde_json::json!([{"issue_id": issue, "tier": "direct"}]),
    )
    .await;
    let a = s.request(&ann, "40.00").await;
    let round = s
        .round(
            serde_json::json!({"title": "Winter", "budget": "50.00", "candidates": [a],
            "ballot": {"type": "approval"}, "policy": {"direct": 3}}),
        )
        .await;
    s.step(&round, "open").await.expect(200);
    s.vote(&ann, &round, serde_json::json!({"approve": [a]}))
        .await
        .expect(200);
    let row = |tier: &str, weight: u32, voted: i64, eligible: i64, percent: i64| {
        format!(
            "<tr><td>{tier}</td><td class=\"num\">{weight}</td><td class=\"num\">{voted} of {eligible} ({percent}%)</td></tr>"
        )
    };
    let mut coordinator = Browser::new(&s.app);
    coordinator.sign_in(&s.admin.email).await;
    let page = coordinator
        .get(&format!("/rounds/{round}"))
        .await
        .expect(200);
    assert!(page.html.contains("data-turnout"), "{}", page.html);
    assert!(page.html.contains(&row("Directly affected", 3, 1, 1, 100)));
    // The admin and Bea declared nothing; Bea has not voted yet.
    assert!(page.html.contains(&row("No declaration", 1, 0, 2, 0)));
    s.vote(&bea, &round, serde_json::json!({"approve": [a]}))
        .await
        .expect(200);
    let page = coordinator.get(&format!("/rounds/{round}")).await;
    assert!(page.html.contains(&row("No declaration", 1, 1, 2, 50)));

    // Members never see it; once closed, the results will say it.
    let mut member = Browser::new(&s.app);
    member.sign_in(&bea.email).await;
    let theirs = member.get(&format!("/rounds/{round}")).await.expect(200);
    assert!(!theirs.html.contains("data-turnout"));
    s.step(&round, "close").await.expect(200);
    let closed = coordinator
        .get(&format!("/rounds/{round}"))
        .await
        .expect(200);
    assert!(!closed.html.contains("data-turnout"));
}

#[actix_rt::test]
async fn a_pools_rules_are_changed_on_its_page_as_the_api_would_and_only_by_coordinators() {
    let app = TestApp::spawn().await;
    let (collective, pool, admin, member) = pool_with_money(&app).await;
    let edit = format!("/pools/{pool}/edit");
    let mut ada = Browser::new(&app);
    ada.sign_in(&admin.email).await;
    let page = ada.get(&edit).await.expect(200);
    let version = app
        .get(&format!("/api/v1/pools/{pool}"), &admin.token)
        .await
        .expect(200)
        .body["version"]
        .as_i64()
        .unwrap()
        .to_string();
    assert!(page
        .html
        .contains(&format!("name=\"version\" value=\"{version}\"")));
    let fields = |max: &'static str, fast: &'static str, version: &str| {
        vec![
            ("name", "Rent relief".to_owned()),
            ("description", String::new()),
            ("goal", "3000.00".to_owned()),
            ("max_request", max.to_owned()),
            ("approvals_needed", "1".to_owned()),
            ("fast_track_limit", fast.to_owned()),
            ("requesters", "coordinators".to_owned()),
            ("version", version.to_owned()),
        ]
    };
    let send = |fields: Vec<(&'static str, String)>, csrf: String| {
        let mut form = vec![("csrf", csrf)];
        form.extend(fields);
        form
    };
    fn as_pairs<'a>(form: &'a [(&'static str, String)]) -> Vec<(&'a str, &'a str)> {
        form.iter().map(|(k, v)| (*k, v.as_str())).collect()
    }

    // A fast track above the largest request: refused by its field, nothing saved.
    let bad = send(fields("100.00", "150.00", &version), page.csrf());
    let refused = ada.post(&edit, &as_pairs(&bad)).await.expect(422);
    assert!(
        refused.html.contains("id=\"e-fast_track_limit\""),
        "{}",
        refused.html
    );
    let unchanged = app
        .get(&format!("/api/v1/pools/{pool}"), &admin.token)
        .await
        .expect(200)
        .body;
    assert_eq!(unchanged["version"].as_i64().unwrap().to_string(), version);

    let good = send(fields("800.00", "50.00", &version), page.csrf());
    let saved = ada.post(&edit, &as_pairs(&good)).await.expect(303);
    assert_eq!(
        saved.location.as_deref(),
        Some(format!("/c/{collective}/pools").as_str())
    );
    let now = app
        .get(&format!("/api/v1/pools/{pool}"), &admin.token)
        .await
        .expect(200)
        .body;
    assert_eq!(now["rules"]["max_request"], "800.00");
    assert_eq!(now["rules"]["approvals_needed"], 1);
    assert_eq!(now["rules"]["fast_track_limit"], "50.00");
    assert_eq!(now["rules"]["requesters"], "coordinators");
    assert_eq!(now["goal"], "3000.00");

    // The same form again, from the page as it was: changed meanwhile.
    let stale = send(fields("900.00", "50.00", &version), page.csrf());
    assert_eq!(
        ada.post(&edit, &as_pairs(&stale)).await.status,
        StatusCode::PRECONDITION_FAILED
    );

    // A member sees neither the form nor the link, and cannot post it.
    let mut mo = Browser::new(&app);
    mo.sign_in(&member.email).await;
    let forbidden = mo.get(&edit).await.expect(403);
    assert!(!forbidden.html.contains("800.00"));
    let list = mo.get(&format!("/c/{collective}/pools")).await.expect(200);
    assert!(!list.html.contains(&edit));
    let csrf = list.csrf();
    let theirs = send(fields("5.00", "1.00", "0"), csrf);
    mo.post(&edit, &as_pairs(&theirs)).await.expect(403);
    let after = app
        .get(&format!("/api/v1/pools/{pool}"), &admin.token)
        .await
        .expect(200)
        .body;
    assert_eq!(after["rules"]["max_request"], "800.00");
}

#[actix_rt::test]
async fn pages_show_dates_and_times_in_the_collectives_time_zone() {
    let at: chrono::DateTime<chrono::Utc> = "2026-12-03T23:30:00Z".parse().unwrap();
    let app = TestApp::spawn_at(commonpot::clock::Clock::settable(at)).await;
    let (collective, pool, admin, member) = pool_with_money(&app).await;
    let request = app
        .post(
            &format!("/api/v1/pools/{pool}/requests"),
            &member.token,
            serde_json::json!({"amount": "30.00", "category": "food", "urgency": "standard",
                "public_summary": "Groceries"}),
        )
        .await
        .expect(201)
        .id();
    let mut browser = Browser::new(&app);
    browser.sign_in(&member.email).await;
    // Berlin is an hour ahead of UTC in December: already the 4th there.
    let page = browser
        .get(&format!("/requests/{request}"))
        .await
        .expect(200);
    assert!(page.html.contains("4 Dec 2026, 00:30"), "{}", page.html);
    assert!(!page.html.contains("23:30"));
    app.patch(
        &format!("/api/v1/collectives/{collective}"),
        &admin.token,
        serde_json::json!({"time_zone": "America/New_York"}),
    )
    .await
    .expect(200);
    let page = browser
        .get(&format!("/requests/{request}"))
        .await
        .expect(200);
    assert!(page.html.contains("3 Dec 2026, 18:30"), "{}", page.html);
}

#[actix_rt::test]
async fn the_session_cookie_is_secure_over_tls_and_the_api_never_reads_it() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.bootstrap("Northside").await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let sign_in = |proto: Option<&'static str>| {
        let client = client.clone();
        let base = app.base.clone();
        let email = admin.email.clone();
        async move {
            let mut page = client.get(format!("{base}/sign-in"));
            if let Some(p) = proto {
                page = page.header("x-forwarded-proto", p);
            }
            let page = page.send().await.unwrap();
            let form_cookie = page.headers()["set-cookie"].to_str().unwrap().to_owned();
            let html = page.text().await.unwrap();
            let marker = r#"name="csrf" value=""#;
            let start = html.find(marker).unwrap() + marker.len();
            let csrf = html[start..start + html[start..].find('"').unwrap()].to_owned();
            let mut post = client
                .post(format!("{base}/sign-in"))
                .header("cookie", form_cookie.split(';').next().unwrap())
                .form(&[
                    ("csrf", csrf.as_str()),
                    ("email", email.as_str()),
                    ("password", PASSWORD),
                    ("next", "/"),
                ]);
            if let Some(p) = proto {
                post = post.header("x-forwarded-proto", p);
            }
            let answer = post.send().await.unwrap();
            assert_eq!(answer.status(), StatusCode::SEE_OTHER);
            (
                form_cookie,
                answer.headers()["set-cookie"].to_str().unwrap().to_owned(),
            )
        }
    };
    let (form_plain, plain) = sign_in(None).await;
    for cookie in [&form_plain, &plain] {
        assert!(cookie.contains("HttpOnly"), "{cookie}");
        assert!(cookie.contains("SameSite=Lax"), "{cookie}");
        assert!(!cookie.contains("Secure"), "{cookie}");
    }
    let (form_tls, tls) = sign_in(Some("https")).await;
    for cookie in [&form_tls, &tls] {
        assert!(cookie.contains("Secure"), "{cookie}");
        assert!(cookie.contains("HttpOnly"), "{cookie}");
    }
    // The API is bearer-only: a live session cookie is no credential there.
    let session = plain.split(';').next().unwrap();
    let me = client
        .get(format!("{}/api/v1/me", app.base))
        .header("cookie", session)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::UNAUTHORIZED);
}

#[actix_rt::test]
async fn an_admin_sets_the_retention_period_on_the_settings_page_and_a_bad_one_is_refused_beside_its_field(
) {
    let app = TestApp::spawn().await;
    let (collective, admin) = app.bootstrap("Northside").await;
    let mut browser = Browser::new(&app);
    browser.sign_in(&admin.email).await;
    let path = format!("/c/{collective}/settings");
    let page = browser.get(&path).await.expect(200);
    assert!(page.html.contains(r#"value="365""#), "{}", page.html);

    let saved = browser
        .submit(&path, &path, &[("retention_days", "90")])
        .await
        .expect(200);
    assert!(saved.html.contains("Settings saved."), "{}", saved.html);
    let stored = app
        .get(&format!("/api/v1/collectives/{collective}"), &admin.token)
        .await
        .expect(200);
    assert_eq!(stored.body["retention_days"], 90);

    for bad in ["0", "forever", "36501"] {
        let refused = browser
            .submit(&path, &path, &[("retention_days", bad)])
            .await
            .expect(200);
        assert!(
            refused.html.contains(r#"id="e-retention_days""#)
                && refused.html.contains("from 1 to 36500"),
            "{bad}: {}",
            refused.html
        );
        assert!(!refused.html.contains("Settings saved."));
    }
    let stored = app
        .get(&format!("/api/v1/collectives/{collective}"), &admin.token)
        .await
        .expect(200);
    assert_eq!(
        stored.body["retention_days"], 90,
        "a refused value changes nothing"
    );
}
