/**
 * The AWS error classifier, fed the SDK's own exception classes as the clients raise them.
 * The names relied on, and where AWS documents them:
 * - ECS RunTask errors (AccessDenied, Blocked, Client, ClusterNotFound, Conflict, InvalidParameter,
 *   PlatformTaskDefinitionIncompatibility, PlatformUnknown, Server, UnsupportedFeature):
 *   https://docs.rs/aws-sdk-ecs/latest/aws_sdk_ecs/operation/run_task/enum.RunTaskError.html
 * - DynamoDB errors and whether to retry them (ConditionalCheckFailedException, ProvisionedThroughputExceededException,
 *   RequestLimitExceeded, ThrottlingException, ResourceNotFoundException, ValidationException, InternalServerError):
 *   https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Programming.Errors.html
 *   ConditionalCheckFailedException carries `Item` (ReturnValuesOnConditionCheckFailure ALL_OLD):
 *   https://docs.aws.amazon.com/botocore/latest/reference/services/dynamodb/client/exceptions/ConditionalCheckFailedException.html
 * - EventBridge PutEvents: InternalException (https://docs.aws.amazon.com/botocore/latest/reference/services/events/client/exceptions/InternalException.html),
 *   ThrottlingException (…/events/client/exceptions/ThrottlingException.html), ResourceNotFoundException and AccessDeniedException
 *   (the SDK's EventBridge error classes).
 * - Errors common to every service (AccessDeniedException, ExpiredTokenException, IncompleteSignature, InternalFailure,
 *   NotAuthorized, OptInRequired, ServiceUnavailable, ThrottlingException):
 *   https://docs.aws.amazon.com/awsconsolehelpdocs/latest/gsg/common-errors.html
 * - Throttling, time-out and network names: the SDK's standard retry strategy (@smithy/core retry), checked against below.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import {
  AccessDeniedException as EcsAccessDenied,
  BlockedException,
  ClientException,
  ClusterNotFoundException,
  ConflictException,
  ECSServiceException,
  InvalidParameterException,
  LimitExceededException,
  ServerException,
} from "@aws-sdk/client-ecs";
import {
  ConditionalCheckFailedException,
  DynamoDBClient,
  DynamoDBServiceException,
  GetItemCommand,
  InternalServerError,
  ItemCollectionSizeLimitExceededException,
  ProvisionedThroughputExceededException,
  ReplicatedWriteConflictException,
  RequestLimitExceeded,
  ResourceNotFoundException as DynamoResourceNotFound,
} from "@aws-sdk/client-dynamodb";
import {
  AccessDeniedException as EventsAccessDenied,
  InternalException,
  ResourceNotFoundException as EventsResourceNotFound,
  ThrottlingException as EventsThrottling,
} from "@aws-sdk/client-eventbridge";
import { CredentialsProviderError, TokenProviderError } from "@smithy/core/config";
import { isRetryableByTrait, isServerError, isThrottlingError, isTransientError } from "@smithy/core/retry";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AwsSetupError, asBerthError, classifyAwsError, translateAwsError, type AwsErrorKind } from "../../src/aws/errors.ts";
import { ConfigurationError, ConflictError, NotFoundError, TransientError, ValidationError } from "../../src/core/errors.ts";

const meta = (httpStatusCode: number) => ({ $metadata: { httpStatusCode } });
const named = (name: string, message: string, fault: "client" | "server", status: number) =>
  new ECSServiceException({ name, message, $fault: fault, ...meta(status) });

/** A Node network error as the SDK passes it on after its retries. */
const network = (code: string) => Object.assign(new Error(`connect ${code} 10.0.0.1:443`), { code, $metadata: { attempts: 4 } });

