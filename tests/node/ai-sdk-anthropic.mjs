// Vercel AI SDK on the Messages API: `anthropic(model)` from @ai-sdk/anthropic,
// through `streamText` (spec.stream) or `generateText`; spec.tools names the
// tools to offer, each taking any object.
import { createAnthropic } from '@ai-sdk/anthropic';
import { generateText, jsonSchema, streamText, tool } from 'ai';
import { run, describe } from './harness.mjs';

const anyObject = tool({ inputSchema: jsonSchema({ type: 'object' }) });

run(async (spec, { url, fetch, signal, seen }) => {
  const anthropic = createAnthropic({ baseURL: `${url}/v1`, apiKey: 'sk-ant-test', fetch, headers: spec.headers });
  const call = {
    model: anthropic(spec.model),
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
  const result = streamText({ ...call, onError: () => {} });
  for await (const part of result.fullStream) {
    if (part.type === 'text-delta') seen.text += part.text;
    if (part.type === 'tool-call') seen.tool_calls.push(toolCall(part));
    if (part.type === 'finish') seen.finish_reason = part.finishReason;
    if (part.type === 'error') seen.error_parts.push(describe(part.error));
  }
});
