// The playground: talk to gpt-oss through this gateway with any of its three APIs.
// Plain modules, no build step. Libraries come from npm through scripts/vendor-assets.mjs.
// Every URL is relative to the gateway URL setting (by default the folder this page came from),
// so the page works under a path prefix and against another origin that lists it in CORS_ORIGINS.
import { marked } from "./vendor/marked/marked.esm.js";
import DOMPurify from "./vendor/dompurify/purify.es.mjs";

const $ = (id) => document.getElementById(id);
const KEY_STORE = "gateway-playground-key";
const URL_STORE = "gateway-playground-url";
const MAX_TOOL_ROUNDS = 3;

const WEATHER_PARAMETERS = {
  type: "object",
  properties: { city: { type: "string", description: "The city, e.g. Paris" } },
  required: ["city"],
};
const WEATHER_DESCRIPTION = "The current weather in a city (a demo tool: the page answers it itself).";

const state = {
  history: [], // {role: "user"|"assistant"|"tool", text, reasoning, calls, callId, name}
  controller: null,
  prices: {},
};

// -- settings -------------------------------------------------------------------------------------

function defaultGatewayUrl() {
  return new URL(".", window.location.href).href;
}

function gatewayUrl() {
  const raw = $("gateway-url").value.trim() || defaultGatewayUrl();
  return raw.endsWith("/") ? raw : raw + "/";
}

function endpoint(path) {
  return new URL(path, gatewayUrl()).href;
}

function settings() {
  const limit = Number.parseInt($("max-tokens").value, 10);
  return {
    api: $("api").value,
    model: $("model").value,
    effort: $("effort").value,
    maxTokens: Number.isFinite(limit) && limit > 0 ? limit : undefined,
    stream: $("stream").checked,
    tools: $("tools").checked,
    key: $("api-key").value.trim(),
  };
}

function restoreSettings() {
  $("gateway-url").value = sessionStorage.getItem(URL_STORE) || defaultGatewayUrl();
  $("api-key").value = sessionStorage.getItem(KEY_STORE) || "";
  $("api-key").addEventListener("input", () => sessionStorage.setItem(KEY_STORE, $("api-key").value.trim()));
  $("forget-key").addEventListener("click", () => {
    sessionStorage.removeItem(KEY_STORE);
    $("api-key").value = "";
    $("api-key").focus();
  });
  $("gateway-url").addEventListener("change", () => {
    sessionStorage.setItem(URL_STORE, $("gateway-url").value.trim());
    loadGateway();
  });
}

function showBackend(name) {
  if (!name) return;
  $("backend").textContent = name === "emulator" ? "emulator (offline, not the model)" : name;
  $("emulator-banner").hidden = name !== "emulator";
}

async function loadGateway() {
  try {
    const health = await (await fetch(endpoint("healthz"))).json();
    showBackend(health.backend);
    fillModels(health.models || []);
    if (health.status !== "ok") announce("The gateway says it is not configured to serve yet.");
  } catch (error) {
    $("backend").textContent = "unreachable";
    announce(`Could not reach the gateway at ${gatewayUrl()}: ${error.message}`);
  }
  try {
    const reference = await (await fetch(endpoint("openapi.json"))).json();
    for (const model of reference["x-gateway-models"] || []) state.prices[model.id] = model.usd_per_million_tokens;
  } catch {
    // Prices only feed the cost line; without them it says "unknown".
  }
}

function fillModels(models) {
  const select = $("model");
  const current = select.value;
  select.replaceChildren(...models.map((id) => new Option(id, id)));
  if (models.includes(current)) select.value = current;
}

function announce(text) {
  $("status").textContent = text;
}

// -- requests per API -------------------------------------------------------------------------------

const CHAT_TOOL = { type: "function", function: { name: "get_weather", description: WEATHER_DESCRIPTION, parameters: WEATHER_PARAMETERS } };
const RESPONSES_TOOL = { type: "function", name: "get_weather", description: WEATHER_DESCRIPTION, parameters: WEATHER_PARAMETERS };