const cases: { what: string; error: Error; kind: AwsErrorKind; type: new (...args: never[]) => Error }[] = [
  // ECS
  { what: "ECS ThrottlingException (HTTP 400)", error: named("ThrottlingException", "Rate exceeded", "client", 400), kind: "throttled", type: TransientError },
  { what: "ECS LimitExceededException", error: new LimitExceededException({ message: "Limit exceeded", ...meta(400) }), kind: "throttled", type: TransientError },
  { what: "ECS ServerException", error: new ServerException({ message: "Service unavailable", ...meta(500) }), kind: "unavailable", type: TransientError },
  { what: "ECS AccessDeniedException", error: new EcsAccessDenied({ message: "not authorized to perform: ecs:RunTask", ...meta(400) }), kind: "access-denied", type: ConfigurationError },
  { what: "ECS BlockedException", error: new BlockedException({ message: "Your account is blocked.", ...meta(400) }), kind: "access-denied", type: ConfigurationError },
  { what: "ECS ClusterNotFoundException", error: new ClusterNotFoundException({ message: "Cluster not found.", ...meta(400) }), kind: "not-found", type: ConfigurationError },
  { what: "ECS ConflictException (clientToken reused)", error: new ConflictException({ message: "conflict", resourceIds: [], ...meta(400) }), kind: "conflict", type: ConflictError },
  { what: "ECS InvalidParameterException", error: new InvalidParameterException({ message: "Network Configuration must be provided", ...meta(400) }), kind: "invalid", type: ValidationError },
  { what: "ECS ClientException", error: new ClientException({ message: "Unable to describe task definition.", ...meta(400) }), kind: "invalid", type: ValidationError },
  // DynamoDB
  {
    what: "DynamoDB ProvisionedThroughputExceededException",
    error: new ProvisionedThroughputExceededException({ message: "rate too high", $metadata: { httpStatusCode: 400 } }),
    kind: "throttled",
    type: TransientError,
  },
  { what: "DynamoDB RequestLimitExceeded", error: new RequestLimitExceeded({ message: "account limit", $metadata: { httpStatusCode: 400 } }), kind: "throttled", type: TransientError },
  { what: "DynamoDB InternalServerError", error: new InternalServerError({ message: "internal", $metadata: { httpStatusCode: 500 } }), kind: "unavailable", type: TransientError },
  {
    what: "DynamoDB ReplicatedWriteConflictException (retryable by its model trait)",
    error: new ReplicatedWriteConflictException({ message: "replicated write conflict", $metadata: { httpStatusCode: 400 } }),
    kind: "unavailable",
    type: TransientError,
  },
  {
    what: "DynamoDB ConditionalCheckFailedException",
    error: new ConditionalCheckFailedException({ message: "The conditional request failed", $metadata: { httpStatusCode: 400 } }),
    kind: "conflict",
    type: ConflictError,
  },
  { what: "DynamoDB ResourceNotFoundException (no such table)", error: new DynamoResourceNotFound({ message: "Requested resource not found", $metadata: { httpStatusCode: 400 } }), kind: "not-found", type: ConfigurationError },
  {
    what: "DynamoDB ValidationException",
    error: new DynamoDBServiceException({ name: "ValidationException", message: "One or more parameter values were invalid", $fault: "client", ...meta(400) }),
    kind: "invalid",
    type: ValidationError,
  },
  {
    what: "DynamoDB ItemCollectionSizeLimitExceededException",
    error: new ItemCollectionSizeLimitExceededException({ message: "Collection size exceeded", $metadata: { httpStatusCode: 400 } }),
    kind: "invalid",
    type: ValidationError,
  },
  // EventBridge
  { what: "EventBridge ThrottlingException", error: new EventsThrottling({ message: "Rate exceeded", $metadata: { httpStatusCode: 400 } }), kind: "throttled", type: TransientError },
  { what: "EventBridge InternalException", error: new InternalException({ message: "internal error", $metadata: { httpStatusCode: 500 } }), kind: "unavailable", type: TransientError },
  { what: "EventBridge ResourceNotFoundException (no such bus)", error: new EventsResourceNotFound({ message: "Event bus berth does not exist.", $metadata: { httpStatusCode: 400 } }), kind: "not-found", type: ConfigurationError },
  { what: "EventBridge AccessDeniedException", error: new EventsAccessDenied({ message: "not authorized to perform: events:PutEvents", $metadata: { httpStatusCode: 400 } }), kind: "access-denied", type: ConfigurationError },
  // Common to all services, and the SDK's own
  { what: "an unnamed HTTP 429", error: named("TooManyRequests", "Slow down", "client", 429), kind: "throttled", type: TransientError },
  { what: "an unnamed HTTP 503", error: named("ServiceUnavailable", "Service unavailable", "server", 503), kind: "unavailable", type: TransientError },
  { what: "an unnamed HTTP 403", error: named("Forbidden", "Forbidden", "client", 403), kind: "access-denied", type: ConfigurationError },
  { what: "OptInRequired", error: named("OptInRequired", "The AWS access key ID needs a subscription for the service", "client", 403), kind: "access-denied", type: ConfigurationError },
  { what: "UnrecognizedClientException", error: named("UnrecognizedClientException", "The security token included in the request is invalid.", "client", 400), kind: "credentials", type: AwsSetupError },
  { what: "ExpiredTokenException", error: named("ExpiredTokenException", "The security token included in the request is expired", "client", 403), kind: "credentials", type: AwsSetupError },
  { what: "CredentialsProviderError", error: new CredentialsProviderError("Could not load credentials from any providers"), kind: "credentials", type: AwsSetupError },
  { what: "TokenProviderError (an expired SSO session)", error: new TokenProviderError("The SSO session has expired"), kind: "credentials", type: AwsSetupError },
  { what: "the SDK's region resolver", error: new Error("Region is missing"), kind: "region", type: AwsSetupError },
  { what: "a socket time-out", error: Object.assign(new Error("socket hang up"), { name: "TimeoutError" }), kind: "unavailable", type: TransientError },
  ...["ECONNRESET", "ECONNREFUSED", "EPIPE", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "ENOTFOUND", "EAI_AGAIN"].map((code) => ({
    what: `a network failure ${code}`,
    error: network(code),
    kind: "unavailable" as const,
    type: TransientError,
  })),
];

