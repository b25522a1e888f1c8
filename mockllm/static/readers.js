// readers.js: one small reader per wire format, for client.js.
//
// A reader turns one parsed frame (the JSON of an SSE event's data, or of an
// NDJSON line) into a list of items the reply is built from:
//
//   {text: "Hel"}                                   a piece of the reply's text
//   {toolCall: {index, id?, name?, arguments?}}     a tool call, or a piece of its
//                                                   arguments (appended, as OpenAI streams them)
//   {finish: "stop"}                                the finish reason, in the format's words
//   {usage: {prompt_tokens, completion_tokens}}
//   {error: "message"}                              the provider's in-stream error
//   {done: true}                                    the format's last frame: stop reading
//
// Each reader also says what ends its stream (`terminator`, null when the end
// of the body is the end: Gemini), whether it has a finish reason at all
// (`finishes`), and, for `event:`-typed SSE, the event names EventSource must
// listen for (`events`). A reader with `ignored(line)` is also given the
// lines that are not SSE fields (Gemini writes a mid-stream error raw). OpenAI Chat Completions is client.js's own
// ReplyAssembler and needs no reader. The shapes are those in
// docs/sandbox.md, from /work/shared/wire-format.md.

/** The readable part of an `error` value: its message, else all of it. */
function errorMessage(error) {
  return typeof error === "string" ? error : error?.message || JSON.stringify(error);
}

/** The plain-content format: `data: {"content": "..."}`, `data: {"tool_call": ...}`, `data: [DONE]`. */
function content() {
  return {
    terminator: "data: [DONE]",
    finishes: false, // it sends no finish frame
    events: [],
    read(frame) {
      if (frame.error) return [{ error: errorMessage(frame.error) }];
      if (typeof frame.content === "string") return [{ text: frame.content }];
      if (frame.tool_call) return [{ toolCall: frame.tool_call }];
      return [];
    },
  };
}

/** Legacy completions: `choices[0].text` where chat has `delta.content`. */
function completions() {
  return {
    terminator: "data: [DONE]",
    finishes: true,
    events: [],
    read(frame) {
      if (frame.error) return [{ error: errorMessage(frame.error) }]; // as Chat Completions: data: {"error": {...}}
      const items = [];
      const choice = (frame.choices || []).find((c) => (c.index ?? 0) === 0);
      if (choice && typeof choice.text === "string" && choice.text !== "") items.push({ text: choice.text });
      if (choice?.finish_reason) items.push({ finish: choice.finish_reason });
      if (frame.usage) items.push({ usage: frame.usage });
      return items;
    },
  };
}

/** The Responses API: typed events, `response.completed` (or `.incomplete`, `.failed`) last, no [DONE]. */
function responses() {
  const calls = new Map(); // output_index -> the tool call's position among the calls
  let sawCall = false;
  const call = (outputIndex) => {
    if (!calls.has(outputIndex)) calls.set(outputIndex, calls.size);
    return calls.get(outputIndex);
  };
  const usage = (u) => (u ? [{ usage: { prompt_tokens: u.input_tokens, completion_tokens: u.output_tokens } }] : []);
  return {
    terminator: "response.completed",
    finishes: true,
    events: [
      "response.output_text.delta", "response.output_item.added", "response.function_call_arguments.delta",
      "response.completed", "response.incomplete", "response.failed",
    ],
    read(frame) {
      switch (frame.type) {
        case "response.output_text.delta":
          return [{ text: frame.delta }];
        case "response.output_item.added":
          if (frame.item?.type !== "function_call") return [];
          sawCall = true;
          return [{ toolCall: { index: call(frame.output_index), id: frame.item.call_id, name: frame.item.name } }];
        case "response.function_call_arguments.delta":
          return [{ toolCall: { index: call(frame.output_index), arguments: frame.delta } }];
        case "response.completed":
          return [{ finish: sawCall ? "tool_calls" : "stop" }, ...usage(frame.response?.usage), { done: true }];
        case "response.incomplete":
          return [{ finish: frame.response?.incomplete_details?.reason || "incomplete" }, ...usage(frame.response?.usage), { done: true }];
        case "response.failed":
          return [{ error: frame.response?.error?.message || "response.failed" }];
        case "error":
          return [{ error: frame.error?.message || frame.message || JSON.stringify(frame) }];
        default:
          return []; // created, in_progress, content_part.*, *.done: nothing new to show
      }
    },
  };
}

