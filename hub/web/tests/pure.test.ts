// The front end's pure code, run with node's test runner (`npm test`: esbuild bundles this file for node).
import assert from "node:assert/strict";
import { test } from "node:test";
import { hotListRows, normalisePlate, parseCsv } from "../src/hotlists/csv";
import { parseEvent, readEvents } from "../src/lib/sse";
import { minutes, toLocalInput } from "../src/lib/time";
import { label, purposeOf, worst } from "../src/console/status";
import { checkpointOf, fromBase64, hex, leafHash, nodeHash, verifyInclusion } from "../src/lib/merkle";
import { detailLines } from "../src/lib/auditrow";

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

/** The root of leaves [start, end) the naive way (RFC 6962's definition), to check proofs against. */
async function naiveRoot(leaves: Uint8Array[], start = 0, end = leaves.length): Promise<Uint8Array> {
  if (end - start === 1) return leaves[start] as Uint8Array;
  let split = 1;
  while (split * 2 < end - start) split *= 2;
  return nodeHash(await naiveRoot(leaves, start, start + split), await naiveRoot(leaves, start + split, end));
}

test("an inclusion proof from the hub's own Merkle code verifies in the browser's; a changed entry does not", async () => {
  // wire.merkle's root and proof of leaf 2 for the entries "a" … "e" (computed by the hub's Python code).
  const root = "fe14a5426fbd70c0fa73f52342afed0da0bd23c4838662ccf6b88a3070ead97b";
  const proof = ["0HDcW42prqfcD1rUwp2JllIABZyaDOyjq9XaJJLctx0=", "sTeYX/SE+2ANuTEHx3sDZcgNePW0Kd7Q/Zc2HQd5mes=",
                 "KCSnzNosqnIMhcn7oei1tzXuz9sDh45Pjf5sNiUDC8Q="].map(fromBase64);
  const leaves = await Promise.all(["a", "b", "c", "d", "e"].map(leafHash));
  assert.equal(hex(await naiveRoot(leaves)), root);
  const rootBytes = await naiveRoot(leaves);
  assert.equal(await verifyInclusion(2, 5, leaves[2] as Uint8Array, proof, rootBytes), true);
  assert.equal(await verifyInclusion(2, 5, await leafHash("C"), proof, rootBytes), false);
  assert.equal(await verifyInclusion(3, 5, leaves[2] as Uint8Array, proof, rootBytes), false);
  assert.equal(await verifyInclusion(2, 3, leaves[2] as Uint8Array, proof, rootBytes), false);
  assert.equal(await verifyInclusion(5, 5, leaves[2] as Uint8Array, proof, rootBytes), false);
});

test("every leaf of every tree up to 9 leaves is proven by the path the naive tree gives", async () => {
  for (let size = 1; size <= 9; size++) {
    const leaves = await Promise.all(Array.from({ length: size }, (_, i) => leafHash(`entry ${i}`)));
    const root = await naiveRoot(leaves);
    for (let index = 0; index < size; index++) {
      const proof = await naiveProof(leaves, index, 0, size);
      assert.equal(await verifyInclusion(index, size, leaves[index] as Uint8Array, proof, root), true, `${index}/${size}`);
      if (proof.length) assert.equal(await verifyInclusion(index, size, leaves[index] as Uint8Array, proof.slice(1), root), false);
    }
  }
});

async function naiveProof(leaves: Uint8Array[], index: number, start: number, end: number): Promise<Uint8Array[]> {
  if (end - start === 1) return [];
  let split = 1;
  while (split * 2 < end - start) split *= 2;
  const mid = start + split;
  return index < mid ? [...await naiveProof(leaves, index, start, mid), await naiveRoot(leaves, mid, end)]
                     : [...await naiveProof(leaves, index, mid, end), await naiveRoot(leaves, start, mid)];
}

test("a checkpoint note gives its size and root; anything else gives nothing", () => {
  const root = "/hSlQm+9cMD6c/UjQq/tDaC9I8SDhmLM9riKMHDq2Xs=";
  const parsed = checkpointOf(`canvass.example/audit\n5\n${root}\n\n— canvass.example/audit AAAA\n`);
  assert.equal(parsed?.size, 5);
  assert.equal(hex(parsed?.root ?? new Uint8Array()), "fe14a5426fbd70c0fa73f52342afed0da0bd23c4838662ccf6b88a3070ead97b");
  assert.equal(checkpointOf("origin\n05\nAAAA\n"), null);
  assert.equal(checkpointOf("origin\n5\nnot base64!\n"), null);
  assert.equal(checkpointOf(""), null);
});

test("an audit entry's details read as name: value lines, empty ones left out", () => {
  assert.deepEqual(detailLines({ request_id: 7, filters: { case_number: "2026-1", area: { r: 1 } }, empty: "",
                                 none: null, cameras: [], read_cameras: [3, 4] }),
                   ['filters: case number 2026-1, area {"r":1}', "read cameras: 3, 4", "request id: 7"]);
});
