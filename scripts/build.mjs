// Builds one ESM bundle per Lambda handler (dist/handlers/<name>.mjs) and one for the CLI (dist/cli.mjs).
//
// A handler bundle holds what its own code reaches and nothing else (measured by bench/handlers.bench.ts):
// - the SDK's ESM builds (`mainFields: module,main`), minified and tree-shaken: only the clients the
//   handler's composition creates (src/aws/compose.ts; the webhook's, src/aws/webhook/compose.ts: EventBridge,
//   SSM and Secrets Manager, no DynamoDB or ECS) end up in it;
// - credentials from the environment only. Lambda sets AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
//   AWS_SESSION_TOKEN from the execution role, so the SDK's default chain (profiles, SSO, IMDS, ECS
//   container credentials, web identity, with the STS and SSO clients they bring, about a quarter of the
//   bundle) is replaced by the SDK's own environment provider. The CLI keeps the whole chain;
// - no event-stream support: the SDK loads it lazily (`import("@smithy/core/event-streams")`) for
//   operations that stream events, and no berth handler calls one;
// - no DynamoDB endpoint discovery, which no DynamoDB command of the SDK uses, and no SDK code that only
//   runs where Node's crypto cannot hash or for event streams;
// - of each client's package.json, the version its user agent reports.
import { build } from "esbuild";
import { readFileSync, readdirSync, existsSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { gzipSync } from "node:zlib";

const quiet = process.argv.includes("--quiet");
// `--unminified <dir>`: only the handler bundles, unminified, into <dir>, for profiling which modules
// their evaluation spends its time in (bench/handlers.bench.ts); otherwise the same build.
const unminifiedAt = process.argv.indexOf("--unminified");
const profileDir = unminifiedAt >= 0 ? process.argv[unminifiedAt + 1] : undefined;
const require = createRequire(import.meta.url);

// The AWS SDK's dynamic `require("node:https")` needs a real `require` inside an ESM bundle.
const banner = { js: 'import { createRequire as __berthCreateRequire } from "node:module"; const require = __berthCreateRequire(import.meta.url);' };
const common = {
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  banner,
  sourcemap: "linked",
  legalComments: "none",
  logLevel: quiet ? "error" : "info",
  // Smaller, faster-loading SDK builds (measured in ../BENCHMARKS.md).
  mainFields: ["module", "main"],
};

/** `defaultProvider` of @aws-sdk/credential-provider-node, as the clients import it, is the SDK's `fromEnv`. */
const environmentCredentials = {
  name: "environment-credentials",
  setup(b) {
    b.onResolve({ filter: /^@aws-sdk\/credential-provider-node$/ }, () => ({ path: "environment-credentials", namespace: "berth" }));
    b.onLoad({ filter: /^environment-credentials$/, namespace: "berth" }, () => ({
      contents: 'export { fromEnv as defaultProvider } from "@aws-sdk/credential-provider-env";',
      // Resolved where the replaced package resolves its own dependency on it.
      resolveDir: dirname(require.resolve("@aws-sdk/credential-provider-node/package.json")),
    }));
  },
};

/**
 * DynamoDB endpoint discovery, left out: no DynamoDB command of this SDK discovers endpoints (none adds the
 * discovery middleware), yet the client builds a 1,000-entry LRU cache for it and bundles DescribeEndpoints.
 * Its configuration option stays as the SDK defines it; only `resolveEndpointDiscoveryConfig` becomes a no-op.
 * Should a later SDK's commands import the middleware from here, the build fails on the missing export.
 */
const noEndpointDiscovery = {
  name: "no-endpoint-discovery",
  setup(b) {
    b.onResolve({ filter: /^@aws-sdk\/middleware-endpoint-discovery$/ }, (args) => ({ path: "no-endpoint-discovery", namespace: "berth", pluginData: args.resolveDir }));
    b.onLoad({ filter: /^no-endpoint-discovery$/, namespace: "berth" }, (args) => ({
      contents:
        'export { NODE_ENDPOINT_DISCOVERY_CONFIG_OPTIONS } from "@aws-sdk/middleware-endpoint-discovery/dist-es/configurations.js";\n' +
        "export const resolveEndpointDiscoveryConfig = (input) => input;\n",
      resolveDir: args.pluginData,
    }));
  },
};

/**
 * SDK modules every handler would evaluate at import and never run, each replaced by a class of the same name
 * whose use says so, should it ever come: the pure-JS SHA-256 the SDK falls back to where `node:crypto` cannot
 * hash (Node's is used), and the header formatter of event-stream message signing (the bundles leave event
 * streams out). A later SDK that moves them leaves its own copies in the bundle, larger but correct.
 */
const unreachable = [
  { file: /[\\/]@smithy[\\/]core[\\/]dist-es[\\/]submodules[\\/]checksum[\\/]sha256[\\/]Sha256Js\.js$/, contents: "export class Sha256Js { constructor() { throw new Error(\"berth's handler bundles hash with node:crypto; the SDK's JavaScript SHA-256 is left out (scripts/build.mjs)\"); } }" },
  { file: /[\\/]@smithy[\\/]signature-v4[\\/]dist-es[\\/]HeaderFormatter\.js$/, contents: "export class HeaderFormatter { format() { throw new Error(\"berth's handler bundles leave event streams out, and event-stream signing with them (scripts/build.mjs)\"); } }" },
];
const unreachableSdkCode = {
  name: "unreachable-sdk-code",
  setup(b) {
    for (const { file, contents } of unreachable) b.onLoad({ filter: file }, () => ({ contents, loader: "js" }));
  },
};

/** The clients read `version` of their package.json (runtimeConfig.js, the user agent) and nothing else of it. */
const clientVersionOnly = {
  name: "client-version-only",
  setup(b) {
    b.onLoad({ filter: /[\\/]@aws-sdk[\\/]client-[a-z0-9-]+[\\/]package\.json$/ }, (args) => ({
      contents: JSON.stringify({ version: JSON.parse(readFileSync(args.path, "utf8")).version }),
      loader: "json",
    }));
  },
};

const handlers = existsSync("handlers")
  ? readdirSync("handlers").filter((f) => f.endsWith(".ts")).map((f) => join("handlers", f))
  : [];

const handlerBuild = {
  ...common,
  entryPoints: handlers,
  outExtension: { ".js": ".mjs" },
  external: ["@smithy/core/event-streams"],
  plugins: [environmentCredentials, clientVersionOnly, noEndpointDiscovery, unreachableSdkCode],
};

if (profileDir !== undefined) {
  await build({ ...handlerBuild, outdir: profileDir, sourcemap: false });
  process.exit(0);
}

await Promise.all([
  build({ ...common, entryPoints: ["src/cli/main.ts"], outfile: "dist/cli.mjs", external: ["better-sqlite3"] }),
  build({ ...common, format: "cjs", banner: {}, entryPoints: ["src/aws/stack/serverless-source.ts"], outfile: "dist/serverless-source.cjs" }),
  ...(handlers.length ? [build({ ...handlerBuild, outdir: "dist/handlers", minify: true })] : []),
]);
// `serverless invoke local` loads a handler with require(), trying `<path>` and `<path>.cjs` but never `.mjs`:
// a two-line CommonJS door to each ESM bundle lets it run the real bundle. The functions' packages hold the
// `.mjs` bundles only (src/aws/stack/functions.ts), so Lambda never sees these.
for (const h of handlers) {
  const name = h.replace(/^handlers\//, "").replace(/\.ts$/, "");
  writeFileSync(
    `dist/handlers/${name}.cjs`,
    `// For \`serverless invoke local\` only: it cannot load ESM, so this loads ./${name}.mjs for it.\n` +
      `exports.handler = async (event, context) => (await import("./${name}.mjs")).handler(event, context);\n`,
  );
}
if (!quiet) {
  for (const h of handlers) {
    const name = h.replace(/^handlers\//, "").replace(/\.ts$/, "");
    const file = `dist/handlers/${name}.mjs`;
    console.log(`  ${name.padEnd(12)} ${(statSync(file).size / 1024).toFixed(1)} KiB, ${(gzipSync(readFileSync(file)).length / 1024).toFixed(1)} KiB gzip`);
  }
}