/** Anthropic Messages: typed events, content blocks by index, `message_stop` last. */
function anthropic() {
  const calls = new Map(); // content block index -> the tool call's position among the calls
  let prompt = 0;
  return {
    terminator: "message_stop",
    finishes: true,
    events: ["message_start", "content_block_start", "content_block_delta", "message_delta", "message_stop"],
    read(frame) {
      switch (frame.type) {
        case "message_start":
          prompt = frame.message?.usage?.input_tokens ?? 0;
          return [];
        case "content_block_start": {
          const block = frame.content_block || {};
          if (block.type !== "tool_use") return [];
          calls.set(frame.index, calls.size);
          return [{ toolCall: { index: calls.get(frame.index), id: block.id, name: block.name } }];
        }
        case "content_block_delta": {
          const delta = frame.delta || {};
          if (delta.type === "text_delta") return [{ text: delta.text }];
          if (delta.type === "input_json_delta" && calls.has(frame.index)) {
            return [{ toolCall: { index: calls.get(frame.index), arguments: delta.partial_json } }];
          }
          return [];
        }
        case "message_delta": {
          const items = [];
          if (frame.delta?.stop_reason) items.push({ finish: frame.delta.stop_reason });
          if (frame.usage) items.push({ usage: { prompt_tokens: prompt, completion_tokens: frame.usage.output_tokens } });
          return items;
        }
        case "message_stop":
          return [{ done: true }];
        case "error":
          return [{ error: frame.error?.message || JSON.stringify(frame) }];
        default:
          return []; // ping, content_block_stop
      }
    },
  };
}

/** Gemini: `data:` frames of GenerateContentResponse, a whole functionCall a part, no terminator. */
function gemini() {
  let calls = 0;
  let raw = []; // the lines of an error object written raw, without data: (mid-stream, pretty-printed)
  return {
    terminator: null, // the end of the body is the end of the stream
    finishes: true,
    events: [],
    /** A line that is not an SSE field: part of a raw `{"error": {...}}`, read once it parses. */
    ignored(line) {
      raw.push(line);
      let value;
      try {
        value = JSON.parse(raw.join("\n"));
      } catch {
        if (raw.length > 200) raw = []; // never whole: give up on it
        return []; // not whole yet
      }
      raw = [];
      return value?.error ? [{ error: errorMessage(value.error) }] : [];
    },
    read(frame) {
      if (frame.error) return [{ error: errorMessage(frame.error) }];
      const items = [];
      const candidate = (frame.candidates || [])[0];
      for (const part of candidate?.content?.parts || []) {
        if (typeof part.text === "string" && part.text !== "" && !part.thought) items.push({ text: part.text });
        if (part.functionCall) {
          const { id, name, args } = part.functionCall;
          items.push({ toolCall: { index: calls++, id, name, arguments: JSON.stringify(args ?? {}) } });
        }
      }
      if (candidate?.finishReason) {
        items.push({ finish: candidate.finishReason });
        const u = frame.usageMetadata;
        if (u) items.push({ usage: { prompt_tokens: u.promptTokenCount, completion_tokens: u.candidatesTokenCount ?? 0 } });
      }
      return items;
    },
  };
}

/** Ollama: NDJSON lines, a whole tool call a line, `"done": true` last, `{"error": "..."}` mid-stream. */
function ollama() {
  let calls = 0;
  return {
    terminator: '"done": true',
    finishes: true,
    events: [],
    read(frame) {
      if (frame.error) return [{ error: errorMessage(frame.error) }];
      const items = [];
      const text = frame.message?.content ?? frame.response; // /api/chat, /api/generate
      if (typeof text === "string" && text !== "") items.push({ text });
      for (const tool of frame.message?.tool_calls || []) {
        const { name, arguments: args } = tool.function || {};
        items.push({ toolCall: { index: calls++, id: tool.id, name, arguments: JSON.stringify(args ?? {}) } });
      }
      if (frame.done) {
        if (frame.done_reason) items.push({ finish: frame.done_reason });
        if (frame.eval_count != null) {
          items.push({ usage: { prompt_tokens: frame.prompt_eval_count ?? 0, completion_tokens: frame.eval_count } });
        }
        items.push({ done: true });
      }
      return items;
    },
  };
}

const READERS = { content, completions, responses, anthropic, gemini, ollama };

/** A fresh reader for the format `name` (state is per response), or null for OpenAI chat (client.js's own). */
export function createReader(name) {
  if (name === "openai") return null;
  const make = READERS[name];
  if (!make) throw new Error(`no reader for the format ${name}`);
  return make();
}

export const FORMATS_WITH_READERS = ["openai", ...Object.keys(READERS)];
