//! What the model calls cost: the tokens of one action in words (for a progress end and the
//! CLI's summary line), and the session's totals per model and per kind of request
//! (`chatls.usage`). Pure bookkeeping, no I/O; knows nothing of LSP.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use crate::llm::types::Usage;

/// What a request was for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum UsageKind {
    /// Explain, Refactor, Fix and every other action (each tool round is a request).
    Actions,
    /// Completions while typing.
    Completions,
}

impl UsageKind {
    pub const ALL: [UsageKind; 2] = [UsageKind::Actions, UsageKind::Completions];

    pub fn as_str(self) -> &'static str {
        match self {
            UsageKind::Actions => "actions",
            UsageKind::Completions => "completions",
        }
    }
}

/// Token totals of some requests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    pub requests: u64,
    pub prompt_tokens: u64,
    pub cached_tokens: u64,
    pub completion_tokens: u64,
    /// How many of the requests have estimated counts: the upstream sent no usage (it sends
    /// it last, and a completion stops reading once its suggestion is complete).
    pub estimated_requests: u64,
}

impl Totals {
    fn add(&mut self, other: &Totals) {
        self.requests += other.requests;
        self.prompt_tokens += other.prompt_tokens;
        self.cached_tokens += other.cached_tokens;
        self.completion_tokens += other.completion_tokens;
        self.estimated_requests += other.estimated_requests;
    }

    fn of(usage: &Usage) -> Totals {
        Totals {
            requests: 1,
            prompt_tokens: usage.prompt_tokens,
            cached_tokens: usage.cached_tokens(),
            completion_tokens: usage.completion_tokens,
            estimated_requests: 0,
        }
    }

    fn to_json(self) -> Value {
        json!({
            "requests": self.requests,
            "promptTokens": self.prompt_tokens,
            "cachedTokens": self.cached_tokens,
            "completionTokens": self.completion_tokens,
            "estimatedRequests": self.estimated_requests,
        })
    }
}

/// The characters of a request and of the answer read, for an estimate when the upstream
/// reports no usage.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Estimate {
    pub sent_chars: u64,
    pub received_chars: u64,
}

/// The usual rule of thumb for English text and code with BPE tokenizers.
pub const CHARS_PER_TOKEN: u64 = 4;

/// The session's token totals. Cheap to clone; clones share the totals.
#[derive(Clone, Default)]
pub struct UsageLedger {
    totals: Arc<Mutex<BTreeMap<(String, UsageKind), Totals>>>,
}

impl UsageLedger {
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts one request's usage (as the upstream reported it) for `model`.
    pub fn record(&self, kind: UsageKind, model: &str, usage: &Usage) {
        let mut totals = self
            .totals
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        totals
            .entry((model.to_owned(), kind))
            .or_default()
            .add(&Totals::of(usage));
    }

    /// Counts one completion request: as the upstream reported it, or, when it reported
    /// nothing (reading stopped early), estimated from the characters sent and received at
    /// [`CHARS_PER_TOKEN`] and counted as estimated.
    pub fn record_completion(&self, model: &str, measured: Option<&Usage>, estimate: Estimate) {
        let entry = match measured {
            Some(usage) => Totals::of(usage),
            None => Totals {
                requests: 1,
                prompt_tokens: estimate.sent_chars.div_ceil(CHARS_PER_TOKEN),
                cached_tokens: 0,
                completion_tokens: estimate.received_chars.div_ceil(CHARS_PER_TOKEN),
                estimated_requests: 1,
            },
        };
        let mut totals = self
            .totals
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        totals
            .entry((model.to_owned(), UsageKind::Completions))
            .or_default()
            .add(&entry);
    }

    /// The totals of one kind, over every model.
    pub fn kind_totals(&self, kind: UsageKind) -> Totals {
        let totals = self
            .totals
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut sum = Totals::default();
        for ((_, of_kind), entry) in totals.iter() {
            if *of_kind == kind {
                sum.add(entry);
            }
        }
        sum
    }

