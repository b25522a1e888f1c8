// @anthropic-ai/sdk on the Messages API: `messages.stream()` (spec.stream) or
// `messages.create()`. spec.options go to the client (maxRetries...).
import Anthropic from '@anthropic-ai/sdk';
import { run } from './harness.mjs';

run(async (spec, { url, fetch, signal, seen }) => {
  const client = new Anthropic({ baseURL: url, apiKey: 'sk-ant-test', fetch, defaultHeaders: spec.headers,
                                 ...spec.options });
  const call = { model: spec.model, max_tokens: 256, messages: [{ role: 'user', content: spec.prompt }] };
  const take = (message) => {
    seen.finish_reason = message.stop_reason;
    seen.tool_calls = message.content.filter((b) => b.type === 'tool_use')
      .map((b) => ({ id: b.id, name: b.name, arguments: b.input }));
  };
  if (!spec.stream) {
    const message = await client.messages.create(call, { signal });
    seen.text = message.content.filter((b) => b.type === 'text').map((b) => b.text).join('');
    take(message);
    return;
  }
  const stream = client.messages.stream(call, { signal });
  stream.on('text', (text) => { seen.text += text; });
  take(await stream.finalMessage());
});
