import os, sys; sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
exec(open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "oai_responses.py")).read().split("ok = {")[0])
ok = {"status": 200, "headers": {"content-type": "text/event-stream"}}
ev = events(); ev[-1]["response"]["output"] = [done_item("DIFFERENT")]
run("completed_output_differs_from_deltas", [{**ok, "chunks": sse(ev)}], final)
ev = events(); ev[-2]["item"] = done_item("ITEMDONE"); ev[-1]["response"].pop("output")
run("completed_no_output_uses_item_done", [{**ok, "chunks": sse(ev)}], final)
ev = events(); [e.pop("item_id", None) for e in ev]
run("no_item_id", [{**ok, "chunks": sse(ev)}], final)
ev = events(); ev[-1]["response"].pop("usage")
run("completed_no_usage", [{**ok, "chunks": sse(ev)}], final)
