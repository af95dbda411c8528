// Test doubles for what workerd hands a Python Worker: the AI and rate-limit
// bindings, the ExecutionContext, and a probe log.
//
// The SDK wraps a binding only when its JS constructor name is one it knows
// (workers/rpc.py `_EnvWrapper._BINDING_TYPES`: "Ai", "Ratelimit", ...), so the
// class names below are part of the contract, not a style choice.
//
// Every double records what it saw with timestamps from a per-case Clock, so the
// Python side can assert on what crossed the JS/Python boundary and when.

const encoder = new TextEncoder();

/** Milliseconds since the case started, rounded to 0.1 ms. */
export class Clock {
  #origin = performance.now();

  now() {
    return Math.round((performance.now() - this.#origin) * 10) / 10;
  }
}

/** The error class workerd's AI binding throws (src/cloudflare/internal/ai-api.ts). */
export class InferenceUpstreamError extends Error {
  constructor(message, name = "InferenceUpstreamError") {
    super(message);
    this.name = name;
  }
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A chunk in a case file is either text or {b64: "..."} for exact bytes. */
function chunkBytes(chunk) {
  if (typeof chunk === "string") return encoder.encode(chunk);
  return new Uint8Array(Buffer.from(chunk.b64, "base64"));
}

/**
 * Paths inside `value` that are not plain JSON-like JS data: Python proxies,
 * Maps, class instances, functions. The real binding JSON.stringify()s its
 * inputs, so anything listed here would be mangled on its way to Workers AI.
 */
export function findNonPlain(value, isPyProxy, path = "$") {
  if (value === null || value === undefined) return [];
  if (isPyProxy(value)) return [{ path, kind: "PyProxy" }];
  const type = typeof value;
  if (type === "function") return [{ path, kind: "function" }];
  if (type !== "object") return [];
  if (Array.isArray(value)) {
    return value.flatMap((item, i) => findNonPlain(item, isPyProxy, `${path}[${i}]`));
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) {
    return [{ path, kind: value.constructor?.name ?? "unknown" }];
  }
  return Object.entries(value).flatMap(([key, item]) =>
    findNonPlain(item, isPyProxy, `${path}.${key}`),
  );
}

/** A JSON copy for the report; a value JSON cannot represent is described instead. */
function snapshot(value) {
  if (value === undefined) return null;
  try {
    return JSON.parse(JSON.stringify(value));
  } catch (error) {
    return { $unserializable: String(error) };
  }
}

function jsonText(value) {
  try {
    return JSON.stringify(value) ?? null;
  } catch (error) {
    return `<JSON.stringify failed: ${error}>`;
  }
}

/**
 * One scripted upstream stream. Chunks are pushed on a timer, like bytes
 * arriving from the network, whether or not anyone reads them: the
 * timestamps then show when the upstream produced each chunk.
 */
class ScriptedStream {
  constructor(spec, clock) {
    this.spec = spec;
    this.clock = clock;
    this.record = { produced: [], cancelled: null, ended: null };
  }

  toReadableStream() {
    let stopped = false;
    const record = this.record;
    return new ReadableStream({
      start: (controller) => {
        this.#produce(controller, () => stopped).catch((error) => {
          record.ended = { t_ms: this.clock.now(), how: `producer failed: ${error}` };
        });
      },
      cancel: (reason) => {
        stopped = true;
        record.cancelled = { t_ms: this.clock.now(), reason: String(reason) };
      },
    });
  }

  async #produce(controller, isStopped) {
    const { chunks = [], delay_ms = 0, first_delay_ms, error_after, error_message, stall_after } = this.spec;
    for (let i = 0; i < chunks.length; i++) {
      if (stall_after === i) return; // open, silent, until someone cancels it
      await sleep(i === 0 ? (first_delay_ms ?? delay_ms) : delay_ms);
      if (isStopped()) return;
      if (error_after === i) return this.#fail(controller, error_message);
      controller.enqueue(chunkBytes(chunks[i]));
      this.record.produced.push({ index: i, t_ms: this.clock.now() });
    }
    if (error_after !== undefined && error_after >= chunks.length) {
      await sleep(delay_ms);
      return this.#fail(controller, error_message);
    }
    controller.close();
    this.record.ended = { t_ms: this.clock.now(), how: "closed" };
  }

  #fail(controller, message = "upstream stream failed") {
    controller.error(new Error(message));
    this.record.ended = { t_ms: this.clock.now(), how: "errored" };
  }
}

