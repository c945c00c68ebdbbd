//! Folds streamed chat chunks into one `Completion`: content fragments concatenated,
//! tool-call fragments assembled by `index` (id, type and name in the first fragment of an
//! index, arguments spread over many), the finish reason, usage and model recorded. Pure
//! logic: the client feeds it parsed chunks and forwards the events it reports.

use crate::llm::types::{ChatChunk, ChatResponse, FunctionCall, ToolCall, ToolCallFragment};
use crate::llm::types::{Completion, StreamEvent};

/// A tool call being assembled.
#[derive(Debug, Default)]
struct PartialCall {
    index: u32,
    id: String,
    kind: Option<String>,
    name: String,
    arguments: String,
    announced: bool,
}

#[derive(Debug, Default)]
pub struct Accumulator {
    content: String,
    /// In order of first appearance; `finish` sorts them by index.
    calls: Vec<PartialCall>,
    finish_reason: Option<String>,
    usage: Option<crate::llm::types::Usage>,
    model: Option<String>,
    chunks: usize,
}

impl Accumulator {
    pub fn new() -> Self {
        Self::default()
    }

    /// How many chunks have been applied.
    pub fn chunks(&self) -> usize {
        self.chunks
    }

    /// Whether a choice has reported why it finished.
    pub fn has_finish_reason(&self) -> bool {
        self.finish_reason.is_some()
    }

