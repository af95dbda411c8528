// The Vercel AI SDK (npm `ai` + `@ai-sdk/openai`, pinned in package.json) against a running
// gateway, driven by tests/local/test_ai_sdk.py. Usage: node ai_sdk_client.mjs <base url> <key>.
//
// The provider keeps its defaults: `openai(model)` is the Responses API with store left at
// OpenAI's default (true), so every later turn sends earlier output back as item_reference.
// Prints one JSON object: what each scenario saw.

import { createOpenAI } from "@ai-sdk/openai";
import { generateText, stepCountIs, streamText, tool } from "ai";
import { z } from "zod";

const [baseURL, apiKey] = process.argv.slice(2);
const openai = createOpenAI({ baseURL, apiKey });
const model = openai("gpt-oss-120b");

const calls = [];
const tools = {
  get_weather: tool({
    description: "The weather in a city",
    inputSchema: z.object({ city: z.string() }),
    execute: async ({ city }) => {
      calls.push(city);
      return `rainy and 12 C in ${city}`;
    },
  }),
};

async function toolLoop() {
  const result = await generateText({
    model,
    tools,
    stopWhen: stepCountIs(3),
    prompt: "What is the get_weather in `Paris`?",
  });
  return {
    text: result.text,
    steps: result.steps.length,
    toolCalls: result.steps.flatMap((step) => step.toolCalls.map((call) => [call.toolName, call.input])),
    finishReason: result.finishReason,
    usage: result.totalUsage,
  };
}

async function streamedToolLoop() {
  const result = streamText({
    model,
    tools,
    stopWhen: stepCountIs(3),
    prompt: "What is the get_weather in `Lima`?",
  });
  const parts = [];
  const started = performance.now();
  for await (const part of result.fullStream) {
    if (part.type === "error") throw part.error;
    parts.push({ type: part.type, t: performance.now() - started });
  }
  return {
    text: await result.text,
    steps: (await result.steps).length,
    textDeltas: parts.filter((p) => p.type === "text-delta").length,
    kinds: [...new Set(parts.map((p) => p.type))],
  };
}

async function liveReasoning() {
  // forceReasoning makes the provider ask for summaries (and, with store: false, encrypted
  // reasoning): its reasoning display reads only the summary events.
  const result = streamText({
    model,
    prompt: "Think aloud, then answer.",
    providerOptions: { openai: { forceReasoning: true, reasoningSummary: "auto", store: false } },
  });
  const reasoning = [];
  let firstText = null;
  const started = performance.now();
  for await (const part of result.fullStream) {
    if (part.type === "error") throw part.error;
    if (part.type === "reasoning-delta") reasoning.push(performance.now() - started);
    if (part.type === "text-delta" && firstText === null) firstText = performance.now() - started;
  }
  const text = await result.reasoningText;
  return { reasoningDeltas: reasoning.length, spreadMs: reasoning.at(-1) - reasoning[0], firstTextMs: firstText, text };
}

async function threeTurns() {
  const messages = [];
  const texts = [];
  for (const said of ["My name is Ada.", "I live in `Oslo`.", "What do you know about me?"]) {
    messages.push({ role: "user", content: said });
    const result = await generateText({ model, messages });
    texts.push(result.text);
    messages.push(...result.response.messages);
  }
  return { texts, messages: messages.length };
}

const report = {};
for (const [name, scenario] of Object.entries({ toolLoop, streamedToolLoop, liveReasoning, threeTurns })) {
  try {
    report[name] = await scenario();
  } catch (error) {
    report[name] = { error: String(error?.stack ?? error), responseBody: error?.responseBody ?? null };
  }
}
report.calls = calls;
process.stdout.write(JSON.stringify(report));
