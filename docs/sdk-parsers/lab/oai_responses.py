import os, copy, json, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import *
import openai
base = start(18765)
c = openai.OpenAI(base_url=base + "/v1", api_key="sk-x", max_retries=2, timeout=3)

R = {"id": "resp_1", "object": "response", "created_at": 1, "status": "in_progress", "model": "m", "output": [], "usage": None, "error": None}
ITEM = {"id": "msg_1", "type": "message", "status": "in_progress", "role": "assistant", "content": []}
PART = {"type": "output_text", "text": "", "annotations": []}
def done_item(text):
    return {**ITEM, "status": "completed", "content": [{**PART, "text": text}]}
def events(seq=None, skip=(), extra=None):
    ev = [
        {"type": "response.created", "response": R},
        {"type": "response.in_progress", "response": R},
        {"type": "response.output_item.added", "output_index": 0, "item": ITEM},
        {"type": "response.content_part.added", "item_id": "msg_1", "output_index": 0, "content_index": 0, "part": PART},
        {"type": "response.output_text.delta", "item_id": "msg_1", "output_index": 0, "content_index": 0, "delta": "Hel", "logprobs": []},
        {"type": "response.output_text.delta", "item_id": "msg_1", "output_index": 0, "content_index": 0, "delta": "lo", "logprobs": []},
        {"type": "response.output_text.done", "item_id": "msg_1", "output_index": 0, "content_index": 0, "text": "Hello", "logprobs": []},
        {"type": "response.content_part.done", "item_id": "msg_1", "output_index": 0, "content_index": 0, "part": {**PART, "text": "Hello"}},
        {"type": "response.output_item.done", "output_index": 0, "item": done_item("Hello")},
        {"type": "response.completed", "response": {**R, "status": "completed", "output": [done_item("Hello")], "usage": {"input_tokens": 1, "output_tokens": 2, "total_tokens": 3, "input_tokens_details": {"cached_tokens": 0}, "output_tokens_details": {"reasoning_tokens": 0}}}},
    ]
    ev = [copy.deepcopy(e) for i, e in enumerate(ev) if e["type"] not in skip and i not in skip]
    for i, e in enumerate(ev):
        if seq == "none": pass
        elif seq == "gap": e["sequence_number"] = i * 3 + 7
        elif seq == "dup": e["sequence_number"] = 0
        else: e["sequence_number"] = i
    return ev

def final(**kw):
    with c.responses.stream(model="m", input="hi", **kw) as s:
        evs = [e.type for e in s]
        r = s.get_final_response()
        return (r.output_text, r.status, r.usage.output_tokens if r.usage else None, len(evs))

def raw():
    s = c.responses.create(model="m", input="hi", stream=True)
    return [e.type for e in s]

