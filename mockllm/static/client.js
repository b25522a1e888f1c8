// client.js: a streaming client for OpenAI-style Chat Completions, written to
// be copied. The mockllm sandbox page runs exactly this code.
//
// It is plain JavaScript (an ES module, no dependencies) for the browser, and
// it handles what real streams do and naive readers get wrong:
//
//   * a network read can hold half an event, or many events: keep a buffer
//     and parse lines and events across reads (SSE framing)
//   * a read can end inside a UTF-8 character: decode with
//     TextDecoder.decode(bytes, {stream: true}) so it is finished on the next read
//   * lines may end in CRLF, LF or a bare CR (all legal SSE); CRLF may be
//     split across two reads
//   * `: ping` comments are keep-alives, not messages, and not progress
//   * the provider reports failures in the stream, with status 200:
//     `data: {"error": {...}}`
//   * the body may end without `data: [DONE]` or without a finish_reason:
//     the answer may be cut short, so say so
//   * the server may go silent (or send only keep-alives): give up after N
//     seconds without content instead of hanging
//   * a failure before any content (network error, 429, 5xx) is worth a
//     retry with exponential backoff, honouring `retry-after`; a failure
//     after content has been shown is not retried automatically, because a
//     new request would start the answer again from the beginning
//   * the user can cancel at any time: AbortController, which also closes
//     the connection, so the server stops generating
//
// Two entry points:
//
//   streamChat({...})            fetch + ReadableStream, POST (what SDKs do);
//                                other wire formats with `reader` (readers.js)
//                                and `framing: "ndjson"` for NDJSON (Ollama)
//   streamWithEventSource({...}) the browser's EventSource, GET; it reconnects
//                                by itself and resumes with Last-Event-ID
//
// Both resolve with {text, finishReason, sawDone, usage, toolCalls, warnings}
// and reject with a StreamError whose `kind` says what went wrong and whose
// `partialText` keeps what arrived before (show it; do not throw it away).

// ---------------------------------------------------------------------------
// Errors

/** What went wrong, as one of a few kinds a UI can react to. */
export class StreamError extends Error {
  /**
   * @param {"network"|"http"|"not-sse"|"error-event"|"stalled"|"aborted"} kind
   * @param {string} message  readable, fit to show to a user
   * @param {object} [details] status, body, retryAfterMs, retryable, partialText
   */
  constructor(kind, message, details = {}) {
    super(message);
    this.name = "StreamError";
    this.kind = kind;
    this.status = details.status ?? null;
    this.body = details.body ?? null;
    this.retryAfterMs = details.retryAfterMs ?? null;
    this.retryable = details.retryable ?? false;
    this.partialText = details.partialText ?? "";
  }
}

// Statuses worth retrying: the ones the official SDKs retry (timeout,
// conflict, rate limit, server errors). Anything else (400, 401, 404) will
// fail the same way again.
const RETRY_STATUSES = new Set([408, 409, 429, 500, 502, 503, 504]);
const MAX_RETRY_AFTER_MS = 60_000; // a server asking for more than this: give up and say so

// ---------------------------------------------------------------------------
// SSE framing (WHATWG HTML, "server-sent events", the parsing rules)

/**
 * A push parser for `text/event-stream`. Feed it decoded text in pieces of
 * any size; it calls `onEvent({type, data, id})` once per complete event.
 *
 *   data: {"a":1}      one event per blank line; several `data:` lines
 *   data: {"b":2}      are joined with "\n"
 *                      <- blank line: dispatch
 *   : ping             a comment: onComment("ping"), never an event
 *
 * The byte-order mark that the spec says to skip is already removed by
 * TextDecoder (it strips one leading BOM by default), so it is not handled here.
 */
/**
 * A push parser for NDJSON (`application/x-ndjson`, Ollama): one JSON value
 * a line. Feed it decoded text in pieces of any size; it calls
 * `onEvent({type: "message", data: line})` once per complete line, so the
 * same ReplyAssembler reads it. A CR before the LF is dropped; blank lines
 * are skipped. A last line without its LF is still a line (end() returns it).
 */
export function createNdjsonParser({ onEvent }) {
  let buffer = "";
  function feed(text) {
    buffer += text;
    let newline;
    while ((newline = buffer.indexOf("\n")) !== -1) {
      line(buffer.slice(0, newline));
      buffer = buffer.slice(newline + 1);
    }
  }
  function line(text) {
    text = text.replace(/\r$/, "");
    if (text.trim() !== "") onEvent({ type: "message", data: text, id: "" });
  }
  /** The body ended: a last line without its newline is read too. Returns false: nothing was discarded. */
  function end() {
    const rest = buffer;
    buffer = "";
    line(rest);
    return false;
  }
  return { feed, end };
}

