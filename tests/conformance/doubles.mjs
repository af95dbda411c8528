// Test doubles for what workerd hands a Python Worker: the AI, Rate Limiting, KV,
// Analytics Engine and Durable Object bindings, the ExecutionContext, and a probe log.
//
// The SDK wraps a binding only when its JS constructor name is one it knows
// (workers/rpc.py `_EnvWrapper`: "Ai", "Ratelimit", "KvNamespace",
// "AnalyticsEngineDataset" in `_BINDING_TYPES`, and "DurableObjectNamespace"
// for Durable Objects), so the class names below are part of the contract, not
// a style choice.
//
// Every double records what it saw with timestamps from a per-case Clock, so the
// Python side can assert on what crossed the JS/Python boundary and when.

import { DurableObjectStorage } from "./sql_double.mjs";

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
 *   {throw: {message, name, status}}         reject like the real binding does
 * Any answer may carry delay_ms_before (latency before answering),
 * repeat: true (answer every later call the same way: benchmarks), and
 * headers: the upstream response's headers (AI Gateway's cf-aig-log-id and
 * cf-aig-cache-status). As workerd's Ai does (src/cloudflare/internal/ai-api.ts),
 * `aiGatewayLogId` is set from them after each call, and with the option
 * `returnRawResponse` the call resolves with the Response itself, error
 * statuses included: the error's body is the upstream's
 * {internalCode, description, name} that the binding turns into "<code>: <description>".
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
    this.aiGatewayLogId = null;
  }

  async run(model, inputs, options) {
    this.calls.push(this.#describeCall(model, inputs, options));
    const answer = this.#nextAnswer();
    if (answer.delay_ms_before) await sleep(answer.delay_ms_before);
    const headers = answer.headers ?? {};
    this.aiGatewayLogId = headers["cf-aig-log-id"] ?? null;
    if (options?.returnRawResponse) return this.#rawResponse(answer, headers);
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

  #rawResponse(answer, headers) {
    if (answer.throw) {
      const found = /^(\d{4}): (.*)$/s.exec(answer.throw.message);
      const body = found
        ? JSON.stringify({ internalCode: Number(found[1]), description: found[2], name: answer.throw.name })
        : answer.throw.message;
      const init = { status: answer.throw.status ?? 500, headers: { "content-type": "application/json", ...headers } };
      return new Response(body, init);
    }
    if (answer.stream) {
      const stream = new ScriptedStream(answer.stream, this.#clock);
      this.streams.push(stream.record);
      return new Response(stream.toReadableStream(), { headers: { "content-type": "text/event-stream", ...headers } });
    }
    return new Response(JSON.stringify(answer.json), { headers: { "content-type": "application/json", ...headers } });
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

/**
 * The Rate Limiting binding: `limit({key})` answers from a list of outcomes, then true.
 * An outcome is true or false (`{success}`), or {throw: message}: the call rejects.
 */
export class Ratelimit {
  #outcomes;
  #clock;
  #isPyProxy;

  constructor(outcomes, clock, isPyProxy) {
    this.#outcomes = [...outcomes];
    this.#clock = clock;
    this.#isPyProxy = isPyProxy;
    this.calls = [];
  }

  async limit(options) {
    this.calls.push({
      t_ms: this.#clock.now(),
      options: snapshot(options),
      non_plain: findNonPlain(options, this.#isPyProxy, "options"),
    });
    const outcome = this.#outcomes.length > 0 ? this.#outcomes.shift() : true;
    if (typeof outcome === "object" && outcome !== null && "throw" in outcome) {
      throw new Error(outcome.throw);
    }
    return { success: outcome };
  }
}

/** A KV namespace: `get(key)` answers the stored string or null, as the real one does for text. */
export class KvNamespace {
  #values;
  #clock;

  constructor(values, clock) {
    this.#values = new Map(Object.entries(values));
    this.#clock = clock;
    this.calls = [];
  }

  async get(key, options) {
    this.calls.push({ t_ms: this.#clock.now(), method: "get", key: snapshot(key), options: snapshot(options) });
    const value = this.#values.get(String(key));
    return value === undefined ? null : value;
  }
}

/** An Analytics Engine dataset: `writeDataPoint(point)` returns nothing and never waits. */
export class AnalyticsEngineDataset {
  #clock;
  #isPyProxy;

  constructor(clock, isPyProxy) {
    this.#clock = clock;
    this.#isPyProxy = isPyProxy;
    this.calls = [];
  }

  writeDataPoint(point) {
    this.calls.push({
      t_ms: this.#clock.now(),
      arg_count: arguments.length,
      point: snapshot(point),
      non_plain: findNonPlain(point, this.#isPyProxy, "point"),
    });
  }
}

/** What `idFromName` answers: a stable hex id that remembers its name. */
export class DurableObjectId {
  constructor(name) {
    this.name = name;
    this.hex = [...encoder.encode(name)].map((b) => b.toString(16).padStart(2, "0")).join("").padEnd(64, "0").slice(0, 64);
  }

  toString() {
    return this.hex;
  }

  equals(other) {
    return other instanceof DurableObjectId && other.name === this.name;
  }
}

/** `ctx` of a Durable Object: its id and its SQLite-backed storage. */
export class DurableObjectState {
  constructor(id, isPyProxy) {
    this.id = id;
    this.storage = new DurableObjectStorage(isPyProxy);
  }

  get [Symbol.toStringTag]() {
    return "DurableObjectState";
  }

  waitUntil() {}

  async blockConcurrencyWhile(callback) {
    return await callback();
  }
}

/**
 * A Durable Object namespace. `get(id)` answers a stub with one async method per RPC
 * method; each call is handed to `host` as RPC would: arguments and result are
 * structured-cloned (so a Python proxy that leaks across fails, as it would between
 * isolates). Calls are not queued: as in workerd, calls to one object interleave
 * wherever its methods await, so a method that must be atomic has to not await.
 *
 *   host.methods            the RPC method names
 *   host.create(id, state)  the object, on its first call (as workerd constructs it)
 *   host.call(object, method, args) -> Promise of the result
 *
 * spec {throw: message} instead makes every call reject: an object that is broken
 * or unreachable.
 */
export class DurableObjectNamespace {
  #spec;
  #host;
  #clock;
  #isPyProxy;
  #objects = new Map();

  constructor(spec, host, clock, isPyProxy) {
    this.#spec = spec;
    this.#host = host;
    this.#clock = clock;
    this.#isPyProxy = isPyProxy;
    this.names = [];
    this.calls = [];
  }

  idFromName(name) {
    this.names.push(snapshot(name));
    return new DurableObjectId(String(name));
  }

  get(id) {
    if (!(id instanceof DurableObjectId)) throw new TypeError("get() needs a DurableObjectId from idFromName()");
    const stub = new DurableObjectStub(id);
    for (const method of this.#host?.methods ?? this.#spec.methods ?? ["reserve", "settle"]) {
      stub[method] = (...args) => this.#call(id, method, args);
    }
    return stub;
  }

  #object(id) {
    let entry = this.#objects.get(id.name);
    if (!entry) {
      const state = new DurableObjectState(id, this.#isPyProxy);
      entry = { state, instance: null };
      this.#objects.set(id.name, entry);
    }
    return entry;
  }

  #call(id, method, args) {
    const record = {
      t_ms: this.#clock.now(),
      id: id.name,
      method,
      args: snapshot(args),
      non_plain: findNonPlain(args, this.#isPyProxy, "args"),
      result: null,
      error: null,
      t_done_ms: null,
    };
    this.calls.push(record);
    const entry = this.#object(id);
    const run = async () => {
      await null; // RPC never runs the callee inside the caller's call
      if (this.#spec.throw) throw new Error(this.#spec.throw);
      const sent = structuredClone(args);
      entry.instance ??= this.#host.create(id, entry.state);
      return structuredClone(await this.#host.call(entry.instance, method, sent));
    };
    return run().then(
      (result) => {
        Object.assign(record, { result: snapshot(result), t_done_ms: this.#clock.now() });
        return result;
      },
      (error) => {
        Object.assign(record, { error: describeError(error), t_done_ms: this.#clock.now() });
        throw error;
      },
    );
  }

  /** The objects this case created, with their storage, for the report. */
  report() {
    const objects = Object.fromEntries(
      [...this.#objects].map(([name, { state }]) => [
        name,
        {
          tables: state.storage.sql.dump(),
          statements: state.storage.sql.statements,
          alarms_set: state.storage.alarmsSet,
        },
      ]),
    );
    return { names: this.names, calls: this.calls, objects };
  }

  /** Release what the host created (Python objects are proxies that must be destroyed). */
  close() {
    for (const entry of this.#objects.values()) this.#host?.destroy?.(entry.instance);
    this.#objects.clear();
  }
}

/** What `namespace.get(id)` answers; the SDK wraps it, whatever its methods. */
export class DurableObjectStub {
  constructor(id) {
    this.id = id;
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