function chatMessages(history, native) {
  return history.map((turn) => {
    if (turn.role === "user") return { role: "user", content: turn.text };
    if (turn.role === "tool") return { role: "tool", tool_call_id: turn.callId, content: turn.text };
    const message = { role: "assistant", content: turn.text || (native ? "" : null) };
    if (turn.calls.length) {
      message.tool_calls = turn.calls.map((call) => ({
        id: call.id,
        type: "function",
        function: { name: call.name, arguments: call.arguments },
      }));
    }
    return message;
  });
}

function responseInput(history) {
  const items = [];
  for (const turn of history) {
    if (turn.role === "user") items.push({ role: "user", content: turn.text });
    else if (turn.role === "tool") items.push({ type: "function_call_output", call_id: turn.callId, output: turn.text });
    else {
      if (turn.text) items.push({ role: "assistant", content: turn.text });
      for (const call of turn.calls) {
        items.push({ type: "function_call", call_id: call.id, name: call.name, arguments: call.arguments });
      }
    }
  }
  return items;
}

function buildRequest(options, history) {
  if (options.api === "responses") {
    const body = { model: options.model, input: responseInput(history), reasoning: { effort: options.effort }, stream: options.stream };
    if (options.maxTokens) body.max_output_tokens = options.maxTokens;
    if (options.tools) body.tools = [RESPONSES_TOOL];
    return { url: endpoint("v1/responses"), body };
  }
  if (options.api === "native") {
    const body = { messages: chatMessages(history, true), reasoning_effort: options.effort, stream: options.stream };
    if (options.maxTokens) body.max_tokens = options.maxTokens;
    if (options.tools) body.tools = [CHAT_TOOL];
    return { url: endpoint(`ai/run/${options.model}`), body };
  }
  const body = { model: options.model, messages: chatMessages(history, false), reasoning_effort: options.effort, stream: options.stream };
  if (options.stream) body.stream_options = { include_usage: true };
  if (options.maxTokens) body.max_completion_tokens = options.maxTokens;
  if (options.tools) body.tools = [CHAT_TOOL];
  return { url: endpoint("v1/chat/completions"), body };
}

// -- reading answers: one accumulator, fed by each API's shapes -------------------------------------

class Answer {
  constructor() {
    this.reasoning = "";
    this.text = "";
    this.calls = []; // {id, name, arguments}
    this.usage = null; // {input, output}
    this.error = null;
    this.finish = null;
  }

  setUsage(usage) {
    if (!usage) return;
    const input = usage.prompt_tokens ?? usage.input_tokens;
    const output = usage.completion_tokens ?? usage.output_tokens;
    const cached = (usage.prompt_tokens_details || usage.input_tokens_details || {}).cached_tokens || 0;
    if (input !== undefined || output !== undefined) this.usage = { input: input ?? 0, output: output ?? 0, cached };
  }

  callAt(index) {
    while (this.calls.length <= index) this.calls.push({ id: "", name: "", arguments: "" });
    return this.calls[index];
  }

  addChatDelta(delta) {
    if (!delta) return;
    this.reasoning += delta.reasoning_content || delta.reasoning || "";
    this.text += delta.content || "";
    for (const piece of delta.tool_calls || []) {
      const call = this.callAt(piece.index ?? 0);
      call.id = piece.id || call.id;
      call.name = piece.function?.name || call.name;
      call.arguments += piece.function?.arguments || "";
    }
  }

  addChatLike(payload) {
    const choice = (payload.choices || [])[0];
    if (choice) {
      this.addChatDelta(choice.delta || choice.message);
      this.finish = choice.finish_reason || this.finish;
    }
    if (typeof payload.response === "string") this.text += payload.response; // prompt form
    for (const call of payload.tool_calls || []) this.addChatDelta({ tool_calls: [{ index: this.calls.length, ...call }] });
    this.setUsage(payload.usage);
  }

