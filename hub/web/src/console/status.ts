// Camera statuses as the console shows them. Any status the hub sends is shown (a new one gets the "other"
// colour and its own line in the legend); the known ones have a colour and a plain word.

export const KNOWN: Record<string, string> = {
  recording: "Recording",
  online: "Online, not recording",
  paused: "Paused by the owner",
  offline: "Offline",
};

/** Which status a cluster shows: the one that most needs the analyst's eye among its cameras. */
const WORST_FIRST = ["offline", "paused", "online", "recording"];

export function label(status: string): string {
  return KNOWN[status] ?? status.replace(/_/g, " ");
}

export function worst(statuses: Iterable<string>): string {
  let best = Infinity;
  let other: string | null = null;
  for (const status of statuses) {
    const rank = WORST_FIRST.indexOf(status);
    if (rank === -1) other = status;
    else best = Math.min(best, rank);
  }
  if (other !== null) return other; // unknown statuses first: the hub says something the console cannot read
  return WORST_FIRST[best] ?? "recording";
}

export const PURPOSES: [string, string][] = [
  ["violent_crime", "Violent crime"], ["property_crime", "Property crime"], ["missing_person", "Missing person"],
  ["traffic", "Traffic"], ["emergency", "Emergency"], ["other", "Other"],
];

/** The purpose an incident's type suggests (the analyst can change it). */
export function purposeOf(incidentType: string): string {
  const type = incidentType.toLowerCase();
  const rules: [RegExp, string][] = [
    [/rob|assault|shoot|stab|homicide|murder|weapon|gun|kidnap|carjack|violen/, "violent_crime"],
    [/burglar|theft|steal|stolen|shoplift|vandal|larceny|break.?in|property/, "property_crime"],
    [/missing|amber|silver alert|runaway/, "missing_person"],
    [/crash|collision|traffic|hit.?and.?run|dui|vehicle/, "traffic"],
    [/fire|medical|emergenc|rescue|explosion/, "emergency"],
  ];
  return rules.find(([pattern]) => pattern.test(type))?.[1] ?? "other";
}

/** Fill every `select.purposes` on the page with the hub's purposes. */
export function fillPurposes(root: ParentNode = document): void {
  for (const select of root.querySelectorAll<HTMLSelectElement>("select.purposes")) {
    select.replaceChildren(...PURPOSES.map(([value, text]) => new Option(text, value)));
  }
}
