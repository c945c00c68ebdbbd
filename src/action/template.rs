//! The grammar of a row's prompt template: which `{placeholder}`s exist and how they are
//! found in a template. Filling them in is `prompt::render`'s job. Pure.

/// The placeholders a row's prompt template may use.
pub const PLACEHOLDERS: [&str; 5] = [
    "selection",
    "language",
    "path",
    "instruction",
    "diagnostics",
];

/// The names of the `{placeholder}`s in a template (a `{` followed by ASCII letters and `}`;
/// every other brace is text, so code in a template needs no escaping).
pub fn placeholders(template: &str) -> impl Iterator<Item = &str> {
    template
        .split('{')
        .skip(1)
        .filter_map(|after| after.split_once('}').map(|(name, _)| name))
        .filter(|name| !name.is_empty() && name.chars().all(|c| c.is_ascii_alphabetic()))
}
