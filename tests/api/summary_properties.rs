//! Property-style test of the public summary over HTTP (issue #27): for
//! random small pools, paid on random days over twenty months, no figure
//! the public summary shows — nor the difference of two, nor any other
//! combination — is drawn from between 1 and `min_group − 1` requests, and
//! no figure or difference equals one request's amount unless at least
//! `min_group` requests make it up.

use std::collections::BTreeSet;

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use commonpot::clock::Clock;
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::TestRunner;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{Person, TestApp};

const CATEGORIES: [&str; 4] = ["rent", "food", "medical", "escaping violence"];

#[derive(Debug, Clone)]
struct Paid {
    category: &'static str,
    minor: i64,
    /// Days after the start the request is paid.
    day: i64,
}

fn pool_strategy() -> impl Strategy<Value = Vec<Paid>> {
    proptest::collection::vec((0..CATEGORIES.len(), 100_i64..99_999, 0_i64..600), 0..9).prop_map(
        |raw| {
            let mut paid: Vec<Paid> = raw
                .into_iter()
                .map(|(c, minor, day)| Paid {
                    category: CATEGORIES[c],
                    minor,
                    day,
                })
                .collect();
            paid.sort_by_key(|p| p.day);
            paid
        },
    )
}

fn money(minor: i64) -> String {
    format!("{}.{:02}", minor / 100, minor % 100)
}

fn minor(text: &str) -> i64 {
    let (units, cents) = text.split_once('.').expect("a decimal amount");
    units.parse::<i64>().unwrap() * 100 + cents.parse::<i64>().unwrap()
}

/// Submitted by `member`, approved and paid in full by `admin`, now.
async fn help(app: &TestApp, pool: &str, admin: &Person, member: &Person, paid: &Paid) {
    let amount = money(paid.minor);
    let id = app
        .post(
            &format!("/api/v1/pools/{pool}/requests"),
            &member.token,
            json!({"amount": amount, "category": paid.category, "urgency": "standard",
                   "public_summary": "Help", "private_details": "private"}),
        )
        .await
        .expect(201)
        .id();
    app.post(
        &format!("/api/v1/requests/{id}/review"),
        &admin.token,
        json!({}),
    )
    .await
    .expect(200);
    app.post_money(
        &format!("/api/v1/requests/{id}/approvals"),
        &admin.token,
        json!({}),
    )
    .await
    .expect(200);
    let payout = app
        .post_money(
            &format!("/api/v1/requests/{id}/disbursements"),
            &admin.token,
            json!({"amount": amount}),
        )
        .await
        .expect(201)
        .id();
    app.post_money(
        &format!("/api/v1/disbursements/{payout}/outcome"),
        &admin.token,
        json!({"outcome": "paid"}),
    )
    .await
    .expect(200);
}

/// Whether `month` (`YYYY-MM`) is in a published period.
fn in_period(period: &Value, month: &str) -> bool {
    let after_start = period["from_month"]
        .as_str()
        .is_none_or(|from| from <= month);
    after_start && month <= period["to_month"].as_str().unwrap()
}

