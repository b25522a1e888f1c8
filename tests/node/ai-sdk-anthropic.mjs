// Vercel AI SDK, Anthropic Messages: `anthropic(model)` from @ai-sdk/anthropic (ai-sdk.mjs does the rest).
import { createAnthropic } from '@ai-sdk/anthropic';
import { runAiSdk } from './ai-sdk.mjs';

runAiSdk((spec, { url, fetch, headers }) =>
  createAnthropic({ baseURL: `${url}/v1`, apiKey: 'sk-ant-test', fetch, headers })(spec.model));
