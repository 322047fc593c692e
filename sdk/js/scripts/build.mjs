// Builds dist/esm (ES modules, with .d.ts) and dist/cjs (CommonJS) from src
// with the TypeScript compiler, and marks each folder's module kind so that
// Node loads each as what it is whatever the package's "type".
import { execFileSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
rmSync(join(root, "dist"), { recursive: true, force: true });
for (const [project, dir, type] of [
  ["tsconfig.json", "esm", "module"],
  ["tsconfig.cjs.json", "cjs", "commonjs"],
]) {
  execFileSync(process.execPath, [tsc, "-p", join(root, project)], { stdio: "inherit", cwd: root });
  mkdirSync(join(root, "dist", dir), { recursive: true });
  writeFileSync(join(root, "dist", dir, "package.json"), JSON.stringify({ type }) + "\n");
}
// The published types, as an app sees them through the package's exports.
execFileSync(process.execPath, [tsc, "-p", join(root, "tsconfig.check.json")], { stdio: "inherit", cwd: root });
console.log("built dist/esm and dist/cjs");
