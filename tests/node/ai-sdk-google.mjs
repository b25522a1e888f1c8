// Vercel AI SDK, Gemini: `google(model)` from @ai-sdk/google, base URL `${url}/v1beta`
// (`:streamGenerateContent?alt=sse`); ai-sdk.mjs does the rest.
import { createGoogleGenerativeAI } from '@ai-sdk/google';
import { runAiSdk } from './ai-sdk.mjs';

runAiSdk((spec, { url, fetch, headers }) =>
  createGoogleGenerativeAI({ baseURL: `${url}/v1beta`, apiKey: 'g-key', fetch, headers })(spec.model));
