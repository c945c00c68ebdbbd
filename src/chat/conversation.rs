//! Conversations: one random id per document (sent as `X-Conversation-Id` so the gateway
//! routes every turn to the same backend and its prompt cache) and the earlier turns of that
//! document, replayed byte-identical within a size budget. A turn is made fit for the history
//! once, when it is recorded: its images become a short note (they were sent with the turn
//! itself and are not sent again), and a message longer than a quarter of the budget is cut
//! in the middle, so one big turn cannot push every other turn out.
//! A conversation's transcript is registered under its file too, so a follow-up
//! written there continues the same conversation even after the code's document was closed.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use dashmap::DashMap;

use crate::llm::types::{Content, ContentPart, Message};

/// History budget in characters of message text (oldest turns are dropped first).
pub const DEFAULT_HISTORY_BUDGET: usize = 120_000;

#[derive(Clone, Debug)]
struct Conversation {
    id: String,
    /// Pairs of (user turn, assistant answer), oldest first.
    turns: Vec<(Message, Message)>,
    /// The markdown transcript of its answers, once one was written.
    transcript: Option<PathBuf>,
}

type Shared = Arc<Mutex<Conversation>>;

fn lock(conversation: &Shared) -> MutexGuard<'_, Conversation> {
    conversation
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The conversation of each document, keyed by URI (a transcript's URI leads to the
/// conversation it records).
#[derive(Debug)]
pub struct Conversations {
    by_document: DashMap<String, Shared>,
    /// Keys the person reset: a transcript's recorded turns are not brought back under them.
    reset_keys: DashMap<String, ()>,
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
    /// Where its transcript is, when it has one.
    pub transcript: Option<PathBuf>,
}

impl Conversations {
    pub fn new(budget: usize) -> Self {
        Conversations {
            by_document: DashMap::new(),
            reset_keys: DashMap::new(),
            budget,
        }
    }

    /// The document's conversation id (created on first use) and its history within budget.
    pub fn begin(&self, uri: &str) -> ConversationTurn {
        let shared = self
            .by_document
            .entry(uri.to_owned())
            .or_insert_with(|| {
                Arc::new(Mutex::new(Conversation {
                    id: new_id(),
                    turns: Vec::new(),
                    transcript: None,
                }))
            })
            .clone();
        let conversation = lock(&shared);
        ConversationTurn {
            id: conversation.id.clone(),
            history: history_within(&conversation.turns, self.budget),
            transcript: conversation.transcript.clone(),
        }
    }

    /// The conversation under `uri` without creating one.
    pub fn existing(&self, uri: &str) -> Option<ConversationTurn> {
        let shared = self.by_document.get(uri)?.clone();
        let conversation = lock(&shared);
        Some(ConversationTurn {
            id: conversation.id.clone(),
            history: history_within(&conversation.turns, self.budget),
            transcript: conversation.transcript.clone(),
        })
    }

    /// Records a finished turn, unless the conversation was reset since it began.
    pub fn record(&self, uri: &str, id: &str, user: Message, assistant: Message) {
        let Some(shared) = self.by_document.get(uri).map(|entry| entry.clone()) else {
            return;
        };
        let mut conversation = lock(&shared);
        if conversation.id == id {
            self.push_turn(&mut conversation, user, assistant);
        }
    }

    /// A turn made fit for the history; turns past the budget are dropped, oldest first
    /// (they can never be sent again).
    fn push_turn(&self, conversation: &mut Conversation, user: Message, assistant: Message) {
        let cap = message_cap(self.budget);
        conversation
            .turns
            .push((for_history(user, cap), for_history(assistant, cap)));
        while conversation.turns.len() > 1
            && total_len(&conversation.turns) > self.budget.saturating_mul(2)
        {
            conversation.turns.remove(0);
        }
    }

    /// Brings back the conversation of a transcript this server has not seen (one written
    /// in an earlier session) from the turns it records, under `key`, with a new id. Nothing
    /// changes when a conversation is already there (the one in memory is exact) or when the
    /// person reset it.
    /// `turns` is only asked for then.
    pub fn resume(
        &self,
        key: &str,
        transcript: PathBuf,
        turns: impl FnOnce() -> Vec<(String, String)>,
    ) {
        if self.reset_keys.contains_key(key) {
            return;
        }
        self.by_document.entry(key.to_owned()).or_insert_with(|| {
            let mut conversation = Conversation {
                id: new_id(),
                turns: Vec::new(),
                transcript: Some(transcript),
            };
            for (user, assistant) in turns() {
                self.push_turn(
                    &mut conversation,
                    Message::user(user),
                    Message::assistant(assistant),
                );
            }
            Arc::new(Mutex::new(conversation))
        });
    }

    /// Notes the conversation's transcript and makes its key (see `chat::files::conversation_key`) lead to
    /// the same conversation, for as long as the server runs.
    pub fn set_transcript(&self, uri: &str, id: &str, path: PathBuf, transcript_key: &str) {
        let Some(shared) = self.by_document.get(uri).map(|entry| entry.clone()) else {
            return;
        };
        {
            let mut conversation = lock(&shared);
            if conversation.id != id {
                return;
            }
            conversation.transcript = Some(path);
        }
        self.by_document.insert(transcript_key.to_owned(), shared);
    }

    /// Forgets the document's conversation; the next action starts a new one with a new id
    /// (and a new transcript). Through a transcript's URI, the conversation is forgotten
    /// under every URI that leads to it.
    pub fn reset(&self, uri: &str) -> bool {
        self.reset_keys.insert(uri.to_owned(), ());
        let Some((_, shared)) = self.by_document.remove(uri) else {
            return false;
        };
        self.by_document.retain(|key, other| {
            let same = Arc::ptr_eq(other, &shared);
            if same {
                self.reset_keys.insert(key.clone(), ());
            }
            !same
        });
        true
    }

    /// Forgets the conversation of a closed document, unless a transcript still leads to it.
    pub fn close(&self, uri: &str) {
        self.by_document.remove(uri);
    }

    /// Forgets every conversation; returns how many there were.
    pub fn reset_all(&self) -> usize {
        let mut distinct: Vec<Shared> = Vec::new();
        for entry in self.by_document.iter() {
            self.reset_keys.insert(entry.key().clone(), ());
            if !distinct.iter().any(|seen| Arc::ptr_eq(seen, entry.value())) {
                distinct.push(entry.value().clone());
            }
        }
        self.by_document.clear();
        distinct.len()
    }
}

fn total_len(turns: &[(Message, Message)]) -> usize {
    turns
        .iter()
        .map(|(user, assistant)| user.text_len() + assistant.text_len())
        .sum()
}

/// The newest turns whose text fits in `budget`, oldest first. Whole turns only, so the
/// replayed prefix is byte-identical to what was sent before. Turns come from [`Conversations::record`],
/// already fit for the history; should the newest one still not fit, it is cut (the same way
/// every time) rather than dropping the whole conversation.
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
    if keep == 0
        && let Some((user, assistant)) = turns.last()
    {
        let cap = budget / 2;
        return vec![
            for_history(user.clone(), cap),
            for_history(assistant.clone(), cap),
        ];
    }
    turns[turns.len() - keep..]
        .iter()
        .flat_map(|(user, assistant)| [user.clone(), assistant.clone()])
        .collect()
}

