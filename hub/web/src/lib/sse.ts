// Server-sent events as text: one event block of a text/event-stream into its event, id and data, and a byte
// stream into its events. No DOM, no network (the caller opens the stream).

export interface ServerEvent {
  event: string;
  id: string | null;
  data: string;
}

/** One event block of a text/event-stream (comments and keep-alives give null). */
export function parseEvent(block: string): ServerEvent | null {
  let event = "message";
  let id: string | null = null;
  const data: string[] = [];
  for (const line of block.split("\n")) {
    if (!line || line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (field === "event") event = value;
    else if (field === "id") id = value;
    else if (field === "data") data.push(value);
  }
  return data.length ? { event, id, data: data.join("\n") } : null;
}

/** The events of a text/event-stream body as they arrive (a block split across chunks is joined first), until
 * the stream ends; stopping early (break, return) cancels the body. */
export async function* readEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<ServerEvent> {
  const reader = body.getReader();
  const decoder = new TextDecoder(); // UTF-8; a character split across chunks is kept for the next one
  let buffer = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      // a CR LF split across two chunks is one line break, not two: keep a trailing CR for the next chunk
      const keep = buffer.endsWith("\r") ? 1 : 0;
      let text = buffer.slice(0, buffer.length - keep).replace(/\r\n?/g, "\n");
      buffer = buffer.slice(buffer.length - keep);
      let end: number;
      while ((end = text.indexOf("\n\n")) >= 0) {
        const parsed = parseEvent(text.slice(0, end));
        text = text.slice(end + 2);
        if (parsed) yield parsed;
      }
      buffer = text + buffer;
    }
  } finally {
    await reader.cancel().catch(() => undefined); // a reader that stops early closes the connection
  }
}
