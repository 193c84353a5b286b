import { randomBytes } from "node:crypto";

/**
 * An ARN shaped like `known` whose trailing id was never issued and is none of `avoid`. A revision number
 * (`…/web:8`) becomes one far beyond any a suite registers; a hex task id becomes another of its length.
 */
export function unknownLike(known: string, ...avoid: string[]): string {
  const id = /[0-9a-f]+$/.exec(known)?.[0];
  if (id === undefined) throw new Error(`ARN ${known} does not end in a hex id or a revision number`);
  const fresh = (): string =>
    /^[0-9]{1,6}$/.test(id)
      ? String(1_000_000 + randomBytes(3).readUIntBE(0, 3))
      : randomBytes(Math.ceil(id.length / 2)).toString("hex").slice(0, id.length);
  let arn = known;
  while (arn === known || avoid.includes(arn)) arn = known.slice(0, known.length - id.length) + fresh();
  return arn;
}
