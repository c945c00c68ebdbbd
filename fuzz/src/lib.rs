//! chatls's pure modules, compiled from the very same source files as the `chatls` crate
//! (`#[path]`), so the fuzz build instruments only them and their three small dependencies
//! instead of the whole server (tokio, reqwest, rustls, aws-lc): the targets fuzz the real
//! code, and the build fits in the CI time budget.

#[path = "../../src/llm/sse.rs"]
pub mod sse;

#[doc(hidden)]
#[path = "../../src/answer/edits/mod.rs"]
pub mod answer_edits;

#[doc(hidden)]
#[path = "../../src/answer/classify/mod.rs"]
pub mod answer_classify;

#[doc(hidden)]
#[path = "../../src/answer/patch.rs"]
pub mod answer_patch;

/// The same paths as in chatls (`crate::answer::edits`, `crate::answer::patch`, ...).
pub mod answer {
    pub use crate::answer_classify as classify;
    pub use crate::answer_classify::*;
    pub use crate::answer_edits as edits;
    pub use crate::answer_patch as patch;
}

#[doc(hidden)]
#[path = "../../src/text/document/mod.rs"]
pub mod text_document;

#[doc(hidden)]
#[path = "../../src/text/encoding.rs"]
pub mod text_encoding;

#[doc(hidden)]
#[path = "../../src/text/minimal.rs"]
pub mod text_minimal;

/// The same paths as in chatls (`crate::text::document`, `crate::text::encoding`).
pub mod text {
    pub use crate::text_document as document;
    pub use crate::text_document::*;
    pub use crate::text_encoding as encoding;
    pub use crate::text_encoding::*;
    pub use crate::text_minimal as minimal;
}
