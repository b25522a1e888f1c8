import os, copy, json, sys, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import *
from google import genai
from google.genai import types, errors
base = start(18767)
c = genai.Client(api_key="g-key", http_options=types.HttpOptions(base_url=base, timeout=3000))
def chunk(text, finish=None, usage=(3, 2)):
    cand = {"content": {"parts": [{"text": text}], "role": "model"}, "index": 0}
    if finish: cand["finishReason"] = finish
    return {"candidates": [cand], "usageMetadata": {"promptTokenCount": usage[0], "candidatesTokenCount": usage[1], "totalTokenCount": sum(usage)}, "modelVersion": "gemini-x", "responseId": "abc"}
def frames(chs, sep=b"\r\n\r\n", prefix=b"data: "):
    return [prefix + json.dumps(ch).encode() + sep for ch in chs]
CL = [chunk("Hel"), chunk("lo"), chunk("", "STOP", (3, 5))]
def stream():
    out = []
    for r in c.models.generate_content_stream(model="gemini-x", contents="hi"):
        out.append((r.text, r.candidates[0].finish_reason if r.candidates else None, r.usage_metadata.candidates_token_count if r.usage_metadata else None))
    return out
ok = {"status": 200, "headers": {"content-type": "text/event-stream"}}
reqs = run("clean", [{**ok, "chunks": frames(CL)}], stream)
m, p, h, b = reqs[0]; print("  request:", m, p, h, b)
run("event_lines", [{**ok, "chunks": [b"event: message\r\n" + f for f in frames(CL)]}], stream)
run("comment_line", [{**ok, "chunks": [b": keepalive\r\n\r\n"] + frames(CL)}], stream)
run("id_line", [{**ok, "chunks": [b"id: 1\r\n" + f for f in frames(CL)]}], stream)
run("done_terminator", [{**ok, "chunks": frames(CL) + [b"data: [DONE]\r\n\r\n"]}], stream)
run("no_finish", [{**ok, "chunks": frames(CL[:2])}], stream)
run("no_candidates_chunk", [{**ok, "chunks": frames([{"usageMetadata": {"promptTokenCount": 1}}] + CL)}], stream)
run("wrong_schema", [{**ok, "chunks": frames([{"foo": "bar"}] + CL)}], stream)
run("candidates_not_list", [{**ok, "chunks": frames([{"candidates": "x"}] + CL)}], stream)
run("malformed", [{**ok, "chunks": frames(CL[:1]) + [b"data: {not json}\r\n\r\n"] + frames(CL[1:])}], stream)
err = b'{\n  "error": {\n    "code": 503,\n    "message": "overloaded",\n    "status": "UNAVAILABLE"\n  }\n}\n'
run("raw_error_after_frames", [{**ok, "chunks": frames(CL[:2]) + [err]}], stream)
run("data_error", [{**ok, "chunks": frames(CL[:2]) + [b'data: {"error": {"code": 429, "message": "q", "status": "RESOURCE_EXHAUSTED"}}\r\n\r\n']}], stream)
run("drop", [{**ok, "chunks": frames(CL[:2]), "action": "drop"}], stream)
t = time.time(); run("stall", [{**ok, "chunks": frames(CL[:2]), "action": "stall", "stall": 8}], stream); print("  took", round(time.time() - t, 1))
e429 = {"status": 429, "headers": {"content-type": "application/json; charset=UTF-8", "retry-after": "1"}, "chunks": [b'{\n  "error": {\n    "code": 429,\n    "message": "quota",\n    "status": "RESOURCE_EXHAUSTED"\n  }\n}\n']}
run("http_429", [e429], stream)
c2 = genai.Client(api_key="g-key", http_options=types.HttpOptions(base_url=base, timeout=3000, retry_options=types.HttpRetryOptions(attempts=3, initial_delay=0.1, max_delay=0.2)))
t=time.time(); run("http_429_with_retry_options", [e429], lambda: list(c2.models.generate_content_stream(model="gemini-x", contents="hi"))); print("  took", round(time.time()-t,1))
run("http_529_with_retry_options", [{**e429, "status": 529}], lambda: list(c2.models.generate_content_stream(model="gemini-x", contents="hi")))
run("http_529", [{**e429, "status": 529}], stream)
# fc
fc = {"candidates": [{"content": {"parts": [{"functionCall": {"name": "get", "args": {"a": 1}, "id": "c1"}}], "role": "model"}, "finishReason": "STOP", "index": 0}]}
run("function_call", [{**ok, "chunks": frames([fc])}], lambda: [(r.function_calls[0].name, r.function_calls[0].args, r.function_calls[0].id) for r in c.models.generate_content_stream(model="gemini-x", contents="hi")])
def ns():
    r = c.models.generate_content(model="gemini-x", contents="hi")
    return r.text, r.candidates[0].finish_reason, r.usage_metadata.total_token_count
reqs = run("non_stream", [{"status": 200, "headers": {"content-type": "application/json; charset=UTF-8"}, "chunks": [json.dumps(chunk("Hello", "STOP"), indent=2).encode()]}], ns)
print("  request:", reqs[0][0], reqs[0][1])
run("non_stream_empty_object", [{"status": 200, "headers": {"content-type": "application/json"}, "chunks": [b"{}"]}], lambda: c.models.generate_content(model="gemini-x", contents="hi").text)
run("non_stream_html", [{"status": 200, "headers": {"content-type": "text/html"}, "chunks": [b"<html></html>"]}], lambda: c.models.generate_content(model="gemini-x", contents="hi").text)
reqs = run("embed", [{"status": 200, "headers": {"content-type": "application/json"}, "chunks": [b'{"embeddings":[{"values":[0.1,0.2]}]}']}], lambda: [e.values for e in c.models.embed_content(model="text-embedding-004", contents="hi").embeddings])
print("  request:", reqs[0][0], reqs[0][1], reqs[0][3])
os.environ["GOOGLE_GENAI_API_VERSION"] = "beta"
cb = genai.Client(api_key="g-key", http_options=types.HttpOptions(base_url=base))
reqs = run("beta_env", [{**ok, "chunks": frames(CL)}], lambda: len(list(cb.models.generate_content_stream(model="gemini-x", contents="hi"))))
print("  request:", reqs[0][1])
