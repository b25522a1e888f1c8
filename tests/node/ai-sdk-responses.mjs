// Vercel AI SDK, Responses API: the default `openai(model)` from @ai-sdk/openai (ai-sdk.mjs does the rest).
import { createOpenAI } from '@ai-sdk/openai';
import { runAiSdk } from './ai-sdk.mjs';

runAiSdk((spec, { url, fetch, headers }) =>
  createOpenAI({ baseURL: `${url}/v1`, apiKey: 'sk-test', fetch, headers })(spec.model));
