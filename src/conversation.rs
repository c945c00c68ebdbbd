//! Conversations: one random id per document (sent as `X-Conversation-Id` so the gateway
//! routes every turn to the same backend and its prompt cache) and the earlier turns of that
//! document, replayed byte-identical within a size budget.

use dashmap::DashMap;

use crate::llm::types::Message;

/// History budget in characters of message text (oldest turns are dropped first).
pub const DEFAULT_HISTORY_BUDGET: usize = 120_000;

#[derive(Clone, Debug)]
struct Conversation {
    id: String,
    /// Pairs of (user turn, assistant answer), oldest first.
    turns: Vec<(Message, Message)>,
}

/// The conversation of each document, keyed by URI.
#[derive(Debug)]
pub struct Conversations {
    by_document: DashMap<String, Conversation>,
    budget: usize,
}

impl Default for Conversations {
    fn default() -> Self {
        Self::new(DEFAULT_HISTORY_BUDGET)
    }
}

/// What an action needs to continue a conversation.
#[derive(Clone, Debug)]
pub struct ConversationTurn {
    pub id: String,
    pub history: Vec<Message>,
}

impl Conversations {
    pub fn new(budget: usize) -> Self {
        Conversations {
            by_document: DashMap::new(),
            budget,
        }
    }

    /// The document's conversation id (created on first use) and its history within budget.
    pub fn begin(&self, uri: &str) -> ConversationTurn {
        let entry = self
            .by_document
            .entry(uri.to_owned())
            .or_insert_with(|| Conversation {
                id: new_id(),
                turns: Vec::new(),
            });
        ConversationTurn {
            id: entry.id.clone(),
            history: history_within(&entry.turns, self.budget),
        }
    }

    /// Records a finished turn, unless the conversation was reset since it began.
    pub fn record(&self, uri: &str, id: &str, user: Message, assistant: Message) {
        if let Some(mut conversation) = self.by_document.get_mut(uri)
            && conversation.id == id
        {
            conversation.turns.push((user, assistant));
            // Keep memory bounded: turns past the budget can never be sent again.
            while conversation.turns.len() > 1
                && total_len(&conversation.turns) > self.budget.saturating_mul(2)
            {
                conversation.turns.remove(0);
            }
        }
    }

    /// Forgets the document's conversation; the next action starts a new one with a new id.
    pub fn reset(&self, uri: &str) -> bool {
        self.by_document.remove(uri).is_some()
    }

    /// Forgets every conversation; returns how many there were.
    pub fn reset_all(&self) -> usize {
        let count = self.by_document.len();
        self.by_document.clear();
        count
    }
}

fn total_len(turns: &[(Message, Message)]) -> usize {
    turns
        .iter()
        .map(|(user, assistant)| user.text_len() + assistant.text_len())
        .sum()
}

/// The newest turns whose text fits in `budget`, oldest first. Whole turns only, so the
/// replayed prefix is byte-identical to what was sent before.
pub fn history_within(turns: &[(Message, Message)], budget: usize) -> Vec<Message> {
    let mut used = 0usize;
    let mut keep = 0usize;
    for (user, assistant) in turns.iter().rev() {
        let size = user.text_len() + assistant.text_len();
        if used + size > budget {
            break;
        }
        used += size;
        keep += 1;
    }
    turns[turns.len() - keep..]
        .iter()
        .flat_map(|(user, assistant)| [user.clone(), assistant.clone()])
        .collect()
}

/// 128 random bits as 32 lowercase hex digits.
fn new_id() -> String {
    let bytes: [u8; 16] = rand::random();
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_id_per_document_until_reset() {
        let conversations = Conversations::default();
        let first = conversations.begin("file:///a.rs").id;
        assert_eq!(first.len(), 32);
        assert!(first.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(conversations.begin("file:///a.rs").id, first);
        assert_ne!(conversations.begin("file:///b.rs").id, first);
        assert!(conversations.reset("file:///a.rs"));
        assert_ne!(conversations.begin("file:///a.rs").id, first);
    }

    #[test]
    fn history_is_replayed_in_order_and_a_reset_discards_late_turns() {
        let conversations = Conversations::default();
        let turn = conversations.begin("u");
        assert!(turn.history.is_empty());
        conversations.record("u", &turn.id, Message::user("q1"), Message::assistant("a1"));
        let second = conversations.begin("u");
        assert_eq!(
            second.history,
            vec![Message::user("q1"), Message::assistant("a1")]
        );
        conversations.reset("u");
        // A turn that finishes after the reset belongs to the old conversation.
        conversations.record(
            "u",
            &second.id,
            Message::user("q2"),
            Message::assistant("a2"),
        );
        assert!(conversations.begin("u").history.is_empty());
    }

    #[test]
    fn budget_drops_oldest_whole_turns() {
        let turns = vec![
            (
                Message::user("a".repeat(50)),
                Message::assistant("b".repeat(50)),
            ),
            (
                Message::user("c".repeat(30)),
                Message::assistant("d".repeat(30)),
            ),
            (
                Message::user("e".repeat(10)),
                Message::assistant("f".repeat(10)),
            ),
        ];
        let kept = history_within(&turns, 90);
        assert_eq!(kept.len(), 4);
        assert_eq!(kept[0], Message::user("c".repeat(30)));
        assert!(history_within(&turns, 5).is_empty());
        assert_eq!(history_within(&turns, 1000).len(), 6);
    }
}
