// Reading a hot-list CSV (plate, state/region, list, reason, expiry) into rows and their problems, row by row,
// before anything is sent to the hub. Pure functions, no DOM.

export interface HotListRow {
  line: number;
  plate: string;
  region: string;
  list: string;
  reason: string;
  expires: Date | null;
  problems: string[];
}

/** The fields of each line of a CSV (RFC 4180 quoting: "a ""b""" is a "b"). */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let field = "";
  let row: string[] = [];
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { field += '"'; i++; }
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") { row.push(field); field = ""; }
    else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      row.push(field); rows.push(row); row = []; field = "";
    } else field += c;
  }
  if (field || row.length) { row.push(field); rows.push(row); }
  return rows.filter((r) => r.some((f) => f.trim()));
}

/** Plate text as the boxes match it: upper case, letters and digits only. */
export function normalisePlate(text: string): string {
  return text.toUpperCase().replace(/[^0-9A-Z]/g, "");
}

/** Rows of a hot-list CSV, each with what is wrong with it (a header line is recognised and skipped). */
export function hotListRows(text: string, now = new Date()): HotListRow[] {
  const lines = parseCsv(text);
  const header = lines[0]?.[0]?.trim().toLowerCase() === "plate";
  return lines.slice(header ? 1 : 0).map((fields, index) => {
    const [plateText = "", region = "", list = "", reason = "", expiry = ""] = fields.map((f) => f.trim());
    const plate = normalisePlate(plateText);
    const problems: string[] = [];
    if (!/^[0-9A-Z]{1,10}$/.test(plate)) problems.push("plate: 1 to 10 letters or digits");
    if (!list || list.length > 100) problems.push("list: 1 to 100 characters");
    if (reason.length < 3 || reason.length > 500) problems.push("reason: 3 to 500 characters");
    if (fields.length > 5) problems.push(`${fields.length} columns: expected 5`);
    let expires: Date | null = null;
    if (expiry) {
      const when = new Date(expiry);
      if (Number.isNaN(when.getTime())) problems.push(`expiry: "${expiry}" is not a date`);
      else if (when <= now) problems.push("expiry: already past");
      else expires = when;
    }
    return { line: index + (header ? 2 : 1), plate, region, list, reason, expires, problems };
  });
}
