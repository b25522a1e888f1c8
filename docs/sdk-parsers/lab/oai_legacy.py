import os, json, sys, base64, struct
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import *
import openai
base = start(18769)
c = openai.OpenAI(base_url=base + "/v1", api_key="sk-x", timeout=3)
def ch(text, fr=None, usage=None):
    d = {"id": "cmpl-1", "object": "text_completion", "created": 1, "choices": [{"text": text, "index": 0, "logprobs": None, "finish_reason": fr}], "model": "m"}
    return d
ok = {"status": 200, "headers": {"content-type": "text/event-stream"}}
def fr(ds, done=True): return [b"data: " + json.dumps(d).encode() + b"\n\n" for d in ds] + ([b"data: [DONE]\n\n"] if done else [])
def st(**kw): return [(x.choices[0].text, x.choices[0].finish_reason) if x.choices else ("<nochoices>", x.usage and x.usage.total_tokens) for x in c.completions.create(model="m", prompt="hi", stream=True, **kw)]
reqs = run("completions_clean", [{**ok, "chunks": fr([ch("Hel"), ch("lo", "stop")])}], st)
print("  request:", reqs[0][1], reqs[0][3])
usage_chunk = {"id": "cmpl-1", "object": "text_completion", "created": 1, "model": "m", "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}, "choices": []}
reqs = run("completions_include_usage", [{**ok, "chunks": fr([ch("Hel"), ch("lo", "stop"), usage_chunk])}], lambda: st(stream_options={"include_usage": True}))
print("  request:", reqs[0][3])
run("completions_no_done", [{**ok, "chunks": fr([ch("Hel"), ch("lo", "stop")], done=False)}], st)
run("completions_no_finish", [{**ok, "chunks": fr([ch("Hel"), ch("lo")])}], st)
run("completions_delta_shape", [{**ok, "chunks": fr([{"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m", "choices": [{"index": 0, "delta": {"content": "x"}, "finish_reason": None}]}])}], st)
run("completions_error_frame", [{**ok, "chunks": fr([ch("Hel"), {"error": {"message": "boom", "type": "server_error"}}])}], st)
def ns():
    r = c.completions.create(model="m", prompt="hi"); return r.choices[0].text, r.choices[0].finish_reason
run("completions_nonstream", [{"status": 200, "headers": {"content-type": "application/json"}, "chunks": [json.dumps({**ch("Hello", "stop"), "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}).encode()]}], ns)
vec = base64.b64encode(struct.pack("<3f", 0.5, -1.0, 2.0)).decode()
E = lambda emb: {"status": 200, "headers": {"content-type": "application/json"}, "chunks": [json.dumps({"object": "list", "data": [{"object": "embedding", "index": 0, "embedding": emb}], "model": "m", "usage": {"prompt_tokens": 1, "total_tokens": 1}}).encode()]}
reqs = run("embeddings_base64", [E(vec)], lambda: c.embeddings.create(model="m", input="hi").data[0].embedding)
print("  request:", reqs[0][1], reqs[0][3])
run("embeddings_floats_when_base64_asked", [E([0.5, -1.0])], lambda: c.embeddings.create(model="m", input="hi").data[0].embedding)
run("embeddings_explicit_float_gets_base64", [E(vec)], lambda: c.embeddings.create(model="m", input="hi", encoding_format="float").data[0].embedding)
run("embeddings_bad_length", [E(base64.b64encode(b"abcde").decode())], lambda: c.embeddings.create(model="m", input="hi").data[0].embedding)
run("embeddings_empty_data", [{"status": 200, "headers": {"content-type": "application/json"}, "chunks": [b'{"object":"list","data":[],"model":"m"}']}], lambda: c.embeddings.create(model="m", input="hi").data)
