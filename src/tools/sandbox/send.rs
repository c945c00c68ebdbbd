//! Whether an open document may be sent upstream, by completion on its own accord or by an
//! action the person chose. It only answers yes or why not; it never reads the document.

use super::roots::is_system_path;
use super::{Place, Refusal, Sandbox, quote, secrets};

impl Sandbox {
    /// Whether completion may send a document on its own accord: a path must lie inside a
    /// root and pass the secret and deny rules, an unsaved buffer's name must not be a
    /// secret's, and other schemes are not sent.
    pub fn may_complete(&self, place: &Place) -> Result<(), Refusal> {
        match place {
            Place::Path(path) => {
                let shown = self.display(path);
                if is_system_path(path) {
                    return Err(Refusal::SystemPath { path: shown });
                }
                if self.root_of(path).is_none() {
                    return Err(Refusal::Outside { path: shown });
                }
                self.check_denied(path, &shown)
            }
            Place::Name(name) => check_names(name),
            Place::Elsewhere(path) => Err(Refusal::Outside { path: quote(path) }),
        }
    }

    /// Whether an action the person chose (Explain, Refactor, Ask) may send a document: the
    /// same secret and deny rules as the tools, for a file inside a root; outside every root
    /// (a file opened on its own) and for other schemes, the secret names along its path.
    pub fn may_act_on(&self, place: &Place) -> Result<(), Refusal> {
        match place {
            Place::Path(path) if self.root_of(path).is_some() => {
                self.check_denied(path, &self.display(path))
            }
            Place::Path(path) if is_system_path(path) => Err(Refusal::SystemPath {
                path: self.display(path),
            }),
            Place::Path(path) => check_names(&path.to_string_lossy()),
            Place::Name(name) | Place::Elsewhere(name) => check_names(name),
        }
    }
}

/// Refuses a path (as text) any of whose components is a secret's name.
fn check_names(path: &str) -> Result<(), Refusal> {
    if path
        .split(['/', '\\'])
        .any(|component| !component.is_empty() && secrets::is_secret_name(component))
    {
        return Err(Refusal::Secret { path: quote(path) });
    }
    Ok(())
}
