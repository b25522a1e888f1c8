// Vercel AI SDK, Gemini: `google(model)` from @ai-sdk/google (base URL
// `${url}/v1beta`, `:streamGenerateContent?alt=sse`), through `streamText`
// (spec.stream) or `generateText`. spec.tools names the tools to offer, each
// taking any object; spec.options go to the call (maxRetries...).
// Besides the common result: `parts`, the kinds of stream parts in order (a
// run of one kind counted once), and `error_parts`, the stream's `error` parts.
import { createGoogleGenerativeAI } from '@ai-sdk/google';
import { generateText, jsonSchema, streamText, tool } from 'ai';
import { run, describe } from './harness.mjs';

const anyObject = tool({ inputSchema: jsonSchema({ type: 'object' }) });

run(async (spec, { url, fetch, signal, seen }) => {
  const google = createGoogleGenerativeAI({ baseURL: `${url}/v1beta`, apiKey: 'g-key', fetch, headers: spec.headers });
  const call = {
    model: google(spec.model),
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
