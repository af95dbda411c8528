// A SQLite-backed Durable Object's `ctx.storage.sql`, for the conformance harness.
//
// Node 20 has no SQLite (node:sqlite needs Node 22) and Pyodide's sqlite3 is not in
// the npm package, so this is a small in-memory SQL engine: enough of SQLite's
// dialect for a ledger's statements, with the runtime's API around it:
//
//   sql.exec(query, ...bindings) -> SqlStorageCursor
//   cursor.toArray() / one() / raw() / next() / [Symbol.iterator]
//   cursor.columnNames, rowsRead, rowsWritten
//
// Supported: CREATE TABLE [IF NOT EXISTS]; CREATE INDEX [IF NOT EXISTS] name ON t (cols) (checked,
// then a no-op: the double scans); INSERT [OR REPLACE] INTO t (cols) VALUES (...);
// SELECT exprs FROM t [WHERE ...]; UPDATE t SET col = expr, ... [WHERE ...];
// DELETE FROM t [WHERE ...]. Expressions: columns, `?`, numbers, 'strings', NULL,
// + - * /, = != <> < <= > >=, AND, OR, NOT, (...), COUNT(*), COUNT(x), SUM, MAX, MIN,
// COALESCE, `AS alias`. Anything else throws an Error naming the statement, as
// SQLite would refuse a statement it cannot parse: a ledger that outgrows this
// double fails loudly instead of getting wrong answers.
//
// The class names (DurableObjectStorage, SqlStorage, SqlStorageCursor) are the
// runtime's: the SDK wraps `ctx.storage` only when its constructor is named
// DurableObjectStorage (workers/entrypoints.py `DurableObjectContext`).

const TOKEN = /\s*(?:(\d+(?:\.\d+)?)|('(?:[^']|'')*')|([A-Za-z_][A-Za-z0-9_]*)|(<=|>=|!=|<>|[(),*=<>?+\-/]))/y;
const AGGREGATES = new Set(["COUNT", "SUM"]);

function tokenize(text) {
  const tokens = [];
  TOKEN.lastIndex = 0;
  for (;;) {
    const start = TOKEN.lastIndex;
    if (/^\s*;?\s*$/.test(text.slice(start))) return tokens;
    const match = TOKEN.exec(text);
    if (!match) throw new Error(`SQL double: cannot read ${JSON.stringify(text.slice(start, start + 20))}`);
    const [, number, string, word, punct] = match;
    if (number !== undefined) tokens.push({ kind: "number", value: Number(number) });
    else if (string !== undefined) tokens.push({ kind: "string", value: string.slice(1, -1).replaceAll("''", "'") });
    else if (word !== undefined) tokens.push({ kind: "word", value: word, upper: word.toUpperCase() });
    else tokens.push({ kind: "punct", value: punct });
  }
}

/** A recursive-descent reader over one statement's tokens. */
class Parser {
  #tokens;
  #at = 0;
  #params = 0;

  constructor(text) {
    this.text = text;
    this.#tokens = tokenize(text);
  }

  get paramCount() {
    return this.#params;
  }

  peek(offset = 0) {
    return this.#tokens[this.#at + offset];
  }

  done() {
    return this.#at >= this.#tokens.length;
  }

  fail(what) {
    const near = this.peek() ? JSON.stringify(this.peek().value) : "the end";
    return new Error(`SQL double: ${what} near ${near} in: ${this.text}`);
  }

  isWord(...words) {
    const token = this.peek();
    return token?.kind === "word" && words.includes(token.upper);
  }

  isPunct(value) {
    const token = this.peek();
    return token?.kind === "punct" && token.value === value;
  }

  word(...words) {
    if (!this.isWord(...words)) throw this.fail(`expected ${words.join(" or ")}`);
    return this.#tokens[this.#at++].upper;
  }

  optionalWord(...words) {
    return this.isWord(...words) ? this.word(...words) : null;
  }

  punct(value) {
    if (!this.isPunct(value)) throw this.fail(`expected ${value}`);
    this.#at++;
  }