export function createSseParser({ onEvent, onComment = () => {}, onIgnored = () => {} }) {
  let buffer = ""; // text after the last complete line
  let skipLeadingLF = false; // the previous piece ended in CR: a following LF belongs to it
  let data = []; // the `data:` lines of the event being built
  let type = "";
  let lastEventId = ""; // persists across events, as in EventSource
  const lineBreak = /[\r\n]/g;

  function feed(text) {
    if (skipLeadingLF && text.startsWith("\n")) text = text.slice(1); // CRLF split across reads
    skipLeadingLF = false;
    buffer += text;
    let start = 0;
    lineBreak.lastIndex = 0;
    for (let match; (match = lineBreak.exec(buffer)); ) {
      const end = match.index;
      let next = end + 1;
      if (buffer[end] === "\r") {
        if (next === buffer.length) skipLeadingLF = true; // maybe the CR of a CRLF
        else if (buffer[next] === "\n") next += 1;
      }
      processLine(buffer.slice(start, end));
      start = next;
      lineBreak.lastIndex = next;
    }
    buffer = buffer.slice(start);
  }

  /** The body ended. An event without its closing blank line is discarded (the spec says so). */
  function end() {
    const incomplete = buffer !== "" || data.length > 0;
    buffer = "";
    data = [];
    type = "";
    return incomplete;
  }

  function processLine(line) {
    if (line === "") return dispatch();
    if (line[0] === ":") return onComment(line.slice(1).replace(/^ /, ""));
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value[0] === " ") value = value.slice(1); // exactly one leading space is stripped
    switch (field) {
      case "data": data.push(value); break;
      case "event": type = value; break;
      case "id": if (!value.includes("\0")) lastEventId = value; break;
      case "retry": break; // only EventSource's own reconnects use it
      default: onIgnored(line); // unknown fields are ignored by every SSE parser: a lost line
    }
  }

  function dispatch() {
    const event = { type: type || "message", data: data.join("\n"), id: lastEventId };
    const empty = data.length === 0;
    data = [];
    type = "";
    if (!empty) onEvent(event); // a blank line after only comments is not an event
  }

  return { feed, end };
}

// ---------------------------------------------------------------------------
// Chat completion chunks -> the reply

/**
 * Builds the reply from the data of SSE events in the Chat Completions shape.
 * Shared by both transports. Hooks (all optional): text(delta, fullText),
 * toolCalls(calls), finish(reason), usage(usage), warning(message).
 */
export class ReplyAssembler {
  /**
   * @param {object} [on]  the hooks
   * @param {object|null} [reader]  a readers.js reader for a format other than
   *   Chat Completions: it turns each frame into {text}/{toolCall}/{finish}/{usage}/{error}/{done}
   */
  constructor(on = {}, reader = null) {
    this.on = on;
    this.reader = reader;
    this.text = "";
    this.toolCalls = [];
    this.finishReason = null;
    this.usage = null;
    this.sawDone = false;
    this.sawContent = false; // anything shown to the user yet? (decides whether a retry is safe)
    this.warnedReplacement = false;
    this.warnings = [];
  }

  /** One SSE event. Throws StreamError("error-event") for the provider's in-stream error. */
  accept(event) {
    if (this.sawDone) return; // anything after [DONE] (a second [DONE], say) is not part of the reply
    if (event.type === "error") {
      throw new StreamError("error-event", `server sent an error event: ${event.data}`, { partialText: this.text });
    }
    if (event.data === "[DONE]") {
      this.sawDone = true;
      return;
    }
    let chunk;
    try {
      chunk = JSON.parse(event.data);
    } catch {
      // One broken event should not lose the whole answer: report it and go on.
      return this.warn(`skipped an event that is not valid JSON: ${shorten(event.data)}`);
    }
    if (this.reader) return this.acceptItems(this.reader.read(chunk ?? {}, event.type));
    if (chunk && chunk.error) {
      // Deliberate on the provider's side: the status was already 200, so a
      // failure after the headers can only be reported inside the stream.
      const message = chunk.error.message || JSON.stringify(chunk.error);
      throw new StreamError("error-event", `server error in the stream: ${message}`, { partialText: this.text });
    }
    if (!chunk || !Array.isArray(chunk.choices)) {
      return this.warn(`skipped an event that is not a chat completion chunk: ${shorten(event.data)}`);
    }
    if (chunk.usage) {
      this.usage = chunk.usage; // the last chunk, with stream_options.include_usage (its choices is [])
      this.on.usage?.(chunk.usage);
    }
    for (const choice of chunk.choices) {
      if ((choice.index ?? 0) !== 0) continue; // n > 1 is not handled here
      this.acceptDelta(choice.delta || {});
      if (choice.finish_reason) {
        this.finishReason = choice.finish_reason;
        this.on.finish?.(choice.finish_reason);
      }
    }
  }

