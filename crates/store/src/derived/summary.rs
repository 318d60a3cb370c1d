//! A saga instance's summary, computed from all of its spans.
//!
//! A pure function of the set of spans: whichever order and batches they
//! arrive in, recomputing after the last one gives the same rows.

use std::collections::BTreeMap;

use switchyard_conventions::saga::SagaOutcome;

use super::buckets;
use super::saga::{SagaSpanKind, SagaSpanRow};

/// OTLP status code ERROR.
const ERROR: i32 = 2;

/// Outcome of an instance whose root span has not been seen (choreography,
/// or an orchestrated saga still running).
pub const UNKNOWN_OUTCOME: &str = "unknown";

/// One row of `saga_instances`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct InstanceRow {
    pub(crate) saga_id: String,
    pub(crate) saga_name: String,
    pub(crate) outcome: String,
    pub(crate) failed: bool,
    pub(crate) failed_step: Option<String>,
    pub(crate) failed_step_index: Option<i64>,
    pub(crate) error: Option<String>,
    pub(crate) trace_id: Vec<u8>,
    pub(crate) start_time: i64,
    pub(crate) end_time: i64,
    pub(crate) steps: i64,
    pub(crate) compensations: i64,
    pub(crate) attempts: i64,
    pub(crate) spans: i64,
    pub(crate) has_root: bool,
    pub(crate) last_span_row: i64,
}

/// How a step ended for one instance; the numbers are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepResult {
    Passed = 0,
    Failed = 1,
    /// Only compensation attempts seen so far.
    Unfinished = 2,
}

impl StepResult {
    pub fn from_stored(code: i64) -> Self {
        match code {
            0 => StepResult::Passed,
            1 => StepResult::Failed,
            _ => StepResult::Unfinished,
        }
    }
}

/// Whether a step was undone; the numbers are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compensation {
    None = 0,
    Done = 1,
    Failed = 2,
}

impl Compensation {
    pub fn from_stored(code: i64) -> Self {
        match code {
            1 => Compensation::Done,
            2 => Compensation::Failed,
            _ => Compensation::None,
        }
    }
}

/// One row of `saga_step_results`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StepResultRow {
    pub(crate) saga_id: String,
    pub(crate) step_name: String,
    pub(crate) saga_name: String,
    pub(crate) saga_start: i64,
    pub(crate) step_index: Option<i64>,
    pub(crate) result: StepResult,
    pub(crate) compensation: Compensation,
    pub(crate) attempts: i64,
    pub(crate) duration: i64,
    pub(crate) duration_bucket: i64,
}

/// Attempts of one step, forward and compensating.
#[derive(Default)]
struct Step<'a> {
    index: Option<i64>,
    forward: Vec<&'a SagaSpanRow>,
    compensate: Vec<&'a SagaSpanRow>,
}

/// The attempt that counts: the highest attempt number, then the latest.
fn last<'a>(attempts: &[&'a SagaSpanRow]) -> Option<&'a SagaSpanRow> {
    attempts
        .iter()
        .copied()
        .max_by_key(|s| (s.attempt.unwrap_or(0), s.end_time, s.start_time))
}

