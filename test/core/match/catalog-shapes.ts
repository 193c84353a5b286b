/**
 * Realistic catalogs of any size, as EventBridge patterns, and ~1 KB events of the kinds they watch: what
 * bench/match.bench.ts times and index-shapes.test.ts counts. Every shape is seeded, so both see the same
 * catalogs and events.
 */
import type { EventPattern } from "../../../src/core/match/types.ts";
import { random, type Rng } from "../../support/random.ts";

const ACCOUNT = "123456789012";
const REGION = "us-east-1";
const FOLDERS = ["incoming", "uploads", "raw", "exports", "media", "logs"];
const EXTENSIONS = [".png", ".jpg", ".csv", ".json", ".parquet"];
const SHOP = "com.acme.shop";

export interface CatalogShape {
  readonly name: string;
  /** What the shape's jobs watch, for the benchmark's table. */
  readonly description: string;
  /** `size` jobs' patterns and a generator of events for them, from `seed`. */
  readonly build: (size: number, seed: number) => ShapedCatalog;
}

export interface ShapedCatalog {
  readonly patterns: readonly EventPattern[];
  readonly events: (count: number) => unknown[];
}

function envelope(source: string, detailType: string, resources: string[], detail: unknown, r: Rng) {
  const hex = (n: number) => Array.from({ length: n }, () => r.int(16).toString(16)).join("");
  return {
    version: "0",
    id: `${hex(8)}-${hex(4)}-${hex(4)}-${hex(4)}-${hex(12)}`,
    "detail-type": detailType,
    source,
    account: ACCOUNT,
    time: "2024-05-02T18:43:48Z",
    region: REGION,
    resources,
    detail,
  };
}

function s3Event(bucket: string, key: string, r: Rng) {
  return envelope("aws.s3", "Object Created", [`arn:aws:s3:::${bucket}`], {
    version: "0",
    bucket: { name: bucket },
    object: { key, size: r.int(5e6), etag: "b1946ac92492d2347c6235b4d2611184", "version-id": "IYV3p45BT0ac8hjHg1houSdS1a.Mro8e", sequencer: "00617F08299329D189" },
    "request-id": "N4N7GDK58NMKJ12R",
    requester: ACCOUNT,
    "source-ip-address": "1.2.3.4",
    reason: "PutObject",
    "user-identity": { "principal-id": "AWS:AROAEXAMPLEID:session-name", arn: `arn:aws:sts::${ACCOUNT}:assumed-role/uploader/session-name` },
    "request-parameters": { "x-amz-server-side-encryption": "aws:kms", "x-amz-storage-class": "STANDARD", "content-type": "application/octet-stream" },
  }, r);
}

/** An S3 trigger's pattern as berth writes it (catalog/patterns.ts), or as a user's `event` trigger may, key first. */
function s3Pattern(buckets: readonly string[], key: unknown, keyFirst: boolean): EventPattern {
  const bucket = { name: [...buckets] };
  const object = { key: [key] };
  return { source: ["aws.s3"], "detail-type": ["Object Created"], detail: keyFirst ? { object, bucket } : { bucket, object } };
}

const uploadKey = (folder: string, r: Rng) =>
  `${folder}/${r.int(10)}/2024/05/02/customer-${r.int(1e5)}/upload-${r.int(1e9).toString(36)}-${r.int(1e6)}${r.pick(EXTENSIONS)}`;

/**
 * Each job watches its own bucket (one in ten also its archive bucket) and one of a few folders; every other
 * job, the first included, is written as an `event` trigger naming `object.key` before `bucket.name`.
 */
function bucketAndFolder(size: number, seed: number): ShapedCatalog {
  const r = random(seed);
  const buckets = Array.from({ length: size }, (_, i) => `acme-${i}-uploads`);
  const patterns = buckets.map((bucket, i) => {
    const folder = r.pick(FOLDERS.slice(0, 4));
    const key = r.next() < 0.75 ? { prefix: `${folder}/` } : { wildcard: `${folder}/*${r.pick(EXTENSIONS)}` };
    return s3Pattern(r.next() < 0.1 ? [bucket, `acme-${i}-archive`] : [bucket], key, i % 2 === 0);
  });
  const events = (count: number) =>
    Array.from({ length: count }, () => s3Event(r.next() < 0.9 ? r.pick(buckets) : "someone-elses-bucket", uploadKey(r.pick(FOLDERS), r), r));
  return { patterns, events };
}

