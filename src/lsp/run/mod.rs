//! The delivery of one action once the engine runs: work-done progress, the answer appended
//! to its transcript, an edit streamed into the selection, reviewed, settled and applied as
//! a versioned `workspace/applyEdit`. The only place that sends an action's result to the
//! editor; decides nothing about what the answer means (that is `answer`).

pub mod change;
pub mod deliver;
pub mod progress;
pub mod review;
pub mod settle;
pub mod stream;
pub mod transcript;
pub mod workspace_edit;
