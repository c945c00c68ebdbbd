//! Typing through a suggestion: when the user types the first characters of the suggestion
//! just shown, the next request is answered with the rest of it, without the upstream. A
//! suggestion is remembered with a little of the text on both sides of where it was made,
//! so an edit anywhere near it (or a jump elsewhere) makes it stale, and with the settings
//! that made it, so a new model (or upstream, or token cap) is asked afresh. Pure: no I/O.

use ropey::Rope;

use crate::config::Settings;

/// The settings a suggestion depends on: where it was asked, of which model, how long it
/// could be. A suggestion made under others is not reused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MadeBy {
    base_url: String,
    model: String,
    max_tokens: u32,
}

impl MadeBy {
    pub fn of(settings: &Settings) -> Self {
        MadeBy {
            base_url: settings.base_url.clone(),
            model: settings.completion.model.clone(),
            max_tokens: settings.completion.max_tokens,
        }
    }
}

/// Characters of context kept on each side of the suggestion's anchor.
const CONTEXT_CHARS: usize = 200;

/// A suggestion as it was shown.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shown {
    /// The char offset of the cursor it was made for.
    anchor: usize,
    before: String,
    after: String,
    text: String,
}

impl Shown {
    pub fn new(text: &Rope, cursor: usize, suggestion: &str) -> Self {
        let cursor = cursor.min(text.len_chars());
        let start = cursor.saturating_sub(CONTEXT_CHARS);
        let end = (cursor + CONTEXT_CHARS).min(text.len_chars());
        Shown {
            anchor: cursor,
            before: text.slice(start..cursor).to_string(),
            after: text.slice(cursor..end).to_string(),
            text: suggestion.to_owned(),
        }
    }

    /// What is left of the suggestion for a cursor at `cursor` of `text`, if the user only
    /// typed its beginning since it was shown (nothing typed gives it whole). `None` when
    /// the text around it changed otherwise or nothing (but blanks) would be left.
    pub fn rest(&self, text: &Rope, cursor: usize) -> Option<&str> {
        let before_len = self.before.chars().count();
        let after_len = self.after.chars().count();
        if cursor < self.anchor || cursor > text.len_chars() {
            return None;
        }
        let typed = text.slice(self.anchor..cursor);
        let typed_len = typed.len_chars();
        let end = cursor.checked_add(after_len)?;
        if end > text.len_chars() || self.anchor < before_len {
            return None;
        }
        if text.slice(self.anchor - before_len..self.anchor) != self.before.as_str()
            || text.slice(cursor..end) != self.after.as_str()
        {
            return None;
        }
        let split = self
            .text
            .char_indices()
            .nth(typed_len)
            .map_or(self.text.len(), |(index, _)| index);
        let (head, rest) = self.text.split_at(split);
        if typed != head || rest.trim().is_empty() {
            return None;
        }
        Some(rest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typing_the_suggestion_leaves_the_rest() {
        let mut text = Rope::from_str("fn main() {\n    let x = \n}\n");
        let cursor = text.line_to_char(1) + 12;
        let shown = Shown::new(&text, cursor, "compute(1, 2);");
        assert_eq!(shown.rest(&text, cursor), Some("compute(1, 2);"));
        text.insert(cursor, "comp");
        assert_eq!(shown.rest(&text, cursor + 4), Some("ute(1, 2);"));
        // Typing all of it leaves nothing to suggest.
        text.insert(cursor + 4, "ute(1, 2);");
        assert_eq!(shown.rest(&text, cursor + 14), None);
    }

    #[test]
    fn other_typing_or_edits_elsewhere_make_it_stale() {
        let base = "// 😀 注释\nlet x = \nrest();\n";
        let text = Rope::from_str(base);
        let cursor = text.line_to_char(1) + 8;
        let shown = Shown::new(&text, cursor, "\"héllo\";");
        let mut typed_other = text.clone();
        typed_other.insert(cursor, "z");
        assert_eq!(shown.rest(&typed_other, cursor + 1), None);
        let mut typed_same = text.clone();
        typed_same.insert(cursor, "\"h");
        assert_eq!(shown.rest(&typed_same, cursor + 2), Some("éllo\";"));
        let mut edited_after = text.clone();
        edited_after.insert(cursor + 2, "x");
        assert_eq!(shown.rest(&edited_after, cursor), None);
        let mut edited_before = text.clone();
        edited_before.remove(0..1);
        assert_eq!(shown.rest(&edited_before, cursor - 1), None);
        // A cursor before the anchor, or past the end.
        assert_eq!(shown.rest(&text, cursor - 1), None);
        assert_eq!(shown.rest(&text, 10_000), None);
    }
}
