//! The configuration journal: every change with who, when and a diff; reverts.

use std::path::PathBuf;

use switchyard_gateway::{ChangeSource, Config, Error, GOVERNOR, Gateway, RAMP};

mod support;
use support::eventually;

fn config(timeout: &str, weight: u8) -> String {
    format!(
        r#"listeners = []

[[cluster]]
name = "monolith"
instances = ["127.0.0.1:9100"]

[[cluster]]
name = "catalog-v2"
instances = ["127.0.0.1:9001"]

[[route]]
name = "catalog"
timeout = "{timeout}"

[route.split]
legacy = "monolith"
new = "catalog-v2"
weight = {weight}
"#
    )
}

fn file() -> ChangeSource {
    ChangeSource::File(PathBuf::from("/etc/switchyard/agent.toml"))
}

#[tokio::test]
async fn journals_file_changes_and_live_weights() {
    // Built in code: diffs against it are on the debug form.
    let gateway = Gateway::new(Config::from_toml(&config("1s", 20)).unwrap()).unwrap();
    gateway
        .apply_toml_as(&config("2s", 20), "deploy-bot", file())
        .unwrap();
    gateway
        .apply_toml_as(&config("5s", 20), "deploy-bot", file())
        .unwrap();
    gateway.set_weight_as("catalog", 40, "alice").unwrap();
    gateway.set_shadow_as("catalog", 5, "bob").unwrap();

    let journal = gateway.journal();
    assert_eq!(
        journal.iter().map(|e| e.seq).collect::<Vec<_>>(),
        [1, 2, 3, 4, 5]
    );
    assert_eq!(journal[0].who, "local");
    assert_eq!(journal[0].source, ChangeSource::Api);
    let lines: Vec<String> = journal[1]
        .diff
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    assert!(lines.contains(&"- timeout: 1s,".to_owned()), "{lines:?}");
    assert!(lines.contains(&"+ timeout: 2s,".to_owned()), "{lines:?}");

    let file_change = &journal[2];
    assert_eq!(file_change.who, "deploy-bot");
    assert_eq!(file_change.source, file());
    assert!(
        file_change
            .diff
            .contains("-timeout = \"2s\"\n+timeout = \"5s\"\n"),
        "{}",
        file_change.diff
    );
    assert!(!file_change.diff.contains("weight"), "{}", file_change.diff);
    assert!(journal[0].at <= file_change.at);

    assert_eq!(journal[3].who, "alice");
    assert_eq!(journal[3].diff, "route catalog weight 20 → 40\n");
    assert_eq!(journal[4].who, "bob");
    assert_eq!(journal[4].diff, "route catalog shadow 0 → 5\n");
}

#[tokio::test]
async fn revert_puts_back_the_state_before_an_entry() {
    let gateway = Gateway::new(Config::from_toml(&config("2s", 20)).unwrap()).unwrap();
    gateway
        .apply_toml_as(&config("2s", 20), "deploy-bot", file())
        .unwrap(); // #2
    gateway.set_weight_as("catalog", 40, "alice").unwrap(); // #3
    gateway
        .apply_toml_as(&config("5s", 20), "deploy-bot", file())
        .unwrap(); // #4

    // Reverting the weight change restores the whole state before it: weight 20 and
    // the 2s timeout (the later file change is undone too).
    let entry = gateway.revert(3, "carol").unwrap();
    assert_eq!(entry.seq, 5);
    assert_eq!(entry.who, "carol");
    assert_eq!(entry.source, ChangeSource::Revert(3));
    assert!(
        entry
            .diff
            .contains("-timeout = \"5s\"\n+timeout = \"2s\"\n"),
        "{}",
        entry.diff
    );
    assert!(
        entry.diff.contains("route catalog weight 40 → 20\n"),
        "{}",
        entry.diff
    );
    assert_eq!(gateway.route("catalog").unwrap().weight, Some(20));

    // Reverting the file change: the state just before it, the 2s timeout with the
    // live weight at 40.
    let entry = gateway.revert(4, "carol").unwrap();
    assert_eq!(entry.diff, "route catalog weight 20 → 40\n");
    assert_eq!(gateway.route("catalog").unwrap().weight, Some(40));
    assert_eq!(gateway.journal().len(), 6);
}

#[tokio::test]
async fn refused_changes_leave_no_entry() {
    let gateway = Gateway::new(Config::from_toml(&config("2s", 20)).unwrap()).unwrap();
    let refused = gateway.apply_toml_as("[[route]]\nname = 1\n", "mallory", file());
    assert!(matches!(refused, Err(Error::Config(_))));
    assert!(matches!(
        gateway.set_weight_as("catalog", 101, "mallory"),
        Err(Error::Percent { value: 101 })
    ));
    assert!(matches!(
        gateway.set_weight_as("nope", 10, "mallory"),
        Err(Error::UnknownRoute { .. })
    ));
    assert_eq!(gateway.journal().len(), 1);
    assert!(matches!(
        gateway.revert(1, "x"),
        Err(Error::NothingBefore { seq: 1 })
    ));
    assert!(matches!(
        gateway.revert(99, "x"),
        Err(Error::UnknownJournalEntry { seq: 99 })
    ));
}

#[tokio::test]
async fn ramp_steps_are_journaled_and_can_be_reverted() {
    let text = config("2s", 0).replace(
        "weight = 0\n",
        "weight = 0\nramp = [{ after = \"0s\", weight = 30 }]\n",
    );
    let gateway = Gateway::new(Config::from_toml(&text).unwrap()).unwrap();
    let mut watched = gateway.watch_journal();
    eventually("the ramp's step is journaled", || {
        gateway.journal().iter().any(|e| e.who == RAMP)
    })
    .await;
    let step = gateway.journal().pop().unwrap();
    assert_eq!(step.source, ChangeSource::Governor);
    assert_eq!(step.diff, "route catalog weight 0 → 30\n");
    assert_eq!(gateway.route("catalog").unwrap().weight, Some(30));
    // Watchers see it as it is recorded.
    assert_eq!(watched.recv().await.unwrap(), step);

    let revert = gateway.revert(step.seq, "carol").unwrap();
    assert_eq!(revert.diff, "route catalog weight 30 → 0\n");
    assert_eq!(gateway.route("catalog").unwrap().weight, Some(0));
    assert_eq!(watched.recv().await.unwrap(), revert);
}

#[tokio::test]
async fn a_governed_ramp_is_journaled_as_the_governor() {
    let text = config("2s", 0).replace(
        "weight = 0\n",
        "weight = 0\nramp = [{ after = \"0s\", weight = 10 }]\n\
         governor = { min_requests = 0, interval = \"20ms\" }\n",
    );
    let gateway = Gateway::new(Config::from_toml(&text).unwrap()).unwrap();
    eventually("the governed step is journaled", || {
        gateway.journal().iter().any(|e| e.who == GOVERNOR)
    })
    .await;
    let step = gateway.journal().pop().unwrap();
    assert_eq!(step.diff, "route catalog weight 0 → 10\n");
}
