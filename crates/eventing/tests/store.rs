//! The event store, aggregates and CQRS, one suite run on SQLite and on PostgreSQL.

mod support;

use std::collections::HashSet;
use std::time::{Duration, SystemTime};

use serde_json::json;
use support::bank::{Account, AccountEvent, Balances, BankCommand, BankError};
use support::open;
use switchyard_eventing::aggregate::{AsOf, Repository, Upcasters};
use switchyard_eventing::cqrs::{CommandBus, CommandError, Projector, ReadModel};
use switchyard_eventing::store::{ExpectedVersion, Metadata, NewEvent, StoreError, StreamAppend};
use switchyard_testkit::{TestDatabase as Database, on_both_databases};

on_both_databases!(
    appends_and_reads_in_order,
    stale_writer_gets_a_conflict,
    concurrent_writers_never_overwrite,
    repeated_append_is_recognised,
    multi_stream_append_is_all_or_nothing,
    aggregate_rebuilds_with_snapshots,
    old_event_versions_are_upcast,
    replay_to_a_point_in_time,
    commands_validate_decide_and_answer_positions,
    repeated_command_is_answered_once,
    projection_builds_resumes_and_rebuilds,
    read_your_writes_waits_or_says_not_yet,
    rebuild_as_of_a_past_position_compares_with_live,
    reopened_store_keeps_everything,
);

fn deposit(amount: i64) -> NewEvent {
    NewEvent::new(
        "MoneyDeposited",
        json!({ "type": "Deposited", "amount": amount }),
    )
}

