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
 * PutObject, `PUT /<bucket>/<key>` (https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html): the
 * body as sent (a signed payload, or the `aws-chunked` encoding the SDK sends a checksum in), kept with its
 * content type; the answer carries the object's ETag (the hex MD5 of its bytes, in quotes) and
 * `x-amz-server-side-encryption: AES256`, the bucket default S3 applies to every new object.
 *
 * Errors are `<Error><Code/><Message/>…</Error>` (https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html):
 * NoSuchBucket (404) for a bucket the account does not have, AccessDenied (403) for a bucket whose
 * notification configuration the caller may not read (s3:GetBucketNotification), and PermanentRedirect
 * (301, with the bucket's region in `x-amz-bucket-region`) for a request sent to a region other than the
 * bucket's: the region is the one of the request's SigV4 credential scope.
 */
import { createHash, randomUUID } from "node:crypto";
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
  /** An object request's key (PutObject). */
  readonly key?: string;
  readonly region?: string;
  readonly accessKeyId?: string;
}

export interface FakeS3Object {
  readonly body: Buffer;
  readonly contentType?: string;
  /** What the request asked for; absent, S3 encrypts with the bucket default. */
  readonly serverSideEncryption?: string;
}

export interface FakeS3 {
  /** Pass as AWS_ENDPOINT_URL_S3. */
  readonly url: string;
  readonly calls: S3Call[];
  /** The objects PutObject wrote, by `<bucket>/<key>`. */
  readonly objects: ReadonlyMap<string, FakeS3Object>;
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

/**
 * The object's bytes from a PutObject body: as sent, or, for `Content-Encoding: aws-chunked`, the data of its
 * chunks (`<hex size>[;chunk-signature=…]\r\n<data>\r\n`, ending with a 0-size chunk and the trailers).
 */
function decodedBody(raw: Buffer, encoding: string | undefined): Buffer {
  if (encoding === undefined || !encoding.split(",").map((e) => e.trim()).includes("aws-chunked")) return raw;
  const parts: Buffer[] = [];
  for (let at = 0; ; ) {
    const lineEnd = raw.indexOf("\r\n", at);
    const size = Number.parseInt(raw.toString("latin1", at, lineEnd).split(";")[0]!, 16);
    if (!(size > 0)) return Buffer.concat(parts);
    parts.push(raw.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
}

export async function startFakeS3(buckets: Readonly<Record<string, FakeBucket>>, options: { readonly region?: string } = {}): Promise<FakeS3> {
  const home = options.region ?? "us-east-1";
  const calls: S3Call[] = [];
  const objects = new Map<string, FakeS3Object>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const requestId = randomUUID().replaceAll("-", "").slice(0, 16).toUpperCase();
      const headers = { "content-type": "application/xml", "x-amz-request-id": requestId, "x-amz-id-2": requestId };
      const xml = (status: number, body: string, extra: Record<string, string> = {}) =>
        res.writeHead(status, { ...headers, ...extra }).end(`<?xml version="1.0" encoding="UTF-8"?>\n${body}`);
      const error = (status: number, code: string, message: string, more = "", extra: Record<string, string> = {}) =>
        xml(status, `<Error><Code>${code}</Code><Message>${escapeXml(message)}</Message>${more}<RequestId>${requestId}</RequestId><HostId>${requestId}</HostId></Error>`, extra);

      const url = new URL(req.url ?? "/", "http://fake");
      const bucketName = decodeURIComponent(url.pathname.split("/")[1] ?? "");
      const key = url.pathname.split("/").slice(2).map(decodeURIComponent).join("/");
      const scope = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/\d{8}\/([^/]+)\/s3\/aws4_request, /.exec(req.headers.authorization ?? "");
      calls.push({ bucket: bucketName, ...(key !== "" ? { key } : {}), ...(scope ? { accessKeyId: scope[1]!, region: scope[2]! } : {}) });
      if (!scope) return error(403, "AccessDenied", "Access Denied");
      const put = req.method === "PUT" && key !== "";
      if ((!put && (req.method !== "GET" || !url.searchParams.has("notification"))) || bucketName === "") {
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
      if (put) {
        const body = decodedBody(Buffer.concat(chunks), req.headers["content-encoding"]);
        const encryption = req.headers["x-amz-server-side-encryption"];
        objects.set(`${bucketName}/${key}`, {
          body,
          ...(typeof req.headers["content-type"] === "string" ? { contentType: req.headers["content-type"] } : {}),
          ...(typeof encryption === "string" ? { serverSideEncryption: encryption } : {}),
        });
        const etag = `"${createHash("md5").update(body).digest("hex")}"`;
        return res.writeHead(200, { ...headers, etag, "x-amz-server-side-encryption": typeof encryption === "string" ? encryption : "AES256" }).end();
      }
      xml(200, notificationXml(bucket));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    calls,
    objects,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