    /// Applies one chunk, reporting content and tool-call progress through `on_event`.
    /// Only the first choice (index 0) is kept; chatls never asks for more than one.
    pub fn apply(&mut self, chunk: ChatChunk, on_event: &mut (dyn FnMut(StreamEvent<'_>) + Send)) {
        self.chunks += 1;
        if self.model.is_none() {
            self.model = chunk.model.filter(|model| !model.is_empty());
        }
        if chunk.usage.is_some() {
            self.usage = chunk.usage;
        }
        for choice in chunk.choices {
            if choice.index != 0 {
                continue;
            }
            if let Some(delta) = choice.delta {
                if let Some(text) = delta.content.filter(|text| !text.is_empty()) {
                    self.content.push_str(&text);
                    on_event(StreamEvent::Content(&text));
                }
                for fragment in delta.tool_calls.unwrap_or_default() {
                    self.apply_fragment(fragment, on_event);
                }
            }
            if let Some(reason) = choice.finish_reason.filter(|reason| !reason.is_empty()) {
                self.finish_reason = Some(reason);
            }
        }
    }

    fn apply_fragment(
        &mut self,
        fragment: ToolCallFragment,
        on_event: &mut (dyn FnMut(StreamEvent<'_>) + Send),
    ) {
        let id = fragment.id.filter(|id| !id.is_empty());
        // The latest call with this index, unless the fragment opens a new call under a
        // reused index (a different id), which some gateways do.
        let existing = self
            .calls
            .iter()
            .rposition(|call| call.index == fragment.index)
            .filter(|&position| match &id {
                Some(id) => self.calls[position].id.is_empty() || self.calls[position].id == *id,
                None => true,
            });
        let position = match existing {
            Some(position) => position,
            None => {
                self.calls.push(PartialCall {
                    index: fragment.index,
                    ..PartialCall::default()
                });
                self.calls.len() - 1
            }
        };
        let call = &mut self.calls[position];
        if let Some(id) = id {
            call.id = id;
        }
        if let Some(kind) = fragment.kind.filter(|kind| !kind.is_empty()) {
            call.kind = Some(kind);
        }
        let Some(function) = fragment.function else {
            return;
        };
        if let Some(name) = function.name.filter(|name| !name.is_empty()) {
            // A name is sent once; a gateway that repeats it must not make it "readread".
            if call.name != name {
                call.name.push_str(&name);
            }
        }
        if !call.announced && !call.name.is_empty() {
            call.announced = true;
            on_event(StreamEvent::ToolCallStarted {
                index: call.index,
                name: &call.name,
            });
        }
        if let Some(arguments) = function.arguments.filter(|arguments| !arguments.is_empty()) {
            call.arguments.push_str(&arguments);
            on_event(StreamEvent::ToolCallArguments {
                index: call.index,
                total_len: call.arguments.len(),
            });
        }
    }

    /// The completion assembled so far. Calls are ordered by index (then by arrival); a call
    /// whose id never came gets `call_<index>`; empty arguments become `{}`.
    pub fn finish(self) -> Completion {
        let mut calls = self.calls;
        calls.sort_by_key(|call| call.index);
        let tool_calls = calls
            .into_iter()
            .enumerate()
            .map(|(position, call)| ToolCall {
                id: if call.id.is_empty() {
                    format!("call_{}_{position}", call.index)
                } else {
                    call.id
                },
                kind: call.kind.unwrap_or_else(|| "function".to_owned()),
                function: FunctionCall {
                    name: call.name,
                    arguments: if call.arguments.trim().is_empty() {
                        "{}".to_owned()
                    } else {
                        call.arguments
                    },
                },
            })
            .collect();
        Completion {
            content: self.content,
            tool_calls,
            finish_reason: self.finish_reason,
            usage: self.usage,
            model: self.model,
        }
    }
}

/// The completion held by a non-streaming response (its first choice).
pub fn from_response(response: ChatResponse) -> Completion {
    let mut completion = Completion {
        usage: response.usage,
        model: response.model.filter(|model| !model.is_empty()),
        ..Completion::default()
    };
    if let Some(choice) = response.choices.into_iter().next() {
        completion.finish_reason = choice.finish_reason;
        if let Some(message) = choice.message {
            completion.content = message.content.unwrap_or_default();
            completion.tool_calls = message.tool_calls.unwrap_or_default();
        }
    }
    completion
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn chunk(value: serde_json::Value) -> ChatChunk {
        serde_json::from_value(value).unwrap()
    }

    fn fragment(
        index: u32,
        id: Option<&str>,
        name: Option<&str>,
        arguments: &str,
    ) -> serde_json::Value {
        let mut function = json!({ "arguments": arguments });
        if let Some(name) = name {
            function["name"] = json!(name);
        }
        let mut value = json!({ "index": index, "function": function });
        if let Some(id) = id {
            value["id"] = json!(id);
            value["type"] = json!("function");
        }
        json!({ "model": "m", "choices": [{ "index": 0, "delta": { "tool_calls": [value] } }] })
    }

    #[test]
    fn interleaved_tool_calls_are_assembled_by_index() {
        let mut accumulator = Accumulator::new();
        let mut events = Vec::new();
        let mut on_event = |event: StreamEvent<'_>| events.push(format!("{event:?}"));
        for value in [
            fragment(1, Some("call_b"), Some("list_files"), ""),
            fragment(0, Some("call_a"), Some("read_file"), "{\"pa"),
            fragment(1, None, None, "{}"),
            fragment(0, None, None, "th\":\"a.rs\"}"),
            json!({ "choices": [{ "index": 0, "delta": {}, "finish_reason": "tool_calls" }] }),
            json!({ "choices": [], "usage": { "prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7 } }),
        ] {
            accumulator.apply(chunk(value), &mut on_event);
        }
        let completion = accumulator.finish();
        assert_eq!(completion.tool_calls.len(), 2);
        assert_eq!(completion.tool_calls[0].id, "call_a");
        assert_eq!(completion.tool_calls[0].function.name, "read_file");
        assert_eq!(
            completion.tool_calls[0].function.arguments,
            "{\"path\":\"a.rs\"}"
        );
        assert_eq!(completion.tool_calls[1].id, "call_b");
        assert_eq!(completion.tool_calls[1].function.arguments, "{}");
        assert_eq!(completion.finish_reason.as_deref(), Some("tool_calls"));
        assert_eq!(completion.usage.map(|usage| usage.total_tokens), Some(7));
        assert_eq!(completion.model.as_deref(), Some("m"));
        assert!(events[0].contains("ToolCallStarted { index: 1, name: \"list_files\" }"));
        assert!(
            events
                .iter()
                .any(|event| event == "ToolCallArguments { index: 0, total_len: 15 }")
        );
    }

    #[test]
    fn reused_index_with_a_new_id_is_a_new_call() {
        let mut accumulator = Accumulator::new();
        let mut ignore = |_: StreamEvent<'_>| {};
        accumulator.apply(
            chunk(fragment(0, Some("a"), Some("read_file"), "{}")),
            &mut ignore,
        );
        accumulator.apply(
            chunk(fragment(0, Some("b"), Some("list_files"), "{}")),
            &mut ignore,
        );
        let calls = accumulator.finish().tool_calls;
        assert_eq!(
            calls
                .iter()
                .map(|call| call.id.as_str())
                .collect::<Vec<_>>(),
            ["a", "b"]
        );
    }

    #[test]
    fn missing_id_gets_a_stable_one() {
        let mut accumulator = Accumulator::new();
        let mut ignore = |_: StreamEvent<'_>| {};
        accumulator.apply(chunk(fragment(2, None, Some("read_file"), "")), &mut ignore);
        let calls = accumulator.finish().tool_calls;
        assert_eq!(calls[0].id, "call_2_0");
        assert_eq!(calls[0].function.arguments, "{}");
    }

    #[test]
    fn content_is_concatenated_and_other_choices_ignored() {
        let mut accumulator = Accumulator::new();
        let mut seen = String::new();
        let mut on_event = |event: StreamEvent<'_>| {
            if let StreamEvent::Content(text) = event {
                seen.push_str(text);
            }
        };
        for value in [
            json!({ "choices": [{ "index": 0, "delta": { "role": "assistant" } }] }),
            json!({ "choices": [{ "index": 0, "delta": { "content": "Hel" } }, { "index": 1, "delta": { "content": "X" } }] }),
            json!({ "choices": [{ "index": 0, "delta": { "content": "lo" }, "finish_reason": "stop" }] }),
        ] {
            accumulator.apply(chunk(value), &mut on_event);
        }
        assert_eq!(seen, "Hello");
        let completion = accumulator.finish();
        assert_eq!(completion.content, "Hello");
        assert_eq!(completion.finish_reason.as_deref(), Some("stop"));
    }
}