async fn appends_and_reads_in_order(db: Database) {
    let store = open(&db).await;
    assert_eq!(store.head_position().await.unwrap(), 0);
    let a = store
        .append(
            "account-a",
            ExpectedVersion::NoStream,
            vec![deposit(1), deposit(2)],
        )
        .await
        .unwrap();
    assert_eq!(
        (a.first_position, a.last_position, a.version, a.duplicate),
        (1, 2, 2, false)
    );
    let b = store
        .append("account-b", ExpectedVersion::NoStream, vec![deposit(3)])
        .await
        .unwrap();
    assert_eq!((b.first_position, b.version), (3, 1));
    store
        .append("account-a", ExpectedVersion::Exactly(2), vec![deposit(4)])
        .await
        .unwrap();

    let stream = store.read_stream("account-a", 1, 100).await.unwrap();
    let amounts: Vec<i64> = stream
        .iter()
        .map(|e| e.payload["amount"].as_i64().unwrap())
        .collect();
    assert_eq!(amounts, [1, 2, 4]);
    assert_eq!(
        stream.iter().map(|e| e.version).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    let from_two = store.read_stream("account-a", 2, 100).await.unwrap();
    assert_eq!(from_two.len(), 2);

    let all = store.read_all(0, 100).await.unwrap();
    assert_eq!(
        all.iter().map(|e| e.position).collect::<Vec<_>>(),
        [1, 2, 3, 4]
    );
    assert_eq!(all[2].stream_id, "account-b");
    assert_eq!(store.read_all(2, 1).await.unwrap()[0].position, 3);
    assert_eq!(store.head_position().await.unwrap(), 4);
    assert_eq!(store.stream_version("account-a").await.unwrap(), 3);
    assert_eq!(store.stream_version("nobody").await.unwrap(), 0);
    assert_eq!(all[0].event_type, "MoneyDeposited");
    assert!(all[0].recorded_at <= SystemTime::now());

    let empty = store
        .append("account-c", ExpectedVersion::Any, vec![])
        .await;
    assert!(
        matches!(empty, Err(StoreError::Invalid { .. })),
        "{empty:?}"
    );
}

async fn stale_writer_gets_a_conflict(db: Database) {
    let first = open(&db).await;
    let second = open(&db).await;
    first
        .append("account-a", ExpectedVersion::NoStream, vec![deposit(1)])
        .await
        .unwrap();
    // Both writers saw version 1; the first to append wins.
    let seen = second.stream_version("account-a").await.unwrap();
    first
        .append("account-a", ExpectedVersion::Exactly(1), vec![deposit(2)])
        .await
        .unwrap();
    let stale = second
        .append(
            "account-a",
            ExpectedVersion::Exactly(seen),
            vec![deposit(3)],
        )
        .await;
    match stale {
        Err(StoreError::Conflict {
            stream_id,
            expected,
            actual,
        }) => {
            assert_eq!(
                (stream_id.as_str(), expected, actual),
                ("account-a", ExpectedVersion::Exactly(1), 2)
            );
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    let again = first
        .append("account-a", ExpectedVersion::NoStream, vec![deposit(4)])
        .await;
    assert!(
        matches!(again, Err(StoreError::Conflict { actual: 2, .. })),
        "{again:?}"
    );
    let amounts: Vec<i64> = first
        .read_stream("account-a", 1, 10)
        .await
        .unwrap()
        .iter()
        .map(|e| e.payload["amount"].as_i64().unwrap())
        .collect();
    assert_eq!(amounts, [1, 2], "the stale write left no trace");
}

async fn concurrent_writers_never_overwrite(db: Database) {
    let mut writers = Vec::new();
    for writer in 0..4 {
        let store = open(&db).await;
        writers.push(tokio::spawn(async move {
            let mut conflicts = 0;
            let mut written = 0;
            while written < 25 {
                let version = store.stream_version("account-hot").await.unwrap();
                let event = deposit(writer * 1000 + written);
                match store
                    .append(
                        "account-hot",
                        ExpectedVersion::Exactly(version),
                        vec![event],
                    )
                    .await
                {
                    Ok(_) => written += 1,
                    Err(StoreError::Conflict { .. }) => conflicts += 1,
                    Err(other) => panic!("{other}"),
                }
            }
            conflicts
        }));
    }
    for writer in writers {
        writer.await.unwrap();
    }
    let store = open(&db).await;
    let events = store.read_stream("account-hot", 1, 1000).await.unwrap();
    assert_eq!(events.len(), 100);
    let versions: Vec<i64> = events.iter().map(|e| e.version).collect();
    assert_eq!(versions, (1..=100).collect::<Vec<_>>());
    let amounts: HashSet<i64> = events
        .iter()
        .map(|e| e.payload["amount"].as_i64().unwrap())
        .collect();
    assert_eq!(amounts.len(), 100, "every write is there once");
    let positions: Vec<i64> = store
        .read_all(0, 1000)
        .await
        .unwrap()
        .iter()
        .map(|e| e.position)
        .collect();
    assert_eq!(
        positions,
        (1..=100).collect::<Vec<_>>(),
        "global positions have no gaps"
    );
}

async fn repeated_append_is_recognised(db: Database) {
    let store = open(&db).await;
    let events = vec![deposit(1).with_id("e-1"), deposit(2).with_id("e-2")];
    let first = store
        .append("account-a", ExpectedVersion::NoStream, events.clone())
        .await
        .unwrap();
    // The answer was lost; the writer retries with the same expectation and ids.
    let repeat = store
        .append("account-a", ExpectedVersion::NoStream, events.clone())
        .await
        .unwrap();
    assert!(repeat.duplicate);
    assert_eq!(
        (repeat.first_position, repeat.last_position, repeat.version),
        (first.first_position, first.last_position, 2)
    );
    assert_eq!(
        store.head_position().await.unwrap(),
        2,
        "nothing stored twice"
    );

    let overlap = store
        .append(
            "account-a",
            ExpectedVersion::Exactly(2),
            vec![deposit(2).with_id("e-2"), deposit(3).with_id("e-3")],
        )
        .await;
    assert!(
        matches!(overlap, Err(StoreError::IdempotencyMismatch { .. })),
        "{overlap:?}"
    );
    let elsewhere = store
        .append(
            "account-b",
            ExpectedVersion::Any,
            vec![deposit(1).with_id("e-1")],
        )
        .await;
    assert!(
        matches!(elsewhere, Err(StoreError::IdempotencyMismatch { .. })),
        "{elsewhere:?}"
    );
    let twice_in_one = store
        .append(
            "account-c",
            ExpectedVersion::Any,
            vec![deposit(1).with_id("x"), deposit(1).with_id("x")],
        )
        .await;
    assert!(
        matches!(twice_in_one, Err(StoreError::Invalid { .. })),
        "{twice_in_one:?}"
    );
    assert_eq!(store.head_position().await.unwrap(), 2);
}

async fn multi_stream_append_is_all_or_nothing(db: Database) {
    let store = open(&db).await;
    store
        .append("account-b", ExpectedVersion::NoStream, vec![deposit(1)])
        .await
        .unwrap();
    let batch = |expected_b| {
        vec![
            StreamAppend {
                stream_id: "account-a".into(),
                expected: ExpectedVersion::NoStream,
                events: vec![deposit(5)],
            },
            StreamAppend {
                stream_id: "account-b".into(),
                expected: expected_b,
                events: vec![deposit(6), deposit(7)],
            },
        ]
    };
    let failed = store.append_many(batch(ExpectedVersion::NoStream)).await;
    assert!(
        matches!(failed, Err(StoreError::Conflict { .. })),
        "{failed:?}"
    );
    assert_eq!(
        store.stream_version("account-a").await.unwrap(),
        0,
        "the first stream's part was not kept"
    );
    let done = store
        .append_many(batch(ExpectedVersion::Exactly(1)))
        .await
        .unwrap();
    assert_eq!(done[0].version, 1);
    assert_eq!(
        (
            done[1].first_position,
            done[1].last_position,
            done[1].version
        ),
        (3, 4, 3)
    );
}

async fn open_account(bus: &CommandBus<Account>, id: &str, deposits: &[i64]) -> i64 {
    let none = Metadata::new();
    let mut position = bus
        .execute(
            &BankCommand::Open {
                account: id.into(),
                owner: format!("owner of {id}"),
            },
            &none,
        )
        .await
        .unwrap()
        .position;
    for amount in deposits {
        position = bus
            .execute(
                &BankCommand::Deposit {
                    account: id.into(),
                    amount: *amount,
                    request: None,
                },
                &none,
            )
            .await
            .unwrap()
            .position;
    }
    position
}

async fn aggregate_rebuilds_with_snapshots(db: Database) {
    let store = open(&db).await;
    let bus = CommandBus::new(Repository::<Account>::new(store.clone()));
    open_account(&bus, "a", &[10; 24]).await;
    let loaded = bus.repository().load("a").await.unwrap();
    assert_eq!(
        (
            loaded.state.balance,
            loaded.state.transactions,
            loaded.version
        ),
        (240, 24, 25)
    );
    assert_eq!(loaded.state.owner.as_deref(), Some("owner of a"));

    // Snapshots were taken at versions 10 and 20 (every 10 events).
    let snapshot = store
        .load_snapshot("account-a", i64::MAX, 1)
        .await
        .unwrap()
        .expect("a snapshot");
    assert_eq!(snapshot.version, 20);
    assert_eq!(snapshot.state["balance"], 190);
    // Loading uses the snapshot: a doctored snapshot shows through, proving it was read...
    let mut doctored = snapshot.clone();
    doctored.state["balance"] = json!(1_000_190);
    store.save_snapshot(&doctored).await.unwrap();
    assert_eq!(
        bus.repository().load("a").await.unwrap().state.balance,
        1_000_240
    );
    // ...and a snapshot of another state version is ignored: the events are replayed.
    assert!(
        store
            .load_snapshot("account-a", i64::MAX, 2)
            .await
            .unwrap()
            .is_none()
    );
    store.save_snapshot(&snapshot).await.unwrap();
    assert_eq!(bus.repository().load("a").await.unwrap(), loaded);
    let missing = bus.repository().load("nobody").await.unwrap();
    assert_eq!((missing.version, missing.state.balance), (0, 0));
}

async fn old_event_versions_are_upcast(db: Database) {
    let store = open(&db).await;
    // Written by an older release: `name` instead of `owner`, schema version 1.
    let old = NewEvent::new("AccountOpened", json!({ "type": "Opened", "name": "Ada" }));
    store
        .append(
            "account-old",
            ExpectedVersion::NoStream,
            vec![old, deposit(5)],
        )
        .await
        .unwrap();

    let plain = Repository::<Account>::new(store.clone());
    let error = plain.load("old").await.unwrap_err().to_string();
    assert!(error.contains("AccountOpened v1"), "{error}");

    let upcasters = Upcasters::new().add("AccountOpened", 1, |mut payload| {
        let name = payload
            .as_object_mut()
            .and_then(|o| o.remove("name"))
            .ok_or("no name")?;
        payload["owner"] = name;
        Ok(payload)
    });
    let repository = Repository::<Account>::new(store.clone()).with_upcasters(upcasters);
    let account = repository.load("old").await.unwrap();
    assert_eq!(account.state.owner.as_deref(), Some("Ada"));
    assert_eq!(account.state.balance, 5);
    let stored = store.read_stream("account-old", 1, 1).await.unwrap();
    assert_eq!(stored[0].schema_version, 1, "the stored event is untouched");
    assert_eq!(
        repository.decode(&stored[0]).unwrap(),
        AccountEvent::Opened {
            owner: "Ada".into()
        }
    );
}

async fn replay_to_a_point_in_time(db: Database) {
    let store = open(&db).await;
    let bus = CommandBus::new(Repository::<Account>::new(store.clone()));
    open_account(&bus, "t", &[1, 2, 3]).await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let between = SystemTime::now();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let none = Metadata::new();
    for amount in [10; 12] {
        bus.execute(
            &BankCommand::Deposit {
                account: "t".into(),
                amount,
                request: None,
            },
            &none,
        )
        .await
        .unwrap();
    }
    let repository = bus.repository();
    let at_three = repository.load_as_of("t", AsOf::Version(3)).await.unwrap();
    assert_eq!((at_three.version, at_three.state.balance), (3, 3));
    let at_time = repository
        .load_as_of("t", AsOf::Time(between))
        .await
        .unwrap();
    assert_eq!((at_time.version, at_time.state.balance), (4, 6));
    // Version 12 lies past the snapshot at 10: snapshot plus events 11 and 12.
    let at_twelve = repository.load_as_of("t", AsOf::Version(12)).await.unwrap();
    assert_eq!((at_twelve.version, at_twelve.state.balance), (12, 6 + 80));
    let before = repository
        .load_as_of("t", AsOf::Time(SystemTime::UNIX_EPOCH))
        .await
        .unwrap();
    assert_eq!(before.version, 0);
    let latest = repository.load_as_of("t", AsOf::Latest).await.unwrap();
    assert_eq!((latest.version, latest.state.balance), (16, 126));
}

async fn commands_validate_decide_and_answer_positions(db: Database) {
    let store = open(&db).await;
    let bus = CommandBus::new(Repository::<Account>::new(store.clone()));
    let none = Metadata::new();
    let not_open = bus
        .execute(
            &BankCommand::Deposit {
                account: "c".into(),
                amount: 5,
                request: None,
            },
            &none,
        )
        .await;
    assert!(
        matches!(not_open, Err(CommandError::Rejected(BankError::NotOpen(_)))),
        "{not_open:?}"
    );
    let bad = bus
        .execute(
            &BankCommand::Deposit {
                account: "c".into(),
                amount: -5,
                request: None,
            },
            &none,
        )
        .await;
    assert!(
        matches!(bad, Err(CommandError::Rejected(BankError::BadAmount(-5)))),
        "{bad:?}"
    );
    let position = open_account(&bus, "c", &[50]).await;
    assert_eq!(position, store.head_position().await.unwrap());
    let too_much = bus
        .execute(
            &BankCommand::Withdraw {
                account: "c".into(),
                amount: 80,
            },
            &none,
        )
        .await;
    assert!(
        matches!(
            too_much,
            Err(CommandError::Rejected(BankError::Insufficient {
                balance: 50,
                asked: 80
            }))
        ),
        "{too_much:?}"
    );
    let mut metadata = Metadata::new();
    metadata.insert("actor".into(), "teller-7".into());
    let outcome = bus
        .execute(
            &BankCommand::Withdraw {
                account: "c".into(),
                amount: 20,
            },
            &metadata,
        )
        .await
        .unwrap();
    assert_eq!(
        (outcome.version, outcome.events, outcome.position),
        (3, 1, position + 1)
    );
    let stored = store.read_all(position, 10).await.unwrap();
    assert_eq!(
        stored[0].metadata.get("actor").map(String::as_str),
        Some("teller-7")
    );
    assert_eq!(bus.repository().load("c").await.unwrap().state.balance, 30);
}

async fn repeated_command_is_answered_once(db: Database) {
    let store = open(&db).await;
    let bus = CommandBus::new(Repository::<Account>::new(store.clone()));
    open_account(&bus, "r", &[]).await;
    let none = Metadata::new();
    let command = BankCommand::Deposit {
        account: "r".into(),
        amount: 7,
        request: Some("req-42".into()),
    };
    let first = bus.execute(&command, &none).await.unwrap();
    let again = bus.execute(&command, &none).await.unwrap();
    assert!(!first.duplicate && again.duplicate);
    assert_eq!(
        (again.position, again.version),
        (first.position, first.version)
    );
    assert_eq!(
        bus.repository().load("r").await.unwrap().state.balance,
        7,
        "applied once"
    );
}

async fn projection_builds_resumes_and_rebuilds(db: Database) {
    let store = open(&db).await;
    let bus = CommandBus::new(Repository::<Account>::new(store.clone()));
    open_account(&bus, "p1", &[5, 5]).await;
    open_account(&bus, "p2", &[7]).await;
    // Events the projection does not handle move its checkpoint all the same.
    store
        .append(
            "audit-1",
            ExpectedVersion::Any,
            vec![NewEvent::new("Audited", json!({}))],
        )
        .await
        .unwrap();

    let projector = Projector::new(store.clone(), Balances::default())
        .await
        .unwrap()
        .batch(2);
    let lag = projector.lag().await.unwrap();
    assert_eq!((lag.position, lag.head, lag.events), (0, 6, 6));
    assert!(lag.behind > Duration::ZERO);
    assert_eq!(projector.step().await.unwrap(), 2, "one batch");
    assert_eq!(projector.catch_up().await.unwrap(), 6);
    let lag = projector.lag().await.unwrap();
    assert_eq!((lag.events, lag.behind), (0, Duration::ZERO));

    let model = ReadModel::new(store.clone(), "balances").unwrap();
    assert_eq!(
        model.get("account-p1").await.unwrap().unwrap()["balance"],
        10
    );
    assert_eq!(
        model.get("account-p2").await.unwrap().unwrap()["owner"],
        "owner of p2"
    );
    assert_eq!(model.list(None, 10).await.unwrap().len(), 2);
    assert_eq!(
        model.list(Some("account-p1"), 10).await.unwrap()[0].0,
        "account-p2"
    );

    // A second projector (a restarted process) resumes from the checkpoint.
    open_account(&bus, "p3", &[1]).await;
    let resumed = Projector::new(open(&db).await, Balances::default())
        .await
        .unwrap();
    assert_eq!(resumed.lag().await.unwrap().events, 2);
    resumed.catch_up().await.unwrap();
    let before: Vec<_> = model.list(None, 100).await.unwrap();
    assert_eq!(resumed.rebuild().await.unwrap(), 8);
    assert_eq!(
        model.list(None, 100).await.unwrap(),
        before,
        "rebuilt from zero, the same"
    );
}

async fn read_your_writes_waits_or_says_not_yet(db: Database) {
    let store = open(&db).await;
    let bus = CommandBus::new(Repository::<Account>::new(store.clone()));
    let projector = Projector::new(store.clone(), Balances::default())
        .await
        .unwrap();
    let model = ReadModel::new(store.clone(), "balances").unwrap();
    let position = open_account(&bus, "w", &[3]).await;

    // No projector running: the query answers that the model is behind.
    let not_yet = model
        .get_after("account-w", position, Duration::from_millis(50))
        .await
        .unwrap();
    let not_yet = not_yet.unwrap_err();
    assert_eq!((not_yet.wanted, not_yet.reached), (position, 0));

    let (stop, stopped) = tokio::sync::watch::channel(false);
    let running = tokio::spawn(async move { projector.run(stopped).await });
    let doc = model
        .get_after("account-w", position, Duration::from_secs(30))
        .await
        .unwrap()
        .expect("the projector reaches the command's position");
    assert_eq!(doc.unwrap()["balance"], 3);
    // A later write, read right away through the running projector.
    let none = Metadata::new();
    let next = bus
        .execute(
            &BankCommand::Withdraw {
                account: "w".into(),
                amount: 1,
            },
            &none,
        )
        .await
        .unwrap();
    let doc = model
        .get_after("account-w", next.position, Duration::from_secs(30))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(doc.unwrap()["balance"], 2);
    stop.send(true).unwrap();
    running.await.unwrap().unwrap();
}

async fn rebuild_as_of_a_past_position_compares_with_live(db: Database) {
    let store = open(&db).await;
    let bus = CommandBus::new(Repository::<Account>::new(store.clone()));
    let early = open_account(&bus, "h1", &[4]).await;
    open_account(&bus, "h2", &[6]).await;
    bus.execute(
        &BankCommand::Deposit {
            account: "h1".into(),
            amount: 1,
            request: None,
        },
        &Metadata::new(),
    )
    .await
    .unwrap();
    let projector = Projector::new(store.clone(), Balances::default())
        .await
        .unwrap();
    let head = projector.catch_up().await.unwrap();

    let past = projector.rebuild_as_of(early).await.unwrap();
    assert_eq!(past, format!("rm_balances_at_{early}"));
    let comparison = projector.compare(&past).await.unwrap();
    assert_eq!(comparison.only_live, ["account-h2"]);
    assert_eq!(comparison.different, ["account-h1"]);
    assert!(comparison.only_other.is_empty());

    let now = projector.rebuild_as_of(head).await.unwrap();
    let comparison = projector.compare(&now).await.unwrap();
    assert!(comparison.is_identical(), "{comparison:?}");
    assert_eq!(comparison.equal, 2);
    projector.drop_rebuilt(early).await.unwrap();
    assert!(
        projector.compare(&past).await.is_err(),
        "the dropped table is gone"
    );
    assert!(
        projector.compare("events").await.is_err(),
        "only rebuilds of this projection"
    );
}

async fn reopened_store_keeps_everything(db: Database) {
    let store = open(&db).await;
    store
        .append(
            "account-k",
            ExpectedVersion::NoStream,
            vec![deposit(1), deposit(2)],
        )
        .await
        .unwrap();
    store.save_checkpoint("outbox:test", 1).await.unwrap();
    store.close().await;
    let reopened = open(&db).await;
    assert_eq!(reopened.head_position().await.unwrap(), 2);
    assert_eq!(reopened.checkpoint("outbox:test").await.unwrap(), 1);
    let next = reopened
        .append("account-k", ExpectedVersion::Exactly(2), vec![deposit(3)])
        .await
        .unwrap();
    assert_eq!(next.last_position, 3);
}