    /// What `chatls.usage` answers: `{"total", "byKind": {"actions", "completions"},
    /// "byModel": {"<model>": {"total", "actions", "completions"}}}`, each
    /// `{"requests", "promptTokens", "cachedTokens", "completionTokens"}`.
    pub fn report(&self) -> Value {
        let totals = self
            .totals
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone();
        let mut total = Totals::default();
        let mut by_kind: BTreeMap<UsageKind, Totals> = UsageKind::ALL
            .iter()
            .map(|kind| (*kind, Totals::default()))
            .collect();
        let mut by_model: BTreeMap<String, BTreeMap<UsageKind, Totals>> = BTreeMap::new();
        for ((model, kind), entry) in &totals {
            total.add(entry);
            by_kind.entry(*kind).or_default().add(entry);
            by_model
                .entry(model.clone())
                .or_default()
                .entry(*kind)
                .or_default()
                .add(entry);
        }
        let by_model: serde_json::Map<String, Value> = by_model
            .into_iter()
            .map(|(model, kinds)| {
                let mut model_total = Totals::default();
                let mut object = serde_json::Map::new();
                for kind in UsageKind::ALL {
                    let entry = kinds.get(&kind).copied().unwrap_or_default();
                    model_total.add(&entry);
                    object.insert(kind.as_str().to_owned(), entry.to_json());
                }
                object.insert("total".to_owned(), model_total.to_json());
                (model, Value::Object(object))
            })
            .collect();
        json!({
            "total": total.to_json(),
            "byKind": by_kind
                .into_iter()
                .map(|(kind, entry)| (kind.as_str().to_owned(), entry.to_json()))
                .collect::<serde_json::Map<_, _>>(),
            "byModel": by_model,
        })
    }
}

/// One action's tokens in words: "1,200 prompt (1,000 cached) + 80 completion tokens".
/// The cached part is left out when the upstream did not report it.
pub fn describe(usage: &Usage) -> String {
    let cached = match usage.prompt_tokens_details {
        Some(details) => format!(" ({} cached)", thousands(details.cached_tokens)),
        None => String::new(),
    };
    format!(
        "{} prompt{cached} + {} completion tokens",
        thousands(usage.prompt_tokens),
        thousands(usage.completion_tokens)
    )
}

fn thousands(number: u64) -> String {
    let digits = number.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::types::PromptTokensDetails;

    fn usage(prompt: u64, cached: Option<u64>, completion: u64) -> Usage {
        Usage {
            prompt_tokens: prompt,
            completion_tokens: completion,
            total_tokens: prompt + completion,
            prompt_tokens_details: cached
                .map(|cached_tokens| PromptTokensDetails { cached_tokens }),
        }
    }

    #[test]
    fn the_words_show_cached_tokens_only_when_reported() {
        assert_eq!(
            describe(&usage(1200, Some(1000), 80)),
            "1,200 prompt (1,000 cached) + 80 completion tokens"
        );
        assert_eq!(
            describe(&usage(12, None, 3)),
            "12 prompt + 3 completion tokens"
        );
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(100), "100");
    }

    #[test]
    fn totals_per_model_and_kind() {
        let ledger = UsageLedger::new();
        ledger.record(UsageKind::Actions, "big", &usage(100, Some(60), 10));
        ledger.record(UsageKind::Actions, "big", &usage(50, None, 5));
        ledger.record_completion("small", Some(&usage(20, Some(20), 2)), Estimate::default());
        let report = ledger.report();
        assert_eq!(report["total"]["requests"], 3);
        assert_eq!(report["total"]["promptTokens"], 170);
        assert_eq!(report["total"]["cachedTokens"], 80);
        assert_eq!(report["byKind"]["actions"]["completionTokens"], 15);
        assert_eq!(report["byKind"]["completions"]["requests"], 1);
        assert_eq!(report["byModel"]["big"]["actions"]["promptTokens"], 150);
        assert_eq!(report["byModel"]["big"]["completions"]["requests"], 0);
        assert_eq!(report["byModel"]["small"]["total"]["cachedTokens"], 20);
        assert_eq!(ledger.kind_totals(UsageKind::Actions).requests, 2);
        assert_eq!(report["total"]["estimatedRequests"], 0);
    }

    #[test]
    fn a_completion_without_reported_usage_is_estimated_and_marked() {
        let ledger = UsageLedger::new();
        let estimate = Estimate {
            sent_chars: 4001,
            received_chars: 40,
        };
        ledger.record_completion("small", None, estimate);
        let report = ledger.report();
        let completions = &report["byKind"]["completions"];
        assert_eq!(completions["requests"], 1);
        assert_eq!(completions["promptTokens"], 1001);
        assert_eq!(completions["completionTokens"], 10);
        assert_eq!(completions["estimatedRequests"], 1);
        assert_eq!(report["byModel"]["small"]["total"]["estimatedRequests"], 1);
    }
}
