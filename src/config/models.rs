//! Model choice, pure: the seed gateway's seven models plus what the upstream's
//! `GET /models` listed, in one list with the current model marked. Used by
//! `chatls.selectModel` (as `window/showMessageRequest` actions) and by `chatls models`.

use std::time::Duration;

/// The models the seed gateway documents.
pub const SEED_MODELS: [&str; 7] = [
    "claude-sonnet-4-20250514",
    "claude-sonnet-4-5-20250929",
    "claude-haiku-4-5-20251001",
    "claude-opus-4-5-20251101",
    "claude-opus-4-6",
    "claude-sonnet-4-6",
    "claude-opus-4-7",
];

/// How long the picker waits for `GET {baseUrl}/models`.
pub const LIST_TIMEOUT: Duration = Duration::from_secs(2);

/// What marks the current model in the picker.
pub const CURRENT_MARK: &str = " (current)";

/// The seed's models, then the listed ones not among them, then the current model if it is
/// in neither; no duplicates. A listed id that is no clean one-line name (a newline, an
/// escape sequence, a bidi override: see `display`) is no model anyone can mean: left out.
pub fn merged(listed: &[String], current: &str) -> Vec<String> {
    let mut all: Vec<String> = SEED_MODELS
        .iter()
        .map(|model| (*model).to_owned())
        .collect();
    for model in listed {
        if crate::display::is_label(model) && !all.contains(model) {
            all.push(model.clone());
        }
    }
    if !current.is_empty() && !all.iter().any(|model| model == current) {
        all.push(current.to_owned());
    }
    all
}

/// The picker's entries: each model, the current one marked.
pub fn choices(listed: &[String], current: &str) -> Vec<String> {
    merged(listed, current)
        .into_iter()
        .map(|model| {
            if model == current {
                format!("{}{CURRENT_MARK}", crate::display::label(&model))
            } else {
                crate::display::label(&model)
            }
        })
        .collect()
}

/// The model an entry of [`choices`] stands for.
pub fn from_choice(choice: &str) -> &str {
    choice.strip_suffix(CURRENT_MARK).unwrap_or(choice).trim()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_then_listed_then_current_marked_once() {
        let listed = vec!["local-7b".to_owned(), "claude-opus-4-7".to_owned()];
        let entries = choices(&listed, "claude-sonnet-4-6");
        assert_eq!(entries.len(), 8);
        assert_eq!(entries[5], "claude-sonnet-4-6 (current)");
        assert_eq!(entries[7], "local-7b");
        assert_eq!(
            entries
                .iter()
                .filter(|entry| entry.ends_with(CURRENT_MARK))
                .count(),
            1
        );
        assert_eq!(from_choice(&entries[5]), "claude-sonnet-4-6");
        assert_eq!(choices(&[], "mine").last().unwrap(), "mine (current)");
    }
}
