/**
 * A local S3 endpoint for GetBucketNotificationConfiguration over S3's REST-XML protocol, so the real
 * SDK v3 S3Client (its endpoint rules, SigV4, XML parsing, error mapping) runs against it unchanged
 * through AWS_ENDPOINT_URL_S3.
 *
 * The request is `GET /<bucket>?notification` (https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetBucketNotificationConfiguration.html).
 * Path-style, since the SDK's endpoint rules address a bucket by path when the endpoint is an IP address
 * (this fake listens on 127.0.0.1), with no `forcePathStyle` needed; against AWS it addresses
 * `<bucket>.s3.<region>.amazonaws.com` instead. The answer is a `NotificationConfiguration` in the
 * 2006-03-01 namespace holding `TopicConfiguration`, `QueueConfiguration`, `CloudFunctionConfiguration`
 * (each with `Id`, its destination, `Event`s and an `S3Key` filter) and, when EventBridge delivery is on,
 * an empty `EventBridgeConfiguration` element (https://docs.aws.amazon.com/AmazonS3/latest/API/API_NotificationConfiguration.html);
 * with no notifications at all it is an empty `NotificationConfiguration`.
 *
 * Errors are `<Error><Code/><Message/>…</Error>` (https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html):
 * NoSuchBucket (404) for a bucket the account does not have, AccessDenied (403) for a bucket whose
 * notification configuration the caller may not read (s3:GetBucketNotification), and PermanentRedirect
 * (301, with the bucket's region in `x-amz-bucket-region`) for a request sent to a region other than the
 * bucket's: the region is the one of the request's SigV4 credential scope.
 */
import { randomUUID } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

export interface FakeNotification {
  readonly id: string;
  /** The topic, queue or function ARN. */
  readonly arn: string;
  readonly events: readonly string[];
  readonly prefix?: string;
  readonly suffix?: string;
}

export interface FakeBucket {
  /** Default: the fake's region. */
  readonly region?: string;
  /** EventBridge delivery on (the bucket's "Send notifications to Amazon EventBridge"). */
  readonly eventBridge?: boolean;
  readonly topics?: readonly FakeNotification[];
  readonly queues?: readonly FakeNotification[];
  readonly lambdas?: readonly FakeNotification[];
  /** The caller may not read the notification configuration: AccessDenied. */
  readonly denied?: boolean;
}

export interface S3Call {
  readonly bucket: string;
  readonly region?: string;
  readonly accessKeyId?: string;
}

export interface FakeS3 {
  /** Pass as AWS_ENDPOINT_URL_S3. */
  readonly url: string;
  readonly calls: S3Call[];
  close(): Promise<void>;
}

const NS = "http://s3.amazonaws.com/doc/2006-03-01/";

const escapeXml = (s: string): string => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

function configurationXml(element: string, destination: string, n: FakeNotification): string {
  const rules = [
    ...(n.prefix !== undefined ? [`<FilterRule><Name>prefix</Name><Value>${escapeXml(n.prefix)}</Value></FilterRule>`] : []),
    ...(n.suffix !== undefined ? [`<FilterRule><Name>suffix</Name><Value>${escapeXml(n.suffix)}</Value></FilterRule>`] : []),
  ];
  return [
    `<${element}>`,
    `<Id>${escapeXml(n.id)}</Id>`,
    `<${destination}>${escapeXml(n.arn)}</${destination}>`,
    ...n.events.map((e) => `<Event>${escapeXml(e)}</Event>`),
    rules.length > 0 ? `<Filter><S3Key>${rules.join("")}</S3Key></Filter>` : "",
    `</${element}>`,
  ].join("");
}

function notificationXml(bucket: FakeBucket): string {
  return [
    `<NotificationConfiguration xmlns="${NS}">`,
    ...(bucket.topics ?? []).map((n) => configurationXml("TopicConfiguration", "Topic", n)),
    ...(bucket.queues ?? []).map((n) => configurationXml("QueueConfiguration", "Queue", n)),
    ...(bucket.lambdas ?? []).map((n) => configurationXml("CloudFunctionConfiguration", "CloudFunction", n)),
    bucket.eventBridge ? "<EventBridgeConfiguration></EventBridgeConfiguration>" : "",
    "</NotificationConfiguration>",
  ].join("");
}

export async function startFakeS3(buckets: Readonly<Record<string, FakeBucket>>, options: { readonly region?: string } = {}): Promise<FakeS3> {
  const home = options.region ?? "us-east-1";
  const calls: S3Call[] = [];
  const server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      const requestId = randomUUID().replaceAll("-", "").slice(0, 16).toUpperCase();
      const headers = { "content-type": "application/xml", "x-amz-request-id": requestId, "x-amz-id-2": requestId };
      const xml = (status: number, body: string, extra: Record<string, string> = {}) =>
        res.writeHead(status, { ...headers, ...extra }).end(`<?xml version="1.0" encoding="UTF-8"?>\n${body}`);
      const error = (status: number, code: string, message: string, more = "", extra: Record<string, string> = {}) =>
        xml(status, `<Error><Code>${code}</Code><Message>${escapeXml(message)}</Message>${more}<RequestId>${requestId}</RequestId><HostId>${requestId}</HostId></Error>`, extra);

      const url = new URL(req.url ?? "/", "http://fake");
      const bucketName = decodeURIComponent(url.pathname.split("/")[1] ?? "");
      const scope = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/\d{8}\/([^/]+)\/s3\/aws4_request, /.exec(req.headers.authorization ?? "");
      calls.push({ bucket: bucketName, ...(scope ? { accessKeyId: scope[1]!, region: scope[2]! } : {}) });
      if (!scope) return error(403, "AccessDenied", "Access Denied");
      if (req.method !== "GET" || !url.searchParams.has("notification") || bucketName === "") {
        return error(501, "NotImplemented", "A header you provided implies functionality that is not implemented");
      }
      const bucket = Object.hasOwn(buckets, bucketName) ? buckets[bucketName] : undefined;
      if (bucket === undefined) return error(404, "NoSuchBucket", "The specified bucket does not exist", `<BucketName>${escapeXml(bucketName)}</BucketName>`);
      const region = bucket.region ?? home;
      if (region !== scope[2]) {
        return error(
          301,
          "PermanentRedirect",
          "The bucket you are attempting to access must be addressed using the specified endpoint. Please send all future requests to this endpoint.",
          `<Endpoint>${escapeXml(bucketName)}.s3.${region}.amazonaws.com</Endpoint><Bucket>${escapeXml(bucketName)}</Bucket>`,
          { "x-amz-bucket-region": region },
        );
      }
      if (bucket.denied) return error(403, "AccessDenied", "Access Denied");
      xml(200, notificationXml(bucket));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    calls,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