  acceptDelta(delta) {
    // Concatenate deltas verbatim: tokens carry their own spaces, and may split words.
    if (typeof delta.content === "string" && delta.content !== "") {
      this.text += delta.content;
      this.sawContent = true;
      if (delta.content.includes("\uFFFD") && !this.warnedReplacement) {
        // The decoder turned invalid UTF-8 into U+FFFD: show it, and say so.
        this.warnedReplacement = true;
        this.warn("the text contains U+FFFD: the server sent bytes that are not valid UTF-8");
      }
      this.on.text?.(delta.content, this.text);
    }
    if (Array.isArray(delta.tool_calls)) {
      for (const part of delta.tool_calls) {
        // The first delta of a call has its id and name; later ones only
        // `index` and a piece of the arguments string, to be appended.
        const call = (this.toolCalls[part.index ?? 0] ??= { id: "", name: "", arguments: "" });
        if (part.id) call.id = part.id;
        if (part.function?.name) call.name += part.function.name;
        if (part.function?.arguments) call.arguments += part.function.arguments;
      }
      this.sawContent = true;
      this.on.toolCalls?.(this.toolCalls);
    }
  }

  /** A line that is not an SSE field: the reader's, if it reads such lines (Gemini's raw error). */
  acceptIgnored(line) {
    if (!this.reader?.ignored) return false;
    this.acceptItems(this.reader.ignored(line));
    return true;
  }

  /** What a format's reader made of one frame. */
  acceptItems(items) {
    for (const item of items) {
      if (item.error != null) {
        throw new StreamError("error-event", `server error in the stream: ${item.error}`, { partialText: this.text });
      }
      if (typeof item.text === "string") this.acceptDelta({ content: item.text });
      if (item.toolCall) {
        const { index = 0, id, name, arguments: args } = item.toolCall;
        // The same merge as OpenAI's tool_calls deltas: id and name first, then pieces of the arguments.
        this.acceptDelta({ tool_calls: [{ index, id, function: { name, arguments: args } }] });
      }
      if (item.finish) {
        this.finishReason = item.finish;
        this.on.finish?.(item.finish);
      }
      if (item.usage) {
        this.usage = item.usage;
        this.on.usage?.(item.usage);
      }
      if (item.done) this.sawDone = true;
    }
  }

  /** The body is over: say what was missing. Returns the result. */
  finish() {
    const terminator = this.reader ? this.reader.terminator : "data: [DONE]";
    if (terminator === null) this.sawDone = true; // the end of the body is this format's end
    else if (!this.sawDone) this.warn(`the stream ended without ${terminator}`);
    if (!this.finishReason && (this.reader?.finishes ?? true)) this.warn("no finish_reason: the answer may be cut short");
    return this.result();
  }

  result() {
    const { text, finishReason, sawDone, usage, toolCalls, warnings } = this;
    return { text, finishReason, sawDone, usage, toolCalls, warnings };
  }

  warn(message) {
    this.warnings.push(message);
    this.on.warning?.(message);
  }
}

// ---------------------------------------------------------------------------
// Timing helpers

/**
 * Fires `onStall` when `restart` has not been called for `ms` milliseconds.
 * Restart it on events, never on keep-alive comments: they prove that the
 * connection is alive, not that the answer progresses, and a stuck server can
 * send them forever (a byte-level read timeout never fires).
 */
export function createStallTimer(ms, onStall) {
  let timer = null;
  const enabled = Number.isFinite(ms) && ms > 0;
  return {
    restart() {
      clearTimeout(timer);
      if (enabled) timer = setTimeout(onStall, ms);
    },
    stop() {
      clearTimeout(timer);
    },
  };
}