  addResponseEvent(event) {
    const type = event.type || "";
    if (type === "response.reasoning_text.delta") this.reasoning += event.delta;
    else if (type === "response.output_text.delta") this.text += event.delta;
    else if (type === "response.output_item.added" && event.item?.type === "function_call") {
      const call = this.callAt(this.calls.length);
      call.id = event.item.call_id;
      call.name = event.item.name;
      call.outputIndex = event.output_index;
    } else if (type === "response.function_call_arguments.delta") {
      const call = this.calls.find((c) => c.outputIndex === event.output_index);
      if (call) call.arguments += event.delta;
    } else if (type === "response.failed") {
      this.error = { message: event.response?.error?.message || "The model failed mid-answer." };
    } else if (type === "response.completed" || type === "response.incomplete") {
      this.setUsage(event.response?.usage);
      this.finish = type === "response.incomplete" ? "length" : "stop";
    }
  }

  addResponseObject(response) {
    for (const item of response.output || []) {
      if (item.type === "reasoning") this.reasoning += (item.content || []).map((part) => part.text).join("");
      else if (item.type === "message") this.text += (item.content || []).map((part) => part.text || "").join("");
      else if (item.type === "function_call") this.calls.push({ id: item.call_id, name: item.name, arguments: item.arguments });
    }
    this.setUsage(response.usage);
    this.finish = response.status === "incomplete" ? "length" : "stop";
  }

  addWhole(api, body) {
    if (api === "responses") this.addResponseObject(body);
    else this.addChatLike(api === "native" ? body.result || {} : body);
  }

  addStreamed(api, event, payload) {
    if (event === "error") {
      this.error = errorOf(payload);
      return;
    }
    if (api === "responses") this.addResponseEvent(payload);
    else this.addChatLike(payload);
  }
}

function errorOf(body, status, retryAfter) {
  const openai = body?.error;
  const native = body?.errors?.[0];
  const message = openai?.message || native?.message || `The gateway answered ${status}.`;
  const param = openai?.param || native?.source?.pointer?.replace(/^\//, "").replaceAll("/", ".") || null;
  return { status, message, param, code: openai?.code || native?.code || null, retryAfter };
}

async function* serverSentEvents(response) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buffer.search(/\r?\n\r?\n/)) !== -1) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut).replace(/^\r?\n\r?\n/, "");
      let event = "message";
      const data = [];
      for (const line of block.split(/\r?\n/)) {
        if (line.startsWith("event:")) event = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
      }
      if (data.length) yield { event, data: data.join("\n") };
    }
  }
}

// -- the transcript -------------------------------------------------------------------------------

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function addUserTurn(text) {
  const item = element("li", "turn user");
  item.append(element("span", "who", "You"), document.createTextNode(text));
  $("transcript").append(item);
}

class TurnView {
  constructor() {
    this.item = element("li", "turn assistant");
    this.item.setAttribute("aria-busy", "true");
    this.item.append(element("span", "who", "gpt-oss"));
    this.reasoningBox = element("details", "reasoning");
    this.reasoningBox.append(element("summary", null, "Reasoning"));
    this.reasoningText = element("div", "reasoning-text");
    this.reasoningBox.append(this.reasoningText);
    this.reasoningBox.hidden = true;
    // Open while the model is only reasoning, closed once the answer starts, unless the user chose.
    this.userToggled = false;
    this.reasoningBox.querySelector("summary").addEventListener("click", () => {
      this.userToggled = true;
    });
    this.answer = element("div", "answer");
    this.tools = element("div", "tools");
    this.notes = element("div", "notes");
    this.stats = element("dl", "stats");
    this.item.append(this.reasoningBox, this.answer, this.tools, this.notes, this.stats);
    this.pending = false;
    $("transcript").append(this.item);
  }

