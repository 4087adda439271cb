//! `backorder-desk simulate` (issue 9): the replay's output on histories small
//! enough to work out by hand, what bad input gets, and how honest the engine's
//! promises are on a generated year. No database is involved.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::OnceLock;

use backorder_desk::sim::{
    GenerateSettings, Measured, Profile, Replay, ReplaySettings, YOUNG_HISTORY, generate, replay,
    summarize, summarize_where, to_json_line,
};
use serde_json::{Value, json};

fn scenario_file(name: &str, lines: &[&str]) -> PathBuf {
    let path = std::env::temp_dir().join(format!("sim-{}-{name}.jsonl", std::process::id()));
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    path
}

fn simulate(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_backorder-desk"))
        .arg("simulate")
        .args(args)
        // Nothing the database needs: the command must run without it.
        .env_remove("DATABASE_URL")
        .output()
        .unwrap()
}

fn replay_file(name: &str, lines: &[&str]) -> Vec<Value> {
    let path = scenario_file(name, lines);
    let output = simulate(&["--scenario", path.to_str().unwrap()]);
    let _ = std::fs::remove_file(&path);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

const SHOP: [&str; 3] = [
    r#"{"day":0,"type":"supplier","name":"S1","lead_days":14}"#,
    r#"{"day":0,"type":"product","sku":"P1","supplier":"S1","on_hand":10}"#,
    r#"{"day":3,"type":"purchase_order","reference":"PO-1","sku":"P1","quantity":50,"expected_day":17,"arrives_day":20}"#,
];

/// Worked by hand (one handling day, so a line ships the day after its units
/// arrive, and the engine's dates are ship days):
/// - O-1 takes 2 of the 10 on hand, never waits, ships day 6.
/// - O-2 takes the other 8 and waits for 1. PO-1 is due day 17; the shop has
///   no delivery and no order past its date, so nothing to learn lateness
///   from: the promise is the quoted date + handling, day 18 (likely and naive
///   alike). PO-1 comes on day 20, three days late: O-2 ships day 21.
/// - On day 21 49 units are free. PO-2 (20 units, due day 30) is placed, then
///   O-3 asks for 60: 49 now, 11 wait. The evidence is one slip of 3. The
///   shop's pool: the wide prior (5 deliveries, half late by 1 + 10 days on
///   average) with the slip: late share 3.5/6, mean extra days 27/3.5. The
///   supplier's fit takes that pool as its prior (one supplier cannot be
///   compared with others: 8 deliveries for the late share, 4 late ones for
///   the days): late share 5.67/9, late by 1 + a geometric number of days with
///   mean 26.9/5 = 6.57. The record then updates the daily hazards, the fit
///   weighing as 8 orders: before day 3 one order was at risk and did not
///   come, on day 3 it came. So P(slip <= s) is 0.48 at 2, 0.60 at 3 (the
///   median: likely day 34), 0.888 at 12, 0.903 at 13 and 0.916 at 14. The
///   shop's one resolved promise (O-2's, day 18) was broken, so the level is
///   calibrated up from 90% (`domain::calibration`): 0.90 + 3 x 0.9 / (1 +
///   400) = 90.7%. The promise is the day whose sampled share is closest to
///   that; with 400 samples that is slip 14: promised day 30 + 14 + 1 = 45.
///   Naive 31. PO-2 comes on day 33, O-3 ships day 34.
#[test]
fn a_small_history_replays_to_the_dates_worked_out_by_hand() {
    let mut scenario = SHOP.to_vec();
    scenario.extend([
        r#"{"day":5,"type":"order","number":"O-1","sku":"P1","quantity":2}"#,
        r#"{"day":6,"type":"order","number":"O-2","sku":"P1","quantity":9}"#,
        r#"{"day":21,"type":"purchase_order","reference":"PO-2","sku":"P1","quantity":20,"expected_day":30,"arrives_day":33}"#,
        r#"{"day":21,"type":"order","number":"O-3","sku":"P1","quantity":60}"#,
    ]);
    let output = replay_file("by-hand", &scenario);
    assert_eq!(
        output,
        [
            json!({"number": "O-1", "sku": "P1", "quantity": 2, "ordered_day": 5,
                   "promised_day": null, "likely_day": null, "expected_day": null,
                   "supplier_deliveries": null, "shipped_day": 6}),
            json!({"number": "O-2", "sku": "P1", "quantity": 9, "ordered_day": 6,
                   "promised_day": 18, "likely_day": 18, "expected_day": 18,
                   "supplier_deliveries": 0, "shipped_day": 21}),
            json!({"number": "O-3", "sku": "P1", "quantity": 60, "ordered_day": 21,
                   "promised_day": 45, "likely_day": 34, "expected_day": 31,
                   "supplier_deliveries": 1, "shipped_day": 34}),
            json!({"summary": {"lines": 2, "kept": 1, "kept_share": 0.5,
                   "mean_padding_days": 7.0, "mean_abs_error_days": 7.0}}),
        ]
    );
}

#[test]
fn the_engine_does_not_see_an_arrival_before_its_day() {
    let late = SHOP[2].replace(r#""arrives_day":20"#, r#""arrives_day":40"#);
    let order = r#"{"day":6,"type":"order","number":"O-2","sku":"P1","quantity":12}"#;
    let on_time = replay_file("arrives-20", &[SHOP[0], SHOP[1], SHOP[2], order]);
    let very_late = replay_file("arrives-40", &[SHOP[0], SHOP[1], &late, order]);
    for field in ["promised_day", "likely_day", "expected_day"] {
        assert_eq!(on_time[0][field], very_late[0][field], "{field}");
    }
    assert_eq!(on_time[0]["promised_day"], 18);
    assert_eq!(
        (&on_time[0]["shipped_day"], &very_late[0]["shipped_day"]),
        (&json!(21), &json!(41))
    );
}

#[test]
fn bad_input_is_one_line_naming_the_line_and_exit_code_2() {
    let cases: [(&str, &str, &str); 5] = [
        (
            r#"{"day":4,"type":"order","number":"O-1","sku":"NOPE","quantity":1}"#,
            "scenario line 4: unknown SKU NOPE",
            "unknown-sku",
        ),
        (
            r#"{"day":2,"type":"order","number":"O-1","sku":"P1","quantity":1}"#,
            "scenario line 4: day 2 comes after day 3",
            "out-of-order",
        ),
        (
            r#"{"day":4,"type":"order","number":"O-1""#,
            "scenario line 4: not valid JSON",
            "malformed",
        ),
        (
            r#"{"day":4,"type":"refund","number":"O-1"}"#,
            "scenario line 4: unknown variant `refund`",
            "unknown-type",
        ),
        (
            r#"{"day":4,"type":"order","number":"O-1","sku":"P1"}"#,
            "scenario line 4: missing field `quantity`",
            "missing-field",
        ),
    ];
    for (bad, expected, name) in cases {
        let path = scenario_file(name, &[SHOP[0], SHOP[1], SHOP[2], bad]);
        let output = simulate(&["--scenario", path.to_str().unwrap()]);
        let _ = std::fs::remove_file(&path);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{name}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{name}: {stderr}");
        assert!(stderr.contains(expected), "{name}: {stderr}");
        assert!(output.stdout.is_empty(), "{name}: nothing is written");
    }
}

#[test]
fn a_generated_scenario_replays_from_the_command_line() {
    let output = simulate(&[
        "--generate",
        "--days",
        "60",
        "--seed",
        "3",
        "--products",
        "4",
    ]);
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    let settings = GenerateSettings {
        days: 60,
        seed: 3,
        products: 4,
        profile: Profile::One,
    };
    let same: Vec<String> = generate(&settings).iter().map(to_json_line).collect();
    assert_eq!(
        text.lines().collect::<Vec<_>>(),
        same,
        "same seed, same scenario"
    );

    let path = scenario_file("generated", &text.lines().collect::<Vec<_>>());
    let replayed = simulate(&["--scenario", path.to_str().unwrap()]);
    let _ = std::fs::remove_file(&path);
    assert!(replayed.status.success());
    let last: Value = serde_json::from_str(
        String::from_utf8(replayed.stdout)
            .unwrap()
            .lines()
            .last()
            .unwrap(),
    )
    .unwrap();
    assert!(last["summary"]["lines"].is_u64());
}

fn generated_year(profile: Profile, seed: u64, oracle: bool) -> Replay {
    let events = generate(&GenerateSettings {
        days: 365,
        seed,
        products: 30,
        profile,
    });
    let settings = ReplaySettings {
        oracle,
        ..ReplaySettings::default()
    };
    replay(&events, &settings).unwrap()
}

/// Seed 7 of each profile at p90 with the oracle beside it, replayed once for
/// the tests that read it.
fn year_seven(profile: Profile) -> &'static Replay {
    static ONE: OnceLock<Replay> = OnceLock::new();
    static TWO: OnceLock<Replay> = OnceLock::new();
    match profile {
        Profile::One => ONE.get_or_init(|| generated_year(Profile::One, 7, true)),
        Profile::Two => TWO.get_or_init(|| generated_year(Profile::Two, 7, true)),
    }
}

#[test]
fn the_worst_case_keeps_far_more_promises_than_the_naive_date() {
    let replayed = year_seven(Profile::One);
    let worst = summarize(replayed, Measured::Worst);
    let naive = summarize(replayed, Measured::Naive);
    assert!(worst.lines > 300, "a year gives plenty of waiting lines");
    assert_eq!(
        worst.lines, naive.lines,
        "both measures cover the same lines"
    );
    let (worst_kept, naive_kept) = (worst.kept_share.unwrap(), naive.kept_share.unwrap());
    assert!(
        worst_kept > naive_kept + 0.25,
        "worst {worst_kept}, naive {naive_kept}"
    );
    assert!(worst.mean_padding_days.unwrap() > 0.0);
}

/// DESIGN §4.7-4.8: the promise is the 90th percentile, so about 90% should be
/// kept, from the first day, in both generated worlds (issue 19, target 3).
/// The slip model alone keeps 93.6% (profile 1) and 94.2% (profile 2) of
/// this year's promises, as a promiser knowing the true slips keeps 93.7% and
/// 90.2% of its own; calibrating the level from the shop's resolved promises
/// brings them to 92.0% and 91.0% (ETA.md has the figures over ten seeds).
#[test]
fn kept_share_is_calibrated_to_the_promised_percentile_in_both_worlds() {
    for profile in [Profile::One, Profile::Two] {
        let replayed = year_seven(profile);
        let kept = summarize(replayed, Measured::Worst).kept_share.unwrap();
        let oracle = summarize(replayed, Measured::Oracle).kept_share.unwrap();
        assert!(
            (kept - 0.90).abs() <= 0.025,
            "{profile:?}: kept {kept} is not within 90 ± 2.5%"
        );
        assert!(
            (kept - oracle).abs() <= 0.05,
            "{profile:?}: kept {kept}, the oracle {oracle}"
        );
    }
}

/// Issue 19, cold start: lines promised while their supplier has fewer than 15
/// deliveries draw on the shop's pooled slips, and keep at least 85% at p90.
#[test]
fn promises_made_on_a_young_supplier_history_are_kept_too() {
    for profile in [Profile::One, Profile::Two] {
        let replayed = std::slice::from_ref(year_seven(profile));
        let young = summarize_where(replayed, Measured::Worst, |line| {
            line.supplier_deliveries.is_some_and(|d| d < YOUNG_HISTORY)
        });
        assert!(
            young.lines > 100,
            "{profile:?}: {} young lines",
            young.lines
        );
        let kept = young.kept_share.unwrap();
        assert!(kept >= 0.85, "{profile:?}: young-history lines kept {kept}");
        let first = summarize_where(replayed, Measured::Worst, |line| {
            line.supplier_deliveries == Some(0)
        });
        assert!(first.lines > 0, "{profile:?}: promises before any delivery");
        assert!(
            first.mean_padding_days.unwrap() > 2.0,
            "{profile:?}: a supplier without deliveries is padded from the pool, not its quoted date"
        );
    }
}

/// `--oracle` dates every line as a promiser that knows the true slips, beside
/// the product's and the naive promise; the profiles generate different worlds.
#[test]
fn the_oracle_is_printed_beside_the_product_and_the_naive_date() {
    let generated = simulate(&[
        "--generate",
        "--days",
        "120",
        "--seed",
        "5",
        "--products",
        "10",
        "--profile",
        "2",
    ]);
    assert!(generated.status.success());
    let text = String::from_utf8(generated.stdout).unwrap();
    let first: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(first["type"], "supplier");
    assert!(
        first["truth"]["late_shape"].as_u64().unwrap() >= 2,
        "profile 2 slips are gamma: {first}"
    );
    let path = scenario_file("oracle", &text.lines().collect::<Vec<_>>());
    let replayed = simulate(&["--scenario", path.to_str().unwrap(), "--oracle"]);
    let _ = std::fs::remove_file(&path);
    assert!(replayed.status.success());
    let out = String::from_utf8(replayed.stdout).unwrap();
    let last: Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    for who in ["product", "naive", "oracle"] {
        assert!(last[who]["lines"].as_u64().unwrap() > 10, "{who}: {last}");
        assert!(last[who]["kept_share"].is_f64(), "{who}: {last}");
    }
    assert_eq!(last["summary"], last["product"]);
    assert_eq!(last["naive"]["mean_padding_days"], 0.0);
    let promised: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|l| !l["promised_day"].is_null())
        .collect();
    assert!(promised.iter().all(|l| l["oracle_day"].is_i64()));

    // A hand-written scenario does not say how its suppliers really deliver.
    let path = scenario_file("no-truth", &SHOP);
    let refused = simulate(&["--scenario", path.to_str().unwrap(), "--oracle"]);
    let _ = std::fs::remove_file(&path);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("scenario line 1: --oracle needs"),
        "{stderr}"
    );
}
