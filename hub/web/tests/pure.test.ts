// The front end's pure code, run with node's test runner (`npm test`: esbuild bundles this file for node).
import assert from "node:assert/strict";
import { test } from "node:test";
import { hotListRows, normalisePlate, parseCsv } from "../src/hotlists/csv";
import { parseEvent, readEvents } from "../src/lib/sse";
import { minutes, toLocalInput } from "../src/lib/time";
import { label, purposeOf, worst } from "../src/console/status";

test("a CSV's quoted fields keep their commas, quotes and line breaks", () => {
  assert.deepEqual(parseCsv('a,"b, c","say ""hi"""\r\n"two\nlines",x,\n\n'),
                   [["a", "b, c", 'say "hi"'], ["two\nlines", "x", ""]]);
});

test("hot-list rows say what is wrong with each, the header skipped", () => {
  const now = new Date("2026-12-02T12:00:00Z");
  const rows = hotListRows("plate,state,list,reason,expiry\nab-c 123,NY,stolen,stolen car,2027-01-01\n" +
                           "!!,NY,,x,someday\nXYZ9,NJ,amber,child missing,2026-01-01\n", now);
  assert.deepEqual(rows.map((r) => [r.line, r.plate, r.problems.length]), [[2, "ABC123", 0], [3, "", 4], [4, "XYZ9", 1]]);
  assert.equal(rows[0]?.expires?.toISOString(), "2027-01-01T00:00:00.000Z");
  assert.equal(rows[1]?.expires, null);
  assert.match(rows[2]?.problems[0] ?? "", /already past/);
  assert.equal(normalisePlate(" 8ob-12 34 "), "8OB1234");
});

test("server-sent event blocks give their event, id and data; comments give nothing", () => {
  assert.deepEqual(parseEvent("event: hit\nid: 42\ndata: {\"a\":\ndata: 1}"), { event: "hit", id: "42", data: '{"a":\n1}' });
  assert.deepEqual(parseEvent("data:plain"), { event: "message", id: null, data: "plain" });
  assert.equal(parseEvent(": keep-alive"), null);
});

test("a stream's events are whole however its bytes are cut (CR LF across chunks, UTF-8 across chunks)", async () => {
  const text = ": canvass hot-list hits\r\nretry: 2000\r\n\r\nid: 7\r\nevent: hit\r\ndata: {\"plate\":\"ÄB1\"}\r\n\r\n" +
               ": keep-alive\n\nevent: dropped\ndata: {\"reason\":\"slow\",\"last_hit_id\":7}\n\nevent: hit\ndata: cut off";
  const bytes = new TextEncoder().encode(text);
  for (const size of [1, 2, 3, 7, bytes.length]) {
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < bytes.length; i += size) controller.enqueue(bytes.slice(i, i + size));
        controller.close();
      },
    });
    const events = [];
    for await (const event of readEvents(body)) events.push(event);
    assert.deepEqual(events, [{ event: "hit", id: "7", data: '{"plate":"ÄB1"}' },
                              { event: "dropped", id: null, data: '{"reason":"slow","last_hit_id":7}' }], `chunks of ${size}`);
  }
});

test("a cluster shows the status that most needs the analyst's eye; an unknown one first", () => {
  assert.equal(worst(["recording", "offline", "paused"]), "offline");
  assert.equal(worst(["recording", "paused"]), "paused");
  assert.equal(worst(["recording", "maintenance", "offline"]), "maintenance");
  assert.equal(worst([]), "recording");
  assert.equal(label("paused"), "Paused by the owner");
  assert.equal(label("under_repair"), "under repair");
});

test("an incident's type suggests a purpose", () => {
  assert.deepEqual(["Armed robbery", "Burglary in progress", "Missing child", "Hit and run", "Structure fire", "Noise"]
    .map(purposeOf), ["violent_crime", "property_crime", "missing_person", "traffic", "emergency", "other"]);
});

test("times as the analyst types them and seconds as m:ss", () => {
  const moment = new Date(2026, 11, 2, 9, 5, 7);
  assert.equal(toLocalInput(moment), "2026-12-02T09:05:07");
  assert.equal(minutes(599.6), "10:00");
  assert.equal(minutes(-3), "0:00");
});
