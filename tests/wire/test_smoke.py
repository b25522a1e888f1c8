async def test_openai_sdk_streams_the_default_scenario(client):
    stream = await client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "hi"}], stream=True
    )
    text = "".join([chunk.choices[0].delta.content or "" async for chunk in stream])
    assert text == "Hello! I am mockllm, a mock language model. How can I help you today?"
