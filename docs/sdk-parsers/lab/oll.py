import os, json, sys, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import *
import ollama
base = start(18768)
c = ollama.Client(host=base, timeout=3)
L = [{"model": "m", "created_at": "2025-07-07T20:22:19.184789Z", "message": {"role": "assistant", "content": "Hel"}, "done": False},
     {"model": "m", "created_at": "2025-07-07T20:22:19.19314Z", "message": {"role": "assistant", "content": "lo"}, "done": False},
     {"model": "m", "created_at": "2025-07-07T20:22:19.2001Z", "message": {"role": "assistant", "content": ""}, "done": True, "done_reason": "stop", "prompt_eval_count": 3, "eval_count": 2}]
nd = {"status": 200, "headers": {"content-type": "application/x-ndjson"}}
def lines(ls): return [json.dumps(l, separators=(",", ":")).encode() + b"\n" for l in ls]
def st(): return [(p.message.content, p.done, p.done_reason, p.eval_count) for p in c.chat(model="m", messages=[{"role": "user", "content": "hi"}], stream=True)]
def ns():
    r = c.chat(model="m", messages=[{"role": "user", "content": "hi"}]); return r.message.content, r.done, r.done_reason
reqs = run("chat_nonstream", [{"status": 200, "headers": {"content-type": "application/json; charset=utf-8"}, "chunks": [json.dumps({**L[2], "message": {"role": "assistant", "content": "Hello"}}).encode()]}], ns)
print("  request:", reqs[0][0], reqs[0][1], reqs[0][2], reqs[0][3])
reqs = run("chat_stream", [{**nd, "chunks": lines(L)}], st); print("  request:", reqs[0][3])
reqs = run("generate_nonstream", [{"status": 200, "headers": {"content-type": "application/json"}, "chunks": [b'{"model":"m","created_at":"2025-07-07T20:22:19.2Z","response":"Hi","done":true,"done_reason":"stop","context":[1,2]}']}], lambda: (lambda r: (r.response, r.done_reason))(c.generate(model="m", prompt="hi")))
print("  request:", reqs[0][1], reqs[0][3])
run("nonstream_minimal_body", [{"status": 200, "headers": {"content-type": "application/json"}, "chunks": [b'{"message":{"role":"assistant","content":"x"}}']}], ns)
run("nonstream_empty_object", [{"status": 200, "headers": {"content-type": "application/json"}, "chunks": [b'{}']}], ns)
run("nonstream_got_ndjson", [{**nd, "chunks": lines(L)}], ns)
run("stream_no_done_line", [{**nd, "chunks": lines(L[:2])}], st)
run("stream_error_line", [{**nd, "chunks": lines(L[:1]) + [b'{"error":"boom"}\n']}], st)
run("stream_malformed", [{**nd, "chunks": lines(L[:1]) + [b'{not json}\n'] + lines(L[1:])}], st)
run("stream_wrong_schema", [{**nd, "chunks": lines(L[:1]) + [b'{"foo":"bar"}\n'] + lines(L[1:])}], st)
run("stream_sse_framed", [{**nd, "chunks": [b"data: " + l + b"\n" for l in lines(L)]}], st)
run("stream_drop", [{**nd, "chunks": lines(L[:2]), "action": "drop"}], st)
t=time.time(); run("stream_stall", [{**nd, "chunks": lines(L[:2]), "action": "stall", "stall": 8}], st); print("  took", round(time.time()-t,1))
run("http_429", [{"status": 429, "headers": {"content-type": "application/json", "retry-after": "1"}, "chunks": [b'{"error":"rate limited"}']}], st)
run("http_500_nonstream", [{"status": 500, "headers": {"content-type": "application/json"}, "chunks": [b'{"error":"boom"}']}], ns)
run("http_404_text", [{"status": 404, "headers": {"content-type": "text/plain"}, "chunks": [b'404 page not found']}], ns)
tc = {**L[0], "message": {"role": "assistant", "content": "", "tool_calls": [{"id": "call_1", "function": {"index": 0, "name": "get", "arguments": {"a": 1}}}]}}
run("tool_call", [{**nd, "chunks": lines([tc, L[2]])}], lambda: [(p.message.tool_calls and [(t.function.name, t.function.arguments) for t in p.message.tool_calls]) for p in c.chat(model="m", messages=[{"role": "user", "content": "hi"}], stream=True)])
tc2 = {**L[0], "message": {"role": "assistant", "content": "", "tool_calls": [{"function": {"name": "get", "arguments": "{\"a\": 1}"}}]}}
run("tool_call_string_args", [{**nd, "chunks": lines([tc2, L[2]])}], lambda: [p.message.tool_calls for p in c.chat(model="m", messages=[{"role": "user", "content": "hi"}], stream=True)])
reqs = run("embed", [{"status": 200, "headers": {"content-type": "application/json"}, "chunks": [b'{"model":"m","embeddings":[[0.1,0.2]]}']}], lambda: c.embed(model="m", input="hi").embeddings)
print("  request:", reqs[0][1], reqs[0][3])
