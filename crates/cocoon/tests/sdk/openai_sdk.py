"""The official `openai` Python SDK, unchanged, against a running `cocoon up` client API.

Usage: openai_sdk.py BASE_URL MODEL EMBEDDING_MODEL. Exits non-zero, saying what failed, when an
answer does not parse in the SDK or is not what was asked: tool calls (a round trip, and
streamed), structured outputs (100 answers that must fit a JSON schema), logprobs, n choices,
logit_bias, and embeddings (in the SDK's default base64 and in float).
"""

import concurrent.futures
import json
import math
import sys

from openai import OpenAI

base_url, model, embedding_model = sys.argv[1], sys.argv[2], sys.argv[3]
client = OpenAI(base_url=base_url, api_key="not-needed-on-loopback", max_retries=0, timeout=120)

tools = [{
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The current weather in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string", "maxLength": 30}},
            "required": ["city"],
            "additionalProperties": False,
        },
    },
}]
question = [{"role": "user", "content": "What is the weather in Paris?"}]

# A tool-call round trip: the model calls the function, the app sends the result, the model
# answers (in text, or with another call: either must parse).
r = client.chat.completions.create(model=model, messages=question, tools=tools, tool_choice="required",
                                   max_tokens=80, temperature=0)
choice = r.choices[0]
assert choice.finish_reason == "tool_calls", choice
call = choice.message.tool_calls[0]
assert call.type == "function" and call.function.name == "get_weather", call
assert isinstance(json.loads(call.function.arguments)["city"], str), call
history = question + [
    choice.message.model_dump(exclude_none=True),
    {"role": "tool", "tool_call_id": call.id, "content": "18 degrees and sunny"},
]
r = client.chat.completions.create(model=model, messages=history, tools=tools, max_tokens=30, temperature=0)
answer = r.choices[0].message
assert answer.content or answer.tool_calls, r
assert r.usage.prompt_tokens > 20 and r.usage.completion_tokens > 0, r.usage

# The same call, streamed: deltas put back together.
stream = client.chat.completions.create(model=model, messages=question, tools=tools, stream=True,
                                        tool_choice={"type": "function", "function": {"name": "get_weather"}},
                                        max_tokens=80, temperature=0)
name, arguments, finish = "", "", None
for chunk in stream:
    if not chunk.choices:
        continue
    for tc in chunk.choices[0].delta.tool_calls or []:
        name += tc.function.name or ""
        arguments += tc.function.arguments or ""
    finish = chunk.choices[0].finish_reason or finish
assert (name, finish) == ("get_weather", "tool_calls"), (name, finish)
assert isinstance(json.loads(arguments)["city"], str), arguments

# Structured outputs: 100 of 100 sampled answers parse and fit the schema.
schema = {
    "type": "object",
    "properties": {
        "city": {"type": "string", "minLength": 1, "maxLength": 20},
        "temperature_c": {"type": "integer", "minimum": -60, "maximum": 60},
    },
    "required": ["city", "temperature_c"],
    "additionalProperties": False,
}


def structured(seed):
    r = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "The weather in Lisbon today, as JSON."}],
        response_format={"type": "json_schema", "json_schema": {"name": "weather", "strict": True, "schema": schema}},
        max_tokens=48, temperature=1.0, seed=seed)
    c = r.choices[0]
    assert c.finish_reason == "stop", (seed, c)
    v = json.loads(c.message.content)
    assert set(v) == {"city", "temperature_c"}, (seed, v)
    assert isinstance(v["city"], str) and 1 <= len(v["city"]) <= 20, (seed, v)
    assert isinstance(v["temperature_c"], int) and -60 <= v["temperature_c"] <= 60, (seed, v)
    return v


with concurrent.futures.ThreadPoolExecutor(4) as pool:
    fitted = list(pool.map(structured, range(100)))
assert len(fitted) == 100

# Logprobs: one per token, its bytes the text, the chosen token the most likely (greedy).
r = client.chat.completions.create(model=model, messages=[{"role": "user", "content": "Name three colours."}],
                                   max_tokens=12, temperature=0, logprobs=True, top_logprobs=2)
c = r.choices[0]
assert b"".join(bytes(t.bytes) for t in c.logprobs.content).decode() == c.message.content, c
for t in c.logprobs.content:
    assert t.logprob <= 0 and len(t.top_logprobs) == 2 and t.top_logprobs[0].token == t.token, t

# n choices, each counted; logit_bias accepted.
r = client.chat.completions.create(model=model, messages=[{"role": "user", "content": "Name a colour."}],
                                   n=3, max_tokens=6, temperature=1.0, logit_bias={"1000": -100})
assert [c.index for c in r.choices] == [0, 1, 2], r
assert r.usage.completion_tokens >= 3, r.usage

# n choices streamed together, each with log-probabilities that spell its text.
stream = client.chat.completions.create(model=model, messages=[{"role": "user", "content": "Name a colour."}],
                                        n=2, max_tokens=8, temperature=1.0, seed=5, stream=True, logprobs=True,
                                        stream_options={"include_usage": True})
texts, spelled, usage = ["", ""], [b"", b""], None
for chunk in stream:
    usage = chunk.usage or usage
    for c in chunk.choices:
        texts[c.index] += c.delta.content or ""
        if c.logprobs and c.logprobs.content:
            spelled[c.index] += b"".join(bytes(t.bytes) for t in c.logprobs.content)
assert all(texts) and [s.decode() for s in spelled] == texts, (texts, spelled)
assert usage is not None and usage.completion_tokens >= 2, usage

# Embeddings: two similar sentences closer than two unrelated ones, in the SDK's default
# encoding (base64, decoded by the SDK) and in float, which must agree.
def cosine(a, b):
    return sum(x * y for x, y in zip(a, b)) / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))


texts = ["The cat sits on the mat.", "A cat is sitting on a rug.", "Stock markets fell sharply on Monday."]
e = client.embeddings.create(model=embedding_model, input=texts)
assert [d.index for d in e.data] == [0, 1, 2], e
vectors = [d.embedding for d in e.data]
assert all(len(v) == 384 for v in vectors), [len(v) for v in vectors]
similar, unrelated = cosine(vectors[0], vectors[1]), cosine(vectors[0], vectors[2])
assert similar > unrelated + 0.3, (similar, unrelated)
assert e.usage.prompt_tokens > 0 and e.usage.total_tokens == e.usage.prompt_tokens, e.usage
f = client.embeddings.create(model=embedding_model, input=texts[0], encoding_format="float")
assert max(abs(x - y) for x, y in zip(f.data[0].embedding, vectors[0])) < 1e-6

print(f"openai {sys.modules['openai'].__version__}: tool calls (round trip, streamed), "
      f"100 of 100 structured answers fit, logprobs match the text, n=3 ok, n=2 streamed, "
      f"embeddings similar {similar:.2f} > unrelated {unrelated:.2f}")
