import assert from "node:assert/strict";
import { test } from "node:test";
import { Backoff } from "../src/backoff";
import { Emitter } from "../src/emitter";
import { FrontDeskError, errorFromResponse, networkError } from "../src/errors";
import { seeded } from "./fakes";

test("the emitter calls listeners in order, and off removes one", () => {
  const events = new Emitter<{ ping: number }>();
  const seen: string[] = [];
  const a = (n: number): void => void seen.push(`a${n}`);
  const b = (n: number): void => void seen.push(`b${n}`);
  events.on("ping", a);
  events.on("ping", b);
  events.emit("ping", 1);
  events.off("ping", a);
  events.emit("ping", 2);
  assert.deepEqual(seen, ["a1", "b1", "b2"]);
  assert.equal(events.count("ping"), 1);
});

test("a listener that throws does not stop the others", (t) => {
  const logged = t.mock.method(console, "error", () => undefined);
  const events = new Emitter<{ ping: number }>();
  const seen: number[] = [];
  events.on("ping", () => {
    throw new Error("site bug");
  });
  events.on("ping", (n) => void seen.push(n));
  events.emit("ping", 5);
  assert.deepEqual(seen, [5]);
  assert.equal(logged.mock.callCount(), 1);
});

test("a listener removed while an event is emitted still gets that event, then no more", () => {
  const events = new Emitter<{ ping: number }>();
  const seen: number[] = [];
  const second = (n: number): void => void seen.push(n);
  events.on("ping", () => events.off("ping", second));
  events.on("ping", second);
  events.emit("ping", 1);
  events.emit("ping", 2);
  assert.deepEqual(seen, [1]);
});

test("backoff doubles from 0.5 s, jittered between half and all of the step, capped at 30 s", () => {
  const backoff = new Backoff({ random: seeded(42) });
  const delays = Array.from({ length: 12 }, () => backoff.next());
  delays.forEach((delay, n) => {
    const step = Math.min(30_000, 500 * 2 ** n);
    assert.ok(delay >= step / 2 && delay <= step, `attempt ${n}: ${delay} not in [${step / 2}, ${step}]`);
  });
  assert.ok(delays.slice(7).every((d) => d >= 15_000 && d <= 30_000));
  // The same seed gives the same delays: the jitter comes only from `random`.
  const again = new Backoff({ random: seeded(42) });
  assert.deepEqual(Array.from({ length: 12 }, () => again.next()), delays);
});

test("backoff's bounds are reached with random 0 and 1, and reset starts over", () => {
  const low = new Backoff({ random: () => 0 });
  assert.deepEqual([low.next(), low.next(), low.next()], [250, 500, 1000]);
  const high = new Backoff({ random: () => 1 });
  assert.deepEqual([high.next(), high.next(), high.next()], [500, 1000, 2000]);
  for (let i = 0; i < 50; i++) high.next();
  assert.equal(high.next(), 30_000);
  high.reset();
  assert.equal(high.attempt, 0);
  assert.equal(high.next(), 500);
});

test("a problem+json response becomes a typed FrontDeskError", async () => {
  const response = new Response(
    JSON.stringify({ type: "/problems/identity-required", title: "Identity verification required", status: 401, detail: "sign in" }),
    { status: 401, headers: { "content-type": "application/problem+json" } },
  );
  const error = await errorFromResponse(response);
  assert.ok(error instanceof FrontDeskError);
  assert.equal(error.status, 401);
  assert.equal(error.type, "/problems/identity-required");
  assert.equal(error.code, "identity-required");
  assert.equal(error.title, "Identity verification required");
  assert.equal(error.detail, "sign in");
  assert.equal(error.retryable, false);
});

test("a rate limit keeps Retry-After, and a proxy's HTML page still maps to an error", async () => {
  const limited = await errorFromResponse(
    new Response(JSON.stringify({ type: "/problems/rate-limited", title: "Too many requests", status: 429 }), {
      status: 429,
      headers: { "retry-after": "7" },
    }),
  );
  assert.equal(limited.retryAfter, 7);
  assert.equal(limited.retryable, true);
  const proxy = await errorFromResponse(new Response("<html>Bad gateway</html>", { status: 502, statusText: "Bad Gateway" }));
  assert.equal(proxy.status, 502);
  assert.equal(proxy.type, "/problems/http-502");
  assert.equal(proxy.title, "Bad Gateway");
  assert.equal(proxy.retryable, true);
});

test("a failed fetch is a retryable network error with status 0", () => {
  const error = networkError(new TypeError("Failed to fetch"));
  assert.equal(error.status, 0);
  assert.equal(error.code, "network");
  assert.equal(error.retryable, true);
  assert.equal(networkError(error), error);
});
