// The weather-agent loop through @anthropic-ai/sdk's own tool runner,
// `client.beta.messages.toolRunner` with a `betaTool` get_weather, streamed
// (spec.stream) or not. Besides the common result (text: the final message's
// text): `ran`, the arguments each run of the tool got; `turns`, each
// response's X-Mockllm-Turn (null where it has none).
import Anthropic from '@anthropic-ai/sdk';
import { betaTool } from '@anthropic-ai/sdk/helpers/beta/json-schema';
import { run } from './harness.mjs';
import { recordingTurns, WEATHER_SCHEMA, weather } from './loop.mjs';

run(async (spec, { url, fetch, signal, seen }) => {
  const client = new Anthropic({ baseURL: url, apiKey: 'sk-ant-test', fetch: recordingTurns(fetch, seen), maxRetries: 0 });
  const getWeather = betaTool({
    name: 'get_weather',
    description: 'Get the current weather in a city.',
    inputSchema: WEATHER_SCHEMA,
    run: (input) => weather(seen, input),
  });
  const runner = client.beta.messages.toolRunner({
    model: spec.model, max_tokens: 256, messages: [{ role: 'user', content: spec.prompt }],
    tools: [getWeather], stream: Boolean(spec.stream), max_iterations: 4,
  }, { signal });
  const message = await runner.runUntilDone();
  seen.text = message.content.filter((b) => b.type === 'text').map((b) => b.text).join('');
  seen.finish_reason = message.stop_reason;
});