/// Summarizes one instance; `spans` are all of its stored spans (not empty).
pub(crate) fn summarize(spans: &[SagaSpanRow]) -> (InstanceRow, Vec<StepResultRow>) {
    let roots: Vec<&SagaSpanRow> = spans
        .iter()
        .filter(|s| s.kind == SagaSpanKind::Root)
        .collect();
    // A resumed instance has a root per run; the last run says how it ended.
    let last_root = roots
        .iter()
        .copied()
        .max_by_key(|r| (r.end_time, r.start_time));
    let first_root = roots.iter().copied().min_by_key(|r| r.start_time);
    let saga_name = first_root
        .map(|r| r.saga_name.clone())
        .or_else(|| {
            spans
                .iter()
                .find(|s| !s.saga_name.is_empty())
                .map(|s| s.saga_name.clone())
        })
        .unwrap_or_default();
    let earliest = spans
        .iter()
        .min_by_key(|s| s.start_time)
        .expect("not empty");
    let trace_id = first_root.unwrap_or(earliest).trace_id.clone();
    let start_time = earliest.start_time;
    let end_time = spans.iter().map(|s| s.end_time).max().unwrap_or(start_time);

    // Steps by name, in the order of their index (participants: first start).
    let mut steps: BTreeMap<&str, Step<'_>> = BTreeMap::new();
    for span in spans.iter().filter(|s| s.kind != SagaSpanKind::Root) {
        let step = steps.entry(span.name.as_str()).or_default();
        step.index = step.index.or(span.step_index);
        if span.phase == Some(1) {
            step.compensate.push(span);
        } else {
            step.forward.push(span);
        }
    }

    let mut failed_step: Option<(&str, &Step<'_>, &SagaSpanRow)> = None;
    let mut results = Vec::with_capacity(steps.len());
    let mut attempts = 0;
    let mut compensations = 0;
    for (name, step) in &steps {
        attempts += (step.forward.len() + step.compensate.len()) as i64;
        let result = match last(&step.forward) {
            None => StepResult::Unfinished,
            Some(attempt) if attempt.status_code == ERROR => {
                // The failed step is the furthest one along: highest index,
                // then the latest to end.
                let further = match failed_step {
                    None => true,
                    Some((_, s, a)) => (step.index, attempt.end_time) > (s.index, a.end_time),
                };
                if further {
                    failed_step = Some((name, step, attempt));
                }
                StepResult::Failed
            }
            Some(_) => StepResult::Passed,
        };
        let compensation = match last(&step.compensate) {
            None => Compensation::None,
            Some(a) if a.status_code == ERROR => Compensation::Failed,
            Some(_) => Compensation::Done,
        };
        if compensation != Compensation::None {
            compensations += 1;
        }
        let duration = match (
            step.forward.iter().map(|s| s.start_time).min(),
            step.forward.iter().map(|s| s.end_time).max(),
        ) {
            (Some(start), Some(end)) => (end - start).max(0),
            _ => 0,
        };
        results.push(StepResultRow {
            saga_id: earliest.saga_id.clone(),
            step_name: (*name).to_owned(),
            saga_name: saga_name.clone(),
            saga_start: start_time,
            step_index: step.index,
            result,
            compensation,
            attempts: step.forward.len() as i64,
            duration,
            duration_bucket: buckets::bucket(duration),
        });
    }

    let outcome = match last_root {
        Some(root) => root
            .outcome
            .as_deref()
            .and_then(|o| o.parse::<SagaOutcome>().ok())
            .map_or(UNKNOWN_OUTCOME, SagaOutcome::as_str),
        None => UNKNOWN_OUTCOME,
    }
    .to_owned();
    let error = failed_step
        .and_then(|(_, _, attempt)| attempt.status_message.clone())
        .or_else(|| last_root.and_then(|r| r.status_message.clone()));
    let failed = failed_step.is_some()
        || outcome == SagaOutcome::Compensated.as_str()
        || outcome == SagaOutcome::Failed.as_str();
    let instance = InstanceRow {
        saga_id: earliest.saga_id.clone(),
        saga_name,
        outcome,
        failed,
        failed_step: failed_step.map(|(name, _, _)| name.to_owned()),
        failed_step_index: failed_step.and_then(|(_, step, _)| step.index),
        error,
        trace_id,
        start_time,
        end_time,
        steps: steps.values().filter(|s| !s.forward.is_empty()).count() as i64,
        compensations,
        attempts,
        spans: spans.len() as i64,
        has_root: last_root.is_some(),
        last_span_row: spans.iter().map(|s| s.span_row).max().unwrap_or(0),
    };
    (instance, results)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root(outcome: Option<&str>, start: i64, end: i64) -> SagaSpanRow {
        SagaSpanRow {
            saga_id: "o-1".into(),
            span_id: vec![1; 8],
            trace_id: vec![9; 16],
            kind: SagaSpanKind::Root,
            saga_name: "checkout".into(),
            name: "checkout".into(),
            service_name: "orders".into(),
            step_index: None,
            phase: None,
            attempt: None,
            outcome: outcome.map(str::to_owned),
            start_time: start,
            end_time: end,
            status_code: 0,
            status_message: None,
            span_row: 0,
        }
    }

    fn step(
        name: &str,
        index: i64,
        phase: i64,
        attempt: i64,
        error: Option<&str>,
        start: i64,
    ) -> SagaSpanRow {
        SagaSpanRow {
            kind: SagaSpanKind::Step,
            name: name.into(),
            step_index: Some(index),
            phase: Some(phase),
            attempt: Some(attempt),
            outcome: None,
            start_time: start,
            end_time: start + 10,
            status_code: if error.is_some() { ERROR } else { 1 },
            status_message: error.map(str::to_owned),
            span_id: vec![(start % 250) as u8 + 2; 8],
            ..root(None, 0, 0)
        }
    }

    #[test]
    fn a_retried_step_that_succeeded_did_not_fail() {
        let spans = [
            step("reserve", 0, 0, 1, None, 100),
            step("charge", 1, 0, 1, Some("timeout"), 200),
            step("charge", 1, 0, 2, None, 300),
            root(Some("completed"), 50, 400),
        ];
        let (instance, steps) = summarize(&spans);
        assert_eq!(instance.outcome, "completed");
        assert!(!instance.failed);
        assert_eq!(instance.failed_step, None);
        assert_eq!((instance.steps, instance.attempts), (2, 3));
        let charge = steps.iter().find(|s| s.step_name == "charge").unwrap();
        assert_eq!(
            (charge.result, charge.attempts, charge.duration),
            (StepResult::Passed, 2, 110)
        );
    }

    #[test]
    fn a_compensated_saga_names_its_failed_step_and_error() {
        let spans = [
            step("reserve", 0, 0, 1, None, 100),
            step("charge", 1, 0, 1, Some("declined"), 200),
            step("charge", 1, 0, 2, Some("card declined"), 300),
            step("reserve", 0, 1, 1, None, 400),
            root(Some("compensated"), 50, 500),
        ];
        let (instance, steps) = summarize(&spans);
        assert_eq!(instance.outcome, "compensated");
        assert!(instance.failed);
        assert_eq!(instance.failed_step.as_deref(), Some("charge"));
        assert_eq!(instance.failed_step_index, Some(1));
        assert_eq!(instance.error.as_deref(), Some("card declined"));
        assert_eq!(instance.compensations, 1);
        let reserve = steps.iter().find(|s| s.step_name == "reserve").unwrap();
        assert_eq!(
            (reserve.result, reserve.compensation),
            (StepResult::Passed, Compensation::Done)
        );
    }

    #[test]
    fn order_of_spans_does_not_matter() {
        let mut spans = vec![
            root(Some("compensated"), 50, 500),
            step("charge", 1, 0, 2, Some("card declined"), 300),
            step("reserve", 0, 1, 1, None, 400),
            step("reserve", 0, 0, 1, None, 100),
            step("charge", 1, 0, 1, Some("declined"), 200),
        ];
        let first = summarize(&spans);
        spans.reverse();
        let mut second = summarize(&spans);
        second.1.sort_by(|a, b| a.step_name.cmp(&b.step_name));
        assert_eq!(first.0, second.0);
    }

    #[test]
    fn without_a_root_the_outcome_is_unknown() {
        let spans = [step("reserve", 0, 0, 1, None, 100)];
        let (instance, _) = summarize(&spans);
        assert_eq!(instance.outcome, UNKNOWN_OUTCOME);
        assert!(!instance.has_root && !instance.failed);
        assert_eq!((instance.start_time, instance.end_time), (100, 110));
    }

    #[test]
    fn the_last_run_of_a_resumed_saga_decides() {
        let spans = [root(None, 0, 100), root(Some("completed"), 200, 300)];
        assert_eq!(summarize(&spans).0.outcome, "completed");
    }
}
