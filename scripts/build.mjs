// Builds one ESM bundle per Lambda handler (dist/handlers/<name>.mjs) and one for the CLI (dist/cli.mjs), each with
// the chunks it loads (dist/handlers/chunks/<name>/, dist/chunks/cli/).
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
//   operations that stream events, and no berth handler calls one; nor the browser's user-agent parser
//   (`import("bowser")`, reached only in browsers);
// - code a function loads only when first used in a chunk of its own: each handler is built on its own with code
//   splitting, so the ECS service deployer (src/aws/compose.ts loads it with `import()`), with the ECS commands only
//   it sends, is dist/handlers/chunks/<name>/ecs-service-deployer.mjs, and what the deployer shares with
//   the cold start is a chunk the entry imports. esbuild splits by module, so ECS's schema module is cut into one
//   module per shape first (schemas-by-declaration.mjs): the deployer's shapes go with it. A function's package
//   holds its chunks folder (src/aws/stack/functions.ts). Built one by one, the handlers share no chunk;
// - no DynamoDB endpoint discovery, which no DynamoDB command of the SDK uses, and no SDK code that only
//   runs where Node's crypto cannot hash or for event streams;
// - of each client's package.json, the version its user agent reports.
import { build } from "esbuild";
import { readFileSync, readdirSync, existsSync, mkdirSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { gzipSync } from "node:zlib";
import { schemasByDeclaration } from "./schemas-by-declaration.mjs";

const quiet = process.argv.includes("--quiet");
// `--handlers-into <dir>`: only the handler bundles, as the functions deploy them, into <dir>; with `--unminified`,
// unminified and without source maps, for profiling which modules their evaluation spends its time in
// (bench/handlers.bench.ts, which measures its own copies while other builds may rewrite dist/).
const intoAt = process.argv.indexOf("--handlers-into");
const handlersDir = intoAt >= 0 ? process.argv[intoAt + 1] : undefined;
const unminified = process.argv.includes("--unminified");
// `--cli-into <dir>`: only the CLI, into <dir>, with esbuild's metafile beside it (cli.meta.json): what each file
// holds, for test/cli/startup.test.ts and bench/cli.bench.ts.
const cliAt = process.argv.indexOf("--cli-into");
const cliDir = cliAt >= 0 ? process.argv[cliAt + 1] : undefined;
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

/**
 * S3's client imports two names of the event-stream module when it is built (it has operations that stream
 * events, which berth never calls): the config resolver is a pass-through and the serde provider says so if
 * ever used. Every other client imports that module with `import()`, which stays external.
 */
const noEventStreams = {
  name: "no-event-streams",
  setup(b) {
    b.onResolve({ filter: /^@smithy\/core\/event-streams$/ }, (args) => (args.kind === "dynamic-import" ? { external: true } : { path: "no-event-streams", namespace: "berth" }));
    b.onLoad({ filter: /^no-event-streams$/, namespace: "berth" }, () => ({
      contents:
        "export const resolveEventStreamSerdeConfig = (input) => input;\n" +
        'export const eventStreamSerdeProvider = () => { throw new Error("berth\'s handler bundles leave event streams out (scripts/build.mjs)"); };\n',
      loader: "js",
    }));
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
  ? readdirSync("handlers").filter((f) => f.endsWith(".ts")).map((f) => f.replace(/\.ts$/, ""))
  : [];

/**
 * Writes a build's files, each whole and renamed into place, the chunks (in `chunks`) before the entry that imports
 * them: a process that imports the entry while another build rewrites it (tests running side by side) finds every
 * file it names. Then removes from `chunks` what no build since `started` wrote; the files of a build that ran
 * meanwhile stay, as its entry may be the one in place.
 */
function writeBuild(outputFiles, chunks, started) {
  const entryLast = (f) => (f.path.startsWith(chunks) ? 0 : 1);
  for (const file of [...outputFiles].sort((a, b) => entryLast(a) - entryLast(b))) {
    mkdirSync(dirname(file.path), { recursive: true });
    const temporary = `${file.path}.${process.pid}.tmp`;
    writeFileSync(temporary, file.contents);
    renameSync(temporary, file.path);
  }
  const written = new Set(outputFiles.map((f) => f.path));
  for (const f of existsSync(chunks) ? readdirSync(chunks) : []) {
    const path = join(chunks, f);
    if (written.has(path) || f.endsWith(".tmp")) continue;
    const modified = statSync(path, { throwIfNoEntry: false })?.mtimeMs;
    if (modified !== undefined && modified < started) rmSync(path, { force: true });
  }
}

/** The outputs an import of `from` loads: it and the chunks it imports, all the way down (metafile paths). */
function staticClosure(outputs, from) {
  const loaded = new Set();
  const visit = (o) => {
    if (loaded.has(o)) return;
    loaded.add(o);
    for (const i of outputs[o].imports) if (i.kind === "import-statement" && outputs[i.path] !== undefined) visit(i.path);
  };
  visit(from);
  return [...loaded];
}

const bytes = (outputs, list) => list.reduce((n, o) => n + outputs[o].bytes, 0);
const allBytes = (outputs) => bytes(outputs, Object.keys(outputs).filter((o) => o.endsWith(".mjs")));

/**
 * Handler `name`, built on its own into `outdir`: `<name>.mjs` and its chunks in `chunks/<name>/`, which only it uses.
 * The chunks' names carry no hash, so a rebuild writes the same files a function's package names. Two chunks of the
 * same name would fail the build (esbuild: "Two output files share the same path").
 */
async function buildHandler(name, outdir, options) {
  const started = Date.now();
  const { outputFiles, metafile } = await build({
    ...common,
    entryPoints: [join("handlers", `${name}.ts`)],
    outdir,
    splitting: true,
    chunkNames: `chunks/${name}/[name]`,
    outExtension: { ".js": ".mjs" },
    external: ["bowser"],
    plugins: [noEventStreams, environmentCredentials, clientVersionOnly, noEndpointDiscovery, unreachableSdkCode, schemasByDeclaration(["@aws-sdk/client-ecs"])],
    ...options,
    write: false,
    metafile: true,
  });
  writeBuild(outputFiles, resolve(outdir, "chunks", name), started);
  // Bytes of the entry, of what a cold start loads, of all.
  const outputs = metafile.outputs;
  const entry = Object.keys(outputs).find((o) => outputs[o].entryPoint !== undefined);
  return { entry: outputs[entry].bytes, coldStart: bytes(outputs, staticClosure(outputs, entry)), all: allBytes(outputs) };
}

/**
 * The CLI, into `outdir`: `cli.mjs` and its chunks in `chunks/cli/`. It is split as the handlers are, each command's
 * module (src/cli/commands/index.ts loads it with `import()`) in a chunk of its own with what only it uses, so a
 * command loads what it runs with and nothing of the others: `validate` and `explain` load no AWS SDK. Its chunks
 * are many and share code among themselves, so their names carry a hash (esbuild names every shared chunk "chunk").
 * Returns esbuild's metafile.
 */
async function buildCli(outdir) {
  const started = Date.now();
  const { outputFiles, metafile } = await build({
    ...common,
    entryPoints: { cli: "src/cli/main.ts" },
    outdir,
    splitting: true,
    chunkNames: "chunks/cli/[name]-[hash]",
    outExtension: { ".js": ".mjs" },
    external: ["better-sqlite3"],
    write: false,
    metafile: true,
  });
  writeBuild(outputFiles, resolve(outdir, "chunks", "cli"), started);
  return metafile;
}

if (handlersDir !== undefined) {
  await Promise.all(handlers.map((name) => buildHandler(name, handlersDir, unminified ? { sourcemap: false } : { minify: true })));
  process.exit(0);
}

if (cliDir !== undefined) {
  writeFileSync(join(cliDir, "cli.meta.json"), JSON.stringify(await buildCli(cliDir)));
  process.exit(0);
}

const [cli, , ...sizes] = await Promise.all([
  buildCli("dist"),
  build({ ...common, format: "cjs", banner: {}, entryPoints: ["src/aws/stack/serverless-source.ts"], outfile: "dist/serverless-source.cjs" }),
  ...handlers.map((name) => buildHandler(name, "dist/handlers", { minify: true })),
]);
// `serverless invoke local` loads a handler with require(), trying `<path>` and `<path>.cjs` but never `.mjs`:
// a two-line CommonJS door to each ESM bundle lets it run the real bundle. The functions' packages hold the
// `.mjs` bundles only (src/aws/stack/functions.ts), so Lambda never sees these.
for (const name of handlers) {
  writeFileSync(
    `dist/handlers/${name}.cjs`,
    `// For \`serverless invoke local\` only: it cannot load ESM, so this loads ./${name}.mjs for it.\n` +
      `exports.handler = async (event, context) => (await import("./${name}.mjs")).handler(event, context);\n`,
  );
}
if (!quiet) {
  const kib = (bytes) => `${(bytes / 1024).toFixed(1)} KiB`;
  handlers.forEach((name, i) => {
    const gzip = gzipSync(readFileSync(`dist/handlers/${name}.mjs`)).length;
    console.log(`  ${name.padEnd(12)} entry ${kib(sizes[i].entry)} (${kib(gzip)} gzip), cold start ${kib(sizes[i].coldStart)}, with every chunk ${kib(sizes[i].all)}`);
  });
  // What `berth validate` loads: the entry, the validate command's chunk, and what they import.
  const outputs = cli.outputs;
  const entry = Object.keys(outputs).find((o) => outputs[o].entryPoint === "src/cli/main.ts");
  const validate = Object.keys(outputs).find((o) => outputs[o].entryPoint === "src/cli/commands/validate.ts");
  const validateLoads = new Set([...staticClosure(outputs, entry), ...staticClosure(outputs, validate)]);
  console.log(`  ${"cli".padEnd(12)} entry ${kib(bytes(outputs, staticClosure(outputs, entry)))} with its imports, validate ${kib(bytes(outputs, [...validateLoads]))}, with every chunk ${kib(allBytes(outputs))}`);
}
