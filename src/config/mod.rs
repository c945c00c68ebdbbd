//! Settings: what the user configured (initializationOptions, didChangeConfiguration,
//! environment), validated once into one `Settings` value, with the one table of every key
//! (its default, type and description: the schema editors read) and the list of models to
//! pick from. Pure: reads no file and no socket, knows nothing of LSP.

pub mod models;
pub mod settings;
pub mod table;

pub use settings::*;
pub use table::{DEFAULT_BASE_URL, DEFAULT_COMPLETION_MODEL, DEFAULT_MODEL};
