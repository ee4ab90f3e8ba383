#!/usr/bin/env node
// A faultline --client-command client for etcd in JavaScript (Node.js 18 or later, no
// packages), written from faultline's README only: one JSON op per line on stdin, one
// completion per line on stdout. Registers (read, write, cas) through etcd's JSON gateway.
// `--serializable` reads the member's local state (may be stale); without it reads are
// linearizable, etcd's default.
import { createInterface } from "node:readline";

const endpoint = `http://${process.env.FAULTLINE_ENDPOINT}`;
const serializable = process.argv.includes("--serializable");
const b64 = (text) => Buffer.from(text).toString("base64");

// [status, body] when etcd answered; ["refused", why] when nothing was sent (a definite
// failure); ["unknown", why] when the request may have been applied.
async function call(path, body) {
  try {
    const response = await fetch(endpoint + path, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(1000),
    });
    return [response.status, await response.json()];
  } catch (e) {
    const code = e.cause?.code;
    return [code === "ECONNREFUSED" ? "refused" : "unknown", `${e.name}: ${code ?? e.message}`];
  }
}

async function perform({ f, key, value }) {
  const k = b64(String(key));
  let status, body;
  if (f === "read") {
    [status, body] = await call("/v3/kv/range", { key: k, serializable });
    if (status !== 200) return { type: "fail", error: `${status}: ${JSON.stringify(body)}` };
    const kv = (body.kvs ?? [])[0];
    const found = kv?.value ? JSON.parse(Buffer.from(kv.value, "base64").toString()) : null;
    return { type: "ok", value: found };
  } else if (f === "write") {
    [status, body] = await call("/v3/kv/put", { key: k, value: b64(JSON.stringify(value)) });
    if (status === 200) return { type: "ok", value };
  } else if (f === "cas") {
    const [from, to] = value;
    const compare = from === null
      ? { key: k, target: "CREATE", result: "EQUAL", create_revision: "0" }
      : { key: k, target: "VALUE", result: "EQUAL", value: b64(JSON.stringify(from)) };
    [status, body] = await call("/v3/kv/txn", {
      compare: [compare],
      success: [{ request_put: { key: k, value: b64(JSON.stringify(to)) } }],
    });
    if (status === 200) {
      return body.succeeded ? { type: "ok", value } : { type: "fail", error: "cas mismatch" };
    }
  } else {
    return { type: "fail", error: `this client does not do ${f}` };
  }
  if (status === "refused") return { type: "fail", error: body };
  return { type: "info", error: `${status}: ${typeof body === "string" ? body : JSON.stringify(body)}` };
}

for await (const line of createInterface({ input: process.stdin })) {
  process.stdout.write(JSON.stringify(await perform(JSON.parse(line))) + "\n");
}
