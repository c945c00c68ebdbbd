//! From a model's answer to the smallest edits of a selection: pick the code out of the
//! answer, give it the selection's indentation and line endings, and diff it against the
//! selection into a few small char-offset edits. Pure functions, no LSP types.

mod diff;
mod fence;
mod indent;

pub use self::diff::{CharEdit, apply_edits, minimal_edits};
pub use self::fence::{FencedBlock, extract_code, fenced_blocks, trim_blank_lines};
pub use self::indent::{
    IndentStyle, Layout, indent_style, line_ending_of, reindent, reindent_with,
};

/// The code from a model's answer, ready to replace `original`: `extract_code` then
/// `reindent`.
pub fn replacement_for(answer: &str, original: &str) -> String {
    reindent(&extract_code(answer), original)
}

#[cfg(test)]
mod tests;
