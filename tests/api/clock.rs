//! The services read the time from the application's clock: on a settable
//! one, what is created carries its time (ids too), and moving it lets
//! installments fall due and pledges lapse as weeks passing would.

use chrono::{DateTime, TimeDelta, Utc};
use commonpot::clock::Clock;
use serde_json::json;

use crate::helpers::TestApp;

fn at(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

/// The time a UUIDv7 carries, to the second.
fn id_time(id: &str) -> i64 {
    let (seconds, _) = uuid::Uuid::parse_str(id)
        .unwrap()
        .get_timestamp()
        .expect("a UUIDv7")
        .to_unix();
    seconds as i64
}

#[actix_rt::test]
async fn what_is_created_carries_the_clock_time_and_pledges_fall_due_as_it_moves() {
    let start = at("2026-03-02T10:00:00Z");
    let app = TestApp::spawn_at(Clock::settable(start)).await;
    let (collective, admin) = app.bootstrap("Eastside").await;
    let pool = app.pool(&collective, &admin.token, "EUR").await;
    let member = app.join(&collective, &admin, "member").await;

    let pledge = app
        .post(
            &format!("/api/v1/pools/{pool}/pledges"),
            &member.token,
            json!({"amount": "10.00", "frequency": "weekly", "installments": 3}),
        )
        .await
        .expect(201)
        .body;
    let id = pledge["id"].as_str().unwrap().to_owned();
    assert_eq!(
        id_time(&id),
        start.timestamp(),
        "the id carries the clock's time"
    );
    assert_eq!(
        pledge["created_at"]
            .as_str()
            .unwrap()
            .parse::<DateTime<Utc>>()
            .unwrap(),
        start
    );
    assert_eq!(pledge["starts_on"], "2026-03-02");
    assert_eq!(pledge["due_now"], "10.00");

    // Two weeks later three installments are due and nothing is paid:
    // with the default grace the pledge has lapsed.
    app.db.clock().advance(TimeDelta::days(15));
    let later = app
        .get(&format!("/api/v1/pledges/{id}"), &member.token)
        .await
        .expect(200)
        .body;
    assert_eq!(later["due_now"], "30.00", "{later}");
    assert_eq!(later["status"], "lapsed", "{later}");

    // A contribution made now is dated by the same clock.
    let paid = app
        .contribute(&pool, &admin.token, "5.00")
        .await
        .expect(201)
        .body;
    assert_eq!(
        id_time(paid["id"].as_str().unwrap()),
        (start + TimeDelta::days(15)).timestamp()
    );
}
