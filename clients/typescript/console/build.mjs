// Bundles the console (console/src/main.ts with the TypeScript client) into the server's static folder,
// which the HTTP port serves at `/`: one script and the page, nothing fetched from elsewhere.
import { build } from "esbuild";
import { copyFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "../../../server/droidft_server/transport/http/static");
mkdirSync(out, { recursive: true });
await build({
  entryPoints: [join(here, "src/main.ts")],
  bundle: true,
  format: "esm",
  target: "es2022",
  minify: true,
  sourcemap: false,
  legalComments: "none",
  outfile: join(out, "console.js"),
  // The client's Node transport and timers, swapped for their browser forms, and its file transfers' modules
  // for stand-ins that refuse (src/browser/).
  alias: {
    "@connectrpc/connect-node": join(here, "src/browser/connect-node.ts"),
    "node:timers/promises": join(here, "src/browser/timers.ts"),
    ...Object.fromEntries(
      ["node:fs", "node:fs/promises", "node:path", "node:crypto"].map((name) => [
        name,
        join(here, "src/browser/node-files.ts"),
      ]),
    ),
  },
  logLevel: "warning",
});
copyFileSync(join(here, "index.html"), join(out, "index.html"));
