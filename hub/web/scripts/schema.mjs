// Exports the hub's OpenAPI schema from the app itself (`python -m hub.openapi`, no running hub needed) into
// generated/openapi.json, then types it into src/api/schema.d.ts with openapi-typescript. Both files are
// generated at build time and never committed. The Python used: $CANVASS_PYTHON, else the project's .venv,
// else python3 on the PATH.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import openapiTS, { astToString } from "openapi-typescript";

const web = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const repo = resolve(web, "..", "..");
const venvPython = join(repo, ".venv", "bin", "python");
const python = process.env.CANVASS_PYTHON || (existsSync(venvPython) ? venvPython : "python3");
const schemaFile = join(web, "generated", "openapi.json");
const typesFile = join(web, "src", "api", "schema.d.ts");

mkdirSync(dirname(schemaFile), { recursive: true });
execFileSync(python, ["-m", "hub.openapi", "--out", schemaFile], {
  cwd: repo,
  stdio: "inherit",
  env: { ...process.env, PYTHONPATH: [repo, process.env.PYTHONPATH].filter(Boolean).join(":") },
});
// defaultNonNullable off: a field the hub gives a default is optional in a request body, as the hub reads it
const ast = await openapiTS(new URL(`file://${schemaFile}`), { defaultNonNullable: false });
const header = "// Generated from the hub's OpenAPI schema by scripts/schema.mjs: do not edit, do not commit.\n";
writeFileSync(typesFile, header + astToString(ast));
console.log(`schema: ${schemaFile} -> ${typesFile}`);