ok = {"status": 200, "headers": {"content-type": "text/event-stream; charset=utf-8"}}
reqs = run("clean", [{**ok, "chunks": sse(events())}], final)
m, p, h, b = reqs[0]; print("  request:", m, p, {k: v for k, v in h.items() if not k.lower().startswith("x-stainless")}, b)
run("no_event_lines", [{**ok, "chunks": sse(events(), event_lines=False)}], final)
run("no_sequence_number", [{**ok, "chunks": sse(events(seq="none"))}], final)
run("sequence_gap", [{**ok, "chunks": sse(events(seq="gap"))}], final)
run("sequence_all_zero", [{**ok, "chunks": sse(events(seq="dup"))}], final)
run("starting_after_needs_seq", [{**ok, "chunks": sse(events(seq="none"))}], lambda: [e.type for e in c.responses.stream(response_id="resp_1", starting_after=2).__enter__()])
run("no_output_text_done", [{**ok, "chunks": sse(events(skip=("response.output_text.done",)))}], final)
run("no_content_part_done", [{**ok, "chunks": sse(events(skip=("response.content_part.done",)))}], final)
run("no_output_item_done", [{**ok, "chunks": sse(events(skip=("response.output_item.done",)))}], final)
ev = events(skip=("response.output_item.done",)); ev[-1]["response"]["output"] = []
run("no_item_done_and_completed_output_empty", [{**ok, "chunks": sse(ev)}], final)
ev = events(); ev[-1]["response"].pop("output")
run("completed_without_output_field", [{**ok, "chunks": sse(ev)}], final)
run("no_in_progress", [{**ok, "chunks": sse(events(skip=("response.in_progress",)))}], final)
run("no_created", [{**ok, "chunks": sse(events(skip=("response.created",)))}], final)
run("no_output_item_added", [{**ok, "chunks": sse(events(skip=("response.output_item.added",)))}], final)
run("no_content_part_added", [{**ok, "chunks": sse(events(skip=("response.content_part.added",)))}], final)
ev = events(); ev[-1]["response"]["id"] = "resp_other"
run("completed_other_id", [{**ok, "chunks": sse(ev)}], final)
ev = events(); ev[4]["content_index"] = 3
run("delta_content_index_out_of_range", [{**ok, "chunks": sse(ev)}], final)
run("no_completed", [{**ok, "chunks": sse(events(skip=("response.completed",)))}], final)
run("no_completed_raw", [{**ok, "chunks": sse(events(skip=("response.completed",)))}], raw)
ev = events(); ev[-1] = {"type": "response.incomplete", "sequence_number": 9, "response": {**R, "status": "incomplete", "incomplete_details": {"reason": "max_output_tokens"}}}
run("incomplete_instead_of_completed", [{**ok, "chunks": sse(ev)}], final)
ev = events()[:5] + [{"type": "error", "sequence_number": 5, "error": {"type": "server_error", "code": "server_error", "message": "boom", "param": None}}]
run("error_nested", [{**ok, "chunks": sse(ev)}], final)
ev = events()[:5] + [{"type": "error", "sequence_number": 5, "code": "server_error", "message": "boom", "param": None}, {"type": "response.failed", "sequence_number": 6, "response": {**R, "status": "failed", "error": {"code": "server_error", "message": "boom"}}}]
run("error_flat_then_failed", [{**ok, "chunks": sse(ev)}], final)
run("error_flat_then_failed_raw", [{**ok, "chunks": sse(ev)}], raw)
ev = events(); ev[5] = b"event: response.output_text.delta\ndata: {not json}\n\n"
run("malformed_json", [{**ok, "chunks": sse(ev)}], final)
ev = events(); ev[5] = {"type": "response.output_text.delta", "sequence_number": 5}
run("wrong_schema_delta_missing_fields", [{**ok, "chunks": sse(ev)}], final)
ev = events(); ev[5] = {"foo": "bar"}
run("wrong_schema_no_type", [{**ok, "chunks": sse(ev, event_lines=False)}], final)
ev = events(); ev.insert(5, {"type": "response.future_thing", "sequence_number": 5, "x": 1})
run("unknown_event_type", [{**ok, "chunks": sse(ev)}], final)
ev = events(); ev.insert(5, b"event: keepalive\n\n")
run("event_line_without_data", [{**ok, "chunks": sse(ev)}], final)
ev = events(); ev.insert(5, b": ping\n\n")
run("comment_line", [{**ok, "chunks": sse(ev)}], final)
run("done_terminator_appended", [{**ok, "chunks": sse(events()) + [b"data: [DONE]\n\n"]}], final)
run("drop_mid_stream", [{**ok, "chunks": sse(events())[:6], "action": "drop"}], final)
run("stall_mid_stream", [{**ok, "chunks": sse(events())[:6], "action": "stall", "stall": 8}], final)
err = {"status": 429, "headers": {"content-type": "application/json", "retry-after": "1"}, "chunks": [b'{"error":{"message":"slow down","type":"requests","param":null,"code":"rate_limit_exceeded"}}']}
r = run("http_429_retry_after_1", [err], final)
err2 = {"status": 529, "headers": {"content-type": "application/json"}, "chunks": [b'{"error":{"message":"overloaded","type":"server_error","param":null,"code":null}}']}
run("http_529", [err2], final)
# function call
FC = {"id": "fc_1", "type": "function_call", "status": "in_progress", "call_id": "call_1", "name": "get", "arguments": ""}
FCD = {**FC, "status": "completed", "arguments": "{\"a\":1}"}
ev = [{"type": "response.created", "response": R},
      {"type": "response.output_item.added", "output_index": 0, "item": FC},
      {"type": "response.function_call_arguments.delta", "item_id": "fc_1", "output_index": 0, "delta": "{\"a\""},
      {"type": "response.function_call_arguments.delta", "item_id": "fc_1", "output_index": 0, "delta": ":1}"},
      {"type": "response.output_item.done", "output_index": 0, "item": FCD},
      {"type": "response.completed", "response": {**R, "status": "completed", "output": [FCD]}}]
for i, e in enumerate(ev): e["sequence_number"] = i
def fcall():
    with c.responses.stream(model="m", input="hi") as s:
        snaps = [getattr(e, "snapshot", None) for e in s if e.type == "response.function_call_arguments.delta"]
        r = s.get_final_response()
        return snaps, [(o.type, o.name, o.arguments) for o in r.output]
run("function_call_no_args_done", [{**ok, "chunks": sse(ev)}], fcall)
