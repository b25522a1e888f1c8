// The weather-agent loop through the Vercel AI SDK's own multi-step tool loop:
// `generateText` (or `streamText`, spec.stream) with a `get_weather` tool that
// has `execute`, and `stopWhen: stepCountIs(5)`, on spec.provider: `responses`
// (`openai(model)`, the default), `chat` (`openai.chat`), `anthropic` or
// `google`. Besides the common result (text: the final answer): `ran`, the
// arguments each run of the tool got; `turns`, each response's X-Mockllm-Turn
// (null where it has none); `steps`, how many steps the SDK took.
import { createAnthropic } from '@ai-sdk/anthropic';
import { createGoogleGenerativeAI } from '@ai-sdk/google';
import { createOpenAI } from '@ai-sdk/openai';
import { generateText, jsonSchema, stepCountIs, streamText, tool } from 'ai';
import { run } from './harness.mjs';
import { recordingTurns, WEATHER_SCHEMA, weather } from './loop.mjs';

const PROVIDERS = {
  responses: (url, fetch) => createOpenAI({ baseURL: `${url}/v1`, apiKey: 'sk-test', fetch }),
  chat: (url, fetch) => createOpenAI({ baseURL: `${url}/v1`, apiKey: 'sk-test', fetch }).chat,
  anthropic: (url, fetch) => createAnthropic({ baseURL: `${url}/v1`, apiKey: 'sk-ant-test', fetch }),
  google: (url, fetch) => createGoogleGenerativeAI({ baseURL: `${url}/v1beta`, apiKey: 'g-key', fetch }),
};

run(async (spec, { url, fetch, signal, seen }) => {
  const call = {
    model: PROVIDERS[spec.provider](url, recordingTurns(fetch, seen))(spec.model),
    prompt: spec.prompt,
    tools: {
      get_weather: tool({
        description: 'Get the current weather in a city.',
        inputSchema: jsonSchema(WEATHER_SCHEMA),
        execute: async (input) => weather(seen, input),
      }),
    },
    stopWhen: stepCountIs(5),
    abortSignal: signal,
    maxRetries: 0,
  };
  const result = spec.stream ? streamText({ ...call, onError: () => {} }) : await generateText(call);
  seen.text = await result.text;
  seen.finish_reason = await result.finishReason;
  seen.steps = (await result.steps).length;
});