  name() {
    const token = this.peek();
    if (token?.kind !== "word") throw this.fail("expected a name");
    this.#at++;
    return token.value;
  }

  list(item) {
    const items = [item()];
    while (this.isPunct(",")) {
      this.#at++;
      items.push(item());
    }
    return items;
  }

  // expr := or;  or := and (OR and)*;  and := not (AND not)*;  not := NOT not | cmp
  expr() {
    let left = this.#and();
    while (this.optionalWord("OR")) left = { op: "OR", left, right: this.#and() };
    return left;
  }

  #and() {
    let left = this.#not();
    while (this.optionalWord("AND")) left = { op: "AND", left, right: this.#not() };
    return left;
  }

  #not() {
    if (this.optionalWord("NOT")) return { op: "NOT", operand: this.#not() };
    return this.#comparison();
  }

  #comparison() {
    const left = this.#sum();
    for (const op of ["=", "!=", "<>", "<=", ">=", "<", ">"]) {
      if (this.isPunct(op)) {
        this.#at++;
        return { op: op === "<>" ? "!=" : op, left, right: this.#sum() };
      }
    }
    return left;
  }

  #sum() {
    let left = this.#product();
    while (this.isPunct("+") || this.isPunct("-")) {
      const op = this.#tokens[this.#at++].value;
      left = { op, left, right: this.#product() };
    }
    return left;
  }

  #product() {
    let left = this.#primary();
    while (this.isPunct("*") || this.isPunct("/")) {
      const op = this.#tokens[this.#at++].value;
      left = { op, left, right: this.#primary() };
    }
    return left;
  }

  #primary() {
    const token = this.peek();
    if (!token) throw this.fail("expected an expression");
    if (token.kind === "number" || token.kind === "string") {
      this.#at++;
      return { literal: token.value };
    }
    if (this.isPunct("?")) {
      this.#at++;
      return { param: this.#params++ };
    }
    if (this.isPunct("-")) {
      this.#at++;
      return { op: "-", left: { literal: 0 }, right: this.#primary() };
    }
    if (this.isPunct("(")) {
      this.#at++;
      const inner = this.expr();
      this.punct(")");
      return inner;
    }
    if (token.kind !== "word") throw this.fail("expected an expression");
    this.#at++;
    if (token.upper === "NULL") return { literal: null };
    if (!this.isPunct("(")) return { column: token.value };
    this.#at++;
    let args;
    if (this.isPunct("*")) {
      this.#at++;
      args = [{ star: true }];
    } else {
      args = this.isPunct(")") ? [] : this.list(() => this.expr());
    }
    this.punct(")");
    return { call: token.upper, args };
  }
}

function isAggregate(node) {
  if (!node || typeof node !== "object") return false;
  if (node.call && (AGGREGATES.has(node.call) || (["MAX", "MIN"].includes(node.call) && node.args.length === 1))) {
    return true;
  }
  return [node.left, node.right, node.operand, ...(node.args ?? [])].some(isAggregate);
}

function compare(op, a, b) {
  if (a === null || b === null) return null;
  switch (op) {
    case "=":
      return a === b ? 1 : 0;
    case "!=":
      return a !== b ? 1 : 0;
    case "<":
      return a < b ? 1 : 0;
    case "<=":
      return a <= b ? 1 : 0;
    case ">":
      return a > b ? 1 : 0;
    default:
      return a >= b ? 1 : 0;
  }
}

function arithmetic(op, a, b) {
  if (a === null || b === null) return null;
  if (op === "+") return a + b;
  if (op === "-") return a - b;
  if (op === "*") return a * b;
  return Number.isInteger(a) && Number.isInteger(b) ? Math.trunc(a / b) : a / b;
}

/** Evaluate an expression for one row (`row`), or over a group of rows (`rows`, for aggregates). */
function evaluate(node, scope) {
  if ("literal" in node) return node.literal;
  if ("param" in node) {
    if (node.param >= scope.params.length) throw new Error(`SQL double: too few bindings for ${scope.text}`);
    return scope.params[node.param];
  }
  if ("column" in node) {
    if (!scope.columns.includes(node.column)) throw new Error(`SQL double: no such column: ${node.column}`);
    return scope.row?.[node.column] ?? null;
  }
  if (node.call) return callFunction(node, scope);
  if (node.op === "AND") return truthy(evaluate(node.left, scope)) && truthy(evaluate(node.right, scope)) ? 1 : 0;
  if (node.op === "OR") return truthy(evaluate(node.left, scope)) || truthy(evaluate(node.right, scope)) ? 1 : 0;
  if (node.op === "NOT") return truthy(evaluate(node.operand, scope)) ? 0 : 1;
  const left = evaluate(node.left, scope);
  const right = evaluate(node.right, scope);
  if (["+", "-", "*", "/"].includes(node.op)) return arithmetic(node.op, left, right);
  return compare(node.op, left, right);
}

function truthy(value) {
  return value !== null && value !== 0 && value !== "";
}

function callFunction(node, scope) {
  const { call, args } = node;
  if (call === "COUNT") {
    if (args[0]?.star) return scope.rows.length;
    return scope.rows.filter((row) => evaluate(args[0], { ...scope, row }) !== null).length;
  }
  const over = () => scope.rows.map((row) => evaluate(args[0], { ...scope, row })).filter((v) => v !== null);
  if (call === "SUM") {
    const values = over();
    return values.length ? values.reduce((a, b) => a + b, 0) : null;
  }
  if ((call === "MAX" || call === "MIN") && args.length === 1) {
    const values = over();
    if (!values.length) return null;
    return call === "MAX" ? Math.max(...values) : Math.min(...values);
  }
  const values = args.map((arg) => evaluate(arg, scope));
  if (call === "MAX" || call === "MIN") {
    if (values.includes(null)) return null;
    return call === "MAX" ? Math.max(...values) : Math.min(...values);
  }
  if (call === "COALESCE") return values.find((v) => v !== null) ?? null;
  throw new Error(`SQL double: no such function: ${call}`);
}

/** One table: its columns, its primary key, and its rows as plain objects. */
class Table {
  constructor(name, columns, primaryKey) {
    this.name = name;
    this.columns = columns;
    this.primaryKey = primaryKey;
    this.rows = [];
  }

  sameKey(a, b) {
    return this.primaryKey.length > 0 && this.primaryKey.every((column) => a[column] === b[column]);
  }
}

function parseCreateIndex(parser, db) {
  if (parser.optionalWord("IF")) {
    parser.word("NOT");
    parser.word("EXISTS");
  }
  parser.name();
  parser.word("ON");
  const table = tableOf(parser, db);
  parser.punct("(");
  for (const column of parser.list(() => parser.name())) {
    if (!table.columns.includes(column)) throw new Error(`SQL double: table ${table.name} has no column ${column}`);
  }
  parser.punct(")");
  return { rows: [], columns: [], written: 0 };
}

function parseCreate(parser, db) {
  if (parser.optionalWord("INDEX")) return parseCreateIndex(parser, db);
  parser.word("TABLE");
  let ifNotExists = false;
  if (parser.optionalWord("IF")) {
    parser.word("NOT");
    parser.word("EXISTS");
    ifNotExists = true;
  }
  const name = parser.name();
  parser.punct("(");
  const columns = [];
  const primaryKey = [];
  parser.list(() => {
    if (parser.optionalWord("PRIMARY")) {
      parser.word("KEY");
      parser.punct("(");
      primaryKey.push(...parser.list(() => parser.name()));
      parser.punct(")");
      return;
    }
    const column = parser.name();
    columns.push(column);
    // Skip the type and constraints, noting PRIMARY KEY.
    while (!parser.done() && !parser.isPunct(",") && !parser.isPunct(")")) {
      if (parser.optionalWord("PRIMARY")) {
        parser.word("KEY");
        primaryKey.push(column);
      } else {
        parser.name();
      }
    }
  });
  parser.punct(")");
  if (db.has(name)) {
    if (ifNotExists) return { rows: [], columns: [], written: 0 };
    throw new Error(`SQL double: table ${name} already exists`);
  }
  db.set(name, new Table(name, columns, primaryKey));
  return { rows: [], columns: [], written: 0 };
}

function tableOf(parser, db) {
  const name = parser.name();
  const table = db.get(name);
  if (!table) throw new Error(`SQL double: no such table: ${name}`);
  return table;
}

function whereClause(parser) {
  return parser.optionalWord("WHERE") ? parser.expr() : null;
}

function matching(table, where, scope) {
  if (!where) return [...table.rows];
  return table.rows.filter((row) => truthy(evaluate(where, { ...scope, row, columns: table.columns })));
}

function parseInsert(parser, db, params) {
  parser.word("INTO");
  const replace = parser.replace;
  const table = tableOf(parser, db);
  parser.punct("(");
  const columns = parser.list(() => parser.name());
  parser.punct(")");
  parser.word("VALUES");
  parser.punct("(");
  const values = parser.list(() => parser.expr());
  parser.punct(")");
  if (values.length !== columns.length) throw parser.fail("column and value counts differ");
  const scope = { params, rows: [], columns: table.columns, text: parser.text };
  const row = Object.fromEntries(table.columns.map((column) => [column, null]));
  columns.forEach((column, i) => {
    if (!table.columns.includes(column)) throw new Error(`SQL double: table ${table.name} has no column ${column}`);
    row[column] = evaluate(values[i], scope);
  });
  const clash = table.rows.findIndex((existing) => table.sameKey(existing, row));
  if (clash >= 0 && !replace) {
    throw new Error(`SQL double: UNIQUE constraint failed: ${table.name}.${table.primaryKey.join(", ")}`);
  }
  if (clash >= 0) table.rows.splice(clash, 1);
  table.rows.push(row);
  return { rows: [], columns: [], written: 1 };
}

function parseSelect(parser, db, params) {
  const items = parser.list(() => {
    if (parser.isPunct("*")) {
      parser.punct("*");
      return { star: true };
    }
    const start = parser.peek();
    const expr = parser.expr();
    const alias = parser.optionalWord("AS") ? parser.name() : null;
    return { expr, name: alias ?? (expr.column ?? start.value) };
  });
  parser.word("FROM");
  const table = tableOf(parser, db);
  const where = whereClause(parser);
  const scope = { params, columns: table.columns, text: parser.text };
  const rows = matching(table, where, scope);
  const columns = items.flatMap((item) => (item.star ? table.columns : [item.name]));
  const project = (row, group) =>
    Object.fromEntries(
      items.flatMap((item) =>
        item.star
          ? table.columns.map((column) => [column, row?.[column] ?? null])
          : [[item.name, evaluate(item.expr, { ...scope, row, rows: group })]],
      ),
    );
  if (items.some((item) => !item.star && isAggregate(item.expr))) {
    return { rows: [project(rows[0], rows)], columns, read: rows.length };
  }
  return { rows: rows.map((row) => project(row, [row])), columns, read: rows.length };
}

function parseUpdate(parser, db, params) {
  const table = tableOf(parser, db);
  parser.word("SET");
  const assignments = parser.list(() => {
    const column = parser.name();
    parser.punct("=");
    return { column, expr: parser.expr() };
  });
  const where = whereClause(parser);
  const scope = { params, columns: table.columns, text: parser.text, rows: [] };
  const rows = matching(table, where, scope);
  for (const row of rows) {
    const values = assignments.map(({ expr }) => evaluate(expr, { ...scope, row, rows: [row] }));
    assignments.forEach(({ column }, i) => {
      row[column] = values[i];
    });
  }
  return { rows: [], columns: [], written: rows.length };
}

function parseDelete(parser, db, params) {
  parser.word("FROM");
  const table = tableOf(parser, db);
  const where = whereClause(parser);
  const doomed = new Set(matching(table, where, { params, columns: table.columns, text: parser.text, rows: [] }));
  table.rows = table.rows.filter((row) => !doomed.has(row));
  return { rows: [], columns: [], written: doomed.size };
}

/** Run one statement against `db` (a Map of tables). */
function run(db, text, params) {
  const parser = new Parser(text);
  const verb = parser.word("CREATE", "INSERT", "SELECT", "UPDATE", "DELETE");
  let result;
  if (verb === "CREATE") result = parseCreate(parser, db);
  else if (verb === "INSERT") {
    if (parser.optionalWord("OR")) parser.replace = parser.word("REPLACE") === "REPLACE";
    result = parseInsert(parser, db, params);
  } else if (verb === "SELECT") result = parseSelect(parser, db, params);
  else if (verb === "UPDATE") result = parseUpdate(parser, db, params);
  else result = parseDelete(parser, db, params);
  if (!parser.done()) throw parser.fail("unexpected text");
  if (parser.paramCount !== params.length) {
    throw new Error(`SQL double: ${params.length} bindings for ${parser.paramCount} placeholders in: ${text}`);
  }
  return result;
}

/** What `exec` returns: rows as fresh plain objects, as the runtime's cursor hands them out. */
export class SqlStorageCursor {
  #rows;
  #next = 0;

  constructor(result) {
    this.#rows = result.rows;
    this.columnNames = result.columns;
    this._rowsRead = result.read ?? 0;
    this._rowsWritten = result.written ?? 0;
  }

  get rowsRead() {
    return this._rowsRead;
  }

  get rowsWritten() {
    return this._rowsWritten;
  }

  next() {
    if (this.#next >= this.#rows.length) return { done: true, value: undefined };
    return { done: false, value: { ...this.#rows[this.#next++] } };
  }

  [Symbol.iterator]() {
    return this;
  }

  toArray() {
    const rows = [];
    for (let step = this.next(); !step.done; step = this.next()) rows.push(step.value);
    return rows;
  }

  one() {
    const rows = this.toArray();
    if (rows.length !== 1) {
      throw new Error(`Expected exactly one result from SQL query, but got ${rows.length === 0 ? "no" : "multiple"} results.`);
    }
    return rows[0];
  }

  *raw() {
    for (let step = this.next(); !step.done; step = this.next()) {
      yield this.columnNames.map((column) => step.value[column]);
    }
  }
}

/** `ctx.storage.sql`. Records each statement, and whether a binding was not plain data. */
export class SqlStorage {
  #db = new Map();
  #isPyProxy;

  constructor(isPyProxy) {
    this.#isPyProxy = isPyProxy;
    this.statements = [];
  }

  exec(query, ...bindings) {
    const record = { query: String(query), bindings: [], error: null };
    this.statements.push(record);
    for (const value of bindings) {
      if (this.#isPyProxy(value) || (value !== null && typeof value === "object")) {
        record.error = `binding of type ${value?.constructor?.name ?? typeof value} is not a SQL value`;
        throw new TypeError(`SQL double: ${record.error}`);
      }
      record.bindings.push(typeof value === "bigint" ? Number(value) : value);
    }
    try {
      return new SqlStorageCursor(run(this.#db, record.query, record.bindings));
    } catch (error) {
      record.error = String(error?.message ?? error);
      throw error;
    }
  }

  get databaseSize() {
    return 4096 * (1 + this.#db.size);
  }

  /** Every table's rows, for the report. */
  dump() {
    return Object.fromEntries([...this.#db].map(([name, table]) => [name, table.rows.map((row) => ({ ...row }))]));
  }
}

/** `ctx.storage` of a SQLite-backed Durable Object: its `sql`, and its alarm (recorded, never fired). */
export class DurableObjectStorage {
  constructor(isPyProxy) {
    this.sql = new SqlStorage(isPyProxy);
    this.alarm = null;
    this.alarmsSet = [];
  }

  async setAlarm(scheduledTime) {
    const ms = scheduledTime instanceof Date ? scheduledTime.getTime() : scheduledTime;
    if (typeof ms !== "number" || !Number.isFinite(ms)) throw new TypeError(`setAlarm needs epoch ms, got ${ms}`);
    this.alarm = ms;
    this.alarmsSet.push(ms);
  }

  async getAlarm() {
    return this.alarm;
  }

  async deleteAlarm() {
    this.alarm = null;
  }
}
