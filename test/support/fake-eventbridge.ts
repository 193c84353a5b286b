/** A local HTTP endpoint speaking EventBridge's PutEvents (awsJson1_1), recording what was put. */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

export interface PutEntry {
  readonly EventBusName?: string;
  readonly Source: string;
  readonly DetailType: string;
  readonly Detail: string;
  readonly Resources?: string[];
}

export async function startFakeEventBridge(): Promise<{ url: string; entries: PutEntry[]; close(): Promise<void> }> {
  const entries: PutEntry[] = [];
  let seq = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const target = req.headers["x-amz-target"];
      if (target !== "AWSEvents.PutEvents") {
        res.writeHead(400, { "content-type": "application/x-amz-json-1.1" }).end(JSON.stringify({ __type: "UnknownOperationException", message: String(target) }));
        return;
      }
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { Entries: PutEntry[] };
      entries.push(...body.Entries);
      res
        .writeHead(200, { "content-type": "application/x-amz-json-1.1" })
        .end(JSON.stringify({ FailedEntryCount: 0, Entries: body.Entries.map(() => ({ EventId: `evt-${++seq}` })) }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    entries,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
