// sandbox.js: the page around client.js. It wires the form to the client
// and draws what the client reports: the reply, a timeline and the raw bytes.
// The code worth copying is in client.js; this file is only the display.

import { streamChat, streamWithEventSource } from "./client.js";
import { createReader } from "./readers.js";

const PAUSE_MS = 500; // a gap between reads longer than this gets its own timeline row
const RAW_LIMIT = 256 * 1024; // characters kept in the raw panel

const $ = (id) => document.getElementById(id);
const ui = {
  form: $("controls"),
  scenario: $("scenario"),
  description: $("scenario-description"),
  format: $("format"),
  formatDescription: $("format-description"),
  prompt: $("prompt"),
  stall: $("stall"),
  retries: $("retries"),
  send: $("send"),
  stop: $("stop"),
  session: $("session"),
  status: $("status"),
  reply: $("reply"),
  replyText: $("reply-text"),
  cursor: $("cursor"),
  toolCalls: $("tool-calls"),
  timeline: $("timeline"),
  raw: $("raw"),
  rawNote: $("raw-note"),
};

// One id per page load: the server counts attempts per session (so "fail
// twice, then succeed" scenarios work) and the journal can be filtered by it.
// crypto.getRandomValues, unlike crypto.randomUUID, works on plain http too.
const session = "sandbox-" + Array.from(crypto.getRandomValues(new Uint8Array(6)), (b) => b.toString(16).padStart(2, "0")).join("");
ui.session.textContent = session;
$("journal-link").href = `/_mockllm/journal?session=${session}`;
$("verdicts-link").href = `/_mockllm/verdicts?session=${session}`;

let running = null; // the AbortController of the stream in progress

// ---------------------------------------------------------------------------
// Scenarios

async function loadScenarios() {
  try {
    const response = await fetch("/v1/models");
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const { data } = await response.json();
    for (const model of data) {
      const option = new Option(model.id, model.id);
      option.title = model.description || "";
      option.dataset.description = model.description || "";
      ui.scenario.append(option);
    }
    if (data.some((m) => m.id === "hello")) ui.scenario.value = "hello";
    showDescription();
    ui.send.disabled = false;
  } catch (error) {
    ui.description.textContent = `Could not load the scenarios from /v1/models: ${error.message}`;
  }
}

// ---------------------------------------------------------------------------
// Formats: the wire formats the server streams, each with the request its
// official client sends, holding {model} and {prompt} (GET /_mockllm/formats)

// What the page falls back to if the list cannot be read: Chat Completions.
const OPENAI = {
  name: "openai",
  title: "OpenAI Chat Completions",
  framing: "sse",
  path: "/v1/chat/completions",
  headers: {},
  body: { model: "{model}", messages: [{ role: "user", content: "{prompt}" }], stream: true },
};
const formats = new Map([["openai", OPENAI]]);

async function loadFormats() {
  try {
    const response = await fetch("/_mockllm/formats");
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const listed = await response.json();
    formats.clear();
    for (const format of listed) formats.set(format.name, format);
  } catch (error) {
    ui.formatDescription.textContent = `Could not load the formats from /_mockllm/formats (${error.message}): OpenAI only`;
  }
  for (const format of formats.values()) ui.format.append(new Option(format.title, format.name));
  if (formats.has("openai")) ui.format.value = "openai";
  showFormat();
}

function showFormat() {
  const format = currentFormat();
  ui.formatDescription.textContent = `POST ${format.path} · ${format.framing === "ndjson" ? "NDJSON" : "SSE"}`;
}

function currentFormat() {
  return formats.get(ui.format.value) ?? OPENAI;
}

/** A copy of `value` with {model} and {prompt} filled in every string in it. */
function fill(value, model, prompt) {
  if (typeof value === "string") return value.replaceAll("{model}", model).replaceAll("{prompt}", prompt);
  if (Array.isArray(value)) return value.map((item) => fill(item, model, prompt));
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, fill(item, model, prompt)]));
  }
  return value;
}

/** What ends a clean stream of `format`, for the "done" row. */
function terminator(format) {
  const reader = createReader(format.name);
  if (!reader || reader.terminator === "data: [DONE]") return "[DONE]";
  return reader.terminator ?? "end of body";
}

function showDescription() {
  const option = ui.scenario.selectedOptions[0];
  ui.description.textContent = option ? option.dataset.description : "";
}