/** Resolves after `ms`, or rejects at once when `signal` aborts (Stop during a backoff). */
function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortedError());
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    function onAbort() {
      clearTimeout(timer);
      reject(abortedError());
    }
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** The delay before retry number `retry` (1, 2, ...): what the server asked for, else exponential backoff with jitter. */
export function retryDelay(retry, retryAfterMs) {
  if (retryAfterMs != null) return retryAfterMs;
  const base = Math.min(8000, 500 * 2 ** (retry - 1)); // 0.5 s, 1 s, 2 s, ... 8 s
  return Math.round(base * (0.75 + Math.random() * 0.5)); // jitter: clients that failed together do not retry together
}

/** `retry-after-ms` (OpenAI), else `retry-after` in seconds or as an HTTP date; null if absent. */
export function parseRetryAfter(headers) {
  const ms = parseFloat(headers.get("retry-after-ms") ?? "");
  if (Number.isFinite(ms) && ms >= 0) return ms;
  const value = (headers.get("retry-after") ?? "").trim();
  if (value === "") return null;
  if (/^\d+(\.\d+)?$/.test(value)) return parseFloat(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? null : Math.max(0, date - Date.now());
}

// ---------------------------------------------------------------------------
// fetch: POST and read the body as a stream

/**
 * Streams one chat completion with fetch, retrying what is safe to retry.
 *
 * @param {object} options
 * @param {string} options.url            e.g. "/v1/chat/completions"
 * @param {object} options.body           the request; `stream: true` is what makes it SSE
 * @param {object} [options.headers]      extra headers (Authorization, X-Mockllm-Session, ...)
 * @param {AbortSignal} [options.signal]  abort it to cancel (the Stop button)
 * @param {number} [options.stallTimeoutMs=10000]  give up after this long without content
 * @param {number} [options.retries=2]    retries of failures that happened before any content
 * @param {object} [options.on]           hooks, all optional: request, response, bytes,
 *   comment, ignored, text, toolCalls, finish, usage, warning, retry
 * @param {() => object} [options.reader] for another wire format: makes a readers.js
 *   reader (one per attempt); without it the events are Chat Completions chunks
 * @param {"sse"|"ndjson"} [options.framing="sse"]  how the body is cut into frames
 */
export async function streamChat({ url, body, headers = {}, signal, stallTimeoutMs = 10_000, retries = 2, on = {},
  reader = null, framing = "sse" }) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await streamOnce({ url, body, headers, signal, stallTimeoutMs, on, attempt, reader, framing });
    } catch (error) {
      const retry = attempt; // attempt 1 failed: this would be retry 1
      if (!(error instanceof StreamError) || !error.retryable || retry > retries || signal?.aborted) throw error;
      if (error.retryAfterMs != null && error.retryAfterMs > MAX_RETRY_AFTER_MS) {
        error.message += ` (the server asks to retry after ${Math.round(error.retryAfterMs / 1000)} s: not waiting that long)`;
        throw error;
      }
      const delayMs = retryDelay(retry, error.retryAfterMs);
      on.retry?.({ retry, of: retries, delayMs, error });
      await sleep(delayMs, signal);
    }
  }
}

/** One request and its response, start to end. Throws StreamError. */
async function streamOnce({ url, body, headers, signal, stallTimeoutMs, on, attempt, reader, framing }) {
  // Our own controller, so a stall can abort the request too; the caller's
  // signal (Stop) is forwarded to it.
  const controller = new AbortController();
  const unlink = forwardAbort(signal, controller);
  const stall = createStallTimer(stallTimeoutMs, () =>
    controller.abort(new StreamError("stalled", `stalled: no content for ${stallTimeoutMs / 1000} s`))
  );
  const reply = new ReplyAssembler(on, reader ? reader() : null);
  const contentType = framing === "ndjson" ? "application/x-ndjson" : "text/event-stream";
  stall.restart(); // the wait for the headers counts too
  try {
    on.request?.({ attempt, url });
    let response;
    try {
      response = await fetch(url, {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: contentType, ...headers },
        body: JSON.stringify(body),
        signal: controller.signal,
      });
    } catch (error) {
      throw asStreamError(error, controller.signal, reply, "network error before the response");
    }
    on.response?.({ attempt, response });
    await checkResponse(response, contentType);
    await readEvents(response.body, { reply, stall, on, signal: controller.signal, framing });
    return reply.finish();
  } finally {
    stall.stop();
    unlink();
    controller.abort(); // nothing more to read: make sure the connection is released (a no-op if done)
  }
}