/// The longest text one recorded message keeps: a quarter of the budget, so at least two
/// turns always fit.
fn message_cap(budget: usize) -> usize {
    budget / 4
}

/// A message as the history keeps it: text only (each image replaced by a note saying it is
/// not sent again) and at most `cap` bytes, cut in the middle with a marker.
fn for_history(mut message: Message, cap: usize) -> Message {
    if let Some(Content::Parts(parts)) = &message.content {
        let mut text = String::new();
        for part in parts {
            match part {
                ContentPart::Text { text: piece } => {
                    if !text.is_empty() {
                        text.push_str("\n\n");
                    }
                    text.push_str(piece);
                }
                ContentPart::ImageUrl { image_url } => {
                    let kind = image_url
                        .url
                        .strip_prefix("data:")
                        .and_then(|rest| rest.split(';').next())
                        .filter(|mime| mime.starts_with("image/"))
                        .unwrap_or("image");
                    text.push_str(&format!(
                        "\n\n[an {kind} was attached to this turn; it is not sent again]"
                    ));
                }
            }
        }
        message.content = Some(Content::Text(text));
    }
    if let Some(Content::Text(text)) = &mut message.content
        && text.len() > cap
    {
        *text = cut_middle(text, cap);
    }
    message
}

/// `text` in about `cap` bytes (never less than the marker): its start (two thirds) and its
/// end (one third) around a marker saying how much was left out. Cut on character boundaries.
fn cut_middle(text: &str, cap: usize) -> String {
    let marker = |left_out: usize| {
        format!("\n[… {left_out} characters of this earlier turn are left out of the history …]\n")
    };
    // Room for the text kept, with the marker at the widest count it can show.
    let room = cap.saturating_sub(marker(text.len()).len());
    let head_end = floor_boundary(text, room * 2 / 3);
    let tail_len = room - head_end;
    let tail_start = ceil_boundary(text, text.len().saturating_sub(tail_len)).max(head_end);
    let left_out = text[head_end..tail_start].chars().count();
    format!(
        "{}{}{}",
        &text[..head_end],
        marker(left_out),
        &text[tail_start..]
    )
}

