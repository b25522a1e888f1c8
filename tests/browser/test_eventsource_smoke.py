async def test_chromium_eventsource_reads_a_stream_and_stops_on_204(page, builtin):
    await page.goto(builtin.url + "/")
    texts = await page.evaluate(
        """(url) => new Promise((resolve, reject) => {
            const got = [];
            const source = new EventSource(url);
            source.onmessage = (event) => {
                if (event.data === "[DONE]") return;
                const chunk = JSON.parse(event.data);
                if (chunk.content) got.push(chunk.content);
            };
            source.onerror = () => {
                // The server answers the reconnect after the last event with 204:
                // EventSource then closes for good.
                if (source.readyState === EventSource.CLOSED) resolve(got.join(""));
            };
            setTimeout(() => reject(new Error("no end after 10 s: " + got.join(""))), 10000);
        })""",
        builtin.url + "/v1/stream/hello?format=content",
    )
    assert texts == "Hello! I am mockllm, a mock language model. How can I help you today?"
