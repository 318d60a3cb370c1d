//! A small bank account domain for the event store, CQRS and outbox tests.

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::json;
use switchyard_eventing::aggregate::{Aggregate, DomainEvent};
use switchyard_eventing::cqrs::{Command, Documents, Projection, ProjectionError};
use switchyard_eventing::store::RecordedEvent;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum AccountEvent {
    Opened { owner: String },
    Deposited { amount: i64 },
    Withdrawn { amount: i64 },
}

impl DomainEvent for AccountEvent {
    fn event_type(&self) -> &'static str {
        match self {
            AccountEvent::Opened { .. } => "AccountOpened",
            AccountEvent::Deposited { .. } => "MoneyDeposited",
            AccountEvent::Withdrawn { .. } => "MoneyWithdrawn",
        }
    }

    fn schema_version(&self) -> u32 {
        match self {
            // Version 1 of Opened had `name` where version 2 has `owner`.
            AccountEvent::Opened { .. } => 2,
            _ => 1,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Account {
    pub owner: Option<String>,
    pub balance: i64,
    pub transactions: u32,
}

impl Aggregate for Account {
    type Event = AccountEvent;
    const KIND: &'static str = "account";
    const SNAPSHOT_EVERY: i64 = 10;

    fn apply(&mut self, event: &AccountEvent) {
        match event {
            AccountEvent::Opened { owner } => self.owner = Some(owner.clone()),
            AccountEvent::Deposited { amount } => {
                self.balance += amount;
                self.transactions += 1;
            }
            AccountEvent::Withdrawn { amount } => {
                self.balance -= amount;
                self.transactions += 1;
            }
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum BankError {
    #[error("account {0} is not open")]
    NotOpen(String),
    #[error("account {0} is already open")]
    AlreadyOpen(String),
    #[error("amount must be positive, not {0}")]
    BadAmount(i64),
    #[error("insufficient funds: balance {balance}, asked {asked}")]
    Insufficient { balance: i64, asked: i64 },
}

#[derive(Debug, Clone)]
pub enum BankCommand {
    Open {
        account: String,
        owner: String,
    },
    Deposit {
        account: String,
        amount: i64,
        request: Option<String>,
    },
    Withdraw {
        account: String,
        amount: i64,
    },
}

impl Command for BankCommand {
    type Aggregate = Account;
    type Error = BankError;

    fn aggregate_id(&self) -> String {
        match self {
            BankCommand::Open { account, .. }
            | BankCommand::Deposit { account, .. }
            | BankCommand::Withdraw { account, .. } => account.clone(),
        }
    }

    fn command_id(&self) -> Option<String> {
        match self {
            BankCommand::Deposit { request, .. } => request.clone(),
            _ => None,
        }
    }

    fn validate(&self) -> Result<(), BankError> {
        match self {
            BankCommand::Deposit { amount, .. } | BankCommand::Withdraw { amount, .. }
                if *amount <= 0 =>
            {
                Err(BankError::BadAmount(*amount))
            }
            _ => Ok(()),
        }
    }

    fn handle(&self, state: &Account) -> Result<Vec<AccountEvent>, BankError> {
        let id = self.aggregate_id();
        match self {
            BankCommand::Open { owner, .. } => match state.owner {
                Some(_) => Err(BankError::AlreadyOpen(id)),
                None => Ok(vec![AccountEvent::Opened {
                    owner: owner.clone(),
                }]),
            },
            _ if state.owner.is_none() => Err(BankError::NotOpen(id)),
            BankCommand::Deposit { amount, .. } => {
                Ok(vec![AccountEvent::Deposited { amount: *amount }])
            }
            BankCommand::Withdraw { amount, .. } if *amount > state.balance => {
                Err(BankError::Insufficient {
                    balance: state.balance,
                    asked: *amount,
                })
            }
            BankCommand::Withdraw { amount, .. } => {
                Ok(vec![AccountEvent::Withdrawn { amount: *amount }])
            }
        }
    }
}

/// Read model `balances`: one document per account with owner, balance and count.
#[derive(Debug, Default)]
pub struct Balances {
    /// Slows every event down, so a test can kill the projector mid-way.
    pub delay: Option<Duration>,
}

#[async_trait]
impl Projection for Balances {
    fn name(&self) -> &str {
        "balances"
    }

    fn handles(&self, event_type: &str) -> bool {
        matches!(
            event_type,
            "AccountOpened" | "MoneyDeposited" | "MoneyWithdrawn"
        )
    }

    async fn apply(
        &self,
        docs: &mut Documents<'_>,
        event: &RecordedEvent,
    ) -> Result<(), ProjectionError> {
        if let Some(delay) = self.delay {
            tokio::time::sleep(delay).await;
        }
        let key = event.stream_id.clone();
        let amount = event
            .payload
            .get("amount")
            .and_then(|a| a.as_i64())
            .unwrap_or(0);
        let owner = event.payload.get("owner").cloned();
        let event_type = event.event_type.clone();
        docs.update(&key, move |doc| {
            if doc.is_null() {
                *doc = json!({ "balance": 0, "transactions": 0 });
            }
            match event_type.as_str() {
                "AccountOpened" => doc["owner"] = owner.unwrap_or_default(),
                "MoneyDeposited" => {
                    doc["balance"] = json!(doc["balance"].as_i64().unwrap_or(0) + amount);
                    doc["transactions"] = json!(doc["transactions"].as_i64().unwrap_or(0) + 1);
                }
                _ => {
                    doc["balance"] = json!(doc["balance"].as_i64().unwrap_or(0) - amount);
                    doc["transactions"] = json!(doc["transactions"].as_i64().unwrap_or(0) + 1);
                }
            }
        })
        .await?;
        Ok(())
    }
}