/**
 * A few buckets shared by every job, each job its own folder (a tenant's, or a job's inbox), some only for
 * one file type.
 */
function sharedBuckets(size: number, seed: number): ShapedCatalog {
  const r = random(seed);
  const buckets = ["acme-datalake", "acme-media", "acme-exports"];
  const patterns = Array.from({ length: size }, (_, i) => {
    const key = r.pick<unknown>([{ prefix: `tenants/t-${i}/` }, { wildcard: `tenants/t-${i}/*${r.pick(EXTENSIONS)}` }, { prefix: `jobs/${i}/in/` }]);
    return s3Pattern([r.pick(buckets)], key, false);
  });
  const events = (count: number) =>
    Array.from({ length: count }, () => {
      const owner = r.int(Math.round(size * 1.1));
      const key = r.next() < 0.7 ? `tenants/t-${owner}/2024/05/02/part-${r.int(1e6)}${r.pick(EXTENSIONS)}` : `jobs/${owner}/in/batch-${r.int(1e6)}.json`;
      return s3Event(r.next() < 0.95 ? r.pick(buckets) : "someone-elses-bucket", key, r);
    });
  return { patterns, events };
}

/** Every job an `event` trigger on one application's source, told apart by detail-type and detail fields. */
function oneSource(size: number, seed: number): ShapedCatalog {
  const r = random(seed);
  const nouns = ["Order", "Invoice", "Cart", "Refund", "Shipment", "Customer", "Payment", "Coupon"];
  const verbs = ["Placed", "Updated", "Cancelled", "Completed", "Failed"];
  const types = Array.from({ length: Math.max(4, Math.round(size / 5)) }, (_, t) => {
    const name = `${nouns[t % nouns.length]} ${verbs[Math.floor(t / nouns.length) % verbs.length]}`;
    const domain = Math.floor(t / (nouns.length * verbs.length));
    return domain === 0 ? name : `${name} (${domain})`;
  });
  const tenants = Array.from({ length: Math.max(2, Math.round(size / 2)) }, (_, i) => `tenant-${i}`);
  const regions = ["eu-west-1", "us-east-1", "ap-northeast-2", "sa-east-1"];
  const patterns = Array.from({ length: size }, (): EventPattern => {
    const roll = r.next();
    if (roll < 0.4) return { source: [SHOP], "detail-type": [r.pick(types)], detail: { amount: [{ numeric: [">", r.int(500)] }] } };
    if (roll < 0.8) return { source: [SHOP], "detail-type": [r.pick(types)], detail: { tenant: [r.pick(tenants)] } };
    return { source: [SHOP], "detail-type": [r.pick(types), r.pick(types)], detail: { region: [r.pick(regions)], channel: [{ "anything-but": "test" }] } };
  });
  const events = (count: number) =>
    Array.from({ length: count }, () =>
      envelope(SHOP, r.pick(types), [], {
        id: `evt-${r.int(1e9)}`,
        tenant: r.pick(tenants),
        amount: r.int(1000),
        currency: "EUR",
        region: r.pick(regions),
        channel: r.pick(["web", "app", "test"]),
        customer: { id: `c-${r.int(1e6)}`, tier: r.pick(["gold", "silver"]), email: "someone@example.com" },
        lines: [{ sku: "SKU-1", qty: 1, price: 19.99 }, { sku: "SKU-2", qty: 3, price: 4.5 }],
      }, r),
    );
  return { patterns, events };
}

/**
 * Every trigger kind: S3 (bucket + key prefix, suffix or wildcard), git, schedule, job chains and user
 * `event` patterns (numeric, anything-but, prefix, `$or`), over `bucketCount(size)` buckets.
 */
