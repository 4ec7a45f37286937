// The settings screen's reading of what was typed: budgets and per-model prices.
import assert from "node:assert/strict";
import { test } from "node:test";

import { priceOf } from "../../../reliant/web/app/views/settings.js";

test("a price is read as typed, and 0 is a price (a free model)", () => {
  assert.deepEqual(priceOf({ model: "openai:local", input: "0.1", output: "0.3" }), { price: { model: "openai:local", input: 0.1, output: 0.3 } });
  assert.deepEqual(priceOf({ model: "openai:local", input: "0", output: "0" }), { price: { model: "openai:local", input: 0, output: 0 } });
});

test("a price left blank is refused naming it, never saved as $0", () => {
  const read = priceOf({ model: "anthropic:claude-sonnet-4-5", input: "3", output: " " });
  assert.equal(read.field, "output");
  assert.equal(read.problem, "anthropic:claude-sonnet-4-5: the output price is missing (0 if the model is free)");
  assert.equal(priceOf({ model: "openai:gpt-4o", input: "", output: "10" }).field, "input");
});

test("a price that is no number is refused naming it", () => {
  const read = priceOf({ model: "openai:gpt-4o", input: "2", output: "ten" });
  assert.equal(read.field, "output");
  assert.match(read.problem, /^openai:gpt-4o: must be a number of dollars/);
});