/** Refuse what is not an event stream, with a message a person can read. */
async function checkResponse(response, expected = "text/event-stream") {
  const type = response.headers.get("content-type") || "";
  if (!response.ok) {
    const text = await response.text().catch(() => "");
    throw new StreamError("http", `HTTP ${response.status} ${response.statusText}: ${errorSummary(text, type)}`, {
      status: response.status,
      body: text,
      retryAfterMs: parseRetryAfter(response.headers),
      retryable: RETRY_STATUSES.has(response.status),
    });
  }
  // startsWith, not ===: real servers add "; charset=utf-8".
  if (!type.toLowerCase().startsWith(expected)) {
    const text = await response.text().catch(() => "");
    throw new StreamError("not-sse", `expected ${expected}, got ${type || "no content type"}: ${errorSummary(text, type)}`, {
      status: response.status,
      body: text,
    });
  }
}

/** Read the body to its end (or to [DONE]), feeding the parser and the reply. */
async function readEvents(body, { reply, stall, on, signal, framing = "sse" }) {
  const reader = body.getReader();
  // One decoder per response, in stream mode: a character split across two
  // reads is held back until its last byte arrives instead of becoming U+FFFD.
  const decoder = new TextDecoder("utf-8");
  const createParser = framing === "ndjson" ? createNdjsonParser : createSseParser;
  const parser = createParser({
    onEvent(event) {
      stall.restart();
      reply.accept(event); // may throw the provider's in-stream error
    },
    onComment: (text) => on.comment?.(text), // keep-alive: deliberately not a stall.restart()
    onIgnored: (line) => reply.acceptIgnored(line) || on.ignored?.(line),
  });
  try {
    while (!reply.sawDone) {
      let chunk;
      try {
        chunk = await reader.read();
      } catch (error) {
        throw asStreamError(error, signal, reply, "connection lost mid-stream");
      }
      if (chunk.done) {
        parser.feed(decoder.decode()); // flush: an incomplete character at the end becomes U+FFFD
        if (parser.end()) reply.warn("the body ended inside an event; that event was discarded");
        return;
      }
      on.bytes?.(chunk.value);
      parser.feed(decoder.decode(chunk.value, { stream: true }));
    }
  } finally {
    // After [DONE] (or an error) stop reading: some servers keep the socket
    // open after [DONE], and waiting for the end of the body would hang.
    reader.cancel().catch(() => {});
  }
}

/** Any error from fetch or a read, as a StreamError that knows whether a retry is safe. */
function asStreamError(error, signal, reply, what) {
  if (error instanceof StreamError) return error;
  if (signal.aborted) {
    const reason = signal.reason;
    const stopped = reason instanceof StreamError ? reason : abortedError();
    stopped.partialText = reply.text;
    return stopped;
  }
  return new StreamError("network", `${what}: ${error.message || error}`, {
    partialText: reply.text,
    retryable: !reply.sawContent, // once text is on screen a new request would start the answer over
  });
}

function abortedError() {
  return new StreamError("aborted", "cancelled");
}

function forwardAbort(from, to) {
  if (!from) return () => {};
  const forward = () => to.abort(from.reason);
  if (from.aborted) forward();
  else from.addEventListener("abort", forward, { once: true });
  return () => from.removeEventListener("abort", forward);
}

/** The readable part of an error body: the API's error message, or an HTML page's text. */
function errorSummary(text, type) {
  if (type.includes("json")) {
    try {
      const parsed = JSON.parse(text);
      if (parsed?.error?.message) return parsed.error.message;
    } catch {
      // not JSON after all: fall through to the text
    }
  }
  if (type.includes("html") || /^\s*</.test(text)) {
    // A proxy's error page: its <title> says it best; never show raw HTML to a user.
    const title = /<title[^>]*>([^<]*)<\/title>/i.exec(text)?.[1];
    text = title || text.replace(/<[^>]*>/g, " ");
  }
  return shorten(text.replace(/\s+/g, " ").trim()) || "(empty body)";
}

function shorten(text, max = 160) {
  return text.length > max ? text.slice(0, max - 1) + "…" : text;
}

// ---------------------------------------------------------------------------
// EventSource: GET, with the browser's own reconnects