  // Renders at most once a frame; each frame shows every token that arrived since the last.
  update(answer) {
    this.latest = answer;
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      this.render(this.latest);
    });
  }

  render(answer) {
    if (answer.reasoning) {
      this.reasoningBox.hidden = false;
      this.reasoningText.textContent = answer.reasoning;
      if (!this.userToggled) this.reasoningBox.open = !answer.text && !answer.calls.length && this.item.getAttribute("aria-busy") === "true";
    }
    this.answer.innerHTML = DOMPurify.sanitize(marked.parse(answer.text));
    this.item.scrollIntoView({ block: "end" });
  }

  showCall(call, result) {
    const box = element("div", "tool");
    box.append(element("strong", null, `Tool call: ${call.name}`), element("pre", "tool-arguments", call.arguments || "{}"));
    if (result !== undefined) box.append(element("strong", null, "Result (computed by this page)"), element("pre", "tool-result", result));
    this.tools.append(box);
  }

  showError(error) {
    const box = element("div", "error");
    box.setAttribute("role", "alert");
    let text = error.status ? `${error.status}: ${error.message}` : error.message;
    if (error.param) text += ` (field: ${error.param})`;
    if (error.retryAfter) text += ` Retry after ${error.retryAfter} s.`;
    box.textContent = text;
    this.notes.append(box);
  }

  note(text) {
    this.notes.append(element("p", "note", text));
  }

  finish(figures) {
    this.item.setAttribute("aria-busy", "false");
    if (!this.userToggled) this.reasoningBox.open = false;
    for (const [name, value] of figures) {
      const row = element("div");
      row.append(element("dt", null, name), element("dd", null, value));
      this.stats.append(row);
    }
  }
}

function figuresOf(answer, timing, response, model) {
  const figures = [];
  // The model that answered, which is the fallback's when the one asked for was out of capacity:
  // its name is shown, and its rates price the answer, as the gateway's own accounts do.
  const answered = response?.headers.get("x-gateway-model") || model;
  if (answered !== model) figures.push(["Answered by", `${answered} (fallback for ${model})`]);
  if (answer.usage) {
    figures.push(["Tokens", `${answer.usage.input} in · ${answer.usage.output} out`]);
    const cost = costOf(answer.usage, state.prices[answered]);
    figures.push(["Cost", cost == null ? "unknown" : `$${cost.toFixed(6)}`]);
  }
  if (timing.firstToken != null) figures.push(["Time to first token", `${Math.round(timing.firstToken - timing.start)} ms`]);
  const generating = ((timing.end ?? timing.start) - (timing.firstToken ?? timing.start)) / 1000;
  if (answer.usage && answer.usage.output && generating > 0) {
    figures.push(["Tokens/s", (answer.usage.output / generating).toFixed(1)]);
  }
  figures.push(["Total", `${Math.round((timing.end ?? performance.now()) - timing.start)} ms`]);
  const limits = rateLimits(response?.headers);
  if (limits) figures.push(["Rate limits", limits]);
  if (response?.headers.get("x-gateway-ignored")) figures.push(["Ignored fields", response.headers.get("x-gateway-ignored")]);
  return figures;
}

// USD, as the gateway's log line counts it: cached input tokens at their own rate when there is one.
function costOf(usage, price) {
  if (!price || price.input == null) return null;
  const cached = Math.min(usage.cached, usage.input);
  const input = (usage.input - cached) * price.input + cached * (price.cached_input ?? price.input);
  return (input + usage.output * price.output) / 1e6;
}

// The x-ratelimit-* headers, one phrase per limit: "requests 59/60, resets in 48.8s".
function rateLimits(headers) {
  if (!headers) return "";
  const phrases = [];
  const limits = [
    ["requests", "requests"],
    ["tokens", "tokens/min"],
    ["tokens-day", "tokens/day"],
    ["usd-day", "USD/day"],
    ["usd-month", "USD/month"],
  ];
  for (const [suffix, label] of limits) {
    const limit = headers.get(`x-ratelimit-limit-${suffix}`);
    if (!limit) continue;
    const remaining = headers.get(`x-ratelimit-remaining-${suffix}`);
    const reset = headers.get(`x-ratelimit-reset-${suffix}`);
    phrases.push(`${label} ${remaining ?? "?"}/${limit}${reset ? `, resets in ${reset}` : ""}`);
  }
  return phrases.join(" · ");
}

// -- one exchange ---------------------------------------------------------------------------------

