// The Vercel AI SDK (`ai`) through `streamText` (spec.stream) or
// `generateText`, on whatever provider model a script makes: every provider
// script is `runAiSdk(({url, fetch, headers}) => model(spec.model))`.
// spec.tools names the tools to offer, each taking any object; spec.options
// go to the call (maxRetries...); the SDK's defaults apply otherwise (two
// retries). Besides the common result: `paths`, the paths the SDK posted to;
// `parts`, the kinds of stream parts in order (a run of one kind counted
// once); `error_parts`, the stream's `error` parts (streamText reports most
// failures that way instead of throwing).
import { generateText, jsonSchema, streamText, tool } from 'ai';
import { run, describe } from './harness.mjs';

const anyObject = tool({ inputSchema: jsonSchema({ type: 'object' }) });

export function runAiSdk(makeModel) {
  run(async (spec, { url, fetch, signal, seen }) => {
    seen.paths = [];
    const recording = (input, init) => {
      seen.paths.push(new URL(input instanceof Request ? input.url : String(input)).pathname);
      return fetch(input, init);
    };
    const call = {
      model: makeModel(spec, { url, fetch: recording, headers: spec.headers }),
      prompt: spec.prompt,
      tools: Object.fromEntries((spec.tools ?? []).map((name) => [name, anyObject])),
      abortSignal: signal,
      ...spec.options,
    };
    const toolCall = (part) => ({ id: part.toolCallId, name: part.toolName, arguments: part.input });
    if (!spec.stream) {
      const result = await generateText(call);
      seen.text = result.text;
      seen.tool_calls = result.toolCalls.map(toolCall);
      seen.finish_reason = result.finishReason;
      return;
    }
    seen.error_parts = [];
    seen.parts = [];
    const result = streamText({ ...call, onError: () => {} }); // the default onError logs to stderr
    for await (const part of result.fullStream) {
      if (seen.parts.at(-1) !== part.type) seen.parts.push(part.type);
      if (part.type === 'text-delta') seen.text += part.text;
      if (part.type === 'tool-call') seen.tool_calls.push(toolCall(part));
      if (part.type === 'finish') seen.finish_reason = part.finishReason;
      if (part.type === 'error') seen.error_parts.push(describe(part.error));
    }
  });
}
