//! A round's `.pb` export tallies the same in pabutools (issue #15 item 6):
//! pabutools itself, not only our own reader, reads the file the service
//! exports and selects what the round selected, under every rule, with
//! affectedness weights and with points.
//!
//! It needs a Python with pabutools 1.2.3: `.ci/pabutools.sh` installs one
//! into `.tools/pabutools` (ignored by git) and runs this test with
//! `PABUTOOLS_PYTHON` set. Ignored by a plain `cargo test`; without
//! `PABUTOOLS_PYTHON` it fails, it never passes without running pabutools.

use reqwest::Method;
use serde_json::{json, Value};

use crate::rounds::{setup, Setup};

/// What pabutools selects from the round's export (`weights=repeat`: one
/// line per unit of weight, which pabutools reads as it reads any ballot).
async fn pabutools_selects(s: &Setup, round: &str, rule: &str) -> Vec<String> {
    let python = std::env::var("PABUTOOLS_PYTHON").expect(
        "PABUTOOLS_PYTHON names a Python with pabutools 1.2.3 (.ci/pabutools.sh installs one)",
    );
    let response = s
        .app
        .raw(
            Method::GET,
            &format!("/api/v1/rounds/{round}/export.pb?weights=repeat"),
        )
        .bearer_auth(&s.admin.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    let folder = tempfile::tempdir().unwrap();
    let file = folder.path().join("round.pb");
    std::fs::write(&file, &text).unwrap();
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/crates/tally/benches/pabutools_time.py"
    );
    let output = std::process::Command::new(&python)
        .args([script, file.to_str().unwrap(), rule, "1", "120"])
        .output()
        .unwrap_or_else(|error| panic!("{python}: {error}"));
    assert!(
        output.status.success(),
        "pabutools failed on\n{text}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let answer: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(answer["timed_out"], false, "{answer}");
    let mut selected: Vec<String> = answer["selected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|id| id.as_str().unwrap().to_owned())
        .collect();
    selected.sort();
    selected
}

fn selected(result: &Value) -> Vec<String> {
    let mut ids: Vec<String> = result["selected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["request_id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

#[actix_rt::test]
#[ignore = "runs pabutools: .ci/pabutools.sh"]
async fn a_rounds_export_tallies_the_same_in_pabutools() {
    let s = setup("1000.00").await;
    let issue = s.issue("housing").await;
    let members = [
        s.member().await,
        s.member().await,
        s.member().await,
        s.member().await,
    ];
    // The most affected member's ballot weighs three.
    s.declare(&members[0], json!([{"issue_id": issue, "tier": "direct"}]))
        .await;
    let costs = ["60.00", "45.00", "30.00", "25.00", "20.00"];
    let mut candidates = Vec::new();
    for cost in costs {
        candidates.push(s.request(&members[3], cost).await);
    }
    let c = &candidates;
    let approvals = [
        vec![&c[0], &c[2]],
        vec![&c[1], &c[2], &c[3]],
        vec![&c[1], &c[4]],
        vec![&c[0], &c[1], &c[3], &c[4]],
    ];
    let mut compared = 0;
    for rule in ["greedy", "mes", "mes-add1"] {
        let round = s
            .round(
                json!({"title": format!("Approval, {rule}"), "budget": "100.00",
                          "candidates": candidates, "ballot": {"type": "approval"},
                          "rule": rule, "policy": {"direct": 3}}),
            )
            .await;
        s.step(&round, "open").await.expect(200);
        for (who, approve) in members.iter().zip(&approvals) {
            s.vote(who, &round, json!({ "approve": approve }))
                .await
                .expect(200);
        }
        s.step(&round, "close").await.expect(200);
        let result = s.step(&round, "tally").await.expect(200).body;
        assert!(!selected(&result).is_empty(), "{result}");
        assert_eq!(
            pabutools_selects(&s, &round, rule).await,
            selected(&result),
            "{rule}: {result}"
        );
        compared += 1;
        s.step(&round, "cancel").await.expect(200);
    }
    // Points: satisfaction is the points given.
    let round = s
        .round(
            json!({"title": "Points", "budget": "100.00", "candidates": candidates,
                      "ballot": {"type": "cumulative", "points": 10}, "rule": "mes"}),
        )
        .await;
    s.step(&round, "open").await.expect(200);
    let points = [
        json!({c[0].clone(): 7, c[2].clone(): 3}),
        json!({c[1].clone(): 5, c[3].clone(): 5}),
        json!({c[4].clone(): 10}),
        json!({c[1].clone(): 2, c[2].clone(): 8}),
    ];
    for (who, points) in members.iter().zip(points) {
        s.vote(who, &round, json!({ "points": points }))
            .await
            .expect(200);
    }
    s.step(&round, "close").await.expect(200);
    let result = s.step(&round, "tally").await.expect(200).body;
    assert_eq!(
        pabutools_selects(&s, &round, "mes").await,
        selected(&result),
        "points: {result}"
    );
    compared += 1;
    assert_eq!(compared, 4);
}
