// Bundles the pages' scripts and styles with esbuild into one folder (default: the Python
// package's static files). Deterministic: the same lock file and sources give the same bytes,
// which tests/web/test_bundle.py checks. Usage: node build.mjs [OUTDIR]
import { build } from "esbuild";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const outdir = resolve(process.argv[2] ?? resolve(here, "../replaystore/web/static"));

await build({
  absWorkingDir: here,
  entryPoints: {
    list: "src/list.js",
    player: "src/player.js",
    selectors: "src/selectors.js",
    pages: "src/pages.css",
  },
  outdir,
  bundle: true,
  minify: true,
  format: "iife",
  target: ["chrome110", "firefox110", "safari16"],
  legalComments: "eof",
  charset: "utf8",
  sourcemap: false,
  logLevel: "warning",
});
