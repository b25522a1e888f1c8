// What every client script shares: read the job, run each spec, print what was seen.
//
//   stdin  {"url": "http://127.0.0.1:PORT", "specs": [{model, prompt, stream, options, headers, ...}]}
//   stdout {"results": [{text, tool_calls, finish_reason, requests, error, ...}, ...]}  (one line)
//
// text, tool_calls [{id, name, arguments}] and finish_reason are what the app
// got, as the SDK gave them; requests counts the HTTP requests the SDK made
// (its retries); error is what the call threw (see `describe`), or null. A
// script may add fields of its own (openai-chat: chunks; ai-sdk-chat: parts).
//
// A client script is `run(async (spec, {url, fetch, signal, seen}) => {...})`:
// it makes one call with its SDK and writes what the app would get into `seen`
// as it arrives, so what came before an exception is kept. `signal` aborts the
// call after `spec.abort_after_ms`, as an app's own deadline would (openai-node's
// timeout stops at the response headers; a stalled body needs this). Specs
// run one after another, in order, in this one process (node start-up costs
// ~100 ms).

const PROMPT = 'Tell me something.';

export async function run(client) {
  const job = JSON.parse(await readStdin());
  const results = [];
  for (const spec of job.specs) results.push(await runOne(client, job.url, { prompt: PROMPT, ...spec }));
  // Exit at once: a stalled stream the SDK still holds must not keep node alive.
  process.stdout.write(JSON.stringify({ results }) + '\n', () => process.exit(0));
}

async function runOne(client, url, spec) {
  const seen = { text: '', tool_calls: [], finish_reason: null };
  let requests = 0;
  // Every SDK takes a `fetch`; counting its calls counts the SDK's own retries.
  const counting = (...args) => {
    requests += 1;
    return fetch(...args);
  };
  const signal = spec.abort_after_ms === undefined ? undefined : AbortSignal.timeout(spec.abort_after_ms);
  let error = null;
  try {
    await client(spec, { url, fetch: counting, signal, seen });
  } catch (caught) {
    error = describe(caught);
  }
  return { ...seen, requests, error };
}

// An error as JSON: its class, name and message, every plain field the SDK
// put on it (status, code, type, statusCode, isRetryable, responseBody...),
// and its causes.
export function describe(error, depth = 0) {
  if (!(error instanceof Object)) return { class: typeof error, message: String(error) };
  const out = { class: error.constructor?.name ?? 'Object', name: error.name, message: error.message };
  for (const [key, value] of Object.entries(error)) {
    if (key === 'cause' || key === 'errors' || key === 'lastError') continue; // below; lastError is in errors
    const plain = plainJson(value);
    if (plain !== undefined) out[key] = plain;
  }
  if (depth < 4) {
    if (error.cause !== undefined) out.cause = describe(error.cause, depth + 1);
    if (Array.isArray(error.errors)) out.errors = error.errors.map((e) => describe(e, depth + 1));
  }
  return out;
}

// Primitives, and objects whose prototype is Object's (a parsed error body),
// as JSON; undefined for anything else (Headers, Response, functions...).
function plainJson(value) {
  if (value === null || ['string', 'number', 'boolean'].includes(typeof value)) return value;
  if (typeof value === 'object' && [Object.prototype, Array.prototype].includes(Object.getPrototypeOf(value))) {
    try {
      return JSON.parse(JSON.stringify(value));
    } catch {
      return undefined;
    }
  }
  return undefined;
}

async function readStdin() {
  const parts = [];
  for await (const part of process.stdin) parts.push(part);
  return Buffer.concat(parts).toString('utf8');
}
