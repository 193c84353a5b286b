// `npm start`: the example berth.yml running on this machine, no AWS account needed.
// Starts `berth dev` in a temporary folder, uploads a file, sends a signed GitHub push,
// fires the nightly backup (its chained report follows), prints the run table and stops.
import { spawn, spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readFileSync, writeFileSync, rmSync } from "node:fs";
import { createHmac } from "node:crypto";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

const root = new URL("..", import.meta.url).pathname;
if (!existsSync(join(root, "dist/cli.mjs"))) spawnSync(process.execPath, [join(root, "scripts/build.mjs"), "--quiet"], { stdio: "inherit" });

const bold = (s) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);
const dim = (s) => (process.stdout.isTTY ? `\x1b[2m${s}\x1b[0m` : s);
const secret = "berth-demo-secret";
const env = { ...process.env, BERTH_WEBHOOK_SECRET: secret, FORCE_COLOR: process.stdout.isTTY ? "1" : "0" };
const started = Date.now();
const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1)}s`;

const freePort = () =>
  new Promise((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

// A scratch copy of the example, with the web service on a free port.
const dir = mkdtempSync(join(tmpdir(), "berth-demo-"));
cpSync(join(root, "examples"), join(dir, "examples"), { recursive: true });
const port = await freePort();
writeFileSync(join(dir, "berth.yml"), readFileSync(join(root, "berth.yml"), "utf8").replaceAll("8080", String(port)));

let stopping = false;
const berth = (args) => spawnSync(process.execPath, [join(root, "bin/berth.js"), ...args], { cwd: dir, env, encoding: "utf8" });
const step = (title) => !stopping && console.log(`\n${bold(`▶ ${title}`)} ${dim(elapsed())}`);

step(`berth dev in ${dir}`);
// Its own process group: a Ctrl-C reaches only this script, which passes on exactly one SIGINT.
const dev = spawn(process.execPath, [join(root, "bin/berth.js"), "dev", "--plain"], { cwd: dir, env, stdio: ["ignore", "pipe", "inherit"], detached: true });
// Echoed until the summary: a line berth dev prints after it (the UI hears of a run's end just after it is stored) would only trail it.
let echo = true;
dev.stdout.on("data", (d) => echo && process.stdout.write(d.toString().replace(/^(?=.)/gm, dim("  dev │ "))));
const stop = async (code, message) => {
  if (stopping) return new Promise(() => {}); // already on its way out: the rest of the demo stops here
  stopping = true;
  dev.kill("SIGINT");
  await new Promise((r) => (dev.exitCode !== null ? r() : dev.once("exit", r)));
  rmSync(dir, { recursive: true, force: true });
  if (message) console.log(message);
  process.exit(code);
};
process.on("SIGINT", () => void stop(130, "\ninterrupted: berth dev cancelled its runs and stopped every task."));
dev.once("exit", (code) => {
  if (!stopping) {
    console.error(`berth dev exited early (${code})`);
    process.exit(1);
  }
});

const until = async (check, what, ms = 25_000) => {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (stopping) await stop();
    if (check()) return;
    await new Promise((r) => setTimeout(r, 150));
  }
  console.error(`gave up waiting for ${what}`);
  await stop(1);
};
await until(() => existsSync(join(dir, ".berth/dev.json")), "berth dev to start");
const runs = () => {
  const r = berth(["runs", "--local", "--json", "--limit", "100"]);
  return r.status === 0 ? JSON.parse(r.stdout) : [];
};

step("upload a file: berth put cat.png s3://media-uploads/incoming/cat.png");
writeFileSync(join(dir, "cat.png"), Buffer.from("89504e470d0a1a0a0000000d49484452", "hex"));
console.log(berth(["put", "cat.png", "s3://media-uploads/incoming/cat.png"]).stdout.trim());

step("push to acme/web main: a signed GitHub webhook delivery");
const { webhook } = JSON.parse(readFileSync(join(dir, ".berth/dev.json"), "utf8"));
const body = readFileSync(join(root, "events/github-push.json"));
const res = await fetch(`${webhook}/webhooks/github`, {
  method: "POST",
  headers: {
    "content-type": "application/json",
    "x-github-event": "push",
    "x-github-delivery": "demo-delivery-1",
    "x-hub-signature-256": `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`,
  },
  body,
});
console.log(`POST ${webhook}/webhooks/github → ${res.status} ${(await res.json()).message}`);

step("fire the nightly schedule: berth trigger nightly-backup");
console.log(berth(["trigger", "nightly-backup"]).stdout.trim());

const want = ["thumbnails", "migrate-web", "deploy-web", "nightly-backup", "backup-report"];
const done = (r) => ["SUCCEEDED", "FAILED", "TIMED_OUT", "CANCELLED", "SKIPPED"].includes(r.status);
await until(() => {
  const all = runs();
  return want.every((job) => all.some((r) => r.job === job && done(r))) && all.every(done);
}, "the runs to finish");

if (stopping) await stop();
echo = false;
step("berth runs");
console.log(berth(["runs", "--local"]).stdout.trimEnd());
const failed = runs().filter((r) => r.status !== "SUCCEEDED");
console.log(`\n${failed.length === 0 ? "✔ every run succeeded" : `✖ ${failed.length} run(s) did not succeed`} in ${elapsed()} — offline, no AWS account.`);
console.log(dim("Try it yourself: `npx berth dev` here, then drop files into .berth/s3/media-uploads/incoming/."));
await stop(failed.length === 0 ? 0 : 1);
