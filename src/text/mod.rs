//! Open documents: position encodings and conversions, one document with its change log,
//! the smallest form of a change, and the concurrent store. Plain data, no LSP types: the `lsp` layer converts.

pub mod document;
pub mod encoding;
pub mod minimal;
pub mod store;

pub use document::*;
pub use encoding::*;
pub use store::*;
