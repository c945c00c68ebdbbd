//! What stays of a conversation: its earlier turns (replayed upstream), its markdown
//! transcript and the files on disk (transcripts, one-off answers, review diffs), the
//! pending reviews waiting for a yes, and what the model calls cost. Knows no LSP types and
//! never sends anything to the editor or the upstream.

pub mod conversation;
pub mod files;
pub mod pending_review;
pub mod transcript;
pub mod usage;