// ---------------------------------------------------------------------------
// Timeline

class Timeline {
  constructor(list) {
    this.list = list;
    this.t0 = performance.now();
    this.tokenRow = null; // consecutive tokens share one row, to stay readable
  }

  reset() {
    this.list.replaceChildren();
    this.t0 = performance.now();
    this.tokenRow = null;
  }

  add(what, detail = "", kind = "info") {
    this.tokenRow = null;
    return this.row(what, detail, kind);
  }

  /** Token number `n` arrived: extend the current "tokens" row, or start one. */
  token(n) {
    if (!this.tokenRow) {
      this.tokenRow = this.row("tokens", "", "token");
      this.tokenRow.first = n;
    }
    const { first } = this.tokenRow;
    this.tokenRow.querySelector(".time").textContent = this.elapsed();
    this.tokenRow.querySelector(".detail").textContent =
      n === first ? `#${n}` : `#${first}–#${n} (${n - first + 1} tokens)`;
  }

  row(what, detail, kind) {
    const li = document.createElement("li");
    li.className = `kind-${kind}`;
    const time = span("time", this.elapsed());
    li.append(time, span("what", what), span("detail", detail));
    follow(this.list.parentElement, () => this.list.append(li));
    return li;
  }

  elapsed() {
    return `+${Math.round(performance.now() - this.t0)} ms`;
  }
}

function span(className, text) {
  const element = document.createElement("span");
  element.className = className;
  element.textContent = text;
  return element;
}

/**
 * Run `change` (which adds to `panel`), then keep the panel scrolled to its
 * end if it was at its end before: auto-follow that lets a user scroll up to read.
 */
function follow(panel, change) {
  const atEnd = panel.scrollHeight - panel.scrollTop - panel.clientHeight < 24;
  change();
  if (atEnd) panel.scrollTop = panel.scrollHeight;
}

const timeline = new Timeline(ui.timeline);

// ---------------------------------------------------------------------------
// Raw bytes

class RawView {
  constructor(pre) {
    this.pre = pre;
    this.decoder = null;
    this.size = 0;
    this.reads = 0;
  }

  reset(note) {
    this.pre.replaceChildren();
    this.decoder = new TextDecoder("utf-8", { ignoreBOM: true }); // keep a BOM visible
    this.size = 0;
    this.reads = 0;
    ui.rawNote.textContent = note;
  }

  /** One network read; reads alternate shades so the fragmentation shows. */
  read(bytes) {
    this.append(this.decoder.decode(bytes, { stream: true }), `read r${this.reads++ % 2}`);
  }

  /** Text reconstructed from what an API delivered (EventSource hides the bytes). */
  text(text) {
    this.append(text, "read");
  }

  append(text, className) {
    if (this.size > RAW_LIMIT) return;
    this.size += text.length;
    const chunk = document.createElement("span");
    chunk.className = className;
    // Make line ends visible: CR as ␍ and LF as ␊, then a real line break after LF and lone CR.
    for (const part of text.split(/(\r\n|\r|\n|\uFEFF)/)) {
      if (part === "") continue;
      if (part === "\r\n") chunk.append(mark("\\r\\n"), "\n");
      else if (part === "\r") chunk.append(mark("\\r"), "\n");
      else if (part === "\n") chunk.append(mark("\\n"), "\n");
      else if (part === "\uFEFF") chunk.append(mark("<BOM>"));
      else chunk.append(part);
    }
    if (this.size > RAW_LIMIT) chunk.append(mark(" … (the rest is not shown)"));
    follow(this.pre, () => this.pre.append(chunk));
  }
}

function mark(text) {
  return span("eol", text);
}

const raw = new RawView(ui.raw);

// ---------------------------------------------------------------------------
// One run: Send until done, error or Stop

function setStatus(text, kind) {
  ui.status.textContent = text;
  ui.status.className = `status status-${kind}`;
}

function setRunning(on) {
  ui.send.disabled = on;
  ui.stop.disabled = !on;
  ui.cursor.hidden = !on;
  ui.reply.classList.toggle("streaming", on);
}