describe("classifyAwsError and translateAwsError", () => {
  it.each(cases)("$what is $kind, a $type.name", ({ error, kind, type }) => {
    expect(classifyAwsError(error)?.kind).toBe(kind);
    const translated = translateAwsError(error, "do the thing");
    expect(translated).toBeInstanceOf(type);
    expect(translated?.cause).toBe(error);
    expect(translated?.message).toMatch(/^failed to do the thing: /);
  });

  it.each(cases)("$what is transient exactly when the SDK's standard retry strategy would retry it", ({ error }) => {
    const sdk = error as Parameters<typeof isThrottlingError>[0];
    const sdkRetries = isRetryableByTrait(sdk) || isThrottlingError(sdk) || isTransientError(sdk) || isServerError(sdk);
    expect(translateAwsError(error) instanceof TransientError).toBe(sdkRetries);
  });

  it.each([
    { what: "a TypeError", error: new TypeError("Cannot read properties of undefined") },
    { what: "a plain Error", error: new Error("boom") },
    { what: "a string", error: "boom" },
    { what: "undefined", error: undefined },
  ])("$what is not AWS's answer: no verdict, the caller rethrows", ({ error }) => {
    expect(classifyAwsError(error)).toBeUndefined();
    expect(translateAwsError(error, "do the thing")).toBeUndefined();
    expect(asBerthError(error)).toBeUndefined();
  });

  it.each([
    { header: "3", expected: 3000 },
    { header: "Wed, 01 May 2024 10:00:05 GMT", expected: 5000 },
  ])("a Retry-After of $header becomes retryAfterMs $expected on a throttled and on an unavailable answer", ({ header, expected }) => {
    const now = Date.parse("2024-05-01T10:00:00Z");
    const response = { $response: { statusCode: 400, headers: { "retry-after": header } } };
    const throttled = Object.assign(named("ThrottlingException", "Rate exceeded", "client", 400), response);
    const unavailable = Object.assign(named("ServiceUnavailable", "try later", "server", 503), response);
    expect(classifyAwsError(throttled, now)).toEqual({ kind: "throttled", retryAfterMs: expected });
    expect(classifyAwsError(unavailable, now)).toEqual({ kind: "unavailable", retryAfterMs: expected });
    expect((translateAwsError(throttled, "x", { now }) as TransientError).retryAfterMs).toBe(expected);
  });

  it.each([
    { error: new Error("Region is missing"), setting: "region", message: "no AWS region is configured" },
    { error: new Error('Region not accepted: region="eu west" is not a valid hostname component.'), setting: "region", message: "the AWS region is not valid" },
    { error: new CredentialsProviderError("Could not load credentials from any providers"), setting: "credentials", message: "no AWS credentials were found" },
    { error: named("ExpiredTokenException", "The security token included in the request is expired", "client", 403), setting: "credentials", message: "AWS did not accept the credentials" },
  ])("$error.message is a setup error naming the $setting", ({ error, setting, message }) => {
    expect(translateAwsError(error)).toMatchObject({ setting, message: expect.stringContaining(message) });
  });

  it("an access or missing-resource refusal carries the adapter's hint, or a generic one", () => {
    const missing = new EventsResourceNotFound({ message: "Event bus berth does not exist.", $metadata: { httpStatusCode: 400 } });
    expect(translateAwsError(missing, "publish", { hint: "check the bus name" })?.message).toBe(
      "failed to publish: ResourceNotFoundException: Event bus berth does not exist. (check the bus name)",
    );
    expect(translateAwsError(missing)?.message).toMatch(/BERTH_BUS/);
  });

  it("a lost conditional write carries the record the caller says is stored", () => {
    const error = new ConditionalCheckFailedException({ message: "The conditional request failed", $metadata: { httpStatusCode: 400 } });
    expect((translateAwsError(error, "write", { existing: { id: "r1" } }) as ConflictError).existing).toEqual({ id: "r1" });
  });

  it("a berth error passes through asBerthError unchanged", () => {
    const error = new NotFoundError("no run r1");
    expect(asBerthError(error)).toBe(error);
  });
});

describe("the classifier on errors the real SDK stack raises", () => {
  const server = createServer((req, res) => {
    req.resume().on("end", () => {
      res.writeHead(400, { "content-type": "application/x-amz-json-1.0" });
      res.end(JSON.stringify({ __type: "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException", message: "Requested resource not found" }));
    });
  });
  let endpoint: string;
  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  const client = (url: string) =>
    new DynamoDBClient({ endpoint: url, region: "us-east-1", credentials: { accessKeyId: "x", secretAccessKey: "x" }, maxAttempts: 1 });
  const get = new GetItemCommand({ TableName: "runs", Key: { PK: { S: "RUN#1" }, SK: { S: "RUN" } } });

  it("a refused connection is a TransientError", async () => {
    // Port 1 on loopback: nothing listens there, so the connection is refused at once.
    const error = await client("http://127.0.0.1:1").send(get).catch((e: unknown) => e);
    expect(translateAwsError(error, "read a run")).toBeInstanceOf(TransientError);
  });

  it("DynamoDB's answer for a missing table is a ConfigurationError", async () => {
    const error = await client(endpoint).send(get).catch((e: unknown) => e);
    expect((error as Error).name).toBe("ResourceNotFoundException");
    expect(translateAwsError(error, "read a run")).toBeInstanceOf(ConfigurationError);
  });
});
