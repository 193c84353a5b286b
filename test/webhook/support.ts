/**
 * What the webhook tests share: the catalog the function is packaged with, the local AWS endpoints,
 * signed deliveries as GitHub and GitLab send them, and a function behind a local function URL.
 */
import { createHmac } from "node:crypto";
import { readFileSync } from "node:fs";
import { compileCatalog } from "../../src/core/catalog/compiled.ts";
import { loadCatalog } from "../../src/core/catalog/load.ts";
import { startFunctionUrl, type FunctionUrl } from "../support/function-url.ts";

export const root = new URL("../../", import.meta.url);
export const sample = (name: string): Buffer => readFileSync(new URL(`events/${name}`, root));
export const WEBHOOK_BUNDLE = new URL("dist/handlers/webhook.mjs", root);

/**
 * `deploy-web`: main of acme/web on GitHub; `release-web`: its v* tags; `build-diaspora`: every branch
 * and tag of mike/diaspora on GitLab (the project of GitLab's documented payloads).
 */
export const CATALOG_YAML = `version: 1
service: hooks
jobs:
  deploy-web:
    on: { git: { repo: acme/web, branch: main } }
    run: { taskDefinition: web-deploy, container: app, launch: ec2, command: [deploy, "\${git.sha}"] }
  release-web:
    on: { git: { repo: acme/web, tag: "v*" } }
    run: { taskDefinition: web-release, container: app, launch: ec2, command: [release, "\${git.tag}"] }
  build-diaspora:
    on: { git: { provider: gitlab, repo: mike/diaspora, branch: "*", tag: "*" } }
    run: { taskDefinition: diaspora-build, container: app, launch: ec2, command: [build, "\${git.ref}"] }
`;

export function compiledCatalogJson(yaml = CATALOG_YAML): string {
  const loaded = loadCatalog(yaml, "berth.yml");
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.error.issues));
  return JSON.stringify(compileCatalog(loaded.catalog));
}

export const BASE_ENV = {
  BERTH_BUS: "berth-hooks-dev",
  BERTH_CATALOG: "catalog.json",
  POWERTOOLS_SERVICE_NAME: "berth-hooks",
  AWS_REGION: "us-east-1",
  AWS_ACCESS_KEY_ID: "ASIAEXAMPLEEXAMPLE",
  AWS_SECRET_ACCESS_KEY: "local",
  AWS_SESSION_TOKEN: "local",
};

export interface Endpoints {
  readonly eventbridge: string;
  readonly ssm?: string;
  readonly secretsManager?: string;
}

/** The webhook function with `env` (the base environment, pointed at the local endpoints, and the secret's variables). */
export function webhookFunction(endpoints: Endpoints, env: Record<string, string | undefined> = {}, catalogJson = compiledCatalogJson()): Promise<FunctionUrl> {
  return startFunctionUrl({
    bundle: WEBHOOK_BUNDLE,
    files: { "catalog.json": catalogJson },
    env: {
      ...BASE_ENV,
      AWS_ENDPOINT_URL_EVENTBRIDGE: endpoints.eventbridge,
      ...(endpoints.ssm !== undefined ? { AWS_ENDPOINT_URL_SSM: endpoints.ssm } : {}),
      ...(endpoints.secretsManager !== undefined ? { AWS_ENDPOINT_URL_SECRETS_MANAGER: endpoints.secretsManager } : {}),
      ...env,
    },
  });
}

export const hubSignature = (secret: string, body: Uint8Array): string => `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;

export interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly body: { readonly message?: string; readonly eventId?: string; readonly jobs?: string[] };
}

export async function post(url: string, headers: Record<string, string>, body: Uint8Array | string, method = "POST"): Promise<Answer> {
  const response = await fetch(url, { method, headers, ...(method === "GET" || method === "HEAD" ? {} : { body }) });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text === "" ? {} : (JSON.parse(text) as Answer["body"]) };
}

/** A GitHub delivery: `event` with `body`, signed with `secret` (none: unsigned), as GitHub sends it. */
export function github(fn: FunctionUrl, d: { readonly body: Uint8Array | string; readonly secret?: string; readonly event?: string; readonly delivery?: string; readonly headers?: Record<string, string>; readonly path?: string }): Promise<Answer> {
  const bytes = typeof d.body === "string" ? Buffer.from(d.body) : d.body;
  return post(
    `${fn.url}${d.path ?? "/github"}`,
    {
      "content-type": "application/json",
      "user-agent": "GitHub-Hookshot/044aadd",
      "x-github-event": d.event ?? "push",
      "x-github-delivery": d.delivery ?? "72d3162e-cc78-11e3-81ab-4c9367dc0958",
      "x-github-hook-id": "292430182",
      ...(d.secret !== undefined ? { "x-hub-signature-256": hubSignature(d.secret, bytes) } : {}),
      ...d.headers,
    },
    bytes,
  );
}

/** A GitLab delivery of `hook` with the secret token, as GitLab sends it. */
export function gitlab(fn: FunctionUrl, d: { readonly body: unknown; readonly token?: string; readonly hook?: string; readonly idempotencyKey?: string }): Promise<Answer> {
  return post(
    `${fn.url}/gitlab`,
    {
      "content-type": "application/json",
      "user-agent": "GitLab/17.6.0",
      "x-gitlab-event": d.hook ?? "Push Hook",
      "x-gitlab-instance": "https://gitlab.example.com",
      "x-gitlab-webhook-uuid": "2c0b7ad9-5e39-4b6c-8d94-3b1c0e8b0e0a",
      "x-gitlab-event-uuid": "13792a34-cac6-4fda-95a8-c58e00a3954e",
      "idempotency-key": d.idempotencyKey ?? "f2f8c6a4-3f0b-4d7e-9c1a-0b5e6d7c8a9f",
      ...(d.token !== undefined ? { "x-gitlab-token": d.token } : {}),
    },
    JSON.stringify(d.body),
  );
}

/** GitLab's documented Push Hook and Tag Push Hook bodies ("Push events", "Tag events" in GitLab's webhook events documentation). */
export const GITLAB_PUSH_HOOK = JSON.parse(sample("gitlab-push-hook.json").toString("utf8")) as Record<string, unknown>;
export const GITLAB_TAG_PUSH_HOOK = JSON.parse(sample("gitlab-tag-push-hook.json").toString("utf8")) as Record<string, unknown>;