/**
 * Streams one reply with the browser's EventSource.
 *
 * EventSource parses SSE and decodes UTF-8 itself, and when the connection
 * drops it reconnects by itself (after the server's `retry:` delay), sending
 * `Last-Event-ID`, so a server that numbers its events resumes where the
 * stream broke. What it does not do, and this function does:
 *   * stop at [DONE]: otherwise the end of the body looks like a drop and the
 *     browser reconnects forever
 *   * tell an in-stream error or a stall from a reconnect
 *   * stop after `maxReconnects` reconnects in a row with no event between them
 * It cannot send a POST body or headers (the prompt goes in the URL), and
 * JavaScript cannot see the status or headers of its responses.
 *
 * @param {object} options
 * @param {string} options.url
 * @param {AbortSignal} [options.signal]
 * @param {number} [options.stallTimeoutMs=10000]
 * @param {number} [options.maxReconnects=2]
 * @param {object} [options.reader]  a readers.js reader for an SSE format other than
 *   Chat Completions; its `events` are the `event:` names listened for besides "message"
 * @param {object} [options.on]  hooks: open({reconnect, lastEventId}),
 *   message(event), reconnect({lastEventId, count}), closedByServer({lastEventId}),
 *   and the ReplyAssembler hooks
 */
export function streamWithEventSource({ url, signal, stallTimeoutMs = 10_000, maxReconnects = 2, on = {}, reader = null }) {
  return new Promise((resolve, reject) => {
    const reply = new ReplyAssembler(on, reader);
    const source = new EventSource(url);
    let opened = 0;
    let lastEventId = "";
    let reconnectsInARow = 0;
    const stall = createStallTimer(stallTimeoutMs, () =>
      fail(new StreamError("stalled", `stalled: no content for ${stallTimeoutMs / 1000} s`))
    );

    function settle() {
      stall.stop();
      source.close(); // also the only way to stop the browser's reconnects
      signal?.removeEventListener("abort", onAbort);
    }
    function fail(error) {
      settle();
      error.partialText = reply.text;
      reject(error);
    }
    function onAbort() {
      fail(abortedError());
    }
    if (signal?.aborted) return onAbort();
    signal?.addEventListener("abort", onAbort, { once: true });
    stall.restart();

    source.onopen = () => {
      opened += 1;
      on.open?.({ reconnect: opened > 1, lastEventId });
    };

    const onEvent = (event) => {
      lastEventId = event.lastEventId;
      reconnectsInARow = 0;
      stall.restart();
      on.message?.(event);
      try {
        reply.accept({ type: event.type, data: event.data, id: event.lastEventId });
      } catch (error) {
        return fail(error);
      }
      if (reply.sawDone) {
        settle(); // close now, or the end of the body would make the browser reconnect
        resolve(reply.finish());
      }
    };
    source.onmessage = onEvent;
    // Typed events (`event: message_start`) reach only listeners for their name.
    for (const type of reader?.events ?? []) source.addEventListener(type, onEvent);

    source.onerror = (event) => {
      // Chromium also delivers a server-sent `event: error` here, as a
      // MessageEvent with data; a real connection error is a plain Event.
      if (event instanceof MessageEvent) {
        return fail(new StreamError("error-event", `server sent an error event: ${event.data}`));
      }
      if (source.readyState === EventSource.CONNECTING) {
        // The connection dropped, or the body ended: EventSource cannot tell
        // the two apart, and is already reconnecting with Last-Event-ID.
        if (reply.finishReason) {
          // The answer had finished; only [DONE] was missing. Stop here,
          // or the browser would come back for a stream that is over.
          settle();
          resolve(reply.finish());
          return;
        }
        reconnectsInARow += 1;
        if (reconnectsInARow > maxReconnects) {
          return fail(new StreamError("network", `connection lost; gave up after ${maxReconnects} reconnects`));
        }
        on.reconnect?.({ lastEventId, count: reconnectsInARow });
        return;
      }
      // CLOSED: the browser gave up for good. It does that on any answer but
      // a 200 event stream, and JavaScript cannot see which one it was.
      if (opened > 0 && lastEventId !== "") {
        // A reconnect after events were delivered was refused: a server that
        // resumes by Last-Event-ID answers 204 once there is nothing left.
        on.closedByServer?.({ lastEventId });
        settle();
        resolve(reply.finish());
        return;
      }
      fail(new StreamError("http", "EventSource could not connect: the answer was not a 200 text/event-stream (EventSource does not say which status)"));
    };
  });
}
