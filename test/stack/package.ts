/**
 * Packages catalogs with the real osls, offline, and reads back what it wrote: the CloudFormation
 * template and the function zips. `packageCatalog` goes the way a user goes, `berth package` from a
 * folder that holds only berth.yml; `packageRepository` runs `serverless package` in this checkout, as
 * a clean clone does. Neither has AWS credentials, a profile or a region from the environment.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { inflateRawSync } from "node:zlib";

export const ROOT = fileURLToPath(new URL("../../", import.meta.url));

export type Json = unknown;
export interface CfnResource {
  readonly Type: string;
  readonly Properties?: Record<string, Json>;
  readonly DependsOn?: readonly string[];
  readonly Metadata?: Record<string, Json>;
}
export interface Template {
  readonly Resources: Record<string, CfnResource>;
  readonly Outputs?: Record<string, { readonly Value: Json; readonly Description?: string }>;
}

export interface Packaged {
  readonly template: Template;
  /** The folder packaged from: berth.yml, and `.serverless/` with the template and `<function>.zip`. */
  readonly dir: string;
  /** `dir/.serverless`. */
  readonly packageDir: string;
  /** What `berth package` printed. */
  readonly output: string;
}

/** An environment with nothing of this machine's AWS setup in it: no credentials, profile, region or config files. */
export function isolatedEnv(dir: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^AWS_/.test(k) && !/^BERTH_/.test(k)) env[k] = v;
  return {
    ...env,
    AWS_CONFIG_FILE: join(dir, "no-aws-config"),
    AWS_SHARED_CREDENTIALS_FILE: join(dir, "no-aws-credentials"),
    // One compiled-schema cache for every package of the run: osls compiles its schema validator once.
    SLS_SCHEMA_CACHE_BASE_DIR: join(tmpdir(), "berth-test-osls-cache"),
    NO_COLOR: "1",
    ...extra,
  };
}

/** The folders packaged into, until `removePackaged` (a test file's afterAll) removes them. */
const made: string[] = [];

export function removePackaged(): void {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
}

function scratch(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

function run(args: readonly string[], cwd: string, env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, args, { cwd, env, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      const output = `${stdout}${stderr}`;
      if (error) reject(new Error(`${args.join(" ")} failed (in ${cwd}):\n${output}`));
      else resolve(output);
    });
  });
}

/** `berth package --stage <stage>` in a new folder holding only `yamlText` as berth.yml. */
export async function packageCatalog(yamlText: string, options: { readonly stage: string; readonly region?: string }): Promise<Packaged> {
  const dir = scratch("berth-package-");
  writeFileSync(join(dir, "berth.yml"), yamlText);
  const args = [join(ROOT, "bin", "berth.js"), "package", "--stage", options.stage, ...(options.region ? ["--region", options.region] : [])];
  const output = await run(args, dir, isolatedEnv(dir));
  const packageDir = join(dir, ".serverless");
  return { template: readTemplate(packageDir), dir, packageDir, output };
}

/** `serverless package` in this checkout over its own berth.yml, the package written to a new folder. */
export async function packageRepository(options: { readonly stage: string }): Promise<Packaged> {
  const dir = scratch("berth-repo-package-");
  const packageDir = join(dir, "package");
  const serverless = join(ROOT, "node_modules", "osls", "bin", "serverless.js");
  const output = await run([serverless, "package", "--stage", options.stage, "--package", packageDir], ROOT, isolatedEnv(dir));
  return { template: readTemplate(packageDir), dir, packageDir, output };
}

export function readTemplate(packageDir: string): Template {
  return JSON.parse(readFileSync(join(packageDir, "cloudformation-template-update-stack.json"), "utf8")) as Template;
}

/** The entries of a zip file, by name (stored and deflated entries: what osls writes). */
export function readZip(file: string): Map<string, Buffer> {
  const zip = readFileSync(file);
  const eocd = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  if (eocd < 0) throw new Error(`${file} is not a zip file`);
  const count = zip.readUInt16LE(eocd + 10);
  let at = zip.readUInt32LE(eocd + 16);
  const entries = new Map<string, Buffer>();
  for (let i = 0; i < count; i++) {
    if (zip.readUInt32LE(at) !== 0x02014b50) throw new Error(`${file}: bad central directory`);
    const method = zip.readUInt16LE(at + 10);
    const compressed = zip.readUInt32LE(at + 20);
    const nameLength = zip.readUInt16LE(at + 28);
    const extraLength = zip.readUInt16LE(at + 30);
    const commentLength = zip.readUInt16LE(at + 32);
    const local = zip.readUInt32LE(at + 42);
    const name = zip.toString("utf8", at + 46, at + 46 + nameLength);
    const dataStart = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
    const data = zip.subarray(dataStart, dataStart + compressed);
    if (!name.endsWith("/")) entries.set(name, method === 0 ? Buffer.from(data) : inflateRawSync(data));
    at += 46 + nameLength + extraLength + commentLength;
  }
  return entries;
}

/** The resources of one type, by logical id. */
export function resourcesOf(template: Template, type: string): [string, CfnResource][] {
  return Object.entries(template.Resources).filter(([, r]) => r.Type === type);
}

export interface PolicyStatement {
  readonly Sid?: string;
  readonly Effect: string;
  readonly Action: string | readonly string[];
  readonly Resource: Json;
  readonly Condition?: Record<string, Record<string, Json>>;
}

/** Every statement of every IAM role's inline policies and of every managed policy, with the role's or policy's logical id. */
export function roleStatements(template: Template): { role: string; statement: PolicyStatement }[] {
  const inline = resourcesOf(template, "AWS::IAM::Role").flatMap(([role, r]) =>
    ((r.Properties?.Policies ?? []) as { PolicyDocument: { Statement: PolicyStatement[] } }[]).flatMap((p) => p.PolicyDocument.Statement.map((statement) => ({ role, statement }))),
  );
  const managed = resourcesOf(template, "AWS::IAM::ManagedPolicy").flatMap(([role, r]) =>
    (r.Properties!.PolicyDocument as { Statement: PolicyStatement[] }).Statement.map((statement) => ({ role, statement })),
  );
  return [...inline, ...managed];
}

export const actionsOf = (s: PolicyStatement): string[] => (Array.isArray(s.Action) ? [...s.Action] : [s.Action as string]);
export const resourcesOfStatement = (s: PolicyStatement): Json[] => (Array.isArray(s.Resource) ? [...s.Resource] : [s.Resource]);
