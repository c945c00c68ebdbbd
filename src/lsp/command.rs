//! The commands chatls answers over `workspace/executeCommand`, as one enum: a command's name
//! is parsed in one place ([`Command::parse`]), and the list `initialize` advertises in
//! `executeCommandProvider` is made from the enum ([`advertised`]), never kept by hand.
//! Plain data; what each command does is `execute::execute`'s match.

use crate::action::table::ALIASES;

/// One command chatls knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    /// `chatls.run`: a row of the action table, named by the `action` argument.
    Run,
    /// `chatls.explain`, `chatls.refactor`, `chatls.fix`: `chatls.run` with the row fixed.
    Alias {
        name: &'static str,
        row: &'static str,
    },
    /// `chatls.ask`: a free question about the selection.
    Ask,
    /// `chatls.followUp`: what was written under a transcript's last `## You`.
    FollowUp,
    /// `chatls.selectModel`: switch the model, or ask which.
    SelectModel,
    /// `chatls.resetConversation`: forget one document's conversation, or every one.
    Reset,
    /// `chatls.cancel`: cancel one document's running actions, or every one.
    Cancel,
    /// `chatls.usage`: the session's token totals per model and kind (no argument).
    Usage,
    /// `chatls.listModels`: the models to pick from and the one in use (no argument).
    ListModels,
    /// `chatls.listActions`: the enabled rows of the action table (no argument).
    ListActions,
    /// `chatls.debug.panic`: panics, for the tests of the panic guards. Answered only when the
    /// session has test hooks on (`CHATLS_TEST_HOOKS=1`) and never advertised. With
    /// `{"in": "action"}` the panic happens in a background action task instead.
    DebugPanic,
}

/// The commands with a fixed name, in the order they are advertised after `chatls.run` and
/// its aliases (the hidden one last).
const NAMED: [Command; 9] = [
    Command::Ask,
    Command::FollowUp,
    Command::SelectModel,
    Command::Reset,
    Command::Cancel,
    Command::Usage,
    Command::ListModels,
    Command::ListActions,
    Command::DebugPanic,
];

impl Command {
    /// The command's name on the wire.
    pub fn name(self) -> &'static str {
        match self {
            Command::Run => "chatls.run",
            Command::Alias { name, .. } => name,
            Command::Ask => "chatls.ask",
            Command::FollowUp => "chatls.followUp",
            Command::SelectModel => "chatls.selectModel",
            Command::Reset => "chatls.resetConversation",
            Command::Cancel => "chatls.cancel",
            Command::Usage => "chatls.usage",
            Command::ListModels => "chatls.listModels",
            Command::ListActions => "chatls.listActions",
            Command::DebugPanic => "chatls.debug.panic",
        }
    }

    /// Whether `initialize` lists it in `executeCommandProvider`.
    pub fn is_advertised(self) -> bool {
        self != Command::DebugPanic
    }

    /// Every command, the hidden one included, in the advertised order.
    pub fn all() -> impl Iterator<Item = Command> {
        std::iter::once(Command::Run)
            .chain(
                ALIASES
                    .iter()
                    .map(|&(name, row)| Command::Alias { name, row }),
            )
            .chain(NAMED)
    }

    /// The command a name means, if chatls knows it.
    pub fn parse(name: &str) -> Option<Command> {
        Command::all().find(|command| command.name() == name)
    }
}

/// The names `initialize` advertises in `executeCommandProvider.commands`.
pub fn advertised() -> Vec<String> {
    Command::all()
        .filter(|command| command.is_advertised())
        .map(|command| command.name().to_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_parses_back_to_its_command_and_names_are_unique() {
        let all: Vec<Command> = Command::all().collect();
        for command in &all {
            assert_eq!(Command::parse(command.name()), Some(*command));
        }
        let mut names: Vec<&str> = all.iter().map(|command| command.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), all.len());
        assert_eq!(Command::parse("chatls.nothing"), None);
    }

    #[test]
    fn the_hidden_command_is_not_advertised() {
        assert!(!advertised().iter().any(|name| name == "chatls.debug.panic"));
        assert_eq!(advertised()[0], "chatls.run");
    }
}