/** The hooks both clients report to; they only draw. */
function displayHooks() {
  let firstByte = false;
  let lastRead = null;
  let tokens = 0;
  const notePause = () => {
    const now = performance.now();
    if (lastRead !== null && now - lastRead > PAUSE_MS) {
      timeline.add("pause", `${Math.round(now - lastRead)} ms with nothing received`, "pause");
    }
    lastRead = now;
  };
  return {
    bytes(value) {
      notePause();
      if (!firstByte) {
        firstByte = true;
        timeline.add("first byte", `${value.length} bytes in the first read`);
      }
      raw.read(value);
    },
    message(event) {
      // EventSource only: no bytes, so its events stand in for them.
      notePause();
      if (!firstByte) {
        firstByte = true;
        timeline.add("first byte", "first event (EventSource shows events, not bytes)");
      }
      raw.text(`id: ${event.lastEventId}\ndata: ${event.data}\n\n`);
    },
    text(delta, full) {
      tokens += 1;
      if (tokens === 1) {
        setStatus("streaming…", "busy");
        timeline.add("first token", JSON.stringify(delta), "token");
      } else {
        timeline.token(tokens);
      }
      follow(ui.reply, () => (ui.replyText.textContent = full));
    },
    toolCalls(calls) {
      if (tokens === 0) setStatus("streaming…", "busy");
      ui.toolCalls.replaceChildren(
        ...calls.map((call) => span("tool-call", `${call.name}(${call.arguments})`))
      );
      timeline.token(++tokens);
    },
    comment(text) {
      timeline.add("heartbeat", `": ${text}" comment (a keep-alive: it does not reset the stall timer)`, "heartbeat");
    },
    ignored(line) {
      timeline.add("warning", `ignored a line that is not an SSE field: ${short(line)}`, "warning");
    },
    finish(reason) {
      timeline.add("finish", `finish_reason: ${reason}`);
    },
    usage(usage) {
      timeline.add("usage", `${usage.prompt_tokens} prompt + ${usage.completion_tokens} completion tokens`);
    },
    warning(message) {
      timeline.add("warning", message, "warning");
    },
  };
}

function short(text, max = 100) {
  return text.length > max ? text.slice(0, max - 1) + "…" : text;
}

async function runFetch(scenario, prompt, controller, hooks, format) {
  const stallTimeoutMs = Number(ui.stall.value) * 1000;
  const retries = Math.max(0, Math.floor(Number(ui.retries.value) || 0));
  raw.reset("What fetch read, one read per shade.");
  // mockllm: a model named like a scenario selects it.
  const url = format.path.replaceAll("{model}", encodeURIComponent(scenario));
  const body = fill(format.body, scenario, prompt);
  if (format.name === "openai") body.stream_options = { include_usage: true };
  return streamChat({
    url,
    headers: { ...fill(format.headers ?? {}, scenario, prompt), "X-Mockllm-Session": session },
    body,
    framing: format.framing,
    reader: () => createReader(format.name),
    signal: controller.signal,
    stallTimeoutMs,
    retries,
    on: {
      ...hooks,
      request({ attempt }) {
        setStatus(attempt > 1 ? `retrying (attempt ${attempt})…` : "waiting for headers…", "busy");
        timeline.add("request", `POST ${url}, attempt ${attempt}`);
      },
      response({ response }) {
        const type = response.headers.get("content-type") || "no content type";
        const serverAttempt = response.headers.get("x-mockllm-attempt");
        timeline.add(
          "headers",
          `HTTP ${response.status} ${response.statusText} · ${type}` + (serverAttempt ? ` · server attempt ${serverAttempt}` : ""),
          response.ok ? "info" : "error"
        );
        const faults = response.headers.get("x-mockllm-faults");
        if (faults) timeline.add("faults", faults, "fault");
      },
      retry({ retry, of, delayMs, error }) {
        const why = error.retryAfterMs != null ? `retry-after: ${error.retryAfterMs / 1000} s` : "exponential backoff";
        timeline.add("error", error.message, "error");
        timeline.add("retry", `retry ${retry} of ${of} in ${Math.round(delayMs)} ms (${why})`, "retry");
        setStatus(`retrying in ${Math.round(delayMs)} ms…`, "busy");
      },
    },
  });
}

