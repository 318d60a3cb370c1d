//! Dead letters in their own stream: the message as it was, plus headers saying why,
//! for which group, after how many deliveries and when. A dead letter's id is its
//! sequence in that stream.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_nats::header::{HeaderMap, NATS_MESSAGE_ID};
use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::message::StreamMessage;
use async_nats::jetstream::stream::{
    DeleteMessageError, DeleteMessageErrorKind, RawMessageErrorKind,
};
use async_nats::jetstream::{self, ErrorCode};

use super::wire::{consumer_name, decode_message, header_value};
use super::{Group, Shared};
use crate::bus::{
    BusError, DeadLetter, PublishAck, REPLAY_GROUP_HEADER, REPLAY_OF_HEADER, validate_topic,
};

const REASON_HEADER: &str = "Switchyard-Dead-Letter-Reason";
const GROUP_HEADER: &str = "Switchyard-Dead-Letter-Group";
const TOPIC_HEADER: &str = "Switchyard-Dead-Letter-Topic";
const DELIVERIES_HEADER: &str = "Switchyard-Dead-Letter-Deliveries";
/// Unix time in milliseconds.
const FAILED_AT_HEADER: &str = "Switchyard-Dead-Letter-Failed-At";

/// Headers this library adds, never shown as application headers.
pub(super) const INTERNAL_HEADERS: [&str; 5] = [
    REASON_HEADER,
    GROUP_HEADER,
    TOPIC_HEADER,
    DELIVERIES_HEADER,
    FAILED_AT_HEADER,
];

/// Publishes a delivery that `group` gave up on to the dead-letter stream. Publishing
/// it twice (a retry after a lost answer) is de-duplicated by group and stream sequence.
pub(super) async fn publish(
    shared: &Shared,
    group: &Group,
    message: &jetstream::Message,
    sequence: u64,
    reason: &str,
    deliveries: u32,
) -> Result<(), BusError> {
    let mut headers = HeaderMap::new();
    for (name, values) in message.headers.iter().flat_map(HeaderMap::iter) {
        let name_str: &str = name.as_ref();
        if name_str.len() >= 5 && name_str[..5].eq_ignore_ascii_case("nats-") {
            continue;
        }
        for value in values {
            headers.append(name.clone(), value.clone());
        }
    }
    let failed_at = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis();
    // Reasons come from applications and errors: keep them on one header line.
    let reason = reason.replace(['\r', '\n'], " ");
    headers.insert(REASON_HEADER, header_value(&reason)?);
    headers.insert(GROUP_HEADER, header_value(&group.group)?);
    headers.insert(TOPIC_HEADER, header_value(&group.topic)?);
    headers.insert(DELIVERIES_HEADER, header_value(&deliveries.to_string())?);
    headers.insert(FAILED_AT_HEADER, header_value(&failed_at.to_string())?);
    headers.insert(
        NATS_MESSAGE_ID,
        header_value(&format!(
            "{}:{sequence}",
            consumer_name(&group.topic, &group.group)
        ))?,
    );
    let subject = shared.dlq_subject(&group.topic);
    let failed = |err: String| BusError::Publish {
        topic: subject.clone(),
        reason: err,
    };
    let publish = PublishMessage::build()
        .payload(message.payload.clone())
        .headers(headers);
    let ack = shared
        .js
        .send_publish(subject.clone(), publish)
        .await
        .map_err(|err| failed(err.to_string()))?
        .await
        .map_err(|err| failed(err.to_string()))?;
    if !ack.duplicate {
        group
            .dead_lettered
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tracing::debug!(topic = %group.topic, group = %group.group, id = ack.sequence, %reason, "dead letter");
    }
    Ok(())
}

/// Dead letters of `topic` (all when `None`), oldest first.
pub(super) async fn list(
    shared: &Shared,
    topic: Option<&str>,
) -> Result<Vec<DeadLetter>, BusError> {
    let filter = match topic {
        Some(topic) => {
            validate_topic(topic)?;
            shared.dlq_subject(topic)
        }
        None => format!("{}.dlq.>", shared.options.prefix),
    };
    let mut letters = Vec::new();
    let mut sequence = 1;
    loop {
        // The first message at or after `sequence` on the filter: skips replayed ones.
        let found = shared
            .dead_letters
            .raw_message_builder()
            .sequence(sequence)
            .next_by_subject(filter.clone())
            .send()
            .await;
        match found {
            Ok(stored) => {
                sequence = stored.sequence + 1;
                letters.push(to_dead_letter(shared, stored));
            }
            Err(err) if err.kind() == RawMessageErrorKind::NoMessageFound => break,
            Err(err) => return Err(BusError::Broker(format!("reading dead letters: {err}"))),
        }
    }
    Ok(letters)
}

/// Publishes dead letter `id` again, to its group only, then deletes it.
pub(super) async fn replay(shared: &Shared, id: u64) -> Result<PublishAck, BusError> {
    let stored = shared
        .dead_letters
        .get_raw_message(id)
        .await
        .map_err(|err| match err.kind() {
            RawMessageErrorKind::NoMessageFound => BusError::UnknownDeadLetter(id),
            _ => BusError::Broker(format!("reading dead letter {id}: {err}")),
        })?;
    let letter = to_dead_letter(shared, stored);
    let key = format!("{}#replay-{id}", letter.message.id);
    let topic = letter.message.topic.clone();
    let message = letter
        .message
        .with_header(REPLAY_OF_HEADER, id.to_string())
        .with_header(REPLAY_GROUP_HEADER, letter.group);
    let ack = shared
        .send_keyed(message, &key, None)
        .await?
        .await
        .map_err(|reason| BusError::Publish { topic, reason })?;
    match shared.dead_letters.delete_message(id).await {
        Ok(_) => Ok(ack),
        // Replayed concurrently by someone else: the de-duplication key kept it single.
        Err(err) if is_gone(&err) => Ok(ack),
        Err(err) => Err(BusError::Broker(format!(
            "replayed dead letter {id} but cannot delete it: {err}"
        ))),
    }
}

fn is_gone(err: &DeleteMessageError) -> bool {
    match err.kind() {
        DeleteMessageErrorKind::JetStream(err) => {
            err.error_code() == ErrorCode::NO_MESSAGE_FOUND
                || err.to_string().contains("no message found")
        }
        _ => false,
    }
}

fn to_dead_letter(shared: &Shared, stored: StreamMessage) -> DeadLetter {
    let header = |name: &str| stored.headers.get(name).map(|v| v.as_str().to_owned());
    let topic = header(TOPIC_HEADER).unwrap_or_else(|| {
        let prefix = format!("{}.dlq.", shared.options.prefix);
        stored
            .subject
            .as_str()
            .strip_prefix(&prefix)
            .unwrap_or(stored.subject.as_str())
            .to_owned()
    });
    let failed_at = header(FAILED_AT_HEADER)
        .and_then(|ms| ms.parse().ok())
        .map_or(UNIX_EPOCH, |ms| UNIX_EPOCH + Duration::from_millis(ms));
    DeadLetter {
        id: stored.sequence,
        group: header(GROUP_HEADER).unwrap_or_default(),
        reason: header(REASON_HEADER).unwrap_or_default(),
        deliveries: header(DELIVERIES_HEADER)
            .and_then(|n| n.parse().ok())
            .unwrap_or_default(),
        failed_at,
        message: decode_message(
            &topic,
            Some(&stored.headers),
            stored.payload,
            &INTERNAL_HEADERS,
        ),
    }
}
