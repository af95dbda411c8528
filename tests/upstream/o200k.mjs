// Facts of gpt-oss's tokenizer (o200k_base's ordinary tokens), from the vocabulary npm's
// js-tiktoken ships: the longest token in bytes, and the real token count of given texts.
// Reads a JSON list of texts on stdin; prints {"longest_token_bytes", "counts"}.
import { Tiktoken } from "js-tiktoken/lite";
import o200k from "js-tiktoken/ranks/o200k_base";

let longest = 0;
for (const line of o200k.bpe_ranks.split("\n")) {
  for (const token of line.split(" ").slice(1)) longest = Math.max(longest, Buffer.from(token, "base64").length);
}
const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const texts = JSON.parse(Buffer.concat(chunks).toString("utf8"));
const encoder = new Tiktoken(o200k);
const counts = texts.map((text) => encoder.encode(text, [], []).length);
process.stdout.write(JSON.stringify({ longest_token_bytes: longest, counts }));