function mixed(bucketCount: (size: number) => number) {
  return (size: number, seed: number): ShapedCatalog => {
    const r = random(seed);
    const buckets = Array.from({ length: bucketCount(size) }, (_, i) => `acme-data-${i}`);
    const repos = Array.from({ length: Math.max(2, Math.round(size / 10)) }, (_, i) => `acme/service-${i}`);
    const jobs = Array.from({ length: size }, (_, i) => `job-${i}`);
    const teams = Math.max(2, Math.round(size / 25));
    const patterns: EventPattern[] = jobs.map((job) => {
      const roll = r.next();
      if (roll < 0.45) {
        const folder = r.pick(FOLDERS);
        const ext = r.pick(EXTENSIONS);
        const key = r.pick<unknown>([{ prefix: `${folder}/` }, { suffix: ext }, { wildcard: `${folder}/*${ext}` }, { prefix: `${folder}/${r.int(10)}/` }]);
        return s3Pattern([r.pick(buckets)], key, false);
      }
      if (roll < 0.65) {
        const branch = r.pick<unknown>(["main", "develop", { prefix: "release/" }]);
        return { source: ["berth.git"], "detail-type": ["Git Push"], detail: { provider: ["github"], repo: [r.pick(repos)], deleted: [false], branch: [branch] } };
      }
      if (roll < 0.8) return { source: ["berth.scheduler"], "detail-type": ["Berth Schedule Fired"], detail: { service: ["acme"], job: [job] } };
      if (roll < 0.9) return { source: ["berth"], "detail-type": ["Berth Run State Change"], detail: { service: ["acme"], job: [r.pick(jobs)], status: ["SUCCEEDED"] } };
      const team = `com.acme.team${r.int(teams)}`;
      return r.pick<EventPattern>([
        { source: [team], "detail-type": ["Order Placed"], detail: { total: [{ numeric: [">", r.int(500)] }], country: [{ "anything-but": ["US", "CA"] }] } },
        { source: [{ prefix: `${team}.` }], detail: { priority: ["high"], queue: [`q-${r.int(size)}`] } },
        { source: ["aws.ec2"], "detail-type": ["EC2 Instance State-change Notification"], detail: { state: [{ "anything-but": "running" }], "instance-id": [`i-${r.int(1e6).toString(16)}`] } },
        { source: ["aws.s3"], detail: { bucket: { name: [r.pick(buckets)] }, object: { size: [{ numeric: [">", 1e9] }] } } },
        { $or: [{ source: ["aws.ecs"], detail: { group: [`family:${job}`], lastStatus: ["STOPPED"] } }, { source: [team], "detail-type": ["Invoice Paid"] }] },
      ]);
    });
    const events = (count: number) => Array.from({ length: count }, () => mixedEvent(r, buckets, repos, jobs, teams));
    return { patterns, events };
  };
}