fn floor_boundary(text: &str, mut index: usize) -> usize {
    index = index.min(text.len());
    while !text.is_char_boundary(index) {
        index -= 1;
    }
    index
}

fn ceil_boundary(text: &str, mut index: usize) -> usize {
    index = index.min(text.len());
    while !text.is_char_boundary(index) {
        index += 1;
    }
    index
}

/// 128 random bits as 32 lowercase hex digits.
/// A fresh random 128-bit id in hex (also the completion requests' per-document id).
pub fn new_id() -> String {
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
    fn a_transcript_of_an_earlier_session_brings_its_turns_back_once() {
        let conversations = Conversations::default();
        let turns = || {
            vec![
                ("q1".to_owned(), "a1".to_owned()),
                ("q2".to_owned(), "a2".to_owned()),
            ]
        };
        conversations.resume("transcript:/t/old.md", "/t/old.md".into(), turns);
        let resumed = conversations.existing("transcript:/t/old.md").unwrap();
        let texts: Vec<String> = resumed
            .history
            .iter()
            .map(|message| serde_json::to_value(message).unwrap()["content"].to_string())
            .collect();
        assert_eq!(texts, ["\"q1\"", "\"a1\"", "\"q2\"", "\"a2\""]);
        assert_eq!(resumed.transcript, Some(PathBuf::from("/t/old.md")));
        // The conversation in memory is exact: a second resume changes nothing.
        conversations.resume("transcript:/t/old.md", "/t/old.md".into(), || {
            panic!("not asked for: a conversation is there")
        });
        assert_eq!(
            conversations.existing("transcript:/t/old.md").unwrap().id,
            resumed.id
        );
        // What the person reset stays reset.
        assert!(conversations.reset("transcript:/t/old.md"));
        conversations.resume("transcript:/t/old.md", "/t/old.md".into(), turns);
        assert!(conversations.existing("transcript:/t/old.md").is_none());
        conversations.resume("transcript:/t/other.md", "/t/other.md".into(), turns);
        assert_eq!(conversations.reset_all(), 1);
        conversations.resume("transcript:/t/other.md", "/t/other.md".into(), turns);
        assert!(conversations.existing("transcript:/t/other.md").is_none());
    }

    #[test]
    fn a_transcript_leads_to_the_same_conversation_until_reset() {
        let conversations = Conversations::default();
        let turn = conversations.begin("file:///a.rs");
        conversations.record(
            "file:///a.rs",
            &turn.id,
            Message::user("q"),
            Message::assistant("a"),
        );
        conversations.set_transcript("file:///a.rs", &turn.id, "/t/a.md".into(), "file:///t/a.md");
        let through = conversations.existing("file:///t/a.md").unwrap();
        assert_eq!(through.id, turn.id);
        assert_eq!(through.history.len(), 2);
        assert_eq!(through.transcript, Some(PathBuf::from("/t/a.md")));
        // Closing the code's document keeps the conversation for its transcript.
        conversations.close("file:///a.rs");
        assert_eq!(
            conversations.existing("file:///t/a.md").unwrap().id,
            turn.id
        );
        // A reset through the transcript forgets it everywhere.
        conversations.begin("file:///b.rs");
        assert_eq!(conversations.reset_all(), 2);
        let again = conversations.begin("file:///a.rs");
        conversations.set_transcript(
            "file:///a.rs",
            &again.id,
            "/t/b.md".into(),
            "file:///t/b.md",
        );
        assert!(conversations.reset("file:///t/b.md"));
        assert!(conversations.existing("file:///a.rs").is_none());
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
        assert_eq!(history_within(&turns, 1000).len(), 6);
    }

    fn image_turn() -> Message {
        Message::user_parts(vec![
            ContentPart::Text {
                text: "Explain ![d](d.png)".into(),
            },
            ContentPart::ImageUrl {
                image_url: crate::llm::types::ImageUrl {
                    url: format!("data:image/png;base64,{}", "A".repeat(40_000)),
                },
            },
        ])
    }

    #[test]
    fn images_stay_out_of_the_history_with_a_note_in_their_place() {
        let conversations = Conversations::default();
        let turn = conversations.begin("u");
        conversations.record("u", &turn.id, image_turn(), Message::assistant("a diagram"));
        let history = conversations.begin("u").history;
        assert_eq!(history.len(), 2);
        let Some(Content::Text(text)) = &history[0].content else {
            panic!("the recorded turn is text only: {:?}", history[0]);
        };
        assert!(text.starts_with("Explain ![d](d.png)"), "{text}");
        assert!(
            text.ends_with("[an image/png was attached to this turn; it is not sent again]"),
            "{text}"
        );
        assert!(!text.contains("base64"), "{text}");
    }

    #[test]
    fn one_big_turn_is_cut_and_the_turns_before_it_stay() {
        let budget = 1_000;
        let conversations = Conversations::new(budget);
        let id = conversations.begin("u").id;
        conversations.record("u", &id, Message::user("q1"), Message::assistant("a1"));
        let big = format!("START{}END", "é".repeat(5_000));
        conversations.record("u", &id, Message::user(big), Message::assistant("a2"));
        let history = conversations.begin("u").history;
        assert_eq!(history.len(), 4, "{history:?}");
        assert_eq!(history[0], Message::user("q1"));
        let Some(Content::Text(cut)) = &history[2].content else {
            panic!("text");
        };
        assert!(cut.len() <= message_cap(budget), "{}", cut.len());
        assert!(cut.starts_with("START") && cut.ends_with("END"), "{cut}");
        assert!(cut.contains("characters of this earlier turn are left out"));
        // The same history, byte for byte, on the next request (the cache prefix holds).
        assert_eq!(conversations.begin("u").history, history);
    }

    #[test]
    fn a_newest_turn_past_the_budget_is_cut_not_dropped() {
        let turns = vec![(
            Message::user("x".repeat(500)),
            Message::assistant("y".repeat(500)),
        )];
        let kept = history_within(&turns, 200);
        assert_eq!(kept.len(), 2);
        assert!(kept.iter().all(|message| message.text_len() <= 200));
        assert_eq!(kept, history_within(&turns, 200));
    }

    #[test]
    fn cutting_keeps_both_ends_on_character_boundaries() {
        for len in [0, 1, 50, 119, 120, 121, 1_000] {
            let text: String = "aé😀".chars().cycle().take(len).collect();
            for cap in [0, 10, 90, 120, 150, 400] {
                let cut = for_history(Message::user(text.clone()), cap);
                let Some(Content::Text(cut)) = cut.content else {
                    panic!("text");
                };
                if text.len() <= cap {
                    assert_eq!(cut, text);
                } else if cap >= 120 {
                    assert!(cut.len() <= cap, "{len} {cap}: {}", cut.len());
                    assert!(cut.contains("left out"));
                }
            }
        }
    }
}
