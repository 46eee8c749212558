//! Many concurrent holds, disbursements, outcomes and contributions at one
//! pool over real HTTP; afterwards every invariant holds and no money has
//! appeared or disappeared.

use futures::future::join_all;
use serde_json::{json, Value};

use crate::helpers::TestApp;

fn cents(text: &str) -> i64 {
    let (whole, fraction) = text.split_once('.').unwrap();
    whole.parse::<i64>().unwrap() * 100 + fraction.parse::<i64>().unwrap()
}

/// received − refunded − fees − paid = available + held − deficit
fn assert_conserved(balances: &Value) {
    let b = |k: &str| cents(balances[k].as_str().unwrap());
    assert_eq!(
        b("received") - b("refunded") - b("fees") - b("paid"),
        b("available") + b("held") - b("deficit"),
        "money appeared or disappeared: {balances}"
    );
    assert!(b("available") >= 0 && b("held") >= 0);
}

#[actix_rt::test]
async fn concurrent_money_movements_keep_every_invariant() {
    let app = TestApp::spawn().await;
    let (collective, admin) = app.bootstrap("Northside").await;
    let pool = app.pool(&collective, &admin.token, "EUR").await;
    app.contribute(&pool, &admin.token, "1000.00")
        .await
        .expect(201);
    let token = admin.token.as_str();
    let app = &app;

    // 40 holds of 30.00 race 20 contributions of 5.00: at most 36 fit.
    let holds_path = format!("/api/v1/pools/{pool}/holds");
    let gifts_path = format!("/api/v1/pools/{pool}/contributions");
    let holds = (0..40).map(|_| app.post_money(&holds_path, token, json!({"amount": "30.00"})));
    let gifts = (0..20).map(|i| {
        app.post_money(
            &gifts_path,
            token,
            json!({"amount": "5.00", "method": "card", "external_reference": format!("race-{i}")}),
        )
    });
    let (holds, gifts) = futures::join!(join_all(holds), join_all(gifts));
    assert!(
        gifts.iter().all(|g| g.status == 201),
        "every contribution lands"
    );
    let placed: Vec<String> = holds
        .iter()
        .filter(|h| h.status == 201)
        .map(|h| h.id())
        .collect();
    for refused in holds.iter().filter(|h| h.status != 201) {
        assert_eq!(
            refused.body["code"], "insufficient_funds",
            "{}",
            refused.body
        );
    }
    assert!(
        placed.len() <= 36 && placed.len() >= 33,
        "{} holds placed",
        placed.len()
    );
    let balances = app.balances(&pool, token).await;
    assert_eq!(
        cents(balances["held"].as_str().unwrap()),
        placed.len() as i64 * 3000
    );
    assert_conserved(&balances);

    // Two payouts race on each hold; 20.00 + 15.00 exceed its 30.00, so one
    // of each pair is refused.
    let payout_paths: Vec<String> = placed
        .iter()
        .map(|h| format!("/api/v1/holds/{h}/disbursements"))
        .collect();
    let payouts = payout_paths.iter().flat_map(|path| {
        ["20.00", "15.00"].map(|amount| app.post_money(path, token, json!({"amount": amount})))
    });
    let payouts = join_all(payouts).await;
    let pending: Vec<String> = payouts
        .iter()
        .filter(|p| p.status == 201)
        .map(|p| p.id())
        .collect();
    assert_eq!(
        pending.len(),
        placed.len(),
        "exactly one payout per hold fits"
    );

    // Each payout gets a paid and a failed outcome at the same moment:
    // exactly one of them wins.
    let outcome_paths: Vec<String> = pending
        .iter()
        .map(|id| format!("/api/v1/disbursements/{id}/outcome"))
        .collect();
    let outcomes = outcome_paths.iter().flat_map(|path| {
        ["paid", "failed"].map(|outcome| app.post_money(path, token, json!({"outcome": outcome})))
    });
    let outcomes = join_all(outcomes).await;
    let won = outcomes.iter().filter(|o| o.status == 200).count();
    assert_eq!(won, pending.len(), "every payout is resolved exactly once");
    for lost in outcomes.iter().filter(|o| o.status != 200) {
        assert_eq!(lost.body["code"], "disbursement_resolved");
    }

    // Release everything that remains, concurrently with refunds.
    let release_paths: Vec<String> = placed
        .iter()
        .map(|h| format!("/api/v1/holds/{h}/release"))
        .collect();
    let releases = release_paths
        .iter()
        .map(|path| app.post_money(path, token, json!({})));
    let contributions = app
        .get(
            &format!("/api/v1/pools/{pool}/contributions?limit=200"),
            token,
        )
        .await;
    let refunds = contributions.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .take(10)
        .map(|c| {
            let id = c["id"].as_str().unwrap().to_owned();
            async move {
                app.post_money(
                    &format!("/api/v1/contributions/{id}/refunds"),
                    token,
                    json!({"amount": "5.00", "kind": "refund"}),
                )
                .await
            }
        });
    let (releases, refunds) = futures::join!(join_all(releases), join_all(refunds));
    assert!(releases.iter().all(|r| r.status == 200), "releases succeed");
    assert!(refunds.iter().all(|r| r.status == 201), "refunds succeed");

    let balances = app.balances(&pool, token).await;
    assert_eq!(balances["held"], "0.00");
    assert_conserved(&balances);
    let report = app.verify().await;
    assert!(report.is_clean(), "{report}");
    // And the operator's own check agrees.
    let verify = std::process::Command::new(env!("CARGO_BIN_EXE_commonpot"))
        .arg("verify")
        .env("DATABASE_URL", &app.settings.database_url)
        .output()
        .expect("the binary runs");
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stdout)
    );
}