/// Checks one public summary against the truth; `Err` says why not.
fn check(
    summary: &Value,
    paid: &[Paid],
    months: &[String],
    min_group: usize,
) -> Result<(), String> {
    let periods = summary["periods"].as_array().unwrap();
    let categories = summary["categories"].as_array().unwrap();
    // Where each request is, by the test's own reckoning.
    let mut cells = Vec::new();
    for (p, month) in paid.iter().zip(months) {
        let period = periods
            .iter()
            .position(|x| in_period(x, month))
            .ok_or(format!("no period holds {month}"))?;
        let named = categories.iter().position(|c| c["category"] == p.category);
        let category = named
            .or_else(|| categories.iter().position(|c| c["category"] == "other"))
            .ok_or(format!("no category holds {}", p.category))?;
        cells.push((period, category));
    }
    // Each figure as the requests it is drawn from and its amount.
    let mut figures: Vec<(String, Vec<bool>, i64)> = Vec::new();
    let mut any_shown = false;
    for (i, x) in periods.iter().enumerate() {
        let members: Vec<bool> = cells.iter().map(|(p, _)| *p == i).collect();
        let n = members.iter().filter(|m| **m).count();
        if let Some(amount) = x["paid_out"].as_str() {
            if x["requests"] != json!(n) {
                return Err(format!("{x} holds {n} requests"));
            }
            any_shown |= n > 0;
            figures.push((x["period"].to_string(), members, minor(amount)));
        } else if x["fewer_than"] != json!(min_group) || n >= min_group {
            return Err(format!("{x} hidden, with {n} requests"));
        }
    }
    for (i, x) in categories.iter().enumerate() {
        let members: Vec<bool> = cells.iter().map(|(_, c)| *c == i).collect();
        let n = members.iter().filter(|m| **m).count();
        if let Some(amount) = x["paid_out"].as_str() {
            if x["requests"] != json!(n) {
                return Err(format!("{x} holds {n} requests"));
            }
            figures.push((x["category"].to_string(), members, minor(amount)));
        } else if x["fewer_than"] != json!(min_group) || n >= min_group {
            return Err(format!("{x} hidden, with {n} requests"));
        }
    }
    match summary["paid_out"].as_str() {
        Some(total) => figures.push(("total".into(), vec![true; paid.len()], minor(total))),
        None if paid.len() >= min_group => return Err("the total is hidden".into()),
        None => {
            for hidden in ["requests_helped", "available", "held"] {
                if summary[hidden] != Value::Null {
                    return Err(format!("{hidden} shown while the total is hidden"));
                }
            }
        }
    }
    for (name, members, value) in &figures {
        let truth: i64 = paid
            .iter()
            .zip(members)
            .filter(|(_, m)| **m)
            .map(|(p, _)| p.minor)
            .sum();
        if truth != *value {
            return Err(format!(
                "{name} shows {value}, its requests were paid {truth}"
            ));
        }
    }
    let amounts: BTreeSet<i64> = paid.iter().map(|p| p.minor).collect();
    let judge = |what: String, involved: usize, value: i64| -> Result<(), String> {
        if (1..min_group).contains(&involved) {
            return Err(format!("{what} is drawn from {involved} requests"));
        }
        if involved < min_group && amounts.contains(&value.abs()) && value != 0 {
            return Err(format!("{what} = {value}, one request's amount"));
        }
        Ok(())
    };
    for (name, members, value) in &figures {
        judge(name.clone(), members.iter().filter(|m| **m).count(), *value)?;
    }
    for (a, (na, ma, va)) in figures.iter().enumerate() {
        for (nb, mb, vb) in &figures[a + 1..] {
            let involved = ma.iter().zip(mb).filter(|(x, y)| x != y).count();
            judge(format!("{na} − {nb}"), involved, va - vb)?;
        }
    }
    // Every other combination: each is a cut of the period–category graph.
    if any_shown {
        let vertices = periods.len() + categories.len();
        for mask in 1_u64..(1 << vertices) - 1 {
            let crossing = cells
                .iter()
                .filter(|(p, c)| (mask >> p & 1) != (mask >> (periods.len() + c) & 1))
                .count();
            if (1..min_group).contains(&crossing) {
                return Err(format!(
                    "a combination of figures isolates {crossing} requests"
                ));
            }
        }
    }
    if summary["months"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["paid_out"] != Value::Null)
    {
        return Err("payouts shown by month".into());
    }
    Ok(())
}

#[actix_rt::test]
async fn no_public_figure_or_difference_is_drawn_from_fewer_than_the_minimum() {
    let cases = if crate::helpers::postgres_url().is_some() {
        8
    } else {
        16
    };
    let mut runner = TestRunner::default();
    let strategy = pool_strategy();
    for case in 0..cases {
        let paid = strategy.new_tree(&mut runner).unwrap().current();
        let start: DateTime<Utc> = "2025-03-03T12:00:00Z".parse().unwrap();
        let clock = Clock::settable(start);
        let app = TestApp::spawn_at(clock.clone()).await;
        let (collective, admin) = app.bootstrap("Smallville").await;
        let member = app.join(&collective, &admin, "member").await;
        let pool = app
            .post(
                &format!("/api/v1/collectives/{collective}/pools"),
                &admin.token,
                json!({"name": "Small pool", "currency": "EUR", "public": true,
                       "rules": {"approvals_needed": 1}}),
            )
            .await
            .expect(201)
            .id();
        app.contribute(&pool, &admin.token, "9000.00")
            .await
            .expect(201);
        let mut months = Vec::new();
        for p in &paid {
            let at = start + TimeDelta::days(p.day);
            if at > clock.now() {
                clock.set(at);
            }
            help(&app, &pool, &admin, &member, p).await;
            months.push(at.format("%Y-%m").to_string());
        }
        // Read on a day after every payout.
        clock.set(start + TimeDelta::days(610));
        let summary = app
            .send(
                Method::GET,
                &format!("/api/v1/pools/{pool}/summary"),
                None,
                None,
            )
            .await
            .expect(200)
            .body;
        let min_group = summary["min_group"].as_u64().unwrap() as usize;
        assert_eq!(min_group, 3);
        assert_eq!(summary["view"], "public");
        assert_eq!(
            summary["as_of"],
            (NaiveDate::from_ymd_opt(2026, 11, 3).unwrap()).to_string()
        );
        if let Err(why) = check(&summary, &paid, &months, min_group) {
            panic!("case {case}: {why}\npool: {paid:?}\nsummary: {summary:#}");
        }
        // The same pool, for a member: every figure.
        let full = app
            .get(&format!("/api/v1/pools/{pool}/summary"), &member.token)
            .await
            .expect(200)
            .body;
        assert_eq!(full["view"], "full");
        assert_eq!(full["requests_helped"], json!(paid.len()));
        let categories: BTreeSet<&str> = paid.iter().map(|p| p.category).collect();
        assert_eq!(
            full["categories"].as_array().unwrap().len(),
            categories.len(),
            "{full:#}"
        );
        assert_eq!(
            full["paid_out"],
            money(paid.iter().map(|p| p.minor).sum::<i64>())
        );
    }
}