function mixedEvent(r: Rng, buckets: readonly string[], repos: readonly string[], jobs: readonly string[], teams: number): unknown {
  const roll = r.next();
  if (roll < 0.5) return s3Event(r.next() < 0.8 ? r.pick(buckets) : "someone-elses-bucket", uploadKey(r.pick(FOLDERS), r), r);
  if (roll < 0.65) {
    return envelope("berth.git", "Git Push", [], {
      provider: "github",
      repo: r.next() < 0.9 ? r.pick(repos) : "other/repo",
      ref: "refs/heads/main",
      branch: r.pick(["main", "develop", "release/1.2", "feature/x"]),
      sha: "9fceb02d0ae598e95dc970b74767f19372d61af8",
      before: "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c",
      pusher: "octocat",
      deleted: false,
      deliveryId: "72d3162e-cc78-11e3-81ab-4c9367dc0958",
    }, r);
  }
  if (roll < 0.75) {
    return envelope("berth.scheduler", "Berth Schedule Fired", [`arn:aws:scheduler:${REGION}:${ACCOUNT}:schedule/berth-acme/nightly`], { service: "acme", job: r.pick(jobs), scheduledTime: "2024-05-02T03:00:00Z" }, r);
  }
  if (roll < 0.85) {
    return envelope("berth", "Berth Run State Change", [], {
      service: "acme",
      job: r.pick(jobs),
      runId: "01HXA5J3ZC6V0Y8Q3R1P2M4N5B",
      attempt: 1,
      status: r.pick(["RUNNING", "SUCCEEDED", "FAILED"]),
      taskArn: `arn:aws:ecs:${REGION}:${ACCOUNT}:task/jobs/0f5b1c2d3e4f`,
      trigger: { kind: "schedule", summary: "cron(0 3 * * ? *)" },
    }, r);
  }
  if (roll < 0.95) {
    return envelope("aws.ecs", "ECS Task State Change", [`arn:aws:ecs:${REGION}:${ACCOUNT}:task/jobs/0f5b1c2d3e4f`], {
      clusterArn: `arn:aws:ecs:${REGION}:${ACCOUNT}:cluster/jobs`,
      lastStatus: r.pick(["RUNNING", "STOPPED"]),
      desiredStatus: "STOPPED",
      startedBy: "berth/01HXA5J3ZC6V0Y8Q3R1P2M4N5B",
      stopCode: "EssentialContainerExited",
      version: 4,
      group: `family:${r.pick(jobs)}`,
      launchType: "FARGATE",
      cpu: "512",
      memory: "1024",
      createdAt: "2024-05-02T18:40:01.123Z",
      stoppedReason: "Essential container in task exited",
      taskDefinitionArn: `arn:aws:ecs:${REGION}:${ACCOUNT}:task-definition/thumbnailer:7`,
      attachments: [
        {
          id: "a1b2c3d4-5678-90ab-cdef-EXAMPLE11111",
          type: "eni",
          status: "DELETED",
          details: [
            { name: "subnetId", value: "subnet-0a1b2c3d4e5f67890" },
            { name: "networkInterfaceId", value: "eni-0a1b2c3d4e5f67890" },
            { name: "privateIPv4Address", value: "10.0.1.23" },
          ],
        },
      ],
      containers: [{ name: "worker", exitCode: 0, lastStatus: "STOPPED", image: "acme/worker:1", networkInterfaces: [{ attachmentId: "a1b2c3d4-5678-90ab-cdef-EXAMPLE11111", privateIpv4Address: "10.0.1.23" }] }],
    }, r);
  }
  const team = `com.acme.team${r.int(teams)}`;
  return envelope(r.next() < 0.5 ? team : `${team}.checkout`, r.pick(["Order Placed", "Invoice Paid"]), [], {
    orderId: `o-${r.int(1e9)}`,
    total: r.int(1000),
    currency: "EUR",
    country: r.pick(["US", "DE", "KR"]),
    priority: r.pick(["high", "low"]),
    queue: `q-${r.int(jobs.length)}`,
    customer: { id: `c-${r.int(1e6)}`, tier: r.pick(["gold", "silver"]), email: "someone@example.com" },
    lines: [{ sku: "SKU-1", qty: 1, price: 19.99 }, { sku: "SKU-2", qty: 3, price: 4.5 }],
  }, r);
}

export const CATALOG_SHAPES: readonly CatalogShape[] = [
  { name: "bucket + folder", description: "each job its own bucket (one in ten also an archive bucket) and one of 4 folders; every other job, the first included, lists `object.key` before `bucket.name`", build: bucketAndFolder },
  { name: "shared buckets", description: "3 buckets shared by every job, each job its own folder, some only one file type", build: sharedBuckets },
  { name: "one source", description: "`event` jobs on one source, told apart by detail-type (one per 5 jobs) and a tenant, a region or a numeric filter", build: oneSource },
  { name: "mixed", description: "every trigger kind: S3 over one bucket per 8 jobs (key prefix, suffix or wildcard over 6 folders and 5 extensions), git, schedule, job chains, user patterns with numeric, anything-but, prefix and `$or`", build: mixed((size) => Math.max(3, Math.round(size / 8))) },
  { name: "mixed, one bucket", description: "as mixed, every S3 job on one bucket, told apart only by 6 folders and 5 extensions: an event matches about 2 % of the catalog", build: mixed(() => 1) },
];
