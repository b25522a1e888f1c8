// openai-node, Chat Completions: `client.chat.completions.create`, streamed or not.
// spec.options go to the `OpenAI` constructor (maxRetries, timeout in ms...);
// the SDK's defaults apply otherwise (two retries).
import OpenAI from 'openai';
import { run } from './harness.mjs';

run(async (spec, { url, fetch, signal, seen }) => {
  const client = new OpenAI({
    baseURL: `${url}/v1`,
    apiKey: 'sk-test',
    fetch,
    defaultHeaders: spec.headers,
    ...spec.options,
  });
  const request = { model: spec.model, messages: [{ role: 'user', content: spec.prompt }] };
  if (!spec.stream) {
    const { choices } = await client.chat.completions.create(request, { signal });
    seen.text = choices[0].message.content ?? '';
    seen.tool_calls = (choices[0].message.tool_calls ?? []).map((call) => ({
      id: call.id,
      name: call.function.name,
      arguments: call.function.arguments,
    }));
    seen.finish_reason = choices[0].finish_reason;
    return;
  }
  seen.chunks = 0;
  for await (const chunk of await client.chat.completions.create({ ...request, stream: true }, { signal })) {
    seen.chunks += 1;
    for (const choice of chunk.choices) {
      seen.text += choice.delta.content ?? '';
      for (const delta of choice.delta.tool_calls ?? []) {
        seen.tool_calls[delta.index] ??= { id: delta.id, name: delta.function?.name, arguments: '' };
        seen.tool_calls[delta.index].arguments += delta.function?.arguments ?? '';
      }
      seen.finish_reason = choice.finish_reason ?? seen.finish_reason;
    }
  }
});
