// Runs the Worker inside real Pyodide under Node, offline, the way workerd would,
// and reports what happened as JSON.
//
//   node tests/conformance/harness.mjs --plan plan.json --out result.json
//
// The plan (written by tests/conformance/_driver.py) names the Pyodide package
// directory, the SDK wheel(s), the app source directory and the cases to run.
// One process boots Pyodide once and runs every case in turn; cases are
// sequential so that Python's stdout/stderr can be attributed to one case.

import { readFile, readdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { parseArgs } from "node:util";
import { pathToFileURL } from "node:url";

import {
  Ai,
  AnalyticsEngineDataset,
  Clock,
  DurableObjectNamespace,
  ExecutionContext,
  KvNamespace,
  ProbeLog,
  Ratelimit,
  WaitUntilTracker,
  describeError,
  retainAwaitable,
} from "./doubles.mjs";

const APP_DIR_IN_PYODIDE = "/session/metadata"; // where workerd puts the Worker's modules
const HARNESS_DIR_IN_PYODIDE = "/conformance";
const ORIGIN = "https://gateway.test";

// Which Worker class a case talks to: [module, class].
const WORKERS = {
  gateway: ["entry", "Default"],
  probe: ["probe_entry", "Default"],
  trivial: ["probe_entry", "TrivialWorker"],
};

// ---------------------------------------------------------------------------
// Booting Pyodide with what workerd provides
// ---------------------------------------------------------------------------

/** Python output goes to whichever case is running, so a case reports its own logs. */
const output = {
  sink: [],
  write(stream, line) {
    this.sink.push(`${stream}: ${line}`);
  },
};

async function bootPyodide(pyodideDir) {
  const { loadPyodide } = await import(pathToFileURL(path.join(pyodideDir, "pyodide.mjs")).href);
  const started = performance.now();
  const pyodide = await loadPyodide({
    indexURL: pyodideDir + path.sep,
    stdout: (line) => output.write("stdout", line),
    stderr: (line) => output.write("stderr", line),
  });
  return { pyodide, bootMs: performance.now() - started };
}

/** Pure-Python wheels go straight into site-packages; no micropip, no network. */
async function installWheels(pyodide, wheelPaths) {
  const sitePackages = pyodide.runPython("import sysconfig; sysconfig.get_path('purelib')");
  for (const wheelPath of wheelPaths) {
    const bytes = await readFile(wheelPath);
    // unpackArchive refuses a Node Buffer: hand it a plain Uint8Array.
    pyodide.unpackArchive(new Uint8Array(bytes), "wheel", { extractDir: sitePackages });
  }
}

/**
 * The per-request state the runtime modules need: the env of the case being
 * run (cloudflare:workers exposes it as `env`) and its waitUntil tracker.
 */
const current = { env: {}, tracker: null, uncaught: [] };

/**
 * An error nobody catches (a rejected promise Pyodide could not hand to Python,
 * say) belongs to the case that caused it, not to the whole run.
 */
function recordUncaught(kind, error) {
  current.uncaught.push({ kind, ...describeError(error), message: pythonErrorText(error) });
}
process.on("uncaughtException", (error) => recordUncaught("uncaughtException", error));
process.on("unhandledRejection", (error) => recordUncaught("unhandledRejection", error));

/** The two modules workerd registers before the SDK is imported. */
function registerRuntimeModules(pyodide, compatFlags) {
  pyodide.registerJsModule("_cloudflare_compat_flags", compatFlags);
  const patched = new WeakSet();
  pyodide.registerJsModule("_pyodide_entrypoint_helper", {
    cloudflareWorkersModule: {
      get env() {
        return current.env;
      },
      waitUntil(awaitable) {
        current.tracker.track(retainAwaitable(awaitable));
      },
    },
    cloudflareSocketsModule: {
      connect() {
        throw new Error("cloudflare:sockets is not available in the conformance harness");
      },
    },
    async doAnImport(name) {
      throw new Error(`JS module imports are not available in the conformance harness: ${name}`);
    },
    *patch_env_helper(patch) {
      // workers.patch_env passes to_js(dict): a JS Map.
      const saved = current.env;
      const entries = patch instanceof Map ? Object.fromEntries(patch) : patch;
      current.env = Object.assign(Object.create(saved), entries);
      try {
        yield;
      } finally {
        current.env = saved;
      }
    },
    patchWaitUntil(ctx) {
      // Same guard as workerd: only a real ExecutionContext is patched.
      if (Object.prototype.toString.call(ctx) !== "[object ExecutionContext]") return;
      if (patched.has(ctx)) return;
      const original = ctx.waitUntil.bind(ctx);
      ctx.waitUntil = (awaitable) => original(retainAwaitable(awaitable));
      patched.add(ctx);
    },
  });
}

/** Copy a host directory tree into the Pyodide filesystem (skipping caches). */
async function copyTree(pyodide, hostDir, pyodideDir) {
  pyodide.FS.mkdirTree(pyodideDir);
  for (const entry of await readdir(hostDir, { withFileTypes: true })) {
    if (entry.name === "__pycache__" || entry.name.startsWith(".")) continue;
    const hostPath = path.join(hostDir, entry.name);
    const target = `${pyodideDir}/${entry.name}`;
    if (entry.isDirectory()) {
      await copyTree(pyodide, hostPath, target);
    } else if (entry.isFile()) {
      pyodide.FS.writeFile(target, new Uint8Array(await readFile(hostPath)));
    }
  }
}

function addToSysPath(pyodide, dirs) {
  const sys = pyodide.pyimport("sys");
  for (const dir of [...dirs].reverse()) sys.path.insert(0, dir);
  sys.destroy();
}

function pythonErrorText(error) {
  // A PythonError's message is the whole traceback; keep its informative tail.
  const text = error instanceof Error ? error.message : String(error);
  return text.length > 4000 ? "…" + text.slice(-4000) : text;
}

/** Import the SDK, then the app, timing each; the app's own cost is the difference. */
function importModules(pyodide) {
  // import_timer needs only the stdlib, so nothing of the SDK is loaded before it is timed.
  const timer = pyodide.pyimport("import_timer");
  const imports = {};
  const timed = (name) => JSON.parse(timer.timed_import(name));
  imports.sdk = timed("workers");
  imports.sdk_asgi = timed("workers.asgi");
  try {
    imports.gateway = timed("entry");
  } catch (error) {
    imports.gateway = { error: pythonErrorText(error) };
  }
  imports.probe = timed("probe_entry");
  return imports;
}

function lookupWorkers(pyodide, imports) {
  const classes = {};
  for (const [name, [module, cls]] of Object.entries(WORKERS)) {
    if (name === "gateway" && imports.gateway.error) continue;
    // Kept for the life of the process: destroying the module would destroy the class too.
    classes[name] = pyodide.pyimport(module)[cls];
  }
  return classes;
}

// ---------------------------------------------------------------------------
// Running one case
// ---------------------------------------------------------------------------

function mapValues(object, make) {
  return Object.fromEntries(Object.entries(object ?? {}).map(([name, value]) => [name, make(value)]));
}

/**
 * How a Durable Object namespace double reaches the Python class it stands for:
 * the class the app's entry module exports (as wrangler's `class_name` names it),
 * constructed as workerd does, `Cls(state, env)`, on an object's first call.
 */
function durableHost(spec, app, context, env) {
  if (!spec.class) return null;
  const { runtime } = context;
  const [moduleName] = WORKERS[app];
  const cls = runtime.exported_class(moduleName, spec.class);
  return {
    methods: JSON.parse(runtime.rpc_methods(cls)),
    create: (id, state) => runtime.create_durable_object(cls, state, env),
    call: (instance, method, args) => runtime.call_rpc(instance, method, args),
    destroy: (instance) => instance?.destroy(),
    close: () => cls.destroy(),
  };
}

function buildEnv(spec, clock, context) {
  const { isPyProxy } = context;
  const ai = new Ai(spec.ai ?? [], clock, isPyProxy);
  const ratelimits = mapValues(spec.ratelimits, (outcomes) => new Ratelimit(outcomes, clock, isPyProxy));
  const kv = mapValues(spec.kv, (values) => new KvNamespace(values, clock));
  const analytics = Object.fromEntries(
    (spec.analytics ?? []).map((name) => [name, new AnalyticsEngineDataset(clock, isPyProxy)]),
  );
  const probe = new ProbeLog(clock);
  const env = { AI: ai, PROBE: probe, ...ratelimits, ...kv, ...analytics, ...(spec.env ?? {}) };
  const hosts = [];
  const durable = mapValues(spec.durable_objects, (durableSpec) => {
    const host = durableHost(durableSpec, spec.app, context, env);
    if (host) hosts.push(host);
    return new DurableObjectNamespace(durableSpec, host, clock, isPyProxy);
  });
  Object.assign(env, durable);
  for (const name of spec.omit ?? []) delete env[name];
  const close = () => {
    for (const namespace of Object.values(durable)) namespace.close();
    for (const host of hosts) host.close();
  };
  return { env, ai, ratelimits, kv, analytics, durable, probe, close };
}

function buildRequest(spec) {
  const init = { method: spec.method ?? "GET", headers: spec.headers ?? {} };
  if (spec.body_b64 !== undefined && spec.body_b64 !== null) {
    init.body = new Uint8Array(Buffer.from(spec.body_b64, "base64"));
  }
  return new Request(ORIGIN + spec.path, init);
}

function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * What the client hands to cancel(). workerd cancels with an Error when a client
 * goes away; a case can try a bare string or no reason at all, which Pyodide
 * cannot turn into a Python exception (see the report's notes).
 */
function cancelReason(read) {
  const text = read.reason ?? "client disconnected";
  if (read.reason_kind === "string") return text;
  if (read.reason_kind === "undefined") return undefined;
  return new Error(text);
}

/** Whether the client should hang up now, per the case's `read` instructions. */
function shouldCancel(read, chunkCount, text) {
  if (!read) return false;
  if (read.cancel_after_chunks !== undefined && chunkCount >= read.cancel_after_chunks) return true;
  return read.cancel_after_text !== undefined && text.includes(read.cancel_after_text);
}

/** Read the body chunk by chunk, like a client would, timestamping each chunk. */
async function readBody(response, read, clock, timeoutMs) {
  const result = { chunks: [], client_cancelled: null, read_error: null };
  if (!response.body) return result;
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let text = "";
  try {
    for (;;) {
      const { done, value } = await withTimeout(reader.read(), timeoutMs, "reading the response body");
      if (done) break;
      const bytes = new Uint8Array(value);
      result.chunks.push({ t_ms: clock.now(), b64: Buffer.from(bytes).toString("base64") });
      text += decoder.decode(bytes, { stream: true });
      if (shouldCancel(read, result.chunks.length, text)) {
        result.client_cancelled = { t_ms: clock.now() };
        await reader.cancel(cancelReason(read));
        break;
      }
    }
  } catch (error) {
    result.read_error = describeError(error);
    await reader.cancel(new Error("harness gave up")).catch(() => {});
  }
  return result;
}

/**
 * The Worker class for a case. By default each case gets a fresh isolate's view
 * of the app: the entry module is re-executed, so module-level state (the app
 * object and the settings it caches from env) starts anew with the case's env.
 */
function workerFor(spec, context) {
  const target = WORKERS[spec.app];
  if (!target) return { error: `no app named ${spec.app}` };
  if (spec.app === "gateway" && context.imports.gateway.error) {
    const lastLine = context.imports.gateway.error.trim().split("\n").at(-1);
    return { error: `src/entry.py failed to import (${lastLine}): see test_the_gateway_imports` };
  }
  if (spec.fresh_isolate === false) return { workerClass: context.workers[spec.app], fresh: false };
  try {
    return { workerClass: context.runtime.fresh_worker(...target), fresh: true };
  } catch (error) {
    return { error: `re-importing ${target[0]} failed:\n${pythonErrorText(error)}` };
  }
}

/** One request through the Worker, its body read as the case says: status, headers, chunks. */
async function exchange(workerClass, requestSpec, read, env, tracker, clock, context, timeoutMs) {
  const reply = { status: null, headers: [], t_response_ms: null, error: null };
  try {
    const request = buildRequest(requestSpec);
    const response = await withTimeout(
      context.runtime.call_fetch(workerClass, new ExecutionContext(tracker), env, request),
      timeoutMs,
      "waiting for the Response",
    );
    reply.t_response_ms = clock.now();
    reply.status = response.status;
    reply.headers = [...response.headers.entries()];
    Object.assign(reply, await readBody(response, read, clock, timeoutMs));
    reply.t_end_ms = clock.now();
  } catch (error) {
    reply.error = { ...describeError(error), message: pythonErrorText(error) };
  }
  return reply;
}

/** The JSON of an earlier reply: its body, or (an event stream) the last event that holds a response. */
function replyJson(reply) {
  const text = Buffer.concat((reply.chunks ?? []).map((c) => Buffer.from(c.b64, "base64"))).toString("utf8");
  try {
    return JSON.parse(text);
  } catch {
    const events = text.split("\n").filter((line) => line.startsWith("data: ")).map((line) => line.slice(6));
    const parsed = events.flatMap((data) => {
      try {
        return [JSON.parse(data)];
      } catch {
        return [];
      }
    });
    return parsed.filter((event) => event && event.response).at(-1) ?? null;
  }
}

/**
 * A request that names values of earlier replies, `{{earlier.N.path.to.value}}` in its path or
 * body (ids the Worker made: a response id, an item id, a sealed token), with them filled in.
 */
function withEarlierValues(requestSpec, earlier) {
  const fill = (text) =>
    text.replace(/\{\{earlier\.(\d+)\.([\w.]+)\}\}/g, (whole, index, path) => {
      let value = replyJson(earlier[Number(index)] ?? {});
      for (const step of path.split(".")) value = value?.[/^\d+$/.test(step) ? Number(step) : step];
      if (value === undefined || value === null) throw new Error(`the case names ${whole}, which the earlier reply lacks`);
      return String(value);
    });
  const body = requestSpec.body_b64 == null ? null : Buffer.from(requestSpec.body_b64, "base64").toString("utf8");
  return {
    ...requestSpec,
    path: fill(requestSpec.path),
    body_b64: body == null ? null : Buffer.from(fill(body)).toString("base64"),
  };
}

async function runCase(spec, context) {
  const clock = new Clock();
  const logs = [];
  output.sink = logs;
  current.uncaught = [];
  const timeoutMs = spec.timeout_ms ?? 10000;
  const outcome = { name: spec.name, error: null, status: null, headers: [], t_response_ms: null, earlier: [], alongside: [] };

  const { workerClass, fresh, error } = workerFor(spec, context);
  const { env, ai, ratelimits, kv, analytics, durable, probe, close } = buildEnv(spec, clock, context);
  const tracker = new WaitUntilTracker(clock);
  Object.assign(current, { env, tracker });
  if (error) {
    outcome.error = { name: "HarnessError", message: error };
  } else {
    try {
      // Earlier requests run to the end, waitUntil work included, before the next one starts.
      for (const requestSpec of spec.earlier ?? []) {
        const filled = withEarlierValues(requestSpec, outcome.earlier);
        const read = requestSpec.read ?? null;
        outcome.earlier.push(await exchange(workerClass, filled, read, env, tracker, clock, context, timeoutMs));
        await tracker.settle(spec.settle_timeout_ms ?? 2000);
      }
      // Requests alongside start together with the case's own, each read to its end.
      const alongside = (spec.alongside ?? []).map((requestSpec) =>
        exchange(workerClass, requestSpec, null, env, tracker, clock, context, timeoutMs),
      );
      const own = withEarlierValues(spec.request, outcome.earlier);
      const reply = await exchange(workerClass, own, spec.read, env, tracker, clock, context, timeoutMs);
      Object.assign(outcome, reply, { alongside: await Promise.all(alongside) });
    } catch (error) {
      outcome.error = { name: "HarnessError", message: String(error?.message ?? error) };
    }
  }
  // Give cancellations and waitUntil work time to land before reading the doubles.
  await new Promise((resolve) => setTimeout(resolve, spec.settle_ms ?? 20));
  outcome.wait_until = await tracker.settle(spec.settle_timeout_ms ?? 2000);
  outcome.ai = ai.report();
  outcome.ratelimits = mapValues(ratelimits, (binding) => binding.calls);
  outcome.kv = mapValues(kv, (binding) => binding.calls);
  outcome.analytics = mapValues(analytics, (binding) => binding.calls);
  outcome.durable_objects = mapValues(durable, (binding) => binding.report());
  close();
  if (fresh) workerClass.destroy();
  outcome.probe = probe.events;
  outcome.logs = logs;
  outcome.uncaught = current.uncaught;
  output.sink = [];
  current.uncaught = [];
  return outcome;
}

// ---------------------------------------------------------------------------
// Figures: per-request overhead of the full Worker against a trivial ASGI app
// ---------------------------------------------------------------------------

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function percentile(values, p) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** One request through a Worker class, body read in full: wall time in ms. */
async function timeOneRequest(context, workerClass, env, requestSpec, tracker) {
  const started = performance.now();
  const ctx = new ExecutionContext(tracker);
  const response = await context.runtime.call_fetch(workerClass, ctx, env, buildRequest(requestSpec));
  await response.arrayBuffer();
  return { ms: performance.now() - started, status: response.status };
}

/** A separate, profiled pass over the subject, so profiling does not skew the timings. */
async function profileSubject(context, workerClass, subject, env, tracker, iterations) {
  const profiler = context.runtime.Profiler();
  profiler.start();
  for (let i = 0; i < iterations; i++) {
    await timeOneRequest(context, workerClass, env, subject.request, tracker);
  }
  const text = profiler.stop();
  profiler.destroy();
  return text;
}

async function runBench(spec, context) {
  // The first subject whose app loaded: the gateway, or a stand-in while it cannot import.
  const subject = spec.subjects.find((candidate) => context.workers[candidate.app]);
  const clock = new Clock();
  output.sink = [];
  // One env for the whole run, as an isolate keeps its env; a fresh ctx per request.
  const { env } = buildEnv(subject, clock, context);
  const tracker = new WaitUntilTracker(clock);
  Object.assign(current, { env, tracker });
  // A fresh isolate's app for each, as for a case: the app keeps what it read from the env
  // of its first request (settings, bindings), so the last case's app must not be reused.
  const classes = { full: workerFor({ app: subject.app }, context), trivial: workerFor({ app: "trivial" }, context) };
  for (const { error } of Object.values(classes)) if (error) throw new Error(error);
  const timings = { full: [], trivial: [] };
  const statuses = new Set();
  const total = spec.warmup + spec.iterations;
  for (let i = 0; i < total; i++) {
    // Interleave, alternating which goes first, so drift and GC hit both alike.
    const order = i % 2 ? ["trivial", "full"] : ["full", "trivial"];
    for (const which of order) {
      const { ms, status } = await timeOneRequest(context, classes[which].workerClass, env, subject.request, tracker);
      if (which === "full") statuses.add(status);
      if (i >= spec.warmup) timings[which].push(ms);
    }
  }
  const profile = spec.profile
    ? await profileSubject(context, classes.full.workerClass, subject, env, tracker, spec.iterations)
    : null;
  await tracker.settle(2000);
  for (const { workerClass } of Object.values(classes)) workerClass.destroy();
  const full = median(timings.full);
  const trivial = median(timings.trivial);
  return {
    app: subject.app,
    iterations: spec.iterations,
    warmup: spec.warmup,
    full_statuses: [...statuses],
    full_median_ms: full,
    full_p90_ms: percentile(timings.full, 90),
    trivial_median_ms: trivial,
    trivial_p90_ms: percentile(timings.trivial, 90),
    ratio: full / trivial,
    profile,
    logs: output.sink.slice(0, 50),
  };
}

// ---------------------------------------------------------------------------

async function main() {
  const { values } = parseArgs({ options: { plan: { type: "string" }, out: { type: "string" } } });
  if (!values.plan) throw new Error("usage: node harness.mjs --plan plan.json [--out result.json]");
  const plan = JSON.parse(await readFile(values.plan, "utf8"));

  const { pyodide, bootMs } = await bootPyodide(plan.pyodide_dir);
  registerRuntimeModules(pyodide, plan.compat_flags);
  await installWheels(pyodide, plan.wheels);
  await copyTree(pyodide, plan.app_dir, APP_DIR_IN_PYODIDE);
  await copyTree(pyodide, plan.in_pyodide_dir, HARNESS_DIR_IN_PYODIDE);
  addToSysPath(pyodide, [APP_DIR_IN_PYODIDE, HARNESS_DIR_IN_PYODIDE]);

  const imports = importModules(pyodide);
  const runtime = pyodide.pyimport("conformance_runtime");
  const context = {
    runtime,
    imports,
    workers: lookupWorkers(pyodide, imports),
    isPyProxy: (value) => value instanceof pyodide.ffi.PyProxy,
  };
  const result = {
    runtime: { ...JSON.parse(runtime.runtime_versions()), node: process.version, boot_ms: bootMs },
    imports,
    boot_logs: output.sink,
    cases: {},
    bench: null,
  };
  for (const spec of plan.cases) {
    process.stderr.write(`case ${spec.name}\n`);
    result.cases[spec.name] = await runCase(spec, context);
  }
  if (plan.bench) {
    process.stderr.write("bench\n");
    result.bench = await runBench(plan.bench, context).catch((error) => ({ error: pythonErrorText(error) }));
  }
  const text = JSON.stringify(result, null, 1);
  if (values.out) await writeFile(values.out, text);
  else process.stdout.write(text + "\n");
}

main().then(
  () => process.exit(0),
  (error) => {
    // Print the message only: Node would otherwise echo the minified line of
    // pyodide.asm.js the error came from, which is megabytes long.
    process.stderr.write(`harness failed: ${pythonErrorText(error)}\n${error?.stack?.split("\n").slice(1, 6).join("\n") ?? ""}\n`);
    process.exit(2);
  },
);