function weather(argumentsText) {
  let city = "somewhere";
  try {
    city = JSON.parse(argumentsText || "{}").city || city;
  } catch {
    // Arguments that are not JSON still get an answer, and the model sees what it sent.
  }
  const seed = [...city].reduce((sum, char) => sum + char.charCodeAt(0), 0);
  return JSON.stringify({ city, temperature_c: 8 + (seed % 20), conditions: ["sunny", "cloudy", "rainy"][seed % 3] });
}

async function exchange(options, view, signal) {
  const { url, body } = buildRequest(options, state.history);
  const answer = new Answer();
  const timing = { start: performance.now(), firstToken: null, end: null };
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${options.key}` },
    body: JSON.stringify(body),
    signal,
  });
  showBackend(response.headers.get("x-gateway-backend"));
  if (!response.ok) {
    const payload = await response.json().catch(() => null);
    answer.error = errorOf(payload, response.status, response.headers.get("retry-after"));
    timing.end = performance.now();
    return { answer, timing, response };
  }
  if ((response.headers.get("content-type") || "").startsWith("text/event-stream")) {
    for await (const { event, data } of serverSentEvents(response)) {
      if (data === "[DONE]") continue;
      answer.addStreamed(options.api, event, JSON.parse(data));
      if (timing.firstToken == null && (answer.text || answer.reasoning || answer.calls.length)) timing.firstToken = performance.now();
      view.update(answer);
    }
  } else {
    answer.addWhole(options.api, await response.json());
    timing.firstToken = performance.now();
  }
  timing.end = performance.now();
  return { answer, timing, response };
}

async function converse(options) {
  for (let round = 0; round <= MAX_TOOL_ROUNDS; round++) {
    const view = new TurnView();
    const controller = new AbortController();
    state.controller = controller;
    let result;
    try {
      result = await exchange(options, view, controller.signal);
    } catch (error) {
      view.render(view.latest || new Answer());
      if (error.name === "AbortError") view.note("Stopped. The request was cancelled, which stops the model too.");
      else view.showError({ message: `Could not reach the gateway at ${gatewayUrl()} (${error.message}).` });
      if (view.latest?.text) state.history.push({ role: "assistant", text: view.latest.text, calls: [] });
      view.finish([]);
      return;
    }
    const { answer, timing, response } = result;
    view.render(answer);
    if (answer.error) view.showError(answer.error);
    if (answer.finish === "length") view.note("The output limit cut this answer short (reasoning counts against it).");
    view.finish(figuresOf(answer, timing, response, options.model));
    if (answer.error) return;
    state.history.push({ role: "assistant", text: answer.text, calls: answer.calls });
    if (!answer.calls.length) return;
    for (const call of answer.calls) {
      const output = call.name === "get_weather" ? weather(call.arguments) : JSON.stringify({ error: `no tool named ${call.name}` });
      view.showCall(call, output);
      state.history.push({ role: "tool", callId: call.id, name: call.name, text: output });
    }
  }
}

async function send(event) {
  event.preventDefault();
  const text = $("prompt").value.trim();
  if (!text || state.controller) return;
  const options = settings();
  if (!options.key) {
    announce("Paste a gateway key in Settings first.");
    $("settings-panel").open = true;
    $("api-key").focus();
    return;
  }
  $("prompt").value = "";
  addUserTurn(text);
  state.history.push({ role: "user", text });
  $("send").disabled = true;
  $("stop").disabled = false;
  announce("Waiting for the answer…");
  try {
    await converse(options);
  } finally {
    state.controller = null;
    $("send").disabled = false;
    $("stop").disabled = true;
    announce("Answer complete.");
  }
}

function stop() {
  if (state.controller) state.controller.abort();
}

function clear() {
  stop();
  state.history = [];
  $("transcript").replaceChildren();
  $("prompt").focus();
}

function start() {
  restoreSettings();
  $("composer").addEventListener("submit", send);
  $("stop").addEventListener("click", stop);
  $("clear").addEventListener("click", clear);
  $("settings").addEventListener("submit", (event) => event.preventDefault());
  $("prompt").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      $("composer").requestSubmit();
    } else if (event.key === "Escape") {
      stop();
    }
  });
  loadGateway();
}

start();
