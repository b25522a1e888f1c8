// What the tool-loop scripts (ai-sdk-loop, anthropic-loop) share: the
// get_weather tool's schema and body, and a fetch that records each
// response's X-Mockllm-Turn.
export const WEATHER_SCHEMA = {
  type: 'object',
  properties: { city: { type: 'string' }, unit: { type: 'string' } },
  required: ['city', 'unit'],
};

// The tool: records its arguments in seen.ran, answers as a weather API would.
export function weather(seen, input) {
  seen.ran.push(input);
  return JSON.stringify({ temperature: 18, sky: 'sunny' });
}

// `fetch` that appends each response's X-Mockllm-Turn (null: none) to seen.turns.
export function recordingTurns(fetch, seen) {
  seen.ran = [];
  seen.turns = [];
  return async (input, init) => {
    const response = await fetch(input, init);
    seen.turns.push(response.headers.get('x-mockllm-turn'));
    return response;
  };
}