async function runEventSource(scenario, prompt, controller, hooks, format) {
  const stallTimeoutMs = Number(ui.stall.value) * 1000;
  const maxReconnects = Math.max(0, Math.floor(Number(ui.retries.value) || 0));
  // EventSource reads SSE only: an NDJSON format streams as OpenAI chunks here.
  const name = format.framing === "sse" ? format.name : "openai";
  const query = new URLSearchParams({ format: name, session, prompt });
  const url = `/v1/stream/${encodeURIComponent(scenario)}?${query}`;
  raw.reset("EventSource does not expose bytes: each event as it was delivered.");
  timeline.add("request", `new EventSource("${url}")`);
  return streamWithEventSource({
    url,
    signal: controller.signal,
    stallTimeoutMs,
    maxReconnects,
    reader: createReader(name),
    on: {
      ...hooks,
      open({ reconnect, lastEventId }) {
        if (reconnect) timeline.add("reconnected", `the server resumed after event ${lastEventId} (Last-Event-ID: ${lastEventId})`, "retry");
        else timeline.add("open", "200 text/event-stream (EventSource cannot read headers, so faults are not listed)");
        setStatus("streaming…", "busy");
      },
      reconnect({ lastEventId, count }) {
        timeline.add("error", "connection lost", "error");
        timeline.add(
          "reconnect",
          `the browser reconnects by itself (${count} of ${maxReconnects}), sending Last-Event-ID: ${lastEventId || "(none)"}`,
          "retry"
        );
        setStatus("reconnecting…", "busy");
      },
      closedByServer({ lastEventId }) {
        timeline.add("closed", `the server refused the reconnect after event ${lastEventId} (mockllm answers 204: nothing left to resume)`);
      },
    },
  });
}

async function send(event) {
  event?.preventDefault();
  if (running) return;
  const scenario = ui.scenario.value;
  const prompt = ui.prompt.value;
  const client = ui.form.elements.client.value;
  const controller = new AbortController();
  running = controller;
  timeline.reset();
  ui.replyText.textContent = "";
  ui.toolCalls.replaceChildren();
  setRunning(true);
  setStatus("connecting…", "busy");
  const hooks = displayHooks();
  try {
    const run = client === "eventsource" ? runEventSource : runFetch;
    const format = currentFormat();
    const result = await run(scenario, prompt, controller, hooks, format);
    const ending = result.sawDone ? terminator(format) : "end of body";
    timeline.add("done", `${ending} · finish_reason: ${result.finishReason ?? "none"} · ${result.text.length} characters`, "done");
    setStatus(result.warnings.length ? "done, with warnings" : "done", result.warnings.length ? "warning" : "done");
  } catch (error) {
    if (error.kind === "aborted") {
      timeline.add("stopped", "cancelled by Stop (AbortController): the connection is closed", "stopped");
      setStatus("stopped", "stopped");
    } else {
      timeline.add("error", error.message || String(error), "error");
      setStatus("error", "error");
    }
  } finally {
    running = null;
    setRunning(false);
    setTimeout(showVerdicts, VERDICT_WAIT_MS);
  }
}

function stop() {
  running?.abort();
}

// ---------------------------------------------------------------------------
// Verdicts: how this page's client behaved, judged by the server from its
// journal (GET /_mockllm/verdicts). An exchange is journaled once the server
// sees it end, a moment after the page does: hence the short wait.

const VERDICT_WAIT_MS = 300;
const NOTES_SHOWN = 3; // evidence notes per verdict; the route has them all

async function showVerdicts() {
  const list = $("verdicts");
  try {
    const response = await fetch(`/_mockllm/verdicts?session=${session}`);
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const { verdicts } = await response.json();
    list.replaceChildren(...Object.entries(verdicts).map(([name, verdict]) => verdictRow(name, verdict)));
  } catch (error) {
    const row = document.createElement("li");
    row.append(span("verdict-notes", `Could not read the verdicts: ${error.message}`));
    list.replaceChildren(row);
  }
}

function verdictRow(name, { result, evidence }) {
  const row = document.createElement("li");
  row.dataset.verdict = name;
  const notes = evidence.slice(-NOTES_SHOWN).map((e) => e.note).join(" · ");
  row.append(
    span(`verdict-result result-${result === "n/a" ? "na" : result}`, result),
    span("verdict-name", name),
    span("verdict-notes", notes || "nothing in this session to judge"),
  );
  return row;
}

ui.form.addEventListener("submit", send);
ui.stop.addEventListener("click", stop);
ui.scenario.addEventListener("change", showDescription);
ui.format.addEventListener("change", showFormat);
$("refresh-verdicts").addEventListener("click", showVerdicts);
ui.prompt.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) send(event);
});
loadFormats();
loadScenarios();
showVerdicts();