/**
 * The Workers AI binding. `script` is a list of answers, one per call, in order:
 *   {json: {...}}                            resolve with a fresh plain object
 *   {stream: {chunks, delay_ms, error_after, stall_after}} resolve with a ReadableStream of bytes
 *   {throw: {message, name}}                 reject like the real binding does
 * Any answer may carry delay_ms_before (latency before answering) and
 * repeat: true (answer every later call the same way: benchmarks).
 */
export class Ai {
  #script;
  #clock;
  #isPyProxy;

  constructor(script, clock, isPyProxy) {
    this.#script = [...script];
    this.#clock = clock;
    this.#isPyProxy = isPyProxy;
    this.calls = [];
    this.streams = [];
  }

  async run(model, inputs, options) {
    this.calls.push(this.#describeCall(model, inputs, options));
    const answer = this.#nextAnswer();
    if (answer.delay_ms_before) await sleep(answer.delay_ms_before);
    if (answer.throw) {
      throw new InferenceUpstreamError(answer.throw.message, answer.throw.name);
    }
    if (answer.stream) {
      const stream = new ScriptedStream(answer.stream, this.#clock);
      this.streams.push(stream.record);
      return stream.toReadableStream();
    }
    return structuredClone(answer.json);
  }

  #describeCall(model, inputs, options) {
    const isPyProxy = this.#isPyProxy;
    return {
      t_ms: this.#clock.now(),
      arg_count: options === undefined ? 2 : 3,
      model: typeof model === "string" ? model : { $not_a_string: String(model) },
      inputs: snapshot(inputs),
      options: snapshot(options),
      inputs_json: jsonText(inputs),
      non_plain: [
        ...findNonPlain(inputs, isPyProxy, "inputs"),
        ...findNonPlain(options, isPyProxy, "options"),
      ],
    };
  }

  #nextAnswer() {
    const answer = this.#script[0];
    if (answer === undefined) {
      throw new Error(`test double Ai: no scripted answer for call #${this.calls.length}`);
    }
    if (!answer.repeat) this.#script.shift();
    return answer;
  }

  report() {
    return { calls: this.calls, streams: this.streams };
  }
}

/** The Rate Limiting binding: `limit({key})` answers from a list of booleans, then true. */
export class Ratelimit {
  #outcomes;
  #clock;

  constructor(outcomes, clock) {
    this.#outcomes = [...outcomes];
    this.#clock = clock;
    this.calls = [];
  }

  async limit(options) {
    this.calls.push({ t_ms: this.#clock.now(), options: snapshot(options) });
    const success = this.#outcomes.length > 0 ? this.#outcomes.shift() : true;
    return { success };
  }
}

/** Lets a probe app record what it observed, for the Python side to assert on. */
export class ProbeLog {
  #clock;

  constructor(clock) {
    this.#clock = clock;
    this.events = [];
  }

  record(kind, detail = "") {
    this.events.push({ t_ms: this.#clock.now(), kind: String(kind), detail: String(detail) });
  }
}

/** Collects what the Worker hands to waitUntil, and whether it settled. */
export class WaitUntilTracker {
  #clock;
  #pending = [];

  constructor(clock) {
    this.#clock = clock;
    this.records = [];
  }

  track(promise) {
    const record = { t_ms: this.#clock.now(), settled: null, error: null };
    this.records.push(record);
    this.#pending.push(
      Promise.resolve(promise).then(
        () => {
          record.settled = this.#clock.now();
        },
        (error) => {
          record.settled = this.#clock.now();
          record.error = describeError(error);
        },
      ),
    );
  }

  /** Waits for everything tracked so far, but never longer than timeoutMs. */
  async settle(timeoutMs) {
    await Promise.race([Promise.allSettled(this.#pending), sleep(timeoutMs)]);
    return this.records;
  }
}

/**
 * workerd's ExecutionContext, as far as the SDK looks at it: workerd's
 * patchWaitUntil recognises it by its toString tag.
 */
export class ExecutionContext {
  #tracker;

  constructor(tracker) {
    this.#tracker = tracker;
    this.props = {};
  }

  get [Symbol.toStringTag]() {
    return "ExecutionContext";
  }

  waitUntil(promise) {
    this.#tracker.track(promise);
  }

  passThroughOnException() {}
}

/**
 * A Python awaitable handed to a JS function is a borrowed proxy that Pyodide
 * destroys when the call returns; take an owned copy before that, and release
 * it once it settles (what workerd's patchWaitUntil does).
 */
export function retainAwaitable(awaitable) {
  const owned = typeof awaitable?.copy === "function" ? awaitable.copy() : awaitable;
  return (async () => {
    try {
      await owned;
    } finally {
      owned?.destroy?.();
    }
  })();
}

export function describeError(error) {
  if (error instanceof Error) {
    return { name: error.name, message: error.message };
  }
  return { name: typeof error, message: String(error) };
}
